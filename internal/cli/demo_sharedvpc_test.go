package cli

import (
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// The shared-vpc demo world's story (issue 12), in one process as a person runs it: the reachability
// family fails (no internal load balancer; then no rule in the host for the Cloud Run subnet, behind the
// folder policy's goto_next), the internal load balancers are created, the firewall rule is advice for
// the host's network team (the caller may not write the host's firewall: testIamPermissions), the
// network team carries it out (`--done`), the client is pointed at names it can resolve (a zone on the
// host's network, beside the hub's), and with the seed's other fixes every check passes (pod egress is
// not applicable: no peering in this layout).
func TestDemoSharedVPCStory(t *testing.T) {
	prev := app.DemoWorldStarter
	app.DemoWorldStarter = sim.DemoWorldStarter
	t.Cleanup(func() { app.DemoWorldStarter = prev })
	runRule := fixes.FirewallRuleName(sim.Cluster, sim.AppSubnetRange, 80)
	code, rep := runDemoFix(t, "--world", "shared-vpc", "clusterip-unreachable",
		"request-firewall/"+sim.HostProject+"/"+runRule, "dns-servfail", "point-client-at-owned-names/gke-connectivity-tester4",
		"sa-token-401", "knative-gateway-address", "mesh-trafficdirector-role", "websocket-handshake", "--done")
	for _, r := range rep.Results {
		want := "pass"
		if r.ID == "pod-egress-cross-project" {
			want = "skip"
		}
		if r.Status != want {
			t.Errorf("%s: %s %s", r.ID, r.Status, r.Summary)
		}
	}
	want := map[string]bool{"create-internal-lb/default/development-agent": false, "create-internal-lb/default/environment-manager": false,
		"request-firewall/" + sim.HostProject + "/" + runRule: false, "point-client-at-owned-names/gke-connectivity-tester4": false}
	for _, a := range rep.Applied {
		if _, ok := want[a.FixID]; ok && a.State == "applied" {
			want[a.FixID] = true
		}
		if a.State != "applied" {
			t.Errorf("fix %s: %s %s", a.FixID, a.State, a.Error)
		}
	}
	for id, ok := range want {
		if !ok {
			t.Errorf("fix %s not applied: %+v", id, rep.Applied)
		}
	}
	if _, sum := status(rep, "clusterip-unreachable"); !strings.Contains(sum, "10.132.0.6:80") {
		t.Errorf("clusterip-unreachable: %s", sum)
	}
	if code != 0 {
		t.Errorf("exit %d after the whole story", code)
	}
}

// Before any fix the layout's own causes are found without flags: the client in the app project and
// another region (--source-project comes from the world), the host's firewall, the connector on the
// host's subnet; an unknown world is exit 2 naming the choices.
func TestDemoSharedVPCAuditAndUnknownWorld(t *testing.T) {
	prev, prevW := app.DemoStarter, app.DemoWorldStarter
	app.DemoStarter, app.DemoWorldStarter = sim.DemoStarter, sim.DemoWorldStarter
	t.Cleanup(func() { app.DemoStarter, app.DemoWorldStarter = prev, prevW })
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	code, out, _ := run(t, "audit", "--demo", "--world", "shared-vpc", "-o", "json")
	if code != 1 || !strings.Contains(out, sim.HostProject) || !strings.Contains(out, "Cloud Run gke-connectivity-tester4 ("+sim.AppRegion+")") {
		t.Fatalf("exit %d\n%.3000s", code, out)
	}
	code, _, stderr := run(t, "audit", "--demo", "--world", "nope")
	if code != ExitUsage || !strings.Contains(stderr, "--world") || !strings.Contains(stderr, "seed, shared-vpc") {
		t.Fatalf("exit %d: %q", code, stderr)
	}
}
