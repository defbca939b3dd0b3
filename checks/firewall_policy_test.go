package checks

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// Firewall policies decide before (or after) the VPC rules: these scenarios run the reachability
// checks through the real compute client against the fake server's getEffectiveFirewalls.

func policyRule(prio int64, dir, action string, src, dst []string, proto string, ports ...string) *compute.FirewallPolicyRule {
	m := &compute.FirewallPolicyRuleMatcher{SrcIpRanges: src, DestIpRanges: dst,
		Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: proto, Ports: ports}}}
	return &compute.FirewallPolicyRule{Priority: prio, Direction: dir, Action: action, Match: m}
}

func TestFirewallPolicies(t *testing.T) {
	const fw = "firewall-serverless-to-nodes"
	cases := []struct {
		name    string
		setup   func(w *reachWorld)
		status  Status
		summary string // in the firewall check's summary or evidence
		plan    string // a plan of clusterip-unreachable whose id starts with this
		advice  bool
	}{
		{name: "hierarchical_deny_above_the_vpc_allow_fails_naming_the_policy",
			setup: func(w *reachWorld) {
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", ShortName: "org-guardrails", Rules: []*compute.FirewallPolicyRule{
					policyRule(1000, "INGRESS", "deny", []string{"192.168.0.0/16"}, nil, "tcp", "80")}})
			},
			status: Fail, summary: `hierarchical firewall policy "org-guardrails" rule 1000 deny`,
			plan: "review-firewall-policy/", advice: true},
		{name: "policy_allow_ends_evaluation_with_no_vpc_rule",
			setup: func(w *reachWorld) {
				deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", ShortName: "org-allow-serverless", Rules: []*compute.FirewallPolicyRule{
					policyRule(100, "INGRESS", "allow", []string{wConnRange}, nil, "tcp", "80")}})
			},
			status: Pass, summary: `org-allow-serverless`},
		{name: "goto_next_falls_through_to_the_vpc_rules",
			setup: func(w *reachWorld) {
				deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", ShortName: "org-delegate", Rules: []*compute.FirewallPolicyRule{
					policyRule(100, "INGRESS", "goto_next", []string{"0.0.0.0/0"}, nil, "all")}})
			},
			status: Fail, summary: "implied deny-ingress", plan: "create-firewall/"},
		{name: "network_policy_deny_after_a_vpc_allow_does_not_decide_by_default",
			setup: func(w *reachWorld) {
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-deny-serverless", Project: wProject, Networks: []string{"default"},
					Rules: []*compute.FirewallPolicyRule{policyRule(10, "INGRESS", "deny", []string{wConnRange}, nil, "tcp", "80")}})
			},
			status: Pass},
		{name: "network_policy_before_classic_firewall_decides",
			setup: func(w *reachWorld) {
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-deny-serverless", Project: wProject, Networks: []string{"default"},
					Rules: []*compute.FirewallPolicyRule{policyRule(10, "INGRESS", "deny", []string{wConnRange}, nil, "tcp", "80")}})
				if !w.srv.SetNetworkFirewallPolicyEnforcementOrder(wProject, "default", "BEFORE_CLASSIC_FIREWALL") {
					t.Fatal("no network default")
				}
			},
			status: Fail, summary: "net-deny-serverless", plan: "review-firewall-policy/", advice: true},
		{name: "egress_deny_on_the_source_side_fails",
			setup: func(w *reachWorld) {
				w.srv.AddFirewall(wProject, &compute.Firewall{Name: "deny-all-egress", Network: "default", Direction: "EGRESS", Priority: 65000,
					DestinationRanges: []string{"0.0.0.0/0"}, Denied: []*compute.FirewallDenied{{IPProtocol: "all"}}})
				w.srv.AddFirewall(wProject, &compute.Firewall{Name: "allow-egress-rfc1918", Network: "default", Direction: "EGRESS", Priority: 1000,
					DestinationRanges: []string{"172.16.0.0/12"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}})
			},
			status: Fail, summary: "deny-all-egress", plan: "review-firewall-policy/", advice: true},
		{name: "egress_allow_for_the_target_passes",
			setup: func(w *reachWorld) {
				w.srv.AddFirewall(wProject, &compute.Firewall{Name: "deny-all-egress", Network: "default", Direction: "EGRESS", Priority: 65000,
					DestinationRanges: []string{"0.0.0.0/0"}, Denied: []*compute.FirewallDenied{{IPProtocol: "all"}}})
				w.srv.AddFirewall(wProject, &compute.Firewall{Name: "allow-egress-10", Network: "default", Direction: "EGRESS", Priority: 1000,
					DestinationRanges: []string{"10.0.0.0/8"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}})
			},
			status: Pass},
		{name: "secure_tag_target_warns_naming_the_tag",
			setup: func(w *reachWorld) {
				r := policyRule(500, "INGRESS", "deny", []string{"0.0.0.0/0"}, nil, "tcp", "80")
				r.TargetSecureTags = []*compute.FirewallPolicyRuleSecureTag{{Name: "tagValues/281484", State: "EFFECTIVE"}}
				w.srv.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-tagged", Project: wProject, Networks: []string{"default"}, Rules: []*compute.FirewallPolicyRule{r}})
				if !w.srv.SetNetworkFirewallPolicyEnforcementOrder(wProject, "default", "BEFORE_CLASSIC_FIREWALL") {
					t.Fatal("no network default")
				}
			},
			status: Warn, summary: "tagValues/281484"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newReachWorld(t)
			tc.setup(w)
			rs := w.run(w.env(false))
			r := rs[fw]
			said := r.Summary
			for _, e := range r.Evidence {
				said += "\n" + e.Detail
			}
			if r.Status != tc.status || !strings.Contains(said, tc.summary) {
				t.Fatalf("%s: %s %q, want %s containing %q\n%s", fw, r.Status, r.Summary, tc.status, tc.summary, dump(rs))
			}
			if tc.status != Pass && rs["clusterip-unreachable"].Status == Pass {
				t.Fatalf("clusterip-unreachable passes over a firewall verdict %s\n%s", r.Status, dump(rs))
			}
			if tc.plan == "" {
				return
			}
			found := false
			for _, p := range rs["clusterip-unreachable"].Fixes {
				if strings.HasPrefix(p.ID, tc.plan) {
					found = true
					if p.Advice != tc.advice || (tc.advice && p.Apply != nil) {
						t.Fatalf("plan %s: advice %v (apply set: %v), want advice %v", p.ID, p.Advice, p.Apply != nil, tc.advice)
					}
				}
				if tc.advice && strings.HasPrefix(p.ID, "create-firewall/") {
					t.Fatalf("a VPC rule is offered although a policy would still deny: %s", p.ID)
				}
			}
			if !found {
				t.Fatalf("no plan %s* in %s", tc.plan, dump(rs))
			}
		})
	}
}

// A 403 on getEffectiveFirewalls: the firewall verdict skips naming the permission, never passes.
func TestFirewallEffectiveFirewallsDeniedSkips(t *testing.T) {
	w := newReachWorld(t)
	w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/getEffectiveFirewalls", Permission: "compute.networks.getEffectiveFirewalls"})
	rs := w.run(nil)
	for _, id := range []string{"firewall-serverless-to-nodes", "clusterip-unreachable"} {
		r := rs[id]
		if r.Status != Skip || !strings.Contains(r.Summary, "compute.networks.getEffectiveFirewalls") {
			t.Errorf("%s: %s %q, want skip naming compute.networks.getEffectiveFirewalls", id, r.Status, r.Summary)
		}
	}
	if t.Failed() {
		t.Log(dump(rs))
	}
}
