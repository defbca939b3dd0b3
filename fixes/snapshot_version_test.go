package fixes

import "testing"

func TestSnapshotVersion(t *testing.T) {
	if v := (Snapshot{}).Version(); v != "" {
		t.Errorf("empty snapshot: version %q", v)
	}
	if _, err := (Snapshot{}).RequireVersion(); err == nil {
		t.Error("a snapshot without a version lets a conditional patch through")
	}
	s := Snapshot{Prior: []Object{{Version: "42"}, {Version: "7"}}}
	if v, err := s.RequireVersion(); err != nil || v != "42" {
		t.Errorf("RequireVersion = %q, %v; want the first object's 42", v, err)
	}
	if v, err := (Snapshot{Prior: []Object{{}}}).RequireVersion(); err == nil {
		t.Errorf("a saved object without a version gave %q", v)
	}
}
