package fixes

import (
	"context"
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

// Journal is a directory of entries, one JSON file each. Err, when set, is why the journal cannot be
// used (no safe place for it): every write and read returns it, so no fix runs unjournaled.
type Journal struct {
	Dir string
	Err error
}

// ErrNoStateDir is returned when neither XDG_STATE_HOME nor HOME says where the journal lives.
var ErrNoStateDir = errors.New("HOME is not set, so there is no private place for the journal of applied fixes " +
	"(gkedoctor will not journal under /tmp, which other users can read): set XDG_STATE_HOME to a directory you own, " +
	"e.g. XDG_STATE_HOME=$PWD/.gkedoctor-state, or set HOME")

// DefaultDir is $XDG_STATE_HOME/gkedoctor/journal (~/.local/state/gkedoctor/journal). With neither
// XDG_STATE_HOME nor HOME it is an error (ErrNoStateDir): the journal holds prior objects and is never
// put in a world-readable temp directory.
func DefaultDir() (string, error) {
	if base := os.Getenv("XDG_STATE_HOME"); base != "" {
		if !filepath.IsAbs(base) {
			return "", fmt.Errorf("XDG_STATE_HOME=%q is not an absolute path; set it to a directory you own", base)
		}
		return filepath.Join(base, "gkedoctor", "journal"), nil
	}
	home := os.Getenv("HOME")
	if home == "" {
		return "", ErrNoStateDir
	}
	return filepath.Join(home, ".local", "state", "gkedoctor", "journal"), nil
}

// DemoDir is the demo world's journal beside dir (…/gkedoctor/journal-demo): demo fixes never mix with
// real ones.
func DemoDir(dir string) string { return filepath.Join(filepath.Dir(dir), "journal-demo") }

// OpenJournal returns the journal in dir (created on first write).
func OpenJournal(dir string) *Journal { return &Journal{Dir: dir} }

// UnusableJournal is a journal that refuses every use with err (see Journal.Err).
func UnusableJournal(err error) *Journal { return &Journal{Err: err} }

func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ensureDir creates the journal directory with mode 0700, and tightens an existing one to 0700: the
// entries hold prior objects (names, addresses, configuration) that other users have no business
// reading.
func (j *Journal) ensureDir() error {
	if j.Err != nil {
		return j.Err
	}
	if err := os.MkdirAll(j.Dir, 0o700); err != nil {
		return fmt.Errorf("create journal directory %s: %w", j.Dir, err)
	}
	fi, err := os.Stat(j.Dir)
	if err != nil {
		return fmt.Errorf("journal directory %s: %w", j.Dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("journal directory %s is not a directory", j.Dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(j.Dir, 0o700); err != nil {
			return fmt.Errorf("journal directory %s is readable by others (mode %o) and could not be tightened to 0700: %w", j.Dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// Write stores e durably: a temp file, fsync, rename over the entry, then fsync of the directory so
// the rename itself survives a crash. It is called before a fix changes anything and after each step.
func (j *Journal) Write(e *Entry) error {
	if err := j.ensureDir(); err != nil {
		return err
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
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal entry %s: %w", final, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal entry %s: %w", final, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync journal entry %s: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write journal entry %s: %w", final, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("write journal entry %s: %w", final, err)
	}
	return syncDir(j.Dir)
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync journal directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync journal directory %s: %w", dir, err)
	}
	return nil
}

// Unreadable is a journal file that could not be read or decoded. It is listed, never undone, and
// never stops the other entries from being listed or undone.
type Unreadable struct {
	File string // full path
	Err  error
}

// Listing is the journal's content: the entries that could be read, oldest first, and the files that
// could not.
type Listing struct {
	Entries    []*Entry
	Unreadable []Unreadable
}

// Scan reads every entry; a corrupt or unreadable file is reported in Unreadable and skipped. A
// missing directory is an empty journal.
func (j *Journal) Scan() (Listing, error) {
	if j.Err != nil {
		return Listing{}, j.Err
	}
	files, err := os.ReadDir(j.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return Listing{}, nil
	}
	if err != nil {
		return Listing{}, fmt.Errorf("read journal %s: %w", j.Dir, err)
	}
	var out Listing
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		path := filepath.Join(j.Dir, f.Name())
		e, err := readEntry(path)
		if err != nil {
			out.Unreadable = append(out.Unreadable, Unreadable{File: path, Err: err})
			continue
		}
		out.Entries = append(out.Entries, e)
	}
	// Oldest first by creation time (nanoseconds): ids carry seconds and a random suffix, so fixes
	// applied within one second (a set in the demo world) would otherwise sort at random and "the
	// newest" (undo --last, u) would be a coin toss. The id breaks ties.
	sort.SliceStable(out.Entries, func(a, b int) bool {
		ea, eb := out.Entries[a], out.Entries[b]
		ta, tb := createdAt(ea), createdAt(eb)
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return ea.ID < eb.ID
	})
	return out, nil
}

// createdAt is when e was made: its CreatedAt, or (an entry written without one) the time in its id.
func createdAt(e *Entry) time.Time {
	if !e.CreatedAt.IsZero() {
		return e.CreatedAt
	}
	if len(e.ID) >= 16 {
		if t, err := time.Parse("20060102T150405Z", e.ID[:16]); err == nil {
			return t
		}
	}
	return time.Time{}
}

func readEntry(path string) (*Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("corrupt (not a journal entry): %w", err)
	}
	if e.ID == "" || strings.TrimSuffix(filepath.Base(path), ".json") != e.ID {
		return nil, fmt.Errorf("corrupt: its id %q does not match its file name", e.ID)
	}
	return &e, nil
}

// List returns every readable entry, oldest first (unreadable files are skipped: Scan names them).
func (j *Journal) List() ([]*Entry, error) {
	l, err := j.Scan()
	return l.Entries, err
}

// Get reads one entry by id (a unique prefix is accepted). An unreadable file whose name matches the
// id is named in the error.
func (j *Journal) Get(id string) (*Entry, error) {
	l, err := j.Scan()
	if err != nil {
		return nil, err
	}
	var match []*Entry
	for _, e := range l.Entries {
		if e.ID == id {
			return e, nil
		}
		if strings.HasPrefix(e.ID, id) {
			match = append(match, e)
		}
	}
	switch len(match) {
	case 0:
		for _, u := range l.Unreadable {
			if strings.HasPrefix(filepath.Base(u.File), id) {
				return nil, fmt.Errorf("journal entry %s is %v; it cannot be undone by gkedoctor (inspect or remove the file)", u.File, u.Err)
			}
		}
		return nil, fmt.Errorf("no journal entry %q in %s (gkedoctor undo --list shows them)", id, j.Dir)
	case 1:
		return match[0], nil
	}
	return nil, fmt.Errorf("journal id %q is ambiguous (%d entries match); give more of it", id, len(match))
}

// reload reads entry id afresh from disk (under the lock, to see what another process did).
func (j *Journal) reload(id string) (*Entry, error) {
	return readEntry(filepath.Join(j.Dir, id+".json"))
}

// Undoable reports whether an entry still has something undo could revert.
func (e *Entry) Undoable() bool {
	return (e.State == StateApplied || e.State == StatePending || e.State == StateFailed) && len(e.Undo) > 0
}

// Last returns the newest entry that can still be undone (applied, pending, or failed part-way), for
// target.
func (j *Journal) Last(t Target) (*Entry, error) {
	entries, err := j.List()
	if err != nil {
		return nil, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Undoable() && e.Target.Demo == t.Demo {
			return e, nil
		}
	}
	return nil, fmt.Errorf("nothing to undo: the journal in %s has no applied fix", j.Dir)
}

// ErrLocked is returned when another process holds the journal's lock past the caller's deadline.
var ErrLocked = errors.New("another gkedoctor process is undoing a fix from this journal")

// Lock takes the journal's exclusive lock (flock on DIR/.lock), waiting until ctx ends. Undo holds it
// from re-reading the entry to marking it undone, so two processes cannot undo one entry twice.
func (j *Journal) Lock(ctx context.Context) (release func(), err error) {
	if err := j.ensureDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(j.Dir, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal lock %s: %w", path, err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock journal %s: %w", path, err)
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w (%s): %v", ErrLocked, path, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
