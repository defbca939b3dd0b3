package fixes

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Judge records the blast radius; an unread fact refuses the plan as advice naming it, and applying
// it then fails with ErrAdviceOnly before anything is journaled.
func TestJudgeRefusesAPlanJudgedOnUnreadFacts(t *testing.T) {
	mk := func() *Plan {
		return &Plan{ID: "x", Title: "t", Description: "d", Reversible: true,
			Snapshot: func(context.Context) (Snapshot, error) { return Snapshot{}, nil },
			Apply:    func(context.Context, Snapshot) (Outcome, error) { return Outcome{}, nil }}
	}
	p := mk().Judge([]string{"network default: 3 other ingress rules", "  ", ""})
	if p.Advice || p.Apply == nil || len(p.JudgedAgainst) != 1 {
		t.Fatalf("fully judged plan changed: advice=%v judged=%q", p.Advice, p.JudgedAgainst)
	}
	p = mk().Judge([]string{"network default"}, Unread{Fact: "the firewall rules of project host", Permission: "compute.firewalls.list"})
	if !p.Advice || p.Apply != nil || p.Snapshot != nil {
		t.Fatalf("plan judged on an unread fact is applicable: %+v", p)
	}
	if !strings.Contains(p.Description, "the firewall rules of project host could not be read (needs compute.firewalls.list)") || !strings.HasSuffix(p.Description, " d") {
		t.Errorf("description does not name the fact and permission: %q", p.Description)
	}
	if got := p.JudgedAgainst[len(p.JudgedAgainst)-1]; !strings.HasPrefix(got, "not judged: the firewall rules") {
		t.Errorf("judged against does not list the unread fact: %q", p.JudgedAgainst)
	}
	a := &Applier{Journal: &Journal{Dir: t.TempDir()}}
	if _, err := a.Apply(context.Background(), p, nil); !errors.Is(err, ErrAdviceOnly) {
		t.Errorf("applying the refused plan: %v, want ErrAdviceOnly", err)
	}
	c := (&Plan{ID: "y", CarriedOut: true}).Judge(nil, Unread{Fact: "f"})
	if c.Advice {
		t.Errorf("a carried-out record became advice")
	}
}
