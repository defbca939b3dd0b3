package checks

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// A plan is refused as advice when a fact its judgement depends on could not be read (issue 12,
// "Fixes that must not harm"), one test per family, each through the real Google API clients against
// the fake server with the fault injected.

// DNS: the seed's forwarding zone to kube-dns and the owned-zone fix, with the response policies of
// the hub project (read through --dns-project) unreadable. A response policy there could answer the
// client before any zone, so neither the new zone nor the deletion is judged: both are advice naming
// the permission.
func TestDNSPlansOnAnUnreadViewAreAdviceNamingThePermission(t *testing.T) {
	w := newDNSWorld(t)
	w.seedGCP("")
	w.fake.InjectFault(fakegcp.Fault{Method: "GET", PathRegexp: regexp.MustCompile(`/projects/acme-dns-hub/responsePolicies$`), Status: 403})
	env := w.env()
	env.Targets.DNSProjects = []string{dwHub}
	res := dnsRun(t, env, "dns-servfail")
	var zonePlans int
	for _, p := range res.Fixes {
		if !strings.HasPrefix(p.ID, "create-private-zone/") && !strings.HasPrefix(p.ID, "delete-forwarding-zone/") {
			continue
		}
		zonePlans++
		if !p.Advice || p.Apply != nil || p.Snapshot != nil {
			t.Errorf("%s is applicable although the hub's response policies are unread: %s", p.ID, p.Description)
		}
		if !strings.Contains(p.Description, "dns.responsePolicies.list") || !strings.Contains(strings.Join(p.JudgedAgainst, "\n"), "not judged: the response policies of project acme-dns-hub") {
			t.Errorf("%s does not name the unread fact and permission: %q / %q", p.ID, p.Description, p.JudgedAgainst)
		}
	}
	if zonePlans == 0 {
		t.Fatalf("no zone plan offered to judge (%s %s: %s; fixes %v)", res.Status, res.Cause, res.Summary, dnsFixIDs(res))
	}
}

// The same world with everything readable: the owned-zone plan is applicable and says what it was
// judged against (the network it binds, the other zones, the clients).
func TestDNSOwnedZonePlanStatesItsBlastRadius(t *testing.T) {
	w := newDNSWorld(t)
	w.seedGCP("")
	res := dnsRun(t, w.env(), "dns-servfail")
	p := fixByID(res, "create-private-zone/"+fixes.DefaultOwnedZoneName)
	if p == nil {
		t.Fatalf("no owned-zone plan: %v", dnsFixIDs(res))
	}
	got := strings.Join(p.JudgedAgainst, "\n")
	for _, want := range []string{"networks bound: default", "other zones network default sees:", "Cloud Run services resolving names in it:"} {
		if !strings.Contains(got, want) {
			t.Errorf("judged against lacks %q:\n%s", want, got)
		}
	}
	if p.Advice || p.Apply == nil {
		t.Errorf("owned-zone plan refused on a fully read view: %s", p.Description)
	}
}

// Run egress (the NAT family): covered by TestRunEgressFix.../nat_unreadable_is_advice_naming_the_permission;
// here the plan also lists the fact it was not judged on.
func TestRunEgressPlanUnjudgedNamesTheFact(t *testing.T) {
	p := (&fixes.Plan{ID: "x", Title: "t", Apply: nil}).Judge([]string{"all egress"}, fixes.Unread{Fact: "Cloud NAT on network default in europe-west1", Permission: "compute.routers.list"})
	if !p.Advice || !strings.Contains(p.Description, "compute.routers.list") || !strings.Contains(p.JudgedAgainst[1], "not judged: Cloud NAT") {
		t.Fatalf("%+v", p)
	}
}
