package firewall

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

func prule(prio int64, action string, src []string, ports ...string) Rule {
	r := Rule{Priority: prio, SourceRanges: src, Protocols: []Protocol{{IPProtocol: "tcp", Ports: ports}}}
	switch action {
	case "allow":
		r.Allow = true
	case "goto_next":
		r.GotoNext = true
	}
	return r
}

func hier(name string, rules ...Rule) Policy {
	return Policy{Name: "10" + name, ShortName: name, Type: TypeHierarchy, Rules: rules}
}

func netPolicy(name string, rules ...Rule) Policy {
	return Policy{Name: name, Type: TypeNetwork, Rules: rules}
}

func regPolicy(name string, rules ...Rule) Policy {
	return Policy{Name: name, Type: TypeNetworkRegional, Rules: rules}
}

func TestEvaluateSet(t *testing.T) {
	conn := []string{"192.168.99.0/28"}
	any := []string{"0.0.0.0/0"}
	vpcAllow := allow("allow-connector", 1000, conn, "80")
	egressPkt := func() Packet {
		p := pkt(80)
		p.Direction = Egress
		p.Instance = Endpoint{Tags: []string{"vpc-connector"}}
		p.Peer = Endpoint{Ranges: []netip.Prefix{netip.MustParsePrefix("10.132.0.7/32")}}
		return p
	}
	cases := []struct {
		name     string
		set      Set
		p        Packet
		allowed  bool
		unknown  bool
		source   string // of the deciding rule
		policy   string
		priority int64
		rule     string // deciding rule name (VPC)
	}{
		{"hierarchical deny above a VPC allow", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org-guardrails", prule(1000, "deny", any, "80"))}},
			pkt(80), false, false, SourceHierarchical, "org-guardrails", 1000, ""},
		{"hierarchical deny on another port does not apply", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org-guardrails", prule(1000, "deny", any, "22"))}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"policy allow ends evaluation with no VPC rule", Set{Policies: []Policy{hier("org", prule(500, "allow", conn, "80"))}},
			pkt(80), true, false, SourceHierarchical, "org", 500, ""},
		{"policy allow ends evaluation before a VPC deny", Set{Rules: []Rule{deny("deny-all", 0, any)}, Policies: []Policy{hier("org", prule(500, "allow", conn, "80"))}},
			pkt(80), true, false, SourceHierarchical, "org", 500, ""},
		{"goto_next falls through to VPC rules", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", prule(100, "goto_next", conn, "80"), prule(200, "deny", any))}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"goto_next falls through to the implied deny", Set{Policies: []Policy{hier("org", prule(100, "goto_next", conn, "80"))}},
			pkt(80), false, false, SourceImplied, "", ImpliedPriority, "implied-deny-ingress"},
		{"organisation before folder", Set{Policies: []Policy{hier("org", prule(9000, "deny", any)), hier("folder", prule(1, "allow", any))}},
			pkt(80), false, false, SourceHierarchical, "org", 9000, ""},
		{"folder decides after organisation's goto_next", Set{Policies: []Policy{hier("org", prule(1, "goto_next", any)), hier("folder", prule(9000, "deny", any))}},
			pkt(80), false, false, SourceHierarchical, "folder", 9000, ""},
		{"lowest priority wins inside a policy", Set{Policies: []Policy{hier("org", prule(2000, "deny", any), prule(1000, "allow", conn))}},
			pkt(80), true, false, SourceHierarchical, "org", 1000, ""},
		{"after classic: the VPC allow decides before a network policy deny", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{netPolicy("net-fw", prule(1, "deny", any))}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"empty order is after classic", Set{Order: "", Rules: []Rule{vpcAllow}, Policies: []Policy{regPolicy("reg-fw", prule(1, "deny", any))}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"before classic: the network policy deny decides", Set{Order: BeforeClassicFirewall, Rules: []Rule{vpcAllow}, Policies: []Policy{netPolicy("net-fw", prule(1, "deny", any))}},
			pkt(80), false, false, SourceNetwork, "net-fw", 1, ""},
		{"before classic: global before regional", Set{Order: BeforeClassicFirewall, Rules: []Rule{vpcAllow}, Policies: []Policy{regPolicy("reg-fw", prule(1, "deny", any)), netPolicy("net-fw", prule(5, "allow", any))}},
			pkt(80), true, false, SourceNetwork, "net-fw", 5, ""},
		{"after classic: a network policy decides when no VPC rule matches", Set{Policies: []Policy{netPolicy("net-fw", prule(10, "allow", conn))}},
			pkt(80), true, false, SourceNetwork, "net-fw", 10, ""},
		{"regional network policy after the global one", Set{Policies: []Policy{regPolicy("reg-fw", prule(1, "allow", any)), netPolicy("net-fw", prule(10, "goto_next", any))}},
			pkt(80), true, false, SourceRegionalNetwork, "reg-fw", 1, ""},
		{"system policy after hierarchical, before VPC", Set{Rules: []Rule{deny("deny-all", 0, any)}, Policies: []Policy{{Name: "gke-sys", Type: TypeSystemRegional, Rules: []Rule{prule(5, "allow", any)}}}},
			pkt(80), true, false, SourceSystem, "gke-sys", 5, ""},
		{"egress deny in a policy", Set{Policies: []Policy{hier("org", Rule{Direction: Egress, Priority: 100, DestinationRanges: []string{"10.0.0.0/8"}, Protocols: []Protocol{{IPProtocol: "all"}}})}},
			egressPkt(), false, false, SourceHierarchical, "org", 100, ""},
		{"egress deny-all with an allow for 10.0.0.0/8", Set{Rules: []Rule{
			{Name: "deny-all-egress", Direction: Egress, Priority: 65000, DestinationRanges: []string{"0.0.0.0/0"}, Protocols: []Protocol{{IPProtocol: "all"}}},
			{Name: "allow-10", Direction: Egress, Priority: 1000, Allow: true, DestinationRanges: []string{"10.0.0.0/8"}, Protocols: []Protocol{{IPProtocol: "all"}}}}},
			egressPkt(), true, false, SourceVPC, "", 1000, "allow-10"},
		{"VPC egress deny", Set{Rules: []Rule{{Name: "deny-egress", Direction: Egress, Priority: 1000, TargetTags: []string{"vpc-connector"}, Protocols: []Protocol{{IPProtocol: "tcp"}}}}},
			egressPkt(), false, false, SourceVPC, "", 1000, "deny-egress"},
		{"no egress rule: implied allow", Set{}, egressPkt(), true, false, SourceImplied, "", ImpliedPriority, "implied-allow-egress"},
		{"ingress policy rule does not decide egress", Set{Policies: []Policy{hier("org", prule(1, "deny", any))}}, egressPkt(), true, false, SourceImplied, "", ImpliedPriority, "implied-allow-egress"},
		{"source secure tag: unknown", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", Rule{Priority: 10, SourceSecureTags: []string{"tagValues/281484836404786"}, Protocols: []Protocol{{IPProtocol: "tcp"}}})}},
			pkt(80), false, true, SourceHierarchical, "org", 10, ""},
		{"target secure tag: unknown", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{netPolicy("net-fw", func() Rule {
			r := prule(10, "allow", conn)
			r.TargetSecureTags = []string{"tagValues/42"}
			return r
		}())}, Order: BeforeClassicFirewall},
			pkt(80), false, true, SourceNetwork, "net-fw", 10, ""},
		{"secure tag rule after the decision does not matter", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{netPolicy("net-fw", Rule{Priority: 10, SourceSecureTags: []string{"tagValues/1"}, Protocols: []Protocol{{IPProtocol: "tcp"}}})}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"secure tag rule whose source range matches is still unknown by target", Set{Policies: []Policy{hier("org", Rule{Priority: 10, SourceRanges: conn, TargetSecureTags: []string{"tagValues/9"}, Protocols: []Protocol{{IPProtocol: "tcp"}}})}},
			pkt(80), false, true, SourceHierarchical, "org", 10, ""},
		{"FQDN source: unknown", Set{Policies: []Policy{hier("org", Rule{Priority: 10, UnresolvedPeer: []string{"FQDN example.com"}, Protocols: []Protocol{{IPProtocol: "all"}}})}},
			pkt(80), false, true, SourceHierarchical, "org", 10, ""},
		{"target service account of another instance", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", func() Rule {
			r := prule(1, "deny", any)
			r.TargetServiceAccounts = []string{"other@p.iam.gserviceaccount.com"}
			return r
		}())}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"target resources name another network", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", func() Rule {
			r := prule(1, "deny", any)
			r.TargetResources = []string{"https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/other"}
			return r
		}())}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
		{"target resources name this network", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", func() Rule {
			r := prule(1, "deny", any)
			r.TargetResources = []string{"https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"}
			return r
		}())}},
			pkt(80), false, false, SourceHierarchical, "org", 1, ""},
		{"disabled policy rule", Set{Rules: []Rule{vpcAllow}, Policies: []Policy{hier("org", func() Rule { r := prule(1, "deny", any); r.Disabled = true; return r }())}},
			pkt(80), true, false, SourceVPC, "", 1000, "allow-connector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := EvaluateSet(tc.set, tc.p)
			if v.Allowed != tc.allowed || v.Unknown != tc.unknown {
				t.Fatalf("allowed=%v unknown=%v, want %v %v (%+v)", v.Allowed, v.Unknown, tc.allowed, tc.unknown, v.Segments)
			}
			d := v.Deciding()
			if d.Tier() != tc.source || d.Policy != tc.policy || d.Priority != tc.priority || (tc.rule != "" && d.Name != tc.rule) {
				t.Fatalf("deciding rule %s (source %s policy %q priority %d), want %s %q %d %q", d, d.Tier(), d.Policy, d.Priority, tc.source, tc.policy, tc.priority, tc.rule)
			}
			if tc.unknown && len(v.Unresolved) == 0 {
				t.Fatal("unknown without naming what is unresolved")
			}
		})
	}
}

func TestUnknownNamesTheSecureTag(t *testing.T) {
	set := Set{Rules: []Rule{allow("allow-connector", 1000, []string{"192.168.99.0/28"}, "80")},
		Policies: []Policy{hier("org", Rule{Priority: 10, SourceSecureTags: []string{"tagValues/281484836404786"}, Protocols: []Protocol{{IPProtocol: "tcp"}}})}}
	v := EvaluateSet(set, pkt(80))
	if !v.Unknown || v.Allowed || !reflect.DeepEqual(v.Unresolved, []string{"source secure tag tagValues/281484836404786"}) {
		t.Fatalf("%+v", v)
	}
	if len(v.Blocked()) != 0 || len(v.UnknownSegments()) != 1 {
		t.Fatalf("blocked %v unknown %v", v.Blocked(), v.UnknownSegments())
	}
	if s := Describe(v); !strings.Contains(s, "tagValues/281484836404786") {
		t.Fatal(s)
	}
}

func TestKnownSecureTagsAreResolved(t *testing.T) {
	tagged := Rule{Priority: 10, TargetSecureTags: []string{"tagValues/9"}, SourceRanges: []string{"0.0.0.0/0"}, Protocols: []Protocol{{IPProtocol: "all"}}}
	fromTag := Rule{Priority: 20, Allow: true, SourceSecureTags: []string{"tagValues/5"}, Protocols: []Protocol{{IPProtocol: "all"}}}
	set := Set{Policies: []Policy{hier("org", tagged, fromTag)}}
	p := pkt(80)
	p.Instance.SecureTagsKnown, p.Peer.SecureTagsKnown = true, true
	// The instance has no secure tag: the deny does not apply; the peer lacks tagValues/5: no allow.
	if v := EvaluateSet(set, p); v.Unknown || v.Allowed || v.Deciding().Name != "implied-deny-ingress" {
		t.Fatalf("%+v", v)
	}
	p.Peer.SecureTags = []string{"tagValues/5"}
	if v := EvaluateSet(set, p); !v.Allowed || v.Deciding().Priority != 20 {
		t.Fatalf("%+v", v)
	}
	p.Instance.SecureTags = []string{"tagValues/9"}
	if v := EvaluateSet(set, p); v.Allowed || v.Unknown || v.Deciding().Priority != 10 {
		t.Fatalf("%+v", v)
	}
}

func TestPolicySegmentsAcrossAPartiallyCoveredRange(t *testing.T) {
	// The org denies the upper half of the connector range; a folder's goto_next passes the lower
	// half to the VPC rules, which allow it.
	set := Set{Rules: []Rule{allow("allow-connector", 1000, []string{"192.168.99.0/28"}, "80")},
		Policies: []Policy{hier("org-guardrails", prule(1000, "deny", []string{"192.168.99.8/29"}, "80"))}}
	v := EvaluateSet(set, pkt(80))
	if v.Allowed || len(v.Segments) != 2 {
		t.Fatalf("%+v", v)
	}
	lo, hi := v.Segments[0], v.Segments[1]
	if !lo.Allowed || lo.String() != "192.168.99.0/29" || lo.Rule.Name != "allow-connector" {
		t.Fatalf("lower %+v", lo)
	}
	if hi.Allowed || hi.String() != "192.168.99.8/29" || hi.Rule.Tier() != SourceHierarchical || hi.Rule.Policy != "org-guardrails" {
		t.Fatalf("upper %+v", hi)
	}
	d, sh := v.Shadowing()
	if d.Policy != "org-guardrails" || len(sh) != 1 || sh[0].Name != "allow-connector" {
		t.Fatalf("shadowing %v %v", d, sh)
	}
	if got, want := d.String(), `hierarchical firewall policy "org-guardrails" rule 1000 deny ingress from 192.168.99.8/29 tcp:80`; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	// A secure-tag rule covering part of the range makes only that part unknown.
	set = Set{Rules: []Rule{allow("allow-connector", 1000, []string{"192.168.99.0/28"}, "80")},
		Policies: []Policy{netPolicy("net-fw", Rule{Priority: 5, SourceRanges: []string{"192.168.99.0/30"}, TargetSecureTags: []string{"tagValues/7"}, Protocols: []Protocol{{IPProtocol: "tcp"}}})},
		Order:    BeforeClassicFirewall}
	v = EvaluateSet(set, pkt(80))
	if v.Allowed || !v.Unknown || len(v.Segments) != 2 || !v.Segments[0].Unknown || v.Segments[0].String() != "192.168.99.0/30" || !v.Segments[1].Allowed {
		t.Fatalf("%+v", v)
	}
}

func TestRuleString(t *testing.T) {
	r := prule(1000, "deny", []string{"0.0.0.0/0"}, "80")
	r.Source, r.Policy = SourceHierarchical, "org-guardrails"
	if got, want := r.String(), `hierarchical firewall policy "org-guardrails" rule 1000 deny ingress from 0.0.0.0/0 tcp:80`; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	r = Rule{Name: "block-db", Direction: Egress, Priority: 20, DestinationRanges: []string{"10.0.0.0/8"}, Protocols: []Protocol{{IPProtocol: "all"}},
		Source: SourceRegionalNetwork, Policy: "eu-fw", GotoNext: true}
	if got, want := r.String(), `regional network firewall policy "eu-fw" rule 20 "block-db" goto_next egress to 10.0.0.0/8 all`; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := allow("allow-80", 1000, nil, "80").String(); got != "allow-80 (ingress allow, priority 1000, tcp:80)" {
		t.Fatal(got)
	}
}

func TestWouldStillDeny(t *testing.T) {
	fix := allow("allow-connector-to-nodes", 1000, []string{"192.168.99.0/28"}, "80")
	// Only the implied deny: the fix works.
	if still, r := WouldStillDeny(Set{}, pkt(80), fix); still || r.Name != "allow-connector-to-nodes" {
		t.Fatalf("%v %s", still, r)
	}
	// A hierarchical deny still decides: the fix is refused, naming the policy rule.
	set := Set{Policies: []Policy{hier("org-guardrails", prule(1000, "deny", []string{"0.0.0.0/0"}, "80"))}}
	still, r := WouldStillDeny(set, pkt(80), fix)
	if !still || r.Policy != "org-guardrails" || r.Priority != 1000 || r.Tier() != SourceHierarchical {
		t.Fatalf("%v %s", still, r)
	}
	// A network policy deny after the VPC rules (default order) does not matter.
	set = Set{Policies: []Policy{netPolicy("net-fw", prule(1, "deny", []string{"0.0.0.0/0"}))}}
	if still, _ := WouldStillDeny(set, pkt(80), fix); still {
		t.Fatal("the network policy is evaluated after the VPC rules")
	}
	// … but before them with BEFORE_CLASSIC_FIREWALL.
	set.Order = BeforeClassicFirewall
	if still, r := WouldStillDeny(set, pkt(80), fix); !still || r.Policy != "net-fw" {
		t.Fatalf("%v %s", still, r)
	}
	// The set is not changed.
	if len(set.Rules) != 0 {
		t.Fatal("WouldStillDeny changed its input")
	}
}

func TestFromEffectiveFirewalls(t *testing.T) {
	resp := &compute.NetworksGetEffectiveFirewallsResponse{
		Firewalls: []*compute.Firewall{{Name: "allow-connector", Priority: 1000, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}, SourceRanges: []string{"192.168.99.0/28"}}},
		FirewallPolicys: []*compute.NetworksGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
			{Name: "123", ShortName: "org-guardrails", Type: "HIERARCHY", Rules: []*compute.FirewallPolicyRule{
				{Priority: 1000, Action: "deny", Direction: "INGRESS", Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"},
					Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"80"}}}}},
				{Priority: 2147483645, Action: "goto_next", Direction: "INGRESS", Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"},
					Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}},
				{Priority: 10, Action: "mirror", Direction: "INGRESS"},
				{Priority: 11, Action: "allow", Direction: "INGRESS", TargetSecureTags: []*compute.FirewallPolicyRuleSecureTag{{Name: "tagValues/1", State: "INEFFECTIVE"}},
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}}},
			}},
			{Name: "net-fw", DisplayName: "net-fw", Type: "NETWORK", Priority: 1000, Rules: []*compute.FirewallPolicyRule{
				{Priority: 5, Action: "allow", Direction: "INGRESS", Match: &compute.FirewallPolicyRuleMatcher{SrcFqdns: []string{"example.com"}, SrcSecureTags: []*compute.FirewallPolicyRuleSecureTag{{Name: "tagValues/2", State: "EFFECTIVE"}}}},
			}},
		},
	}
	set := FromEffectiveFirewalls(resp)
	if len(set.Rules) != 1 || len(set.Policies) != 2 || set.Policies[0].Label() != "org-guardrails" || set.Policies[1].Source() != SourceNetwork {
		t.Fatalf("%+v", set)
	}
	h := set.Policies[0].Rules
	if h[0].Allow || h[0].GotoNext || !h[1].GotoNext || !h[2].Disabled || !h[3].Disabled {
		t.Fatalf("actions %+v", h)
	}
	n := set.Policies[1].Rules[0]
	if !reflect.DeepEqual(n.SourceSecureTags, []string{"tagValues/2"}) || !reflect.DeepEqual(n.UnresolvedPeer, []string{"FQDN example.com"}) || n.Protocols[0].IPProtocol != "all" {
		t.Fatalf("%+v", n)
	}
	v := EvaluateSet(set, pkt(80))
	if v.Allowed || v.Deciding().Policy != "org-guardrails" || v.Deciding().Priority != 1000 {
		t.Fatalf("%+v", v)
	}
	// The regional answer adds the regional policy and repeats the others.
	reg := FromRegionEffectiveFirewalls(&compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse{
		FirewallPolicys: []*compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
			{Name: "123", DisplayName: "org-guardrails", Type: "HIERARCHY"},
			{Name: "net-fw", Type: "NETWORK"},
			{Name: "eu-fw", Type: "NETWORK_REGIONAL", Rules: []*compute.FirewallPolicyRule{{Priority: 1, Action: "deny", Direction: "EGRESS"}}},
		}})
	m := Merge(set, reg)
	if len(m.Policies) != 3 || m.Policies[2].Name != "eu-fw" || len(m.Policies[0].Rules) != 4 || len(m.Rules) != 1 {
		t.Fatalf("%+v", m)
	}
}
