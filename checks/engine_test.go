package checks

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fn(id string, f func(ctx context.Context, env *Env, rec *Recorder) Result) Check {
	return CheckFunc{CheckID: id, Fn: f}
}

func TestEngineBoundsConcurrency(t *testing.T) {
	var cur, peak int32
	var list []Check
	for i := 0; i < 12; i++ {
		list = append(list, fn("c"+string(rune('a'+i)), func(ctx context.Context, env *Env, rec *Recorder) Result {
			n := atomic.AddInt32(&cur, 1)
			for {
				p := atomic.LoadInt32(&peak)
				if n <= p || atomic.CompareAndSwapInt32(&peak, p, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			atomic.AddInt32(&cur, -1)
			return PassResult("ok")
		}))
	}
	e := &Engine{Concurrency: 3}
	rs := e.Run(context.Background(), &Env{}, list, nil)
	if len(rs) != 12 {
		t.Fatalf("got %d results", len(rs))
	}
	if peak > 3 || peak < 2 {
		t.Fatalf("peak concurrency %d, want ≤3 (and some parallelism)", peak)
	}
}

func TestEngineTimesOutAHungCheckAsError(t *testing.T) {
	hung := fn("hung", func(ctx context.Context, env *Env, rec *Recorder) Result {
		rec.Step("waiting forever", Pass, "", "")
		select {} // ignores its context on purpose
	})
	ok := fn("fine", func(ctx context.Context, env *Env, rec *Recorder) Result { return PassResult("fine") })
	e := &Engine{Timeout: 100 * time.Millisecond}
	start := time.Now()
	rs := e.Run(context.Background(), &Env{}, []Check{hung, ok}, nil)
	if time.Since(start) > 2*time.Second {
		t.Fatal("the run waited for the hung check")
	}
	if rs[0].Status != Error || rs[0].Cause != "check-timeout" || !strings.Contains(rs[0].Summary, "did not finish within 100ms") {
		t.Fatalf("hung check: %+v", rs[0])
	}
	if len(rs[0].Evidence) != 1 {
		t.Fatalf("the evidence gathered before the timeout is kept: %+v", rs[0].Evidence)
	}
	if rs[1].Status != Pass {
		t.Fatalf("the run did not go on: %+v", rs[1])
	}
}

func TestEngineSurvivesAPanickingCheck(t *testing.T) {
	boom := fn("boom", func(ctx context.Context, env *Env, rec *Recorder) Result {
		var m map[string]int
		m["x"] = 1
		return PassResult("unreachable")
	})
	ok := fn("fine", func(ctx context.Context, env *Env, rec *Recorder) Result { return PassResult("fine") })
	rs := (&Engine{}).Run(context.Background(), &Env{}, []Check{boom, ok}, nil)
	if rs[0].Status != Error || rs[0].Cause != "check-panic" || !strings.Contains(rs[0].Summary, "assignment to entry in nil map") {
		t.Fatalf("panicking check: %+v", rs[0])
	}
	// Where it panicked, by function name; never a Go stack trace (reports go into tickets).
	ev := rs[0].Evidence
	if len(ev) != 1 || !strings.Contains(ev[0].Detail, "panicked in checks.TestEngineSurvivesAPanickingCheck") ||
		strings.Contains(ev[0].Detail, ".go:") || strings.Contains(ev[0].Detail, "goroutine ") {
		t.Fatalf("panic evidence: %+v", ev)
	}
	if rs[1].Status != Pass {
		t.Fatalf("the run did not go on: %+v", rs[1])
	}
}

func TestEngineEmitsOrderedProgressEvents(t *testing.T) {
	var list []Check
	for _, id := range []string{"a", "b", "c", "d"} {
		list = append(list, fn(id, func(ctx context.Context, env *Env, rec *Recorder) Result {
			rec.Step("one", Pass, "", "kubectl get svc")
			time.Sleep(5 * time.Millisecond)
			rec.Step("two", Fail, "", "")
			return FailResult("x", "failed")
		}))
	}
	var mu sync.Mutex
	per := map[string][]EventKind{}
	(&Engine{Concurrency: 2}).Run(context.Background(), &Env{}, list, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		per[ev.CheckID] = append(per[ev.CheckID], ev.Kind)
		if ev.Kind == EventFinished && (ev.Result == nil || len(ev.Result.Evidence) != 2) {
			t.Errorf("finished event without the full result: %+v", ev.Result)
		}
	})
	for _, id := range []string{"a", "b", "c", "d"} {
		got := per[id]
		want := []EventKind{EventStarted, EventStep, EventStep, EventFinished}
		if len(got) != len(want) {
			t.Fatalf("%s: events %v", id, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: events %v, want %v", id, got, want)
			}
		}
	}
}

func TestDependencyRunsOncePerRun(t *testing.T) {
	var runs int32
	dep := fn("dep-x", func(ctx context.Context, env *Env, rec *Recorder) Result {
		atomic.AddInt32(&runs, 1)
		time.Sleep(10 * time.Millisecond)
		return FailResult("dep-cause", "dependency failed")
	})
	// Not through Register: "dep-x" is no catalogue id, and Register refuses those.
	regMu.Lock()
	registry["dep-x"] = dep
	regMu.Unlock()
	defer func() { regMu.Lock(); delete(registry, "dep-x"); regMu.Unlock() }()
	user := func(id string) Check {
		return fn(id, func(ctx context.Context, env *Env, rec *Recorder) Result {
			d := env.Dep(ctx, "dep-x")
			return FailResult(d.Cause, "because "+d.Summary)
		})
	}
	rs := (&Engine{Concurrency: 1}).Run(context.Background(), &Env{}, []Check{user("u1"), user("u2"), dep}, nil)
	if atomic.LoadInt32(&runs) != 1 {
		t.Fatalf("dependency ran %d times", runs)
	}
	if rs[0].Cause != "dep-cause" || rs[2].Status != Fail {
		t.Fatalf("results %+v", rs)
	}
}

func TestResultInvariants(t *testing.T) {
	bad := fn("bad", func(ctx context.Context, env *Env, rec *Recorder) Result { return Result{Status: "maybe"} })
	pass := fn("pass", func(ctx context.Context, env *Env, rec *Recorder) Result {
		return Result{Status: Pass, Cause: "leftover", Summary: "ok"}
	})
	rs := (&Engine{}).Run(context.Background(), &Env{}, []Check{bad, pass}, nil)
	if rs[0].Status != Error {
		t.Fatalf("invalid status not turned into error: %+v", rs[0])
	}
	if rs[1].Cause != "" || rs[1].Evidence == nil {
		t.Fatalf("pass must have empty cause and non-nil evidence: %+v", rs[1])
	}
}

func TestCatalogue(t *testing.T) {
	cat := Catalogue()
	primary := []string{"clusterip-unreachable", "dns-servfail", "dns-stale-record", "sa-token-401", "websocket-handshake", "pod-egress-cross-project"}
	supporting := []string{"run-vpc-egress", "vpc-connector-ready", "firewall-serverless-to-nodes", "ilb-provisioned", "mesh-trafficdirector-role", "knative-gateway-address"}
	byID := map[string]Info{}
	for _, i := range cat {
		byID[i.ID] = i
		if i.Title == "" || i.Explanation == "" || i.Good == "" || i.FailureMode == "" {
			t.Errorf("%s: incomplete entry", i.ID)
		}
		if i.Parent != "" {
			if _, ok := byID[i.Parent]; !ok {
				t.Errorf("%s: parent %s must come before it", i.ID, i.Parent)
			}
		}
	}
	for _, id := range append(primary, supporting...) {
		if _, ok := byID[id]; !ok {
			t.Errorf("catalogue lacks %s", id)
		}
	}
	for _, id := range primary {
		if byID[id].Kind != "primary" {
			t.Errorf("%s should be primary", id)
		}
	}
	if _, err := Select([]string{"no-such-check"}); err == nil || !strings.Contains(err.Error(), "valid ids") {
		t.Fatalf("unknown id: %v", err)
	}
	if _, c, ok := CauseFor("dns-servfail/forwarding-to-clusterip"); !ok || c.Title == "" {
		t.Fatal("cause lookup failed")
	}
}
