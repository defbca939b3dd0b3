package fakegcp_test

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

func denyRule(prio int64, src string) *compute.FirewallPolicyRule {
	return &compute.FirewallPolicyRule{Priority: prio, Action: "deny", Direction: "INGRESS", Match: &compute.FirewallPolicyRuleMatcher{
		SrcIpRanges: []string{src}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"80"}}}}}
}

func TestCompute_EffectiveFirewalls(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.AddFirewall(project, &compute.Firewall{Name: "allow-connector", Network: "default", SourceRanges: []string{"192.168.99.0/28"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
	s.AddFirewall(partner, &compute.Firewall{Name: "partner-rule", Network: "partner-vpc", Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}})
	// Added out of order: the folder's first; the API lists the organisation's first.
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "222", ShortName: "team-folder", Depth: 1, Projects: []string{project},
		Rules: []*compute.FirewallPolicyRule{denyRule(500, "0.0.0.0/0")}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "111", ShortName: "org-guardrails", Depth: 0,
		Rules: []*compute.FirewallPolicyRule{denyRule(1000, "0.0.0.0/0"), {Priority: 2000, Action: "deny",
			TargetResources: []string{"projects/" + project + "/global/networks/other"}, Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}}}}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "333", ShortName: "other-folder", Depth: 1, Projects: []string{partner}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-fw", Project: project, Networks: []string{"default"}, Priority: 1000,
		Rules: []*compute.FirewallPolicyRule{denyRule(10, "10.0.0.0/8")}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK_REGIONAL", Name: "eu-fw", Project: project, Region: region, Networks: []string{"default"}, Priority: 1000,
		Rules: []*compute.FirewallPolicyRule{denyRule(20, "10.0.0.0/8")}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK_REGIONAL", Name: "us-fw", Project: project, Region: "us-central1", Networks: []string{"default"}})

	g, err := a.compute.Networks.GetEffectiveFirewalls(project, "default").Context(ctx).Do()
	noErr(t, err)
	var names []string
	for _, p := range g.FirewallPolicys {
		names = append(names, p.Type+":"+p.ShortName)
	}
	if got := strings.Join(names, " "); got != "HIERARCHY:org-guardrails HIERARCHY:team-folder NETWORK:net-fw" {
		t.Fatalf("global policies %s", got)
	}
	if len(g.Firewalls) != 1 || g.Firewalls[0].Name != "allow-connector" {
		t.Fatalf("firewalls %+v", g.Firewalls)
	}
	if org := g.FirewallPolicys[0]; len(org.Rules) != 1 || org.Rules[0].Priority != 1000 || org.Rules[0].Kind != "compute#firewallPolicyRule" || org.DisplayName != "org-guardrails" {
		t.Fatalf("org policy %+v (the rule targeting another network must be left out)", org)
	}
	if g.FirewallPolicys[2].Priority != 1000 {
		t.Fatalf("network policy priority %+v", g.FirewallPolicys[2])
	}

	r, err := a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "projects/"+project+"/global/networks/default").Context(ctx).Do()
	noErr(t, err)
	names = nil
	for _, p := range r.FirewallPolicys {
		names = append(names, p.Type+":"+p.Name)
	}
	if got := strings.Join(names, " "); got != "HIERARCHY:111 HIERARCHY:222 NETWORK:net-fw NETWORK_REGIONAL:eu-fw" {
		t.Fatalf("regional policies %s", got)
	}
	// A bare network name works too; an unknown network is 404; the network parameter is required.
	_, err = a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "default").Context(ctx).Do()
	noErr(t, err)
	_, err = a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "nope").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.compute.Networks.GetEffectiveFirewalls(project, "nope").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "").Context(ctx).Do()
	apiErr(t, err, 400)

	// The enforcement order is the network's field.
	if !s.SetNetworkFirewallPolicyEnforcementOrder(project, "default", "BEFORE_CLASSIC_FIREWALL") {
		t.Fatal("network not found")
	}
	n, err := a.compute.Networks.Get(project, "default").Context(ctx).Do()
	noErr(t, err)
	if n.NetworkFirewallPolicyEnforcementOrder != "BEFORE_CLASSIC_FIREWALL" {
		t.Fatalf("order %q", n.NetworkFirewallPolicyEnforcementOrder)
	}

	// Faults apply to these routes as to the others.
	remove := s.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/getEffectiveFirewalls", Permission: "compute.networks.getEffectiveFirewalls"})
	_, err = a.compute.Networks.GetEffectiveFirewalls(project, "default").Context(ctx).Do()
	if ge := apiErr(t, err, 403); !strings.Contains(ge.Message, "compute.networks.getEffectiveFirewalls") {
		t.Fatalf("403 message %q", ge.Message)
	}
	remove()
	if !s.RemoveFirewallPolicy("222") {
		t.Fatal("remove")
	}
	g, err = a.compute.Networks.GetEffectiveFirewalls(project, "default").Context(ctx).Do()
	noErr(t, err)
	if len(g.FirewallPolicys) != 2 {
		t.Fatalf("after removal: %d policies", len(g.FirewallPolicys))
	}
}
