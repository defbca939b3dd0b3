package checks_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	clouddns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// The seed incident in the demo world, through the product's own session (app.Build with --demo):
// both DNS checks fail with the seed's causes; after the reachability fix and the owned-zone fix (and
// the client pointed at the new names) the client's name resolves to 10.132.0.6, the simulated
// connection through it succeeds and both checks pass; a hand edit of GKE's zone is reported as such,
// and GKE's simulated controller reverts one made through the API.
func TestDNSDemoWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the whole demo world")
	}
	s, world, ctx := demoSession(t, nil)
	eng := &checks.Engine{Timeout: time.Minute}
	run := func(ids ...string) map[string]checks.Result {
		t.Helper()
		list, err := checks.Select(ids)
		if err != nil {
			t.Fatal(err)
		}
		s.Inv.Invalidate()
		out := map[string]checks.Result{}
		for _, r := range eng.Run(ctx, s.Env, list, nil) {
			out[r.ID] = r
		}
		return out
	}
	apply := func(p *fixes.Plan) {
		t.Helper()
		if _, err := s.Applier.Apply(ctx, p, nil); err != nil {
			t.Fatalf("apply %s: %v", p.ID, err)
		}
	}
	dump := func(r checks.Result) string {
		var b strings.Builder
		b.WriteString("\n" + string(r.Status) + " " + r.Cause + ": " + r.Summary)
		for _, e := range r.Evidence {
			b.WriteString("\n  " + string(e.Status) + " " + e.Step + ": " + e.Detail)
		}
		return b.String()
	}
	find := func(r checks.Result, id string) *fixes.Plan {
		for _, p := range r.Fixes {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("%s does not offer %s", r.ID, id)
		return nil
	}

	// The seed: SERVFAIL through the forwarding zone to kube-dns's ClusterIP; GKE's records hold
	// ClusterIPs.
	rs := run("clusterip-unreachable", "dns-servfail", "dns-stale-record")
	if r := rs["dns-servfail"]; r.Status != checks.Fail || r.Cause != "forwarding-to-clusterip" || !strings.Contains(r.Summary, sim.KubeDNSIP) ||
		!strings.Contains(r.Summary, "observed live: SERVFAIL") {
		t.Fatalf("dns-servfail on the seed%s", dump(r))
	}
	if r := rs["dns-stale-record"]; r.Status != checks.Fail || r.Cause != "record-is-clusterip" || !strings.Contains(r.Summary, sim.DevAgentIP) {
		t.Fatalf("dns-stale-record on the seed%s", dump(r))
	}

	// The reachability fix (internal LBs), then the owned zone, then the client pointed at it.
	for _, p := range rs["clusterip-unreachable"].Fixes {
		if !p.Advice && !p.Alternative {
			apply(p)
		}
	}
	rs = run("dns-servfail")
	apply(find(rs["dns-servfail"], fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName)))
	apply(find(rs["dns-servfail"], fixes.ClientEnvPlanID(sim.CloudRunService)))

	name := "development-agent.default." + strings.TrimSuffix(fixes.DefaultOwnedDomain, ".")
	res := probe.DNS(ctx, world.Resolver(), name, dns.TypeA)
	if ips := res.IPs(); res.Outcome != probe.OutcomeAnswer || len(ips) != 1 || ips[0].String() != sim.FirstILBIP {
		t.Fatalf("%s from the VPC: %v %v", name, res.Outcome, ips)
	}
	conn, err := s.Env.Dialer.DialContext(ctx, "tcp", net.JoinHostPort(res.IPs()[0].String(), "80"))
	if err != nil {
		t.Fatalf("the simulated connection from Cloud Run through %s failed: %v", name, err)
	}
	conn.Close()
	rs = run("dns-servfail", "dns-stale-record")
	for _, id := range []string{"dns-servfail", "dns-stale-record"} {
		if rs[id].Status != checks.Pass {
			t.Fatalf("%s after the fixes%s", id, dump(rs[id]))
		}
	}
	if !strings.Contains(rs["dns-servfail"].Summary, name+" resolves to "+sim.FirstILBIP) {
		t.Errorf("dns-servfail: %s", rs["dns-servfail"].Summary)
	}

	// The seed's hand patch of GKE's record (before the controller has looked): reported as a hand
	// edit the controller will overwrite.
	clusterName := "development-agent.default.svc." + sim.Domain + "."
	s.Env.Targets.DNSNames = []string{clusterName}
	if err := world.GCP().SetRRSet(sim.Project, sim.ClusterZone, &clouddns.ResourceRecordSet{Name: clusterName, Type: "A", Ttl: 30, Rrdatas: []string{sim.FirstILBIP}}); err != nil {
		t.Fatal(err)
	}
	rs = run("dns-stale-record")
	if r := rs["dns-stale-record"]; r.Status != checks.Fail || r.Cause != "hand-edit-in-managed-zone" || !strings.Contains(r.Summary, "writes "+sim.DevAgentIP) {
		t.Fatalf("hand edit%s", dump(r))
	}
	for _, p := range rs["dns-stale-record"].Fixes {
		if strings.Contains(p.ID, sim.ClusterZone) {
			t.Errorf("a fix writes to GKE's zone: %s", p.ID)
		}
	}
	// The same edit made through the API, as the console makes it: GKE's controller puts the
	// ClusterIP back.
	g, err := gcp.New(ctx, gcp.Options{Endpoint: world.GCPEndpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.DNS.ResourceRecordSets.Patch(sim.Project, sim.ClusterZone, clusterName, "A",
		&clouddns.ResourceRecordSet{Name: clusterName, Type: "A", Ttl: 30, Rrdatas: []string{sim.FirstILBIP}}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got string
		for _, rr := range world.GCP().RRSets(sim.Project, sim.ClusterZone) {
			if rr.Name == clusterName && rr.Type == "A" {
				got = strings.Join(rr.Rrdatas, ",")
			}
		}
		if got == sim.DevAgentIP {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GKE's controller did not revert the hand edit (record holds %s)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := run("dns-stale-record")["dns-stale-record"]; r.Cause != "record-is-clusterip" {
		t.Fatalf("after the controller's revert%s", dump(r))
	}
}
