package tui

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// The one stop policy (internal/fixrun), through the checklist: of a recommended set of three, the
// second fails; the first stays applied (nothing is undone), the third is not attempted, the fix
// note and the status line say so, and the check is re-checked — the same rules as `gkedoctor fix`.
func TestFix_setStopsAtTheFirstFailedFix(t *testing.T) {
	cfg, tc, spy := testConfig(t, false)
	var third atomic.Int32
	tc.plans = func() []*fixes.Plan {
		a := tc.w.plan(tc.id)
		b := tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Wait = "fw", "Allow 192.168.99.0/28 to the nodes on tcp:80", nil
			p.Apply = func(context.Context, fixes.Snapshot) (fixes.Outcome, error) {
				return fixes.Outcome{}, errors.New("firewalls.insert: Required 'compute.firewalls.create' permission")
			}
		})
		c := tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Wait = "egress", "Set the Cloud Run egress to all-traffic", nil
			p.Apply = func(context.Context, fixes.Snapshot) (fixes.Outcome, error) {
				third.Add(1)
				return fixes.Outcome{}, nil
			}
		})
		return []*fixes.Plan{a, b, c}
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f", "a")
	h.waitFor("the set to stop", func() bool { return h.m.fix == nil && h.row("clusterip-unreachable").fixNote != "" })
	if n := spy.applies.Load(); n != 2 || third.Load() != 0 {
		t.Fatalf("Applier.Apply called %d times, third fix ran %d times: want 2 and 0", n, third.Load())
	}
	if tc.w.undos.Load() != 0 || spy.undos.Load() != 0 || !tc.w.hasILB() {
		t.Errorf("the applied fix was undone (undos %d/%d, ILB %v): nothing is undone automatically", tc.w.undos.Load(), spy.undos.Load(), tc.w.hasILB())
	}
	r := h.row("clusterip-unreachable")
	for _, s := range []string{"✓ applied: Create an internal LoadBalancer", "✗ fix failed", "compute.firewalls.create",
		"– not attempted: Set the Cloud Run egress to all-traffic", "Stopped at the first fix that did not take", "nothing was undone"} {
		if !strings.Contains(r.fixNote, s) {
			t.Errorf("fix note lacks %q:\n%s", s, r.fixNote)
		}
	}
	if r.fixLevel != levelErr {
		t.Errorf("fix level %v, want error", r.fixLevel)
	}
	if !strings.Contains(h.status(), "1 not attempted") {
		t.Errorf("status %q: want the stop said", h.status())
	}
	h.waitFor("the re-check", allDone(h))
	if h.statusOf("clusterip-unreachable") == "" || h.statusOf("clusterip-unreachable") == checks.Skip {
		t.Errorf("not re-checked: %q", h.statusOf("clusterip-unreachable"))
	}
}
