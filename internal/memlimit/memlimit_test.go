package memlimit

import (
	"runtime"
	"runtime/debug"
	"testing"
)

var keep [][]byte

// TestFitFollowsTheLiveHeap: Start sets Floor; Fit leaves it while the live heap is small and raises
// it above the live heap by a quarter plus room once more is kept, never lowering it again;
// GOMEMLIMIT set by the user turns both off.
func TestFitFollowsTheLiveHeap(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev); active.Store(false); keep = nil })

	t.Setenv("GOMEMLIMIT", "")
	Start()
	if Limit() != Floor || debug.SetMemoryLimit(-1) != Floor {
		t.Fatalf("after Start: limit %d, runtime %d, want %d", Limit(), debug.SetMemoryLimit(-1), Floor)
	}
	runtime.GC()
	Fit()
	if Limit() != Floor {
		t.Fatalf("a small heap raised the limit to %d", Limit())
	}
	for i := 0; i < 64; i++ {
		keep = append(keep, make([]byte, 1<<20)) // 64 MiB kept
	}
	runtime.GC()
	Fit()
	if l, want := Limit(), int64(64<<20+16<<20+room); l < want || debug.SetMemoryLimit(-1) != l {
		t.Fatalf("64 MiB kept: limit %d, runtime %d, want at least %d", l, debug.SetMemoryLimit(-1), want)
	}
	raised := Limit()
	keep = nil
	runtime.GC()
	Fit()
	if Limit() != raised {
		t.Fatalf("the limit went down from %d to %d", raised, Limit())
	}

	active.Store(false)
	debug.SetMemoryLimit(prev)
	t.Setenv("GOMEMLIMIT", "1GiB")
	Start()
	Fit()
	if Limit() != 0 || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("with GOMEMLIMIT set: limit %d, runtime %d", Limit(), debug.SetMemoryLimit(-1))
	}
}
