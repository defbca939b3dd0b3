package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// When the run stops (its --timeout, a signal) before a check's own limit, the result names what
// stopped it, not the per-check limit ("did not finish within 2m0s" after 1 s was wrong).
func TestEngineSaysWhatStoppedTheRun(t *testing.T) {
	hung := fn("hung", func(ctx context.Context, env *Env, rec *Recorder) Result {
		select {} // ignores its context on purpose
	})
	e := &Engine{Timeout: time.Minute, Concurrency: 1}

	ctx, cancel := context.WithTimeoutCause(context.Background(), 100*time.Millisecond, errors.New("the run did not finish within --timeout 100ms"))
	defer cancel()
	// One slot: one hung check is stopped under way, the other never starts; both say why.
	rs := e.Run(ctx, &Env{}, []Check{hung, fn("hung2", hung.(CheckFunc).Fn)}, nil)
	for _, r := range rs {
		if r.Status != Error || !strings.Contains(r.Summary, "--timeout 100ms") || strings.Contains(r.Summary, "1m0s") {
			t.Fatalf("stopped by the run's deadline: %+v", r)
		}
	}

	ctx2, cancel2 := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel2(errors.New("cancelled by SIGINT")) })
	rs = e.Run(ctx2, &Env{}, []Check{hung}, nil)
	if rs[0].Status != Error || rs[0].Cause != "check-error" || !strings.Contains(rs[0].Summary, "cancelled by SIGINT") {
		t.Fatalf("cancelled: %+v", rs[0])
	}
}
