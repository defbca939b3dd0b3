package checks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// Seed 004 in the demo world, through the product's own session: pod-egress-cross-project fails with
// the seed's cause (routes-based pod range not exchanged, ip-masq-agent on its defaults) while the
// simulated pod cannot connect to partner-api-1 and a node can; fix A (the ip-masq-agent ConfigMap)
// makes it pass and the pod connect, undo brings the failure back; fix B (exchanging the custom
// routes on both peerings) makes it pass too, with the pod's own IP.
func TestPodEgressDemoWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the whole demo world")
	}
	s, world, ctx := demoSession(t, nil)
	eng := &checks.Engine{Timeout: time.Minute}
	c, ok := checks.Lookup("pod-egress-cross-project")
	if !ok {
		t.Fatal("pod-egress-cross-project is not registered")
	}
	check := func() checks.Result {
		t.Helper()
		s.Inv.Invalidate()
		return eng.Run(ctx, s.Env, []checks.Check{c}, nil)[0]
	}
	plan := func(r checks.Result, id string) *fixes.Plan {
		t.Helper()
		for _, p := range r.Fixes {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("no fix %s in %+v", id, r.Fixes)
		return nil
	}
	target := sim.PeerHost + ":443"
	connects := func(source string) bool {
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		return probe.TCP(dctx, world.DialerFrom(source), target).OK
	}
	podConnects := func() bool { return connects(sim.SourcePod) }
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	r := check()
	if r.Status != checks.Fail || r.Cause != "pod-range-not-exported" || !strings.Contains(r.Summary, "leaves with its pod IP (172.16.0.0/16)") {
		t.Fatalf("the demo world should start with seed 004's failure: %s %s %s", r.Status, r.Cause, r.Summary)
	}
	if podConnects() {
		t.Fatal("the simulated pod reaches the partner before any fix")
	}
	if !connects(sim.SourceNode) {
		t.Fatal("seed 004: the node reaches the partner")
	}

	// Fix A: the recommended fix.
	a := plan(r, fixes.IPMasqPlanID)
	applied, err := s.Applier.Apply(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := check(); r.Status != checks.Pass || !strings.Contains(r.Summary, "the node IP") {
		t.Fatalf("after fix A: %s %s %s", r.Status, r.Cause, r.Summary)
	}
	eventually("the simulated pod connects once ip-masq-agent reloads", podConnects)
	if err := s.Applier.Undo(ctx, applied.Entry); err != nil {
		t.Fatal(err)
	}
	r = check()
	if r.Cause != "pod-range-not-exported" {
		t.Fatalf("after undoing fix A: %s %s", r.Status, r.Summary)
	}
	eventually("the simulated pod is cut off again", func() bool { return !podConnects() })

	// Fix B: exchange the custom routes (VPC-wide, asked for by id).
	b := plan(r, "exchange-custom-routes/dev-orchestra/peer-partner-data")
	if !b.VPCWide || !b.NeedsConfirmation() || b.Affects == "" {
		t.Errorf("fix B must ask a second time and say what else it affects: %+v", b)
	}
	if _, err := s.Applier.Apply(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.Status != checks.Pass || !strings.Contains(r.Summary, "its pod IP") || !strings.Contains(r.Summary, "has a route back") {
		t.Fatalf("after fix B: %s %s %s", r.Status, r.Cause, r.Summary)
	}
	if !podConnects() {
		t.Fatal("after fix B the simulated pod still cannot connect")
	}
}
