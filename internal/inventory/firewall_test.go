package inventory

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

const (
	fwProject = "dev-orchestra"
	fwRegion  = "europe-west1"
	nodeTag   = "gke-dev-orchestra-cluster-f5e836d0-node"
)

// fwWorld is a fake Google API server with the demo network, a VPC rule that allows the connector
// to the nodes on port 80, and the real clients (read-only, as in an audit) pointed at it.
func fwWorld(t *testing.T) (*fakegcp.Server, *Inventory) {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	s.AddNetwork(fwProject, &compute.Network{Name: "default", AutoCreateSubnetworks: true})
	s.AddFirewall(fwProject, &compute.Firewall{Name: "allow-connector-to-nodes", Network: "default", Priority: 1000,
		SourceRanges: []string{"192.168.99.0/28"}, TargetTags: []string{nodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: s.URL, ReadOnly: true, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, New(Scope{Project: fwProject, Location: fwRegion}, nil, nil, g, nil)
}

func connectorToNodes(port int) firewall.Packet {
	return firewall.Packet{Network: "projects/dev-orchestra/global/networks/default", Protocol: "tcp", Port: port,
		Instance: firewall.Endpoint{Tags: []string{nodeTag}},
		Peer:     firewall.Endpoint{Ranges: []netip.Prefix{netip.MustParsePrefix("192.168.99.0/28")}, Tags: []string{"vpc-connector"}}}
}

func l4(proto string, ports ...string) []*compute.FirewallPolicyRuleMatcherLayer4Config {
	return []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: proto, Ports: ports}}
}

func TestFirewallSetThroughTheRealClients(t *testing.T) {
	ctx := context.Background()
	type want struct {
		allowed, unknown bool
		source, policy   string
		priority         int64
	}
	cases := []struct {
		name  string
		seed  func(s *fakegcp.Server)
		port  int
		check want
	}{
		{"VPC rule alone", func(*fakegcp.Server) {}, 80, want{true, false, firewall.SourceVPC, "", 1000}},
		{"hierarchical deny above the VPC allow", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org-guardrails",
				Rules: []*compute.FirewallPolicyRule{{Priority: 1000, Action: "deny", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("tcp", "80")}}}})
		}, 80, want{false, false, firewall.SourceHierarchical, "org-guardrails", 1000}},
		{"policy allow ends evaluation with no VPC rule", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org-allow",
				Rules: []*compute.FirewallPolicyRule{{Priority: 10, Action: "allow", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"192.168.99.0/28"}, Layer4Configs: l4("tcp", "8080")}}}})
		}, 8080, want{true, false, firewall.SourceHierarchical, "org-allow", 10}},
		{"goto_next falls through to the VPC rules", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org",
				Rules: []*compute.FirewallPolicyRule{{Priority: 10, Action: "goto_next", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("all")}}}})
		}, 80, want{true, false, firewall.SourceVPC, "", 1000}},
		{"global network policy deny after classic: the VPC rule decides", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-fw", Project: fwProject, Networks: []string{"default"},
				Rules: []*compute.FirewallPolicyRule{{Priority: 1, Action: "deny", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("all")}}}})
		}, 80, want{true, false, firewall.SourceVPC, "", 1000}},
		{"global network policy deny before classic", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-fw", Project: fwProject, Networks: []string{"default"},
				Rules: []*compute.FirewallPolicyRule{{Priority: 1, Action: "deny", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("all")}}}})
			s.SetNetworkFirewallPolicyEnforcementOrder(fwProject, "default", "BEFORE_CLASSIC_FIREWALL")
		}, 80, want{false, false, firewall.SourceNetwork, "net-fw", 1}},
		{"regional network policy before classic", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK_REGIONAL", Name: "eu-fw", Project: fwProject, Region: fwRegion, Networks: []string{"default"},
				Rules: []*compute.FirewallPolicyRule{{Priority: 7, Action: "deny", Direction: "INGRESS",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"192.168.99.0/29"}, Layer4Configs: l4("tcp")}}}})
			s.SetNetworkFirewallPolicyEnforcementOrder(fwProject, "default", "BEFORE_CLASSIC_FIREWALL")
		}, 80, want{false, false, firewall.SourceRegionalNetwork, "eu-fw", 7}},
		{"secure tag: unknown", func(s *fakegcp.Server) {
			s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org-tags",
				Rules: []*compute.FirewallPolicyRule{{Priority: 100, Action: "deny", Direction: "INGRESS",
					TargetSecureTags: []*compute.FirewallPolicyRuleSecureTag{{Name: "tagValues/281484836404786", State: "EFFECTIVE"}},
					Match:            &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("all")}}}})
		}, 80, want{false, true, firewall.SourceHierarchical, "org-tags", 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, inv := fwWorld(t)
			tc.seed(s)
			set, err := inv.FirewallSet(ctx, fwProject, "default", fwRegion)
			if err != nil {
				t.Fatal(err)
			}
			v := firewall.EvaluateSet(set, connectorToNodes(tc.port))
			d := v.Deciding()
			got := want{v.Allowed, v.Unknown, d.Tier(), d.Policy, d.Priority}
			if got != tc.check {
				t.Fatalf("got %+v (deciding %s), want %+v", got, d, tc.check)
			}
		})
	}
}

func TestFirewallSetRefusesTheFixAPolicyWouldStillDeny(t *testing.T) {
	s, inv := fwWorld(t)
	s.DeleteFirewall(fwProject, "allow-connector-to-nodes")
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org-guardrails",
		Rules: []*compute.FirewallPolicyRule{{Priority: 1000, Action: "deny", Direction: "INGRESS",
			Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4("tcp", "80")}}}})
	set, err := inv.FirewallSet(context.Background(), fwProject, "projects/dev-orchestra/global/networks/default", "")
	if err != nil {
		t.Fatal(err)
	}
	fix := firewall.Rule{Name: "allow-serverless-to-nodes-80", Priority: 1000, Allow: true, SourceRanges: []string{"192.168.99.0/28"},
		TargetTags: []string{nodeTag}, Protocols: []firewall.Protocol{{IPProtocol: "tcp", Ports: []string{"80"}}}}
	still, by := firewall.WouldStillDeny(set, connectorToNodes(80), fix)
	if !still || by.Policy != "org-guardrails" || by.Priority != 1000 {
		t.Fatalf("still=%v by %s", still, by)
	}
	fix.Protocols[0].Ports = []string{"443"}
	if still, by := firewall.WouldStillDeny(set, connectorToNodes(443), fix); still || by.Name != fix.Name {
		t.Fatalf("the policy denies port 80 only; still=%v by %s", still, by)
	}
}

func TestFirewallSetErrorsAreClassifiedNeverAFallback(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, path, perm string
		fault            fakegcp.Fault
	}{
		{"global, permission named", "/global/networks/default/getEffectiveFirewalls", "compute.networks.getEffectiveFirewalls",
			fakegcp.Fault{PathContains: "/global/networks/default/getEffectiveFirewalls", Permission: "compute.networks.getEffectiveFirewalls"}},
		{"global, bare 403", "", "compute.networks.getEffectiveFirewalls",
			fakegcp.Fault{PathContains: "/global/networks/default/getEffectiveFirewalls", Status: 403, Message: "The caller does not have permission"}},
		{"regional, bare 403", "", "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls",
			fakegcp.Fault{PathContains: "/firewallPolicies/getEffectiveFirewalls", Status: 403, Message: "The caller does not have permission"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, inv := fwWorld(t)
			s.InjectFault(tc.fault)
			set, err := inv.FirewallSet(ctx, fwProject, "default", fwRegion)
			e, ok := apierr.As(err)
			if !ok || e.Kind != apierr.Permission || e.Permission != tc.perm {
				t.Fatalf("got %v (%#v), want a permission error naming %s", err, e, tc.perm)
			}
			if len(set.Rules) != 0 || len(set.Policies) != 0 {
				t.Fatal("a denied getEffectiveFirewalls must not return a partial set")
			}
		})
	}
}

func TestEffectiveFirewallsMemoisedAndInvalidatedWithFirewalls(t *testing.T) {
	s, inv := fwWorld(t)
	ctx := context.Background()
	for range 3 {
		if _, err := inv.FirewallSet(ctx, fwProject, "default", fwRegion); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		for _, r := range s.Requests() {
			if len(r.Path) > 0 && (r.Path[len(r.Path)-len("getEffectiveFirewalls"):] == "getEffectiveFirewalls") {
				n++
			}
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d getEffectiveFirewalls calls, want one global and one regional", n)
	}
	inv.Invalidate(KeyFirewalls) // what a firewall fix invalidates
	if _, err := inv.FirewallSet(ctx, fwProject, "default", fwRegion); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 4 {
		t.Fatalf("%d calls after invalidation, want 4", n)
	}
}

// TestRegionalEffectiveFirewallsAskOnlyForPolicies: the regional getEffectiveFirewalls is a partial
// response (fields=firewallPolicys), so the network's VPC rules cross the wire and are decoded once,
// from the global answer; the set still holds every VPC rule and the regional policy, as the whole
// regional answer would give.
func TestRegionalEffectiveFirewallsAskOnlyForPolicies(t *testing.T) {
	s, inv := fwWorld(t)
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK_REGIONAL", Name: "eu-fw", Project: fwProject, Region: fwRegion, Networks: []string{"default"},
		Rules: []*compute.FirewallPolicyRule{{Priority: 7, Action: "deny", Direction: "INGRESS",
			Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"192.168.99.0/29"}, Layer4Configs: l4("tcp")}}}})
	set, err := inv.FirewallSet(context.Background(), fwProject, "default", fwRegion)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 1 || set.Rules[0].Name != "allow-connector-to-nodes" {
		t.Errorf("VPC rules %+v, want the network's one rule", set.Rules)
	}
	if len(set.Policies) != 1 || set.Policies[0].Name != "eu-fw" || len(set.Policies[0].Rules) != 1 || len(set.Policies[0].Rules[0].SourceRanges) != 1 {
		t.Errorf("policies %+v, want eu-fw whole", set.Policies)
	}
	var regional, global int
	for _, r := range s.Requests() {
		switch {
		case strings.HasSuffix(r.Path, "/firewallPolicies/getEffectiveFirewalls"):
			regional++
			if f := r.Query.Get("fields"); f != "firewallPolicys" {
				t.Errorf("the regional read asked for fields=%q, want firewallPolicys", f)
			}
		case strings.HasSuffix(r.Path, "/getEffectiveFirewalls"):
			global++
			if f := r.Query.Get("fields"); f != "" {
				t.Errorf("the global read asked for fields=%q: it must answer the VPC rules whole", f)
			}
		}
	}
	if regional != 1 || global != 1 {
		t.Errorf("%d regional and %d global reads, want 1 each", regional, global)
	}
}
