// Package memlimit gives a run of gkedoctor a memory budget: a soft limit (runtime/debug
// SetMemoryLimit) of Floor, raised to what the run keeps whenever that outgrows it.
//
// A command-line run keeps a model of the cluster and the network (tens of megabytes for tens of
// thousands of Services) and makes as much garbage again decoding lists, so with the Go default
// (collect when the heap doubles) its peak is about twice what it keeps. A limit makes the collector
// run earlier instead — on the 20,000-Service benchmark the peak RSS went from about 100 to 74 MiB
// for about 0.2 s more CPU, in about the same wall time — and costs nothing on small clusters, whose
// heap never gets near it. A fixed limit would make a larger cluster's run collect continuously once
// what it keeps passes it, so Fit raises the limit to the live heap plus a quarter plus some room
// whenever the inventory adds a fact: the collector then runs after every quarter of what the run
// keeps (plus the room) has been allocated, more often than the default for a large cluster, never
// back to back. GOMEMLIMIT set by the user wins: Start and Fit change nothing then.
package memlimit

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Floor is the budget of a run whose live heap stays small.
const Floor = 44 << 20

// room is the garbage allowed beside the live heap and its quarter, and the runtime's own memory
// (stacks, GC metadata, free spans).
const room = 8 << 20

var (
	active atomic.Bool
	limit  atomic.Int64
	mu     sync.Mutex
)

// Start sets the run's limit to Floor, unless GOMEMLIMIT is set. Only a command's main calls it: a
// test process (fake servers and all in one heap) keeps the Go default.
func Start() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit.Store(Floor)
	debug.SetMemoryLimit(Floor)
	active.Store(true)
}

var sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// Fit raises the limit to the live heap (as of the last collection) and a quarter more, plus room,
// when that is more than the limit: the run keeps more than the budget was made for. It never
// lowers it.
func Fit() {
	if !active.Load() {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := int64(sample[0].Value.Uint64())
	want := live + live/4 + room
	if want > limit.Load() {
		limit.Store(want)
		debug.SetMemoryLimit(want)
	}
}

// Limit is the limit Start and Fit set (0 when they are not in use).
func Limit() int64 {
	if !active.Load() {
		return 0
	}
	return limit.Load()
}
