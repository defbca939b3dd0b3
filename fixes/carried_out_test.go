package fixes

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Advice the operator carried out is journaled as such: nothing to undo, nothing changed by the tool;
// a simulated world's people (Deps.CarryOut) act first, and their failure leaves the entry failed.
func TestCarriedOutAdviceIsJournaledWithNothingToUndo(t *testing.T) {
	advice := &Plan{ID: "advice/stream-dedicated-apiclient/deployment/default/app", Check: "websocket-handshake",
		Title: "Give stream() its own ApiClient", Advice: true, Commands: []string{"# code change"}}
	dir := t.TempDir()
	var called []string
	ap := &Applier{Journal: OpenJournal(dir), Deps: &Deps{CarryOut: func(_ context.Context, id string) (string, error) {
		called = append(called, id)
		return "deployed 1.4.3", nil
	}}}
	if _, err := ap.Apply(context.Background(), advice, nil); !errors.Is(err, ErrAdviceOnly) {
		t.Fatalf("advice itself applied: %v", err)
	}
	res, err := ap.Apply(context.Background(), CarriedOut(advice), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(called) != 1 || called[0] != advice.ID {
		t.Fatalf("CarryOut calls: %v", called)
	}
	if res.Entry.State != StateApplied || len(res.Entry.Undo) != 0 || !strings.Contains(res.Message, "deployed 1.4.3") || !strings.Contains(res.Message, "nothing to undo") {
		t.Fatalf("entry %+v, message %q", res.Entry, res.Message)
	}
	if _, err := ap.Journal.Last(Target{}); err == nil {
		t.Fatal("a carried-out advice is offered to undo")
	}

	ap.Deps.CarryOut = func(context.Context, string) (string, error) { return "", errors.New("rollout stuck") }
	res, err = ap.Apply(context.Background(), CarriedOut(advice), nil)
	if err == nil || res.Entry.State != StateFailed || !strings.Contains(res.Entry.Error, "rollout stuck") {
		t.Fatalf("failed carry-out: %v, %+v", err, res.Entry)
	}

	ro := &Applier{Journal: OpenJournal(t.TempDir()), ReadOnly: true}
	if _, err := ro.Apply(context.Background(), CarriedOut(advice), nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only recorded advice: %v", err)
	}
}
