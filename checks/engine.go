package checks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// EventKind is the kind of a progress event.
type EventKind string

const (
	EventStarted  EventKind = "started"
	EventStep     EventKind = "step"
	EventFinished EventKind = "finished"
)

// Event is one progress event. For a given check, events arrive in order: started, steps, finished.
type Event struct {
	Kind    EventKind
	CheckID string
	Step    *Evidence
	Result  *Result
	Time    time.Time
}

// Engine runs checks concurrently with a bound, a per-check timeout and panic recovery.
type Engine struct {
	Concurrency int           // default 4
	Timeout     time.Duration // per check; default 60s
}

// The product's engine configuration: at most four checks at a time (they share the inventory and the
// APIs' quotas), two minutes per check (an internal load balancer's status, a slow API).
const (
	DefaultConcurrency  = 4
	DefaultCheckTimeout = 2 * time.Minute
)

// DefaultEngine returns the one engine configuration every product run uses: audit, fix, check, the
// interactive checklist and the benchmarks. Tests that need another bound build their own Engine.
func DefaultEngine() *Engine {
	return &Engine{Concurrency: DefaultConcurrency, Timeout: DefaultCheckTimeout}
}

// Run runs checks against env and returns their results in the order given. Progress events go to
// events (if non-nil), which is called from the checks' goroutines; it must not block for long.
func (e *Engine) Run(ctx context.Context, env *Env, list []Check, events func(Event)) []Result {
	n := e.Concurrency
	if n <= 0 {
		n = 4
	}
	var emitMu sync.Mutex
	emit := func(ev Event) {
		if events == nil {
			return
		}
		emitMu.Lock()
		defer emitMu.Unlock()
		events(ev)
	}
	if _, ok := apierr.InFlightOf(ctx); !ok {
		// The API calls the run waits on, named in a check's result if its time runs out (memoised
		// facts are fetched under whichever check asked first, so the set is the run's).
		ctx, _ = apierr.WithInFlight(ctx)
	}
	runEnv := *env
	runEnv.deps = &depRunner{timeout: e.Timeout, emit: emit, done: map[string]*depCall{}}
	results := make([]Result, len(list))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, c := range list {
		wg.Add(1)
		go func(i int, c Check) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r := ErrorResult(fmt.Errorf("not started: %w", context.Cause(ctx)))
				r.ID = c.ID()
				results[i] = decorate(r)
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				// The slot and the end of the run came together: the run is over, do not start.
				r := ErrorResult(fmt.Errorf("not started: %w", context.Cause(ctx)))
				r.ID = c.ID()
				results[i] = decorate(r)
				return
			}
			results[i] = runEnv.deps.get(ctx, &runEnv, c.ID(), c)
		}(i, c)
	}
	wg.Wait()
	return results
}

// depRunner runs each check at most once per engine run, whoever asks first.
type depRunner struct {
	timeout time.Duration
	emit    func(Event)
	mu      sync.Mutex
	done    map[string]*depCall
}

type depCall struct {
	ready chan struct{}
	res   Result
}

func (d *depRunner) get(ctx context.Context, env *Env, id string, cs ...Check) Result {
	d.mu.Lock()
	if call, ok := d.done[id]; ok {
		d.mu.Unlock()
		select {
		case <-call.ready:
			return call.res
		case <-ctx.Done():
			return decorate(Result{ID: id, Status: Error, Cause: "check-error", Summary: "waiting for " + id + ": " + context.Cause(ctx).Error()})
		}
	}
	call := &depCall{ready: make(chan struct{})}
	d.done[id] = call
	d.mu.Unlock()
	var c Check
	if len(cs) > 0 {
		c = cs[0]
	} else if rc, ok := Lookup(id); ok {
		c = rc
	}
	if c == nil {
		call.res = decorate(ErrorResult(fmt.Errorf("dependency %q is not registered", id)))
		call.res.ID = id
	} else {
		call.res = runOne(ctx, env, c, d.emit, d.timeout)
	}
	close(call.ready)
	return call.res
}

// runOne runs one check with its timeout and panic recovery and emits started/finished.
func runOne(ctx context.Context, env *Env, c Check, emit func(Event), timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	id := c.ID()
	if emit == nil {
		emit = func(Event) {}
	}
	start := time.Now()
	emit(Event{Kind: EventStarted, CheckID: id, Time: start})
	rec := &Recorder{id: id}
	// Steps emitted after the check is abandoned (timeout) must not follow its finished event.
	var stepMu sync.Mutex
	finished := false
	rec.emit = func(ev Event) {
		stepMu.Lock()
		defer stepMu.Unlock()
		if !finished {
			emit(ev)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- Result{Status: Error, Cause: "check-panic", Summary: fmt.Sprintf("the check crashed: %v", p),
					Evidence: []Evidence{{Step: "where", Status: Error, Detail: panicSite()}}}
			}
		}()
		ch <- c.Run(cctx, env, rec)
	}()
	var r Result
	select {
	case r = <-ch:
	case <-cctx.Done():
		if ctx.Err() != nil {
			// The run stopped (cancelled, or its own limit ran out), not this check's limit: say which.
			r = Result{Status: Error, Cause: "check-timeout", Summary: fmt.Sprintf("the check was stopped before it finished: %v", context.Cause(ctx)) + waitingOn(cctx)}
			if errors.Is(ctx.Err(), context.Canceled) {
				r.Cause = "check-error"
			}
		} else {
			r = Result{Status: Error, Cause: "check-timeout", Summary: fmt.Sprintf("the check did not finish within %s: %v", timeout, cctx.Err()) + waitingOn(cctx)}
		}
	}
	stepMu.Lock()
	finished = true
	ev := rec.Evidence()
	stepMu.Unlock()
	r.ID = id
	if len(r.Evidence) == 0 {
		r.Evidence = ev
	} else {
		r.Evidence = append(ev, r.Evidence...)
	}
	r.Duration = time.Since(start)
	r = decorate(r)
	if h := resultHook.Load(); h != nil {
		(*h)(r)
	}
	emit(Event{Kind: EventFinished, CheckID: id, Result: &r, Time: time.Now()})
	return r
}

// decorate fills catalogue fields and enforces the invariants of a Result.
func decorate(r Result) Result {
	if info, ok := InfoFor(r.ID); ok {
		if r.Title == "" {
			r.Title = info.Title
		}
		r.Parent = info.Parent
	}
	switch r.Status {
	case Pass, Fail, Warn, Skip, Error:
	default:
		r.Summary = fmt.Sprintf("the check returned an invalid status %q: %s", r.Status, r.Summary)
		r.Status = Error
	}
	if r.Status == Pass {
		r.Cause = ""
	}
	if r.Status == Skip && r.Summary == "" {
		r.Summary = "skipped without a reason (a bug in the check)"
	}
	if r.Evidence == nil {
		r.Evidence = []Evidence{}
	}
	for _, p := range r.Fixes {
		if p.Check == "" {
			p.Check = r.ID
		}
	}
	return r
}

// Counts tallies results by status.
func Counts(rs []Result) map[Status]int {
	m := map[Status]int{Pass: 0, Fail: 0, Warn: 0, Skip: 0, Error: 0}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

// waitingOn names the API calls a check stopped by a deadline was still waiting on ("" when none).
func waitingOn(ctx context.Context) string {
	if f, ok := apierr.InFlightOf(ctx); ok {
		if d := f.Describe(); d != "" {
			return "; the run was still waiting on " + d
		}
	}
	return ""
}

// resultHook, when set (by tests, through export_test.go), sees every result the engine returns: the
// test binary holds invariants over every plan any test produced.
var resultHook atomic.Pointer[func(Result)]
