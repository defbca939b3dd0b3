package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted is an undoer that counts its runs (slowly, so racing undos overlap).
var countedRuns atomic.Int32

func init() {
	RegisterUndoer("test.counted", func(ctx context.Context, deps *Deps, params json.RawMessage) error {
		countedRuns.Add(1)
		time.Sleep(50 * time.Millisecond)
		return nil
	})
	RegisterUndoer("test.absent", func(ctx context.Context, deps *Deps, params json.RawMessage) error {
		return Absent("object x")
	})
	RegisterUndoer("test.changed", func(ctx context.Context, deps *Deps, params json.RawMessage) error {
		if deps.Force {
			return nil
		}
		return &ChangedError{Resource: "object y", Why: "someone changed it", Diff: Diff("a: 1\n", "a: 2\n"), Forceable: true}
	})
}

func writeEntry(t *testing.T, j *Journal, e *Entry) {
	t.Helper()
	if err := j.Write(e); err != nil {
		t.Fatal(err)
	}
}

// Each write of a fix is journaled (planned, synced) before it is made: the file on disk holds the
// undo of write N while write N runs, and a pending entry is undone step by step, the steps whose
// object is absent saying so.
func TestStepsAreJournaledBeforeEachWrite(t *testing.T) {
	dir := t.TempDir()
	ap := &Applier{Journal: OpenJournal(dir)}
	onDisk := func() *Entry {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) != 1 {
			t.Fatalf("journal files: %v", files)
		}
		e, err := readEntry(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	plan := &Plan{ID: "two-writes", Title: "two writes",
		Apply: func(ctx context.Context, snap Snapshot) (Outcome, error) {
			for i := range 2 {
				err := snap.Steps.Do(NewUndo("test.counted", map[string]int{"write": i}), func() (*UndoAction, error) {
					e := onDisk()
					if e.State != StatePending || len(e.Undo) != i+1 || e.Undo[i].State != StepPlanned {
						t.Errorf("write %d ran before its undo was journaled: %+v", i, e.Undo)
					}
					return nil, nil
				})
				if err != nil {
					return Outcome{}, err
				}
			}
			return Outcome{Message: "done"}, nil
		}}
	res, err := ap.Apply(context.Background(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := onDisk(); e.State != StateApplied || len(e.Undo) != 2 || e.Undo[0].State != StepDone || e.Undo[1].State != StepDone {
		t.Fatalf("after apply: %+v", e)
	}
	_ = res

	// A pending entry, as a process killed after its first write leaves it.
	pending := &Entry{ID: "29990101T000000Z-000001", FixID: "f", Title: "killed", State: StatePending,
		Undo: []UndoAction{{Type: "test.counted", Params: json.RawMessage(`{}`), State: StepDone}, {Type: "test.absent", Params: json.RawMessage(`{}`), State: StepPlanned}}}
	writeEntry(t, ap.Journal, pending)
	last, err := ap.Journal.Last(Target{})
	if err != nil || last.ID != pending.ID {
		t.Fatalf("a pending entry is undoable: %v %v", last, err)
	}
	var lines []string
	before := countedRuns.Load()
	if err := ap.UndoWith(context.Background(), last, UndoOptions{Progress: func(s string) { lines = append(lines, s) }}); err != nil {
		t.Fatal(err)
	}
	if countedRuns.Load() != before+1 {
		t.Errorf("the done step was not undone")
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "object x is already as before") || !strings.Contains(out, "stopped before this write") || !strings.Contains(out, "reverted") {
		t.Errorf("undo output does not say what it did:\n%s", out)
	}
	if e, _ := ap.Journal.Get(pending.ID); e.State != StateUndone {
		t.Errorf("state %s", e.State)
	}
}

// A conflict on a later write keeps the undo of the earlier ones (failed, not aborted).
func TestConflictAfterAWriteKeepsItsUndo(t *testing.T) {
	ap := &Applier{Journal: OpenJournal(t.TempDir())}
	conflict := &ChangedError{Resource: "r", Why: "w"}
	plan := &Plan{ID: "p", Apply: func(ctx context.Context, snap Snapshot) (Outcome, error) {
		if err := snap.Steps.Do(NewUndo("test.counted", nil), func() (*UndoAction, error) { return nil, nil }); err != nil {
			return Outcome{}, err
		}
		return Outcome{}, snap.Steps.Do(NewUndo("test.counted", nil), func() (*UndoAction, error) { return nil, conflict })
	}}
	res, err := ap.Apply(context.Background(), plan, nil)
	if err == nil || res.Entry.State != StateFailed || len(res.Entry.Undo) != 1 || res.Entry.Undo[0].State != StepDone {
		t.Fatalf("got %v, %+v", err, res.Entry)
	}
}

// Undo refuses another kubeconfig context, project or cluster, naming the entry's and the current.
func TestUndoRefusesAnyOtherContextProjectOrCluster(t *testing.T) {
	base := Target{Project: "p", Location: "l", Cluster: "c", Context: "gke_p_l_c"}
	for name, cur := range map[string]Target{
		"context": {Project: "p", Location: "l", Cluster: "c", Context: "other"},
		"project": {Project: "q", Location: "l", Cluster: "c", Context: "gke_p_l_c"},
		"cluster": {Project: "p", Location: "l", Cluster: "d", Context: "gke_p_l_c"},
		"unset":   {Context: "gke_p_l_c"},
	} {
		t.Run(name, func(t *testing.T) {
			ap := &Applier{Journal: OpenJournal(t.TempDir()), Target: cur}
			e := &Entry{ID: "x", State: StateApplied, Target: base, Undo: []UndoAction{NewUndo("test.counted", nil)}}
			err := ap.Undo(context.Background(), e)
			if err == nil || !strings.Contains(err.Error(), "not to the current target") || !strings.Contains(err.Error(), name) && name != "unset" {
				t.Fatalf("got %v", err)
			}
			if !strings.Contains(err.Error(), "gke_p_l_c") {
				t.Errorf("the entry's target is not named: %v", err)
			}
		})
	}
}

// An object changed since the fix: undo refuses with the diff, --force reverts it.
func TestUndoShowsTheDiffAndForceOverrides(t *testing.T) {
	ap := &Applier{Journal: OpenJournal(t.TempDir())}
	e := &Entry{ID: "20260101T000000Z-000002", State: StateApplied, Undo: []UndoAction{NewUndo("test.changed", nil)}}
	writeEntry(t, ap.Journal, e)
	err := ap.Undo(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), "- a: 1\n+ a: 2") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v", err)
	}
	if err := ap.UndoWith(context.Background(), e, UndoOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// One corrupt file does not block the others: listed as unreadable, the rest undone.
func TestCorruptFileBlocksNoOtherUndo(t *testing.T) {
	dir := t.TempDir()
	ap := &Applier{Journal: OpenJournal(dir)}
	good := &Entry{ID: "20260101T000000Z-000003", State: StateApplied, Undo: []UndoAction{NewUndo("test.counted", nil)}}
	writeEntry(t, ap.Journal, good)
	os.WriteFile(filepath.Join(dir, "20270101T000000Z-ffffff.json"), []byte(`{"id": "20270101T000000Z-ff`), 0o600)
	l, err := ap.Journal.Scan()
	if err != nil || len(l.Entries) != 1 || len(l.Unreadable) != 1 {
		t.Fatalf("scan: %+v %v", l, err)
	}
	last, err := ap.Journal.Last(Target{})
	if err != nil || last.ID != good.ID {
		t.Fatalf("last: %v %v", last, err)
	}
	if err := ap.Undo(context.Background(), last); err != nil {
		t.Fatal(err)
	}
}

// Two undos of one entry racing (separate Journal values, so separate lock files descriptors, as two
// processes would have): the undoer runs once, the loser says it was already undone.
func TestRacingUndosRevertOnce(t *testing.T) {
	dir := t.TempDir()
	e := &Entry{ID: "20260101T000000Z-000004", State: StateApplied, Undo: []UndoAction{NewUndo("test.counted", nil)}}
	writeEntry(t, OpenJournal(dir), e)
	before := countedRuns.Load()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := OpenJournal(dir)
			cp, err := j.Get(e.ID)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = (&Applier{Journal: j}).Undo(context.Background(), cp)
		}()
	}
	wg.Wait()
	if got := countedRuns.Load() - before; got != 1 {
		t.Fatalf("the undo ran %d times", got)
	}
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !strings.Contains(err.Error(), "already undone"):
			t.Errorf("loser: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d undos succeeded: %v", ok, errs)
	}
}

// No HOME and no XDG_STATE_HOME: no journal under /tmp; the error says how to set XDG_STATE_HOME.
func TestNoHomeRefusesATempJournal(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	_, err := DefaultDir()
	if !errors.Is(err, ErrNoStateDir) || !strings.Contains(err.Error(), "XDG_STATE_HOME=") {
		t.Fatalf("got %v", err)
	}
	j := UnusableJournal(err)
	if werr := j.Write(&Entry{ID: "x"}); !errors.Is(werr, ErrNoStateDir) {
		t.Fatalf("write: %v", werr)
	}
	t.Setenv("XDG_STATE_HOME", "relative/dir")
	if _, err := DefaultDir(); err == nil {
		t.Fatal("a relative XDG_STATE_HOME was accepted")
	}
}

// An existing journal directory readable by others is tightened to 0700 on the next write.
func TestJournalDirectoryIsTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	writeEntry(t, OpenJournal(dir), &Entry{ID: "20260101T000000Z-000005", State: StateApplied})
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, %v", fi.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode().Perm())
		}
	}
}
