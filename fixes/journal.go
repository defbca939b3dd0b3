package fixes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry states.
const (
	StatePending = "pending" // journaled, change in progress (or the process died during it)
	StateApplied = "applied"
	StateFailed  = "failed"  // apply failed; Error says why; Undo may still be needed if partial
	StateAborted = "aborted" // stopped before writing (concurrent change, read-only, snapshot failure)
	StateUndone  = "undone"
)

// Entry is one journal file: everything needed to explain and undo one applied fix.
type Entry struct {
	ID        string       `json:"id"`
	FixID     string       `json:"fixId"`
	Check     string       `json:"check"`
	Title     string       `json:"title"`
	Target    Target       `json:"target"`
	State     string       `json:"state"`
	Error     string       `json:"error,omitempty"`
	Message   string       `json:"message,omitempty"`
	Commands  []string     `json:"commands,omitempty"`
	Prior     []Object     `json:"prior"`
	Created   []Object     `json:"created,omitempty"`
	Undo      []UndoAction `json:"undo"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
	UndoneAt  *time.Time   `json:"undoneAt,omitempty"`
}

// Target names where a fix was applied, so undo can refuse to run against another cluster.
type Target struct {
	Project  string `json:"project,omitempty"`
	Location string `json:"location,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	Context  string `json:"context,omitempty"`
	Demo     bool   `json:"demo,omitempty"`
}

// Journal is a directory of entries, one JSON file each.
type Journal struct{ Dir string }

// DefaultDir is $XDG_STATE_HOME/gkedoctor/journal (~/.local/state/gkedoctor/journal).
func DefaultDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "gkedoctor", "journal")
}

// OpenJournal returns the journal in dir (created on first write).
func OpenJournal(dir string) *Journal { return &Journal{Dir: dir} }

func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Write stores e durably (temp file, fsync, rename); it is called before a fix changes anything.
func (j *Journal) Write(e *Entry) error {
	if err := os.MkdirAll(j.Dir, 0o700); err != nil {
		return fmt.Errorf("create journal directory %s: %w", j.Dir, err)
	}
	e.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(e.forDisk(), "", "  ") // display fields redacted (journal_display.go)
	if err != nil {
		return fmt.Errorf("encode journal entry %s: %w", e.ID, err)
	}
	final := filepath.Join(j.Dir, e.ID+".json")
	tmp, err := os.CreateTemp(j.Dir, e.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("write journal entry: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal entry %s: %w", final, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync journal entry %s: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// Get reads one entry by id (a unique prefix is accepted).
func (j *Journal) Get(id string) (*Entry, error) {
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	var match []*Entry
	for _, e := range entries {
		if e.ID == id {
			return e, nil
		}
		if strings.HasPrefix(e.ID, id) {
			match = append(match, e)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("no journal entry %q in %s (gkedoctor undo --list shows them)", id, j.Dir)
	case 1:
		return match[0], nil
	}
	return nil, fmt.Errorf("journal id %q is ambiguous (%d entries match); give more of it", id, len(match))
}

// List returns every entry, oldest first. A missing directory is an empty journal.
func (j *Journal) List() ([]*Entry, error) {
	files, err := os.ReadDir(j.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", j.Dir, err)
	}
	var out []*Entry
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(j.Dir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("read journal entry %s: %w", f.Name(), err)
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("journal entry %s is corrupt: %w", filepath.Join(j.Dir, f.Name()), err)
		}
		out = append(out, &e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Last returns the newest entry that can still be undone (applied, or failed part-way), for target.
func (j *Journal) Last(t Target) (*Entry, error) {
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if (e.State == StateApplied || e.State == StatePending || e.State == StateFailed) && len(e.Undo) > 0 && e.Target.Demo == t.Demo {
			return e, nil
		}
	}
	return nil, fmt.Errorf("nothing to undo: the journal in %s has no applied fix", j.Dir)
}
