package apierr

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// InFlight is the set of API calls a run is waiting on, so that a run stopped by its deadline can say
// which API was slow (a 429/503 backoff, a hang) instead of only "did not finish within --timeout".
// The transports (Google's retry transport, the Kubernetes client's) register each call through the
// request's context; a run without an InFlight registers nothing.
type InFlight struct {
	mu    sync.Mutex
	calls map[*inflightCall]struct{}
}

type inflightCall struct {
	desc  string
	start time.Time
	note  string
}

type inflightKey struct{}

// WithInFlight returns ctx carrying a new InFlight.
func WithInFlight(ctx context.Context) (context.Context, *InFlight) {
	f := &InFlight{calls: map[*inflightCall]struct{}{}}
	return context.WithValue(ctx, inflightKey{}, f), f
}

// Track registers a call ("GET container.googleapis.com /v1/projects/…") under ctx's InFlight; note
// records what it is doing now ("answered 503, retrying in 1s"); done removes it.
func Track(ctx context.Context, desc string) (note func(string), done func()) {
	f, _ := ctx.Value(inflightKey{}).(*InFlight)
	if f == nil {
		return func(string) {}, func() {}
	}
	c := &inflightCall{desc: desc, start: time.Now()}
	f.mu.Lock()
	f.calls[c] = struct{}{}
	f.mu.Unlock()
	return func(n string) {
			f.mu.Lock()
			c.note = n
			f.mu.Unlock()
		}, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if ctx.Err() != nil {
				// Ended by the run's deadline: the engine, woken by the same deadline, names it.
				c.note = strings.TrimPrefix(c.note+"; cut off by the deadline", "; ")
				return
			}
			delete(f.calls, c)
		}
}

// Describe lists the calls still waiting, oldest first (at most 3), or "" when none.
func (f *InFlight) Describe() string {
	if f == nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := make([]*inflightCall, 0, len(f.calls))
	for c := range f.calls {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].start.Before(cs[j].start) })
	var out []string
	for i, c := range cs {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(cs)-3))
			break
		}
		s := fmt.Sprintf("%s (waiting %s", c.desc, time.Since(c.start).Round(100*time.Millisecond))
		if c.note != "" {
			s += "; " + c.note
		}
		out = append(out, s+")")
	}
	return strings.Join(out, ", ")
}

// InFlightOf returns ctx's InFlight.
func InFlightOf(ctx context.Context) (*InFlight, bool) {
	f, ok := ctx.Value(inflightKey{}).(*InFlight)
	return f, ok && f != nil
}
