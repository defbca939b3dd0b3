package fakegcp_test

import (
	"fmt"
	"testing"

	dns "google.golang.org/api/dns/v1"
)

const hubProject = "acme-dns-hub"

const hostNetURL = "https://www.googleapis.com/compute/v1/projects/acme-host/global/networks/shared"

// Server policies, through the real dns/v1 client: seeded and created, listed across pages, one
// per network.
func TestDNS_ServerPolicies(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.PageSize = 1
	s.AddDNSPolicy(project, &dns.Policy{Name: "onprem-resolvers", EnableInboundForwarding: true,
		Networks: []*dns.PolicyNetwork{{NetworkUrl: hostNetURL}},
		AlternativeNameServerConfig: &dns.PolicyAlternativeNameServerConfig{TargetNameServers: []*dns.PolicyAlternativeNameServerConfigTargetNameServer{
			{Ipv4Address: "192.168.50.10", ForwardingPath: "private"}}}})
	s.AddDNSPolicy(project, nil) // ignored
	_, err := a.dns.Policies.Create(project, &dns.Policy{Name: "logging", EnableLogging: true,
		Networks: []*dns.PolicyNetwork{{NetworkUrl: "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/other"}}}).Context(ctx).Do()
	noErr(t, err)
	// A second policy on the same network is refused.
	_, err = a.dns.Policies.Create(project, &dns.Policy{Name: "second", Networks: []*dns.PolicyNetwork{{NetworkUrl: hostNetURL}}}).Context(ctx).Do()
	apiErr(t, err, 400)
	var got []*dns.Policy
	noErr(t, a.dns.Policies.List(project).Pages(ctx, func(r *dns.PoliciesListResponse) error {
		got = append(got, r.Policies...)
		return nil
	}))
	if len(got) != 2 || got[0].Name != "logging" || got[1].Name != "onprem-resolvers" {
		t.Fatalf("policies: %+v", got)
	}
	p := got[1]
	if p.Kind != "dns#policy" || p.Id == 0 || !p.EnableInboundForwarding || p.Networks[0].NetworkUrl != hostNetURL ||
		p.AlternativeNameServerConfig.TargetNameServers[0].Ipv4Address != "192.168.50.10" {
		t.Fatalf("policy: %+v", p)
	}
	one, err := a.dns.Policies.Get(project, "onprem-resolvers").Context(ctx).Do()
	noErr(t, err)
	if one.Name != "onprem-resolvers" {
		t.Fatalf("get: %+v", one)
	}
	_, err = a.dns.Policies.Get(project, "nope").Context(ctx).Do()
	apiErr(t, err, 404)
}

// Response policies and their rules, through the real dns/v1 client: local data, bypass, the
// validation of a rule, listing per policy across pages.
func TestDNS_ResponsePoliciesAndRules(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddResponsePolicy(hubProject, &dns.ResponsePolicy{ResponsePolicyName: "overrides", Networks: []*dns.ResponsePolicyNetwork{{NetworkUrl: hostNetURL}}})
	if !s.AddResponsePolicyRule(hubProject, "overrides", &dns.ResponsePolicyRule{RuleName: "agent", DnsName: "agent.default.svc.cluster.local",
		LocalData: &dns.ResponsePolicyRuleLocalData{LocalDatas: []*dns.ResourceRecordSet{{Name: "agent.default.svc.cluster.local", Type: "a", Rrdatas: []string{"10.132.0.6"}}}}}) {
		t.Fatal("rule not seeded")
	}
	if s.AddResponsePolicyRule(hubProject, "missing", &dns.ResponsePolicyRule{RuleName: "x", DnsName: "x."}) {
		t.Fatal("a rule of a missing policy was seeded")
	}
	s.PageSize = 2
	for i := range 3 {
		_, err := a.dns.ResponsePolicyRules.Create(hubProject, "overrides", &dns.ResponsePolicyRule{RuleName: fmt.Sprintf("pass-%d", i),
			DnsName: fmt.Sprintf("p%d.example.com.", i), Behavior: "bypassResponsePolicy"}).Context(ctx).Do()
		noErr(t, err)
	}
	// Neither local data nor behavior, both, local data named otherwise: 400.
	for _, bad := range []*dns.ResponsePolicyRule{
		{RuleName: "empty", DnsName: "e.example.com."},
		{RuleName: "both", DnsName: "b.example.com.", Behavior: "bypassResponsePolicy",
			LocalData: &dns.ResponsePolicyRuleLocalData{LocalDatas: []*dns.ResourceRecordSet{{Name: "b.example.com.", Type: "A", Rrdatas: []string{"10.0.0.1"}}}}},
		{RuleName: "misnamed", DnsName: "m.example.com.",
			LocalData: &dns.ResponsePolicyRuleLocalData{LocalDatas: []*dns.ResourceRecordSet{{Name: "other.example.com.", Type: "A", Rrdatas: []string{"10.0.0.1"}}}}},
	} {
		_, err := a.dns.ResponsePolicyRules.Create(hubProject, "overrides", bad).Context(ctx).Do()
		apiErr(t, err, 400)
	}
	_, err := a.dns.ResponsePolicyRules.Create(hubProject, "nope", &dns.ResponsePolicyRule{RuleName: "x", DnsName: "x.", Behavior: "bypassResponsePolicy"}).Context(ctx).Do()
	apiErr(t, err, 404)

	var rules []*dns.ResponsePolicyRule
	pages := 0
	noErr(t, a.dns.ResponsePolicyRules.List(hubProject, "overrides").Pages(ctx, func(r *dns.ResponsePolicyRulesListResponse) error {
		pages++
		rules = append(rules, r.ResponsePolicyRules...)
		return nil
	}))
	if pages != 2 || len(rules) != 4 || rules[0].RuleName != "agent" {
		t.Fatalf("rules: %d pages, %+v", pages, rules)
	}
	ld := rules[0].LocalData.LocalDatas[0]
	if rules[0].DnsName != "agent.default.svc.cluster.local." || ld.Type != "A" || ld.Ttl != 300 || ld.Name != "agent.default.svc.cluster.local." {
		t.Fatalf("local data not filled as the API does: %+v %+v", rules[0], ld)
	}
	var rps []*dns.ResponsePolicy
	noErr(t, a.dns.ResponsePolicies.List(hubProject).Pages(ctx, func(r *dns.ResponsePoliciesListResponse) error {
		rps = append(rps, r.ResponsePolicies...)
		return nil
	}))
	if len(rps) != 1 || rps[0].Networks[0].NetworkUrl != hostNetURL || rps[0].Id == 0 {
		t.Fatalf("response policies: %+v", rps)
	}
	// Another project sees none of them.
	r, err := a.dns.ResponsePolicies.List(project).Context(ctx).Do()
	noErr(t, err)
	if len(r.ResponsePolicies) != 0 {
		t.Fatalf("response policies leak across projects: %+v", r.ResponsePolicies)
	}
	g, err := a.dns.ResponsePolicyRules.Get(hubProject, "overrides", "pass-1").Context(ctx).Do()
	noErr(t, err)
	if g.Behavior != "bypassResponsePolicy" {
		t.Fatalf("get rule: %+v", g)
	}
}

// A hub project's private zone bound to a host project's network is listed in the hub project with
// the network URL as given (zone listing with networks bound from other projects).
func TestDNS_ZoneBoundToAnotherProjectsNetwork(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddManagedZone(hubProject, &dns.ManagedZone{Name: "corp", DnsName: "corp.example.", Visibility: "private",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{{NetworkUrl: hostNetURL}}}})
	r, err := a.dns.ManagedZones.List(hubProject).Context(ctx).Do()
	noErr(t, err)
	if len(r.ManagedZones) != 1 || r.ManagedZones[0].PrivateVisibilityConfig.Networks[0].NetworkUrl != hostNetURL {
		t.Fatalf("hub zones: %+v", r.ManagedZones)
	}
	r, err = a.dns.ManagedZones.List("acme-host").Context(ctx).Do()
	noErr(t, err)
	if len(r.ManagedZones) != 0 {
		t.Fatalf("the host project lists the hub's zone: %+v", r.ManagedZones)
	}
}
