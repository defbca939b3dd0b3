package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// Deps are the clients of the current run, handed to undoers (a fix applied by one process is undone
// by another, with that process's clients).
type Deps struct {
	Kube kubernetes.Interface // nil when no cluster is configured
	GCP  *gcp.Clients         // nil when Google APIs are off
	// CarryOut, when set, plays the person who carries out advice outside the tool (a code change
	// deployed, a command run by hand) in a simulated world such as the demo; it returns what that
	// person did. Nil in a real run: there, the operator did it.
	CarryOut func(ctx context.Context, adviceID string) (string, error)
}

// Undoer reverts one UndoAction with the current run's clients.
type Undoer func(ctx context.Context, deps *Deps, params json.RawMessage) error

var (
	undoMu  sync.RWMutex
	undoers = map[string]Undoer{}
)

// RegisterUndoer makes an undo action type available; packages that build plans register theirs in init.
func RegisterUndoer(typ string, u Undoer) {
	undoMu.Lock()
	defer undoMu.Unlock()
	undoers[typ] = u
}

func undoerFor(typ string) (Undoer, bool) {
	undoMu.RLock()
	defer undoMu.RUnlock()
	u, ok := undoers[typ]
	return u, ok
}

// Applier applies plans and undoes journal entries against one target.
type Applier struct {
	Journal  *Journal
	ReadOnly bool
	Target   Target
	Deps     *Deps // handed to undoers
	Now      func() time.Time
}

// Applied is the result of Apply.
type Applied struct {
	Entry   *Entry
	Message string
	Waited  string // what Wait reported
}

// Apply runs plan: refuse in read-only mode, snapshot, journal, apply, record the outcome, then wait
// for the effect. A conflict (a concurrent change) stops the fix before anything is written and the
// entry is marked aborted.
func (a *Applier) Apply(ctx context.Context, p *Plan, progress func(string)) (*Applied, error) {
	if a.ReadOnly {
		return nil, ErrReadOnly
	}
	if p.CarriedOut {
		return a.recordCarriedOut(ctx, p, progress)
	}
	if p.Advice || p.Apply == nil {
		return nil, ErrAdviceOnly
	}
	if progress == nil {
		progress = func(string) {}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	e := a.newEntry(p, now())
	var snap Snapshot
	if p.Snapshot != nil {
		progress("reading the objects this fix changes")
		s, err := p.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("fix %s: read current state: %w", p.ID, err)
		}
		snap = s
	}
	e.Prior, e.Undo = snap.Prior, snap.Undo
	if err := a.Journal.Write(e); err != nil {
		return nil, fmt.Errorf("fix %s not applied: %w", p.ID, err)
	}
	progress("journaled as " + e.ID + "; applying")
	out, err := p.Apply(ctx, snap)
	if out.Undo != nil {
		e.Undo = out.Undo
	}
	e.Created, e.Message = out.Created, out.Message
	if err != nil {
		if apierr.KindOf(err) == apierr.Conflict {
			e.State = StateAborted
			e.Error = "stopped: the object changed since it was read (a concurrent change); nothing was written. Re-run the check and try again."
			e.Undo = nil
			_ = a.Journal.Write(e)
			return &Applied{Entry: e}, fmt.Errorf("fix %s stopped: %s: %w", p.ID, "the object changed since it was read; nothing was written", err)
		}
		if apierr.KindOf(err) == apierr.ReadOnly {
			e.State, e.Error, e.Undo = StateAborted, err.Error(), nil
			_ = a.Journal.Write(e)
			return &Applied{Entry: e}, err
		}
		e.State, e.Error = StateFailed, err.Error()
		_ = a.Journal.Write(e)
		return &Applied{Entry: e}, fmt.Errorf("fix %s failed: %w", p.ID, err)
	}
	e.State = StateApplied
	if err := a.Journal.Write(e); err != nil {
		return &Applied{Entry: e, Message: out.Message}, fmt.Errorf("fix %s applied but its journal entry could not be updated: %w", p.ID, err)
	}
	res := &Applied{Entry: e, Message: out.Message}
	if p.Wait != nil {
		wctx := ctx
		if p.WaitTimeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, p.WaitTimeout)
			defer cancel()
			progress(fmt.Sprintf("waiting for the change to take effect (deadline %s)", p.WaitTimeout))
		}
		msg, err := p.Wait(wctx, progress)
		res.Waited = msg
		if err != nil {
			return res, &WaitError{Msg: msg, Err: err}
		}
	}
	return res, nil
}

// newEntry is the pending journal entry of plan p.
func (a *Applier) newEntry(p *Plan, now time.Time) *Entry {
	return &Entry{ID: newID(now), FixID: p.ID, Check: p.Check, Title: p.Title, Target: a.Target,
		State: StatePending, Commands: p.Commands, CreatedAt: now.UTC()}
}

// WaitError means the change was applied but its effect was not observed before the deadline. It is
// reported as a warning, never as success.
type WaitError struct {
	Msg string
	Err error
}

func (w *WaitError) Error() string {
	if w.Msg != "" {
		return "applied, but not yet effective: " + w.Msg
	}
	return "applied, but not yet effective: " + w.Err.Error()
}
func (w *WaitError) Unwrap() error { return w.Err }

// IsWaitError reports whether err means "applied, effect not yet seen".
func IsWaitError(err error) bool {
	var w *WaitError
	return errors.As(err, &w)
}

// Undo reverts e by running its undo actions in reverse order. In read-only mode it is an error.
func (a *Applier) Undo(ctx context.Context, e *Entry) error {
	if a.ReadOnly {
		return ErrReadOnly
	}
	if e.State == StateUndone {
		return fmt.Errorf("journal entry %s was already undone at %s", e.ID, e.UndoneAt.Format(time.RFC3339))
	}
	if e.Target.Demo != a.Target.Demo || (e.Target.Project != "" && a.Target.Project != "" && e.Target.Project != a.Target.Project) ||
		(e.Target.Cluster != "" && a.Target.Cluster != "" && e.Target.Cluster != a.Target.Cluster) {
		return fmt.Errorf("journal entry %s was applied to %s, not to the current target %s; switch context or project first", e.ID, describe(e.Target), describe(a.Target))
	}
	if len(e.Undo) == 0 {
		return fmt.Errorf("journal entry %s (%s) has nothing to undo", e.ID, e.State)
	}
	for i := len(e.Undo) - 1; i >= 0; i-- {
		act := e.Undo[i]
		u, ok := undoerFor(act.Type)
		if !ok {
			return fmt.Errorf("undo %s: this build does not know how to undo %q", e.ID, act.Type)
		}
		deps := a.Deps
		if deps == nil {
			deps = &Deps{}
		}
		if err := u(ctx, deps, act.Params); err != nil {
			if apierr.KindOf(err) == apierr.Conflict {
				return fmt.Errorf("undo %s stopped: the object changed since the fix was applied; nothing was overwritten: %w", e.ID, err)
			}
			return fmt.Errorf("undo %s (step %s): %w", e.ID, act.Type, err)
		}
	}
	t := time.Now().UTC()
	e.State, e.UndoneAt = StateUndone, &t
	return a.Journal.Write(e)
}

func describe(t Target) string {
	if t.Demo {
		return "the demo world"
	}
	s := t.Project
	if t.Cluster != "" {
		s += "/" + t.Cluster
	}
	if s == "" {
		s = t.Context
	}
	if s == "" {
		s = "an unnamed target"
	}
	return s
}
