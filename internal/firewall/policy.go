package firewall

import (
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// FromEffectiveFirewalls converts the answer of networks.getEffectiveFirewalls: the network's VPC
// firewall rules and the hierarchical, global network (and system) firewall policies in effect on
// it. The answer does not carry the network's enforcement order: set Set.Order from the network's
// networkFirewallPolicyEnforcementOrder.
//
// Assumption: the API lists hierarchical policies in evaluation order — the organisation's policy
// first, then the folders' from the top of the hierarchy down (this is how gcloud's
// get-effective-firewalls prints them; the API documents no order, and the response carries no
// parent to sort by). Packet-mirroring rules are not firewall rules and are left out.
func FromEffectiveFirewalls(resp *compute.NetworksGetEffectiveFirewallsResponse) Set {
	var s Set
	if resp == nil {
		return s
	}
	s.Rules = FromComputeList(resp.Firewalls)
	for _, p := range resp.FirewallPolicys {
		if p == nil {
			continue
		}
		s.Policies = append(s.Policies, policyFrom(p.Name, p.ShortName, p.DisplayName, p.Type, p.Priority, p.Rules))
	}
	return s
}

// FromRegionEffectiveFirewalls converts the answer of regionNetworkFirewallPolicies.getEffectiveFirewalls:
// the network's VPC firewall rules and every policy in effect in the region (hierarchical, global
// network, regional network and system ones), with the same ordering assumption as
// FromEffectiveFirewalls.
func FromRegionEffectiveFirewalls(resp *compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse) Set {
	var s Set
	if resp == nil {
		return s
	}
	s.Rules = FromComputeList(resp.Firewalls)
	for _, p := range resp.FirewallPolicys {
		if p == nil {
			continue
		}
		s.Policies = append(s.Policies, policyFrom(p.Name, "", p.DisplayName, p.Type, p.Priority, p.Rules))
	}
	return s
}

// Merge adds to a the policies of b that a lacks (same type and name), keeping a's order, rules and
// enforcement order (b's when a has none). Use it to add the regional answer to the global one.
func Merge(a, b Set) Set {
	have := map[string]bool{}
	for _, p := range a.Policies {
		have[strings.ToUpper(p.Type)+"\x00"+p.Name] = true
	}
	out := Set{Rules: a.Rules, Order: a.Order, Policies: append([]Policy(nil), a.Policies...)}
	if out.Order == "" {
		out.Order = b.Order
	}
	if len(out.Rules) == 0 {
		out.Rules = b.Rules
	}
	var hier []Policy
	for _, p := range b.Policies {
		k := strings.ToUpper(p.Type) + "\x00" + p.Name
		if have[k] {
			continue
		}
		have[k] = true
		if p.Source() == SourceHierarchical {
			hier = append(hier, p)
			continue
		}
		out.Policies = append(out.Policies, p)
	}
	if len(hier) > 0 {
		// Hierarchical policies only the regional answer listed go after a's, in b's order.
		var h, rest []Policy
		for _, p := range out.Policies {
			if p.Source() == SourceHierarchical {
				h = append(h, p)
			} else {
				rest = append(rest, p)
			}
		}
		out.Policies = append(append(h, hier...), rest...)
	}
	return out
}

func policyFrom(name, short, display, typ string, prio int64, rules []*compute.FirewallPolicyRule) Policy {
	p := Policy{Name: name, ShortName: short, DisplayName: display, Type: typ, Priority: prio}
	for _, r := range rules {
		if r != nil {
			p.Rules = append(p.Rules, FromPolicyRule(r))
		}
	}
	return p
}

// FromPolicyRule converts one firewall policy rule. Source and Policy are set when the rule is
// evaluated as part of its Policy.
func FromPolicyRule(f *compute.FirewallPolicyRule) Rule {
	r := Rule{Name: f.RuleName, Direction: f.Direction, Priority: f.Priority, Disabled: f.Disabled,
		TargetServiceAccounts: f.TargetServiceAccounts, TargetResources: f.TargetResources}
	switch strings.ToLower(f.Action) {
	case "allow":
		r.Allow = true
	case "deny":
	case "goto_next":
		r.GotoNext = true
	case "apply_security_profile_group":
		// Layer-7 inspection decides; gkedoctor cannot.
		r.UnresolvedCondition = append(r.UnresolvedCondition, "security profile group "+lastPart(f.SecurityProfileGroup))
	default:
		// Packet-mirroring or unknown actions do not filter packets.
		r.Disabled = true
	}
	if strings.EqualFold(f.TargetType, "INTERNAL_MANAGED_LB") || len(f.TargetForwardingRules) > 0 {
		r.Disabled = true // applies to load balancers' proxies, not to instances
	}
	var targetTags []string
	allIneffective := len(f.TargetSecureTags) > 0
	for _, t := range f.TargetSecureTags {
		if t == nil {
			continue
		}
		if !strings.EqualFold(t.State, "INEFFECTIVE") {
			allIneffective = false
			targetTags = append(targetTags, t.Name)
		}
	}
	if allIneffective {
		r.Disabled = true // "if all the targetSecureTags are INEFFECTIVE, the rule is ignored"
	}
	r.TargetSecureTags = targetTags
	m := f.Match
	if m == nil {
		m = &compute.FirewallPolicyRuleMatcher{}
	}
	for _, l4 := range m.Layer4Configs {
		if l4 != nil {
			r.Protocols = append(r.Protocols, Protocol{IPProtocol: l4.IpProtocol, Ports: l4.Ports})
		}
	}
	if len(m.Layer4Configs) == 0 {
		r.Protocols = []Protocol{{IPProtocol: "all"}}
	}
	r.SourceRanges, r.DestinationRanges = m.SrcIpRanges, m.DestIpRanges
	srcTagsAllIneffective := len(m.SrcSecureTags) > 0
	for _, t := range m.SrcSecureTags {
		if t == nil {
			continue
		}
		if !strings.EqualFold(t.State, "INEFFECTIVE") {
			srcTagsAllIneffective = false
			r.SourceSecureTags = append(r.SourceSecureTags, t.Name)
		}
	}
	add := func(label string, vs []string) {
		for _, v := range vs {
			r.UnresolvedPeer = append(r.UnresolvedPeer, label+" "+v)
		}
	}
	cond := func(label string, vs ...string) {
		for _, v := range vs {
			if v != "" && !strings.EqualFold(v, "UNSPECIFIED") {
				r.UnresolvedCondition = append(r.UnresolvedCondition, label+" "+v)
			}
		}
	}
	if dir(f.Direction) == Egress {
		add("FQDN", m.DestFqdns)
		add("geolocation", m.DestRegionCodes)
		add("address group", m.DestAddressGroups)
		add("threat-intelligence list", m.DestThreatIntelligences)
		cond("destination network type", m.DestNetworkType, m.DestNetworkContext)
	} else {
		add("FQDN", m.SrcFqdns)
		add("geolocation", m.SrcRegionCodes)
		add("address group", m.SrcAddressGroups)
		add("threat-intelligence list", m.SrcThreatIntelligences)
		cond("source network type", m.SrcNetworkType, m.SrcNetworkContext)
		cond("source network", m.SrcNetworks...)
		// "For INGRESS rule, if all the srcSecureTag are INEFFECTIVE, and there is no srcIpRange,
		// this rule will be ignored."
		if srcTagsAllIneffective && len(m.SrcIpRanges) == 0 && len(r.UnresolvedPeer) == 0 {
			r.Disabled = true
		}
	}
	return withMatch(r)
}

func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// WouldStillDeny answers, for a fix that would add the VPC firewall rule newRule: with it, is some
// address of the packet still not allowed? It returns true and the rule that still decides (a
// policy rule of an earlier tier, a VPC deny of higher precedence, or an unresolvable rule), or false
// and the rule that would then allow the first segment.
func WouldStillDeny(set Set, p Packet, newRule Rule) (bool, Rule) {
	newRule.Source, newRule.Policy = SourceVPC, ""
	with := set
	with.Rules = append(append([]Rule(nil), set.Rules...), newRule)
	v := EvaluateSet(with, p)
	if v.Allowed {
		return false, v.Deciding()
	}
	return true, v.Deciding()
}

// Describe is a one-line account of a verdict for evidence: which rule decides and for which
// addresses.
func Describe(v Verdict) string {
	switch {
	case v.Allowed:
		return "allowed by " + v.Deciding().String()
	case len(v.Blocked()) > 0:
		b := v.Blocked()[0]
		s := "denied by " + b.Rule.String()
		if b.From.IsValid() {
			s += " for " + b.String()
		}
		return s
	case v.Unknown:
		return "unknown: " + v.Deciding().String() + " depends on " + strings.Join(v.Unresolved, ", ") + ", which gkedoctor cannot resolve"
	}
	return "denied (" + strconv.Itoa(len(v.Segments)) + " segments)"
}
