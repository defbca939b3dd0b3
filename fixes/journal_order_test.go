package fixes

import (
	"testing"
	"time"
)

// Entries made within one second sort by their creation time, not by the random part of their ids:
// the newest is the one Last returns (undo --last, the TUI's u).
func TestJournalOrdersBySubsecondCreationTime(t *testing.T) {
	j := OpenJournal(t.TempDir())
	base := time.Date(2026, 11, 29, 7, 18, 8, 0, time.UTC)
	// Ids in the reverse order of creation, all within the same second.
	ids := []string{"20261129T071808Z-ffffff", "20261129T071808Z-888888", "20261129T071808Z-000000"}
	for i, id := range ids {
		e := &Entry{ID: id, FixID: "fix-" + id, State: StateApplied, CreatedAt: base.Add(time.Duration(i) * time.Millisecond),
			Undo: []UndoAction{NewUndo("noop", map[string]int{"i": i})}}
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	l, err := j.List()
	if err != nil || len(l) != 3 {
		t.Fatalf("%v %d", err, len(l))
	}
	for i, e := range l {
		if e.ID != ids[i] {
			t.Fatalf("entry %d is %s, want %s (creation order)", i, e.ID, ids[i])
		}
	}
	last, err := j.Last(Target{})
	if err != nil || last.ID != "20261129T071808Z-000000" {
		t.Fatalf("Last = %v %v", last, err)
	}
}
