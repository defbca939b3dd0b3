package fixrun

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/fixes"
)

// fakeApplier answers each plan by id: an error, a wait error, an aborted entry, or success.
type fakeApplier struct {
	errs  map[string]error
	calls []string
}

func (f *fakeApplier) Apply(_ context.Context, p *fixes.Plan, progress func(string)) (*fixes.Applied, error) {
	f.calls = append(f.calls, p.ID)
	if progress != nil {
		progress("journaled; applying " + p.ID)
	}
	e := &fixes.Entry{ID: "j-" + p.ID, State: fixes.StateApplied}
	err := f.errs[p.ID]
	switch {
	case errors.Is(err, errAborted):
		e.State = fixes.StateAborted
	case err != nil && !fixes.IsWaitError(err):
		e.State = fixes.StateFailed
	}
	return &fixes.Applied{Entry: e, Message: "did " + p.ID}, err
}

var errAborted = errors.New("the object changed since it was read")

func plans(ids ...string) []*fixes.Plan {
	var out []*fixes.Plan
	for _, id := range ids {
		out = append(out, &fixes.Plan{ID: id, Title: "fix " + id})
	}
	return out
}

func states(os []Outcome) string {
	var s []string
	for _, o := range os {
		s = append(s, o.Plan.ID+"="+string(o.State))
	}
	return strings.Join(s, " ")
}

func TestStopsAtTheFirstFailureAndUndoesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want State
	}{
		{"failed", errors.New("forbidden"), Failed},
		{"not-effective", &fixes.WaitError{Msg: "no ingress IP after 5m0s", Err: context.DeadlineExceeded}, NotEffective},
		{"aborted", errAborted, Aborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap := &fakeApplier{errs: map[string]error{"b": tc.err}}
			invalidated := 0
			r := &Runner{Applier: ap, Invalidate: func() { invalidated++ }}
			var started, lines []string
			set := r.Apply(context.Background(), plans("a", "b", "c"), Events{
				Start:    func(p *fixes.Plan) { started = append(started, p.ID) },
				Progress: func(p *fixes.Plan, l string) { lines = append(lines, l) },
			})
			if strings.Join(ap.calls, ",") != "a,b" || strings.Join(started, ",") != "a,b" {
				t.Fatalf("applied %v (started %v), want a then b and never c", ap.calls, started)
			}
			if got, want := states(set.Outcomes()), "a=applied b="+string(tc.want)+" c=not-attempted"; got != want {
				t.Errorf("outcomes %q, want %q", got, want)
			}
			if invalidated != 2 {
				t.Errorf("inventory invalidated %d times, want after each attempt (2)", invalidated)
			}
			if len(lines) != 2 {
				t.Errorf("progress lines %v", lines)
			}
			if !set.Failed() || !set.Stopped() || !set.Done() || set.Next() != nil {
				t.Errorf("failed %v stopped %v done %v", set.Failed(), set.Stopped(), set.Done())
			}
			if rest := set.NotAttempted(); len(rest) != 1 || rest[0].ID != "c" {
				t.Errorf("not attempted %v", rest)
			}
			note := set.StopNote()
			for _, s := range []string{"1 fix(es) after it not attempted", "nothing was undone", "undo"} {
				if !strings.Contains(note, s) {
					t.Errorf("stop note %q lacks %q", note, s)
				}
			}
			if o := set.Outcomes()[0]; o.JournalID != "j-a" || o.Message != "did a" || o.Err != nil {
				t.Errorf("first outcome %+v", o)
			}
		})
	}
}

func TestAWholeSetApplies(t *testing.T) {
	ap := &fakeApplier{}
	set := (&Runner{Applier: ap}).Apply(context.Background(), plans("a", "b"), Events{})
	if got := states(set.Outcomes()); got != "a=applied b=applied" {
		t.Fatalf("outcomes %q", got)
	}
	if set.Failed() || set.Stopped() || set.StopNote() != "" || len(set.NotAttempted()) != 0 {
		t.Errorf("failed %v stopped %v note %q", set.Failed(), set.Stopped(), set.StopNote())
	}
}

func TestSteppedSetFollowsTheSamePolicy(t *testing.T) {
	// The checklist steps a set: Next, apply, Record.
	set := NewSet(plans("a", "b", "c"))
	if len(set.Outcomes()) != 0 {
		t.Fatal("a fresh set has no outcomes")
	}
	p := set.Next()
	set.Record(Outcome{Plan: p, State: Applied})
	p = set.Next()
	if p.ID != "b" {
		t.Fatalf("next %s", p.ID)
	}
	set.Record(Outcome{Plan: p, State: Failed, Err: errors.New("boom")})
	if set.Next() != nil {
		t.Fatal("the set went on after a failure")
	}
	set.Record(Outcome{State: Applied}) // ignored: the set is done
	if got := states(set.Outcomes()); got != "a=applied b=failed c=not-attempted" {
		t.Errorf("outcomes %q", got)
	}
	if len(set.Attempted()) != 2 {
		t.Errorf("attempted %d", len(set.Attempted()))
	}
}
