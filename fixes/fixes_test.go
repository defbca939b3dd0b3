package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// store is a tiny versioned object store standing in for an API with optimistic concurrency.
type store struct {
	mu      sync.Mutex
	objects map[string]string
	version map[string]int
	writes  int
}

func (s *store) get(k string) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[k], s.version[k]
}

func (s *store) put(k, v string, ifVersion int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version[k] != ifVersion {
		return &apierr.Error{Kind: apierr.Conflict, Op: "update", Resource: k, Err: errors.New("version mismatch")}
	}
	s.objects[k] = v
	s.version[k]++
	s.writes++
	return nil
}

var testStore = &store{objects: map[string]string{}, version: map[string]int{}}

func init() {
	RegisterUndoer("test.restore", func(ctx context.Context, deps *Deps, params json.RawMessage) error {
		var p struct {
			Key, Value string
			Version    int
		}
		if err := json.Unmarshal(params, &p); err != nil {
			return err
		}
		return testStore.put(p.Key, p.Value, p.Version)
	})
}

func setPlan(key, value string, journalDir string, t *testing.T, between func()) *Plan {
	return &Plan{
		ID: "set/" + key, Check: "test", Title: "set " + key, Reversible: true,
		Snapshot: func(ctx context.Context) (Snapshot, error) {
			v, ver := testStore.get(key)
			return Snapshot{
				Prior: []Object{{API: "test", Kind: "Value", Name: key, Version: itoa(ver), Contents: json.RawMessage(`"` + v + `"`)}},
				Undo:  []UndoAction{NewUndo("test.restore", map[string]any{"Key": key, "Value": v, "Version": ver + 1})},
			}, nil
		},
		Apply: func(ctx context.Context, snap Snapshot) (Outcome, error) {
			// The journal must already hold the prior object.
			files, _ := filepath.Glob(filepath.Join(journalDir, "*.json"))
			if len(files) == 0 {
				t.Error("Apply ran before the journal entry was written")
			} else {
				b, _ := os.ReadFile(files[len(files)-1])
				if !strings.Contains(string(b), `"name": "`+key+`"`) {
					t.Errorf("journal entry lacks the prior object: %s", b)
				}
			}
			if between != nil {
				between()
			}
			ver := 0
			_, _ = json.Marshal(snap)
			for _, p := range snap.Prior {
				ver = atoi(p.Version)
			}
			if err := testStore.put(key, value, ver); err != nil {
				return Outcome{}, err
			}
			return Outcome{Message: key + " set to " + value}, nil
		},
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
func atoi(s string) int { var i int; _ = json.Unmarshal([]byte(s), &i); return i }

func TestApplyJournalsFirstAndUndoRestores(t *testing.T) {
	dir := t.TempDir()
	testStore.put("a", "old", 0)
	ap := &Applier{Journal: OpenJournal(dir)}
	res, err := ap.Apply(context.Background(), setPlan("a", "new", dir, t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := testStore.get("a"); v != "new" {
		t.Fatalf("not applied: %q", v)
	}
	if res.Entry.State != StateApplied {
		t.Fatalf("state %s", res.Entry.State)
	}
	last, err := ap.Journal.Last(Target{})
	if err != nil || last.ID != res.Entry.ID {
		t.Fatalf("last: %v %v", last, err)
	}
	// A new process: read the entry back from disk and undo it.
	e, err := OpenJournal(dir).Get(res.Entry.ID[:10])
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Undo(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if v, _ := testStore.get("a"); v != "old" {
		t.Fatalf("undo did not restore: %q", v)
	}
	e, _ = OpenJournal(dir).Get(res.Entry.ID)
	if e.State != StateUndone || e.UndoneAt == nil {
		t.Fatalf("entry not marked undone: %+v", e)
	}
	if err := ap.Undo(context.Background(), e); err == nil {
		t.Fatal("undoing twice must fail")
	}
	if _, err := ap.Journal.Last(Target{}); err == nil {
		t.Fatal("nothing should be left to undo")
	}
}

func TestConcurrentChangeStopsTheFixWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	testStore.put("b", "old", testStoreVersion("b"))
	ap := &Applier{Journal: OpenJournal(dir)}
	var writesBefore int
	plan := setPlan("b", "ours", dir, t, func() {
		// Someone else changes the object between our read and our write.
		_, v := testStore.get("b")
		testStore.put("b", "theirs", v)
		testStore.mu.Lock()
		writesBefore = testStore.writes
		testStore.mu.Unlock()
	})
	res, err := ap.Apply(context.Background(), plan, nil)
	if err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("got %v", err)
	}
	if v, _ := testStore.get("b"); v != "theirs" {
		t.Fatalf("the concurrent change was overwritten: %q", v)
	}
	testStore.mu.Lock()
	after := testStore.writes
	testStore.mu.Unlock()
	if after != writesBefore {
		t.Fatal("the fix wrote despite the conflict")
	}
	if res.Entry.State != StateAborted || len(res.Entry.Undo) != 0 {
		t.Fatalf("entry %+v", res.Entry)
	}
}

func testStoreVersion(k string) int { _, v := testStore.get(k); return v }

func TestReadOnlyAndAdviceRefused(t *testing.T) {
	dir := t.TempDir()
	ap := &Applier{Journal: OpenJournal(dir), ReadOnly: true}
	if _, err := ap.Apply(context.Background(), setPlan("c", "x", dir, t, nil), nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only apply: %v", err)
	}
	if err := ap.Undo(context.Background(), &Entry{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only undo: %v", err)
	}
	ap.ReadOnly = false
	if _, err := ap.Apply(context.Background(), &Plan{ID: "advice", Advice: true}, nil); !errors.Is(err, ErrAdviceOnly) {
		t.Fatalf("advice: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("refused fixes left journal files: %v", files)
	}
}

func TestUndoRefusesAnotherTarget(t *testing.T) {
	ap := &Applier{Journal: OpenJournal(t.TempDir()), Target: Target{Project: "a"}}
	err := ap.Undo(context.Background(), &Entry{ID: "x", State: StateApplied, Target: Target{Project: "b"}, Undo: []UndoAction{NewUndo("test.restore", nil)}})
	if err == nil || !strings.Contains(err.Error(), "not to the current target") {
		t.Fatalf("got %v", err)
	}
}

func TestCorruptJournalEntryIsListedAndBlocksNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.json"), []byte("{not json"), 0o600)
	l, err := OpenJournal(dir).Scan()
	if err != nil || len(l.Unreadable) != 1 || !strings.Contains(l.Unreadable[0].Err.Error(), "corrupt") {
		t.Fatalf("got %+v, %v", l, err)
	}
	if _, err := OpenJournal(dir).Get("x"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("get of the corrupt file: %v", err)
	}
}

func TestDefaultDirFollowsXDG(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/tmp/xdg-state")
	if got, err := DefaultDir(); err != nil || got != "/tmp/xdg-state/gkedoctor/journal" {
		t.Fatalf("got %s, %v", got, err)
	}
}

func TestDiff(t *testing.T) {
	got := Diff("type: ClusterIP\nports: 80\n", "type: LoadBalancer\nports: 80\n")
	want := "- type: ClusterIP\n+ type: LoadBalancer\n  ports: 80\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
