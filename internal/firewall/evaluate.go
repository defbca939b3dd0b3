package firewall

import (
	"net/netip"
	"sort"
	"strings"
)

// Enforcement orders (compute v1 Network.networkFirewallPolicyEnforcementOrder).
const (
	AfterClassicFirewall  = "AFTER_CLASSIC_FIREWALL"
	BeforeClassicFirewall = "BEFORE_CLASSIC_FIREWALL"
)

// Policy types (the Type of an effective firewall policy in getEffectiveFirewalls).
const (
	TypeHierarchy       = "HIERARCHY"
	TypeNetwork         = "NETWORK"
	TypeNetworkRegional = "NETWORK_REGIONAL"
	TypeSystem          = "SYSTEM"
	TypeSystemGlobal    = "SYSTEM_GLOBAL"
	TypeSystemRegional  = "SYSTEM_REGIONAL"
)

// Policy is one firewall policy in effect on a network: a tier of its own.
type Policy struct {
	Name        string // the resource name (a number for hierarchical policies)
	ShortName   string
	DisplayName string
	Type        string // TypeHierarchy, TypeNetwork, TypeNetworkRegional, TypeSystem*
	// Priority is the association's priority (network policies only): among policies of one type,
	// the lower number is evaluated first.
	Priority int64
	Rules    []Rule
}

// Label is the name people know the policy by: its short name, else its display name, else its name.
func (p Policy) Label() string {
	switch {
	case p.ShortName != "":
		return p.ShortName
	case p.DisplayName != "":
		return p.DisplayName
	}
	return p.Name
}

// Source returns the tier of the policy's rules (SourceHierarchical, …).
func (p Policy) Source() string {
	switch strings.ToUpper(p.Type) {
	case TypeHierarchy:
		return SourceHierarchical
	case TypeNetwork:
		return SourceNetwork
	case TypeNetworkRegional:
		return SourceRegionalNetwork
	}
	return SourceSystem
}

// Set is everything that decides packets on one network (in one region): the VPC firewall rules,
// the firewall policies in effect, and the network's enforcement order. It is the evaluator's input;
// build it with FromEffectiveFirewalls (and Merge the regional answer), or by hand in tests.
type Set struct {
	Rules    []Rule   // VPC firewall rules
	Policies []Policy // hierarchical policies in the order organisation → folders (top down), then any others
	Order    string   // AFTER_CLASSIC_FIREWALL ("" means it too) or BEFORE_CLASSIC_FIREWALL
}

// EachRule calls fn for every rule of the set: the VPC rules, then each policy's rules.
func (s Set) EachRule(fn func(Rule)) {
	for _, r := range s.Rules {
		fn(r)
	}
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			fn(r)
		}
	}
}

// tier is one tier of a Set in evaluation order: the rules of one policy (or the VPC rules), not
// copied, with the source and policy label every rule of it is stamped with when it is a candidate.
type tier struct {
	rules  []Rule
	source string // "" keeps the rule's own source (SourceVPC when it has none): the VPC tier
	policy string
	vpc    bool
}

// tiers returns the tiers of the set in evaluation order. The rules are not copied: EvaluateSet
// stamps only the candidates, so a packet costs no allocation per rule of a large set.
func (s Set) tiers() []tier {
	byType := func(src string) []tier {
		var ps []Policy
		for _, p := range s.Policies {
			if p.Source() == src {
				ps = append(ps, p)
			}
		}
		if src != SourceHierarchical {
			sort.SliceStable(ps, func(i, j int) bool { return ps[i].Priority < ps[j].Priority })
		}
		var out []tier
		for _, p := range ps {
			out = append(out, tier{rules: p.Rules, source: p.Source(), policy: p.Label()})
		}
		return out
	}
	vpc := tier{rules: s.Rules, vpc: true}
	out := byType(SourceHierarchical)
	out = append(out, byType(SourceSystem)...)
	if strings.EqualFold(s.Order, BeforeClassicFirewall) {
		out = append(out, byType(SourceNetwork)...)
		out = append(out, byType(SourceRegionalNetwork)...)
		out = append(out, vpc)
	} else {
		out = append(out, vpc)
		out = append(out, byType(SourceNetwork)...)
		out = append(out, byType(SourceRegionalNetwork)...)
	}
	return out
}

// stamp returns r as a candidate of tier t: its source and policy set, its direction normalised.
func (t tier) stamp(r *Rule) Rule {
	c := *r
	if t.vpc {
		if c.Source == "" {
			c.Source = SourceVPC
		}
	} else {
		c.Source, c.Policy = t.source, t.policy
	}
	c.Direction = dir(c.Direction)
	return c
}

// cand is a rule that applies to the packet's instance, protocol and port.
type cand struct {
	Rule
	tier        int
	maybeTarget []string
}

// EvaluateSet decides p against everything in set, tier by tier (see the package documentation).
func EvaluateSet(set Set, p Packet) Verdict {
	p.Direction = dir(p.Direction)
	want := protoNumber(p.Protocol)
	inNetwork := networkMatcher(p.Network)
	var cands []cand
	for ti, t := range set.tiers() {
		for i := range t.rules {
			r := &t.rules[i]
			if r.Disabled || r.Implied {
				continue
			}
			if m := r.match(); m.dir != p.Direction || !m.proto(want, p.Port) || !inNetwork(r.Network) {
				continue
			}
			c := t.stamp(r)
			ok, maybe := instanceMatch(c, p)
			if !ok {
				continue
			}
			cands = append(cands, cand{Rule: c, tier: ti, maybeTarget: maybe})
		}
	}
	// Precedence inside each tier, tiers in order.
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].tier != cands[j].tier {
			return cands[i].tier < cands[j].tier
		}
		return before(cands[i].Rule, cands[j].Rule)
	})
	var v Verdict
	if len(p.Peer.Ranges) == 0 {
		v.Segments = []Segment{decide(cands, p, netip.Addr{})}
	} else {
		for _, pr := range p.Peer.Ranges {
			if !pr.IsValid() {
				continue
			}
			lo, hi := bounds(pr)
			for _, seg := range segments(cands, p, lo, hi) {
				n := len(v.Segments)
				if n > 0 && sameDecision(v.Segments[n-1], seg) && v.Segments[n-1].To.IsValid() && v.Segments[n-1].To.Next() == seg.From {
					v.Segments[n-1].To = seg.To
					continue
				}
				v.Segments = append(v.Segments, seg)
			}
		}
		if len(v.Segments) == 0 {
			v.Segments = []Segment{decide(cands, p, netip.Addr{})}
		}
	}
	v.Allowed = true
	seen := map[string]bool{}
	for _, s := range v.Segments {
		if !s.Allowed {
			v.Allowed = false
		}
		if s.Unknown {
			v.Unknown = true
			for _, u := range s.Unresolved {
				if !seen[u] {
					seen[u] = true
					v.Unresolved = append(v.Unresolved, u)
				}
			}
		}
	}
	sort.Strings(v.Unresolved)
	return v
}

func sameDecision(a, b Segment) bool {
	return a.Rule.key() == b.Rule.key() && a.Rule.Implied == b.Rule.Implied && a.Unknown == b.Unknown && a.Allowed == b.Allowed
}

// segments splits [lo, hi] at every boundary of a candidate's peer ranges and decides each part.
func segments(cands []cand, p Packet, lo, hi netip.Addr) []Segment {
	cuts := []netip.Addr{lo}
	for _, c := range cands {
		for _, pr := range c.match().peer(p.Direction) {
			if pr.Addr().Is4() != lo.Is4() {
				continue
			}
			rlo, rhi := bounds(pr)
			if rhi.Less(lo) || hi.Less(rlo) {
				continue
			}
			if lo.Less(rlo) {
				cuts = append(cuts, rlo)
			}
			if rhi.Less(hi) {
				cuts = append(cuts, rhi.Next())
			}
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Less(cuts[j]) })
	var out []Segment
	for i, c := range cuts {
		if i > 0 && c == cuts[i-1] {
			continue
		}
		to := hi
		for _, n := range cuts[i+1:] {
			if n != c {
				to = n.Prev()
				break
			}
		}
		seg := decide(cands, p, c)
		seg.From, seg.To = c, to
		out = append(out, seg)
	}
	return out
}

// decide walks the tiers for one peer address (invalid: the peer is known by tags only). cands are
// sorted by tier, then precedence.
func decide(cands []cand, p Packet, addr netip.Addr) Segment {
	skipTier := -1 // a goto_next matched in this tier: the rest of it is skipped
	for i, c := range cands {
		if c.tier == skipTier {
			continue
		}
		ok, maybe := peerMatch(c.Rule, p, addr)
		if !ok && len(maybe) == 0 {
			continue
		}
		if ok {
			maybe = nil
		}
		maybe = append(append(append([]string(nil), maybe...), c.maybeTarget...), c.UnresolvedCondition...)
		if len(maybe) > 0 {
			return Segment{From: addr, To: addr, Unknown: true, Unresolved: maybe, Rule: c.Rule, Losing: losing(cands[i+1:], p, addr)}
		}
		if c.GotoNext {
			skipTier = c.tier
			continue
		}
		return Segment{From: addr, To: addr, Allowed: c.Allow, Rule: c.Rule, Losing: losing(cands[i+1:], p, addr)}
	}
	imp := Rule{Name: "implied-deny-ingress", Direction: p.Direction, Priority: ImpliedPriority, Implied: true, Source: SourceImplied}
	if p.Direction == Egress {
		imp.Name, imp.Allow = "implied-allow-egress", true
	}
	return Segment{From: addr, To: addr, Allowed: imp.Allow, Rule: imp}
}

// losing lists the allow and deny rules after the decision that match addr for certain.
func losing(rest []cand, p Packet, addr netip.Addr) []Rule {
	var out []Rule
	for _, c := range rest {
		if c.GotoNext || len(c.maybeTarget) > 0 || len(c.UnresolvedCondition) > 0 {
			continue
		}
		if ok, _ := peerMatch(c.Rule, p, addr); ok {
			out = append(out, c.Rule)
		}
	}
	return out
}
