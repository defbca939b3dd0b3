package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
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
	// Force is set during an undo run with --force: undoers that can revert an object that changed
	// since the fix do so instead of refusing.
	Force bool
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

// Undo step states (UndoAction.State).
const (
	// StepPlanned: journaled before its write; the write may or may not have happened (the process
	// may have died in between). Undo runs it anyway: every undo action is idempotent.
	StepPlanned = "planned"
	// StepDone: the write it reverts happened (an empty State in entries written before steps were
	// journaled means the same).
	StepDone = "done"
	// StepUndone: undo reverted it (a crash during undo resumes after it).
	StepUndone = "undone"
)

// Steps journals a fix's writes as they happen: Will before each write (the undo action it will
// need, synced to disk), Done after it. Apply receives it in Snapshot.Steps. A nil *Steps (a plan's
// Apply called outside an Applier, in a unit test) records nothing.
type Steps struct {
	j *Journal
	e *Entry
}

// Will journals act as planned before the write it reverts; it returns the step's index for Done.
// An error means the journal could not be written: the fix must not make the write.
func (s *Steps) Will(act UndoAction) (int, error) {
	if s == nil {
		return -1, nil
	}
	act.State = StepPlanned
	s.e.Undo = append(s.e.Undo, act)
	if err := s.j.Write(s.e); err != nil {
		s.e.Undo = s.e.Undo[:len(s.e.Undo)-1]
		return -1, fmt.Errorf("journal the undo before writing: %w", err)
	}
	return len(s.e.Undo) - 1, nil
}

// Done marks step i done after its write, replacing its action when final is non-nil (with what the
// write returned: a UID, an id). A journal error here is reported but the write has happened: the
// planned step still undoes it.
func (s *Steps) Done(i int, final *UndoAction) error {
	if s == nil || i < 0 || i >= len(s.e.Undo) {
		return nil
	}
	if final != nil {
		s.e.Undo[i] = *final
	}
	s.e.Undo[i].State = StepDone
	return s.j.Write(s.e)
}

// Do journals act, runs write, and marks the step done (with final(), when it returns one). It is the
// usual shape of one write.
func (s *Steps) Do(act UndoAction, write func() (*UndoAction, error)) error {
	i, err := s.Will(act)
	if err != nil {
		return err
	}
	final, err := write()
	if err != nil {
		return err
	}
	_ = s.Done(i, final)
	return nil
}

func markSteps(acts []UndoAction, state string) []UndoAction {
	out := make([]UndoAction, len(acts))
	for i, a := range acts {
		a.State = state
		out[i] = a
	}
	return out
}

// Apply runs plan: refuse in read-only mode, snapshot, journal the pending entry with its planned
// undo actions (synced), apply — each further write journaled before it is made (Steps) — record the
// outcome, then wait for the effect. A conflict (a concurrent change) on the first write stops the
// fix with nothing written and the entry is marked aborted.
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
	e.Prior, e.Undo = snap.Prior, markSteps(snap.Undo, StepPlanned)
	if err := a.Journal.Write(e); err != nil {
		return nil, fmt.Errorf("fix %s not applied: %w", p.ID, err)
	}
	progress("journaled as " + e.ID + "; applying")
	snap.Steps = &Steps{j: a.Journal, e: e}
	out, err := p.Apply(ctx, snap)
	if out.Undo != nil {
		state := StepDone
		if err != nil {
			state = StepPlanned
		}
		e.Undo = markSteps(out.Undo, state)
	}
	e.Created, e.Message = out.Created, out.Message
	if err != nil {
		done := doneSteps(e.Undo)
		switch apierr.KindOf(err) {
		case apierr.Conflict:
			if len(done) == 0 {
				e.State = StateAborted
				e.Error = "stopped: the object changed since it was read (a concurrent change); nothing was written. Re-run the check and try again."
				e.Undo = nil
				_ = a.Journal.Write(e)
				return &Applied{Entry: e}, fmt.Errorf("fix %s stopped: %s: %w", p.ID, "the object changed since it was read; nothing was written", err)
			}
			// Some writes happened before the conflict: keep their undo, drop the refused one's.
			e.Undo = done
		case apierr.ReadOnly:
			e.State, e.Error, e.Undo = StateAborted, err.Error(), nil
			_ = a.Journal.Write(e)
			return &Applied{Entry: e}, err
		}
		e.State, e.Error = StateFailed, err.Error()
		_ = a.Journal.Write(e)
		return &Applied{Entry: e}, fmt.Errorf("fix %s failed: %w", p.ID, err)
	}
	e.State, e.Undo = StateApplied, markSteps(e.Undo, StepDone)
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

func doneSteps(acts []UndoAction) []UndoAction {
	var out []UndoAction
	for _, a := range acts {
		if a.State == StepDone {
			out = append(out, a)
		}
	}
	return out
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

// UndoOptions tune Undo.
type UndoOptions struct {
	// Force reverts objects that changed since the fix (the undoers that can; identity changes — an
	// object deleted and re-created by someone else — are never overridden).
	Force bool
	// Progress receives one line per undo step (what was reverted, what was already absent).
	Progress func(string)
}

// Undo reverts e with default options.
func (a *Applier) Undo(ctx context.Context, e *Entry) error { return a.UndoWith(ctx, e, UndoOptions{}) }

// UndoWith reverts e by running its undo actions in reverse order, under the journal's lock. It
// refuses in read-only mode, against another target than the entry's, and when an object changed
// since the fix (unless opts.Force). A pending or failed entry (the process died or stopped part-way)
// is undone too: each step is idempotent, and one whose object is absent says so.
func (a *Applier) UndoWith(ctx context.Context, e *Entry, opts UndoOptions) error {
	if a.ReadOnly {
		return ErrReadOnly
	}
	if err := a.sameTarget(e); err != nil {
		return err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	unlock, err := a.Journal.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// Another process may have undone it since it was read: the file under the lock decides.
	if cur, err := a.Journal.reload(e.ID); err == nil {
		*e = *cur
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal entry %s: %w", e.ID, err)
	}
	if e.State == StateUndone {
		when := ""
		if e.UndoneAt != nil {
			when = " at " + e.UndoneAt.Format(time.RFC3339)
		}
		return fmt.Errorf("journal entry %s was already undone%s", e.ID, when)
	}
	if len(e.Undo) == 0 {
		return fmt.Errorf("journal entry %s (%s) has nothing to undo", e.ID, e.State)
	}
	deps := &Deps{}
	if a.Deps != nil {
		d := *a.Deps
		deps = &d
	}
	deps.Force = opts.Force
	n := len(e.Undo)
	for i := n - 1; i >= 0; i-- {
		act := e.Undo[i]
		label := fmt.Sprintf("step %d/%d (%s)", n-i, n, act.Type)
		if act.State == StepUndone {
			progress(label + ": reverted by an earlier undo")
			continue
		}
		u, ok := undoerFor(act.Type)
		if !ok {
			return fmt.Errorf("undo %s: this build does not know how to undo %q", e.ID, act.Type)
		}
		err := u(ctx, deps, act.Params)
		var gone *AbsentError
		switch {
		case errors.As(err, &gone):
			why := "deleted since, or put back by someone"
			if act.State == StepPlanned {
				why = "the fix stopped before this write, or it was reverted since"
			}
			progress(fmt.Sprintf("%s: %s is already as before (%s): nothing to do", label, gone.What, why))
		case err != nil:
			var ch *ChangedError
			if errors.As(err, &ch) {
				return fmt.Errorf("undo %s stopped: %w", e.ID, ch)
			}
			if apierr.KindOf(err) == apierr.Conflict {
				return fmt.Errorf("undo %s stopped: the object changed since the fix was applied; nothing was overwritten: %w", e.ID, err)
			}
			return fmt.Errorf("undo %s (step %s): %w", e.ID, act.Type, err)
		default:
			progress(label + ": reverted")
		}
		e.Undo[i].State = StepUndone
		if err := a.Journal.Write(e); err != nil {
			return fmt.Errorf("undo %s: step reverted but the journal could not be updated: %w", e.ID, err)
		}
	}
	t := time.Now().UTC()
	e.State, e.UndoneAt = StateUndone, &t
	return a.Journal.Write(e)
}

// sameTarget refuses an undo unless the current kubeconfig context, project, cluster (and location,
// when both know it) are the entry's, naming both.
func (a *Applier) sameTarget(e *Entry) error {
	want, got := e.Target, a.Target
	var diffs []string
	if want.Demo != got.Demo {
		diffs = append(diffs, fmt.Sprintf("world: %s vs %s", worldName(want.Demo), worldName(got.Demo)))
	}
	for _, f := range []struct{ name, want, got string }{
		{"kubeconfig context", want.Context, got.Context},
		{"project", want.Project, got.Project},
		{"cluster", want.Cluster, got.Cluster},
	} {
		if f.want != f.got {
			diffs = append(diffs, fmt.Sprintf("%s: %s vs %s", f.name, orUnset(f.want), orUnset(f.got)))
		}
	}
	if want.Location != "" && got.Location != "" && want.Location != got.Location {
		diffs = append(diffs, fmt.Sprintf("location: %s vs %s", want.Location, got.Location))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("journal entry %s was applied to %s, not to the current target %s (%s, the entry's first); "+
		"switch to that context (--context) and project (--project) first", e.ID, describe(want), describe(got), strings.Join(diffs, "; "))
}

func worldName(demo bool) string {
	if demo {
		return "the demo world"
	}
	return "a real cluster"
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// AbsentError is what an undoer returns when the object it would revert is already as it was
// before the fix (deleted, never created, or put back): nothing to do, which is success.
type AbsentError struct{ What string }

func (e *AbsentError) Error() string { return e.What + " is already as before the fix" }

// Absent reports that what is already as before the fix.
func Absent(what string) error { return &AbsentError{What: what} }

// ChangedError is an undo refused because the object changed since the fix; Diff shows how
// ("- " at the fix, "+ " now). Forceable says whether --force would revert it anyway.
type ChangedError struct {
	Resource  string
	Why       string
	Diff      string
	Forceable bool
}

func (e *ChangedError) Error() string {
	s := fmt.Sprintf("%s changed since the fix (%s); nothing was overwritten", e.Resource, e.Why)
	if e.Diff != "" {
		s += "\n" + strings.TrimRight(e.Diff, "\n")
	}
	if e.Forceable {
		s += "\nre-run undo with --force to revert it anyway"
	} else {
		s += "\n--force does not override this: revert it by hand"
	}
	return s
}

// Unwrap makes a ChangedError a conflict for apierr.KindOf.
func (e *ChangedError) Unwrap() error {
	return &apierr.Error{Kind: apierr.Conflict, Op: "undo", Resource: e.Resource, Err: errors.New(e.Why)}
}

func describe(t Target) string {
	if t.Demo {
		return "the demo world"
	}
	var parts []string
	if t.Context != "" {
		parts = append(parts, "context "+t.Context)
	}
	s := t.Project
	if t.Cluster != "" {
		s += "/" + t.Cluster
	}
	if s != "" {
		parts = append(parts, "project/cluster "+s)
	}
	if len(parts) == 0 {
		return "an unnamed target"
	}
	return strings.Join(parts, ", ")
}
