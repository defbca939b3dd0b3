// Package firewall is the one firewall evaluator of gkedoctor: it decides, for one packet, what the
// VPC really enforces — hierarchical firewall policies, the regional system policies, VPC firewall
// rules, global and regional network firewall policies and the implied rules — which rule decides,
// and why. Checks, fixes and the demo world's simulated network use it instead of matching rule names
// or strings.
//
// VPC firewall rules (compute v1 Firewall):
//   - a rule applies to one direction (INGRESS by default) of one network; disabled rules are ignored;
//   - it applies to the instance whose network tags or service accounts match targetTags /
//     targetServiceAccounts (both empty: every instance of the network);
//   - for ingress, the peer is the packet's source: it matches when its address is in sourceRanges,
//     or it carries one of sourceTags, or runs as one of sourceServiceAccounts (a rule with none of
//     the three matches every source, as the API defaults sourceRanges to 0.0.0.0/0); for egress the
//     peer is the destination and destinationRanges are matched;
//   - allowed/denied entries list protocols (a name, a number, or "all") with optional ports ("80",
//     "8000-9000"; none means every port);
//   - among the rules that match, the lowest priority number wins; at equal priority a deny beats an
//     allow.
//
// Firewall policies (compute v1 FirewallPolicyRule, as networks.getEffectiveFirewalls and
// regionNetworkFirewallPolicies.getEffectiveFirewalls return them) are evaluated in tiers. Within a
// tier the matching rule with the lowest priority number decides: allow and deny end the
// evaluation, goto_next (and no match at all) passes the packet to the next tier. The tiers, in the
// order Cloud NGFW evaluates them (https://cloud.google.com/firewall/docs/firewall-policies-rule-eval-order):
//  1. hierarchical firewall policies: the organisation's first, then each folder's from the top
//     down — in the order the API lists them (see FromEffectiveFirewalls);
//  2. system firewall policies (Google-managed, e.g. for GKE);
//  3. with the network's networkFirewallPolicyEnforcementOrder AFTER_CLASSIC_FIREWALL (the default,
//     also when empty): VPC firewall rules, the global network firewall policy, the regional network
//     firewall policy; with BEFORE_CLASSIC_FIREWALL: the global network policy, the regional network
//     policy, then the VPC firewall rules;
//  4. the implied rules: deny every ingress, allow every egress, both at priority 65535.
//
// What cannot be decided from the facts gkedoctor has — secure tags (srcSecureTags,
// targetSecureTags), FQDN, geolocation, address-group and threat-intelligence matches, network
// types, security-profile inspection — is never guessed: when such a rule is reached before any rule
// that decides, the affected addresses are Unknown and the verdict names what could not be resolved.
//
// A packet's peer is usually a range (a Serverless VPC connector's /28), so the evaluation splits the
// range into the segments on which the same rule decides and reports each: a deny that covers half
// of the connector range blocks half of the connections, and the verdict says so.
package firewall

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// Directions.
const (
	Ingress = "INGRESS"
	Egress  = "EGRESS"
)

// ImpliedPriority is the priority of the implied deny-ingress and allow-egress rules.
const ImpliedPriority = 65535

// Sources: where a rule comes from, i.e. the tier that decided.
const (
	SourceVPC             = "vpc"
	SourceHierarchical    = "hierarchical"
	SourceSystem          = "system"
	SourceNetwork         = "network"
	SourceRegionalNetwork = "regional-network"
	SourceImplied         = "implied"
)

// Rule is the part of a firewall rule, or of a firewall policy rule, that decides packets.
type Rule struct {
	Name      string // the VPC rule's name; a policy rule's ruleName (may be empty)
	Network   string // a name, a partial path or a URL; "" matches every network
	Direction string // INGRESS or EGRESS ("" is INGRESS)
	Priority  int64
	Disabled  bool
	Allow     bool // true: allowed entries (policy: action allow); false: denied entries (policy: deny)
	GotoNext  bool // policy rules only: action goto_next (Allow is then false and means nothing)
	Protocols []Protocol

	SourceRanges          []string
	SourceTags            []string
	SourceServiceAccounts []string
	DestinationRanges     []string
	TargetTags            []string
	TargetServiceAccounts []string

	// Source is the tier the rule belongs to: SourceVPC ("" means VPC too), SourceHierarchical,
	// SourceSystem, SourceNetwork, SourceRegionalNetwork, or SourceImplied.
	Source string
	// Policy names the firewall policy of a policy rule (its short or display name, else its name).
	Policy string
	// TargetResources (policy rules) are the networks the rule applies to; empty: every network.
	TargetResources []string
	// SourceSecureTags and TargetSecureTags (policy rules) name secure tag values; they cannot be
	// resolved against the instance facts gkedoctor has, so a rule that depends on them makes the
	// addresses it may cover Unknown.
	SourceSecureTags []string
	TargetSecureTags []string
	// UnresolvedPeer lists other peer criteria that cannot be resolved (FQDNs, geolocations, address
	// groups, threat-intelligence lists): like sourceRanges, any one of them may match the peer.
	UnresolvedPeer []string
	// UnresolvedCondition lists criteria that must hold in addition and cannot be resolved (source
	// network types and networks, security-profile inspection).
	UnresolvedCondition []string

	Implied bool // one of the implied rules at priority 65535

	m *matcher // the match criteria parsed (match.go); nil: parsed when evaluated
}

// Protocol is one allowed/denied entry.
type Protocol struct {
	IPProtocol string   // tcp, udp, icmp, esp, ah, sctp, ipip, all, or a number
	Ports      []string // "80", "8000-9000"; empty means every port
}

// Action returns "allow", "deny" or "goto_next".
func (r Rule) Action() string {
	switch {
	case r.GotoNext:
		return "goto_next"
	case r.Allow:
		return "allow"
	}
	return "deny"
}

// IsPolicy reports whether the rule comes from a firewall policy (not a VPC or implied rule).
func (r Rule) IsPolicy() bool {
	switch r.Source {
	case SourceHierarchical, SourceSystem, SourceNetwork, SourceRegionalNetwork:
		return true
	}
	return false
}

// Tier returns the rule's source, SourceVPC when unset.
func (r Rule) Tier() string {
	if r.Implied {
		return SourceImplied
	}
	if r.Source == "" {
		return SourceVPC
	}
	return r.Source
}

// PolicyKind describes a policy tier in words: "hierarchical firewall policy", …; "" for VPC rules.
func PolicyKind(source string) string {
	switch source {
	case SourceHierarchical:
		return "hierarchical firewall policy"
	case SourceSystem:
		return "system firewall policy"
	case SourceNetwork:
		return "global network firewall policy"
	case SourceRegionalNetwork:
		return "regional network firewall policy"
	}
	return ""
}

func (r Rule) protocolString() string {
	var ps []string
	for _, p := range r.Protocols {
		if len(p.Ports) == 0 {
			ps = append(ps, p.IPProtocol)
		} else {
			ps = append(ps, p.IPProtocol+":"+strings.Join(p.Ports, ","))
		}
	}
	return strings.Join(ps, " ")
}

// String describes the rule in one line, as people read it in evidence: a VPC rule as
// `allow-80 (ingress allow, priority 1000, tcp:80)`, a policy rule as
// `hierarchical firewall policy "org-guardrails" rule 1000 deny ingress from 0.0.0.0/0 tcp:80`.
func (r Rule) String() string {
	if r.Implied {
		if dir(r.Direction) == Egress {
			return "the implied allow-egress rule (priority 65535)"
		}
		return "the implied deny-ingress rule (priority 65535): no rule allows it"
	}
	if !r.IsPolicy() {
		return fmt.Sprintf("%s (%s %s, priority %d, %s)", r.Name, strings.ToLower(dir(r.Direction)), r.Action(), r.Priority, r.protocolString())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q rule %d", PolicyKind(r.Source), r.Policy, r.Priority)
	if r.Name != "" {
		fmt.Fprintf(&b, " %q", r.Name)
	}
	d := dir(r.Direction)
	fmt.Fprintf(&b, " %s %s", r.Action(), strings.ToLower(d))
	var peers []string
	if d == Egress {
		peers = append(peers, r.DestinationRanges...)
	} else {
		peers = append(peers, r.SourceRanges...)
		for _, t := range r.SourceSecureTags {
			peers = append(peers, "secure tag "+t)
		}
	}
	peers = append(peers, r.UnresolvedPeer...)
	if len(peers) > 0 {
		word := " from "
		if d == Egress {
			word = " to "
		}
		b.WriteString(word + strings.Join(peers, ","))
	}
	if ps := r.protocolString(); ps != "" {
		b.WriteString(" " + ps)
	}
	if len(r.TargetSecureTags) > 0 {
		b.WriteString(" on instances with secure tag " + strings.Join(r.TargetSecureTags, ","))
	}
	if len(r.TargetServiceAccounts) > 0 {
		b.WriteString(" on instances running as " + strings.Join(r.TargetServiceAccounts, ","))
	}
	return b.String()
}

// key identifies a rule across tiers (names repeat across policies, and policy rules may be unnamed).
func (r Rule) key() string {
	return r.Tier() + "\x00" + r.Policy + "\x00" + r.Name + "\x00" + strconv.FormatInt(r.Priority, 10)
}

// FromCompute converts a compute API rule.
func FromCompute(f *compute.Firewall) Rule {
	if f == nil {
		return Rule{Disabled: true}
	}
	r := Rule{Name: f.Name, Network: f.Network, Direction: f.Direction, Priority: f.Priority, Disabled: f.Disabled,
		SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts,
		DestinationRanges: f.DestinationRanges, TargetTags: f.TargetTags, TargetServiceAccounts: f.TargetServiceAccounts,
		Source: SourceVPC}
	switch {
	case len(f.Allowed) > 0:
		r.Allow = true
		r.Protocols = make([]Protocol, 0, len(f.Allowed))
		for _, a := range f.Allowed {
			if a != nil {
				r.Protocols = append(r.Protocols, Protocol{IPProtocol: a.IPProtocol, Ports: a.Ports})
			}
		}
	case len(f.Denied) > 0:
		r.Protocols = make([]Protocol, 0, len(f.Denied))
		for _, d := range f.Denied {
			if d != nil {
				r.Protocols = append(r.Protocols, Protocol{IPProtocol: d.IPProtocol, Ports: d.Ports})
			}
		}
	}
	return withMatch(r)
}

// FromComputeList converts a list of compute API rules. The rules of one network share one copy of
// its URL (a large network has thousands of rules, each spelling it out).
func FromComputeList(fs []*compute.Firewall) []Rule {
	out := make([]Rule, 0, len(fs))
	var network string
	for _, f := range fs {
		if f == nil {
			continue
		}
		r := FromCompute(f)
		if r.Network == network {
			r.Network = network
		} else {
			network = r.Network
		}
		out = append(out, r)
	}
	return out
}

// Endpoint is one side of a packet.
type Endpoint struct {
	Ranges          []netip.Prefix // addresses (a single address is a /32)
	Tags            []string       // network tags
	ServiceAccounts []string       // service account emails
	// SecureTags are the secure tag values (tagValues/…) bound to the instance. They count only when
	// SecureTagsKnown is set; otherwise rules that depend on secure tags make the verdict Unknown.
	SecureTags      []string
	SecureTagsKnown bool
	// IdentityUnknown says the instance's network tags and service accounts are not known (a
	// forwarding target named only by its IP): a rule limited to targets may or may not apply, so
	// where it would decide the verdict is Unknown, never a guess.
	IdentityUnknown bool
}

// Packet is what is evaluated. Instance is the VM the rules protect (the receiver for ingress, the
// sender for egress); Peer is the other side. Peer.Ranges are split into segments; Instance.Ranges,
// when given, are matched against an ingress rule's destinationRanges (an egress rule's
// sourceRanges), and when empty such rules are taken to match (the instance address is unknown).
type Packet struct {
	Direction string // INGRESS ("") or EGRESS
	Network   string // "" matches every rule's network
	Instance  Endpoint
	Peer      Endpoint
	Protocol  string // tcp, udp, … or a number
	Port      int    // 0 for protocols without ports
}

// Segment is a contiguous part of the peer's addresses on which one rule decides.
type Segment struct {
	From, To netip.Addr
	Allowed  bool
	Rule     Rule   // the deciding rule (Implied for the implied rules); for an Unknown segment, the rule that could not be resolved
	Losing   []Rule // rules that matched too but lost to Rule (lower precedence, or a later tier)
	// Unknown says a rule that cannot be resolved (Unresolved names why) was reached before any rule
	// that decides: whether these addresses pass is not known. Allowed is false.
	Unknown    bool
	Unresolved []string
}

// String renders the segment's addresses as the smallest list of CIDR blocks.
func (s Segment) String() string {
	if s.From == s.To {
		return s.From.String()
	}
	ps := rangeToPrefixes(s.From, s.To)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

// Verdict is the outcome for the whole packet.
type Verdict struct {
	// Allowed is true when every address of the peer is allowed (and none is Unknown).
	Allowed bool
	// Unknown is true when whether some address passes cannot be decided from the facts (a secure
	// tag, an FQDN, … see Rule); Unresolved names what could not be resolved, sorted.
	Unknown    bool
	Unresolved []string
	// Segments cover the peer's addresses in order; adjacent segments decided by the same rule are
	// merged. With a peer known only by tags there is one segment with zero addresses.
	Segments []Segment
}

// Deciding returns the rule that decides the verdict: the first blocking rule when some address is
// denied, else the first unresolvable rule when some address is unknown, else the rule allowing the
// first segment.
func (v Verdict) Deciding() Rule {
	for _, s := range v.Segments {
		if !s.Allowed && !s.Unknown {
			return s.Rule
		}
	}
	for _, s := range v.Segments {
		if s.Unknown {
			return s.Rule
		}
	}
	if len(v.Segments) > 0 {
		return v.Segments[0].Rule
	}
	return Rule{}
}

// Blocked returns the segments that are denied (not the Unknown ones).
func (v Verdict) Blocked() []Segment {
	var out []Segment
	for _, s := range v.Segments {
		if !s.Allowed && !s.Unknown {
			out = append(out, s)
		}
	}
	return out
}

// UnknownSegments returns the segments whose fate cannot be decided.
func (v Verdict) UnknownSegments() []Segment {
	var out []Segment
	for _, s := range v.Segments {
		if s.Unknown {
			out = append(out, s)
		}
	}
	return out
}

// Shadowing returns the allow rules that match some denied segment but lose to the deny that decides
// it: the "rule exists but is shadowed" case (by a VPC deny of higher precedence, or by a policy deny
// of an earlier tier).
func (v Verdict) Shadowing() (deny Rule, shadowed []Rule) {
	for _, s := range v.Segments {
		if s.Allowed || s.Unknown || s.Rule.Implied {
			continue
		}
		for _, l := range s.Losing {
			if l.Allow && !l.GotoNext {
				shadowed = append(shadowed, l)
			}
		}
		if len(shadowed) > 0 {
			return s.Rule, shadowed
		}
	}
	return Rule{}, nil
}

// Evaluate decides p against VPC firewall rules only (no firewall policies): a thin wrapper over
// EvaluateSet for callers that have only the rules.
func Evaluate(rules []Rule, p Packet) Verdict {
	return EvaluateSet(Set{Rules: rules}, p)
}

// before orders rules by precedence: lower priority number first, deny before allow at equal
// priority, then by name so the answer does not depend on the order the API listed them in.
func before(a, b Rule) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if a.Allow != b.Allow {
		return !a.Allow
	}
	return a.Name < b.Name
}

func dir(d string) string {
	if strings.EqualFold(d, Egress) {
		return Egress
	}
	return Ingress
}

// peerMatch reports whether the rule's peer criteria match addr (invalid: the peer is known by tags
// only); maybe lists the unresolvable criteria that might match it when the resolvable ones do not.
func peerMatch(r Rule, p Packet, addr netip.Addr) (ok bool, maybe []string) {
	if p.Direction == Egress {
		ranges := r.DestinationRanges
		if len(ranges) == 0 && len(r.UnresolvedPeer) == 0 {
			return true, nil // the API defaults destinationRanges to 0.0.0.0/0
		}
		if addr.IsValid() && inPrefixes(addr, r.match().dst) {
			return true, nil
		}
		return false, r.UnresolvedPeer
	}
	if len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 && len(r.SourceServiceAccounts) == 0 &&
		len(r.SourceSecureTags) == 0 && len(r.UnresolvedPeer) == 0 {
		return true, nil // the API defaults sourceRanges to 0.0.0.0/0
	}
	if addr.IsValid() && inPrefixes(addr, r.match().src) {
		return true, nil
	}
	if intersects(r.SourceTags, p.Peer.Tags) || intersectsFold(r.SourceServiceAccounts, p.Peer.ServiceAccounts) {
		return true, nil
	}
	if p.Peer.SecureTagsKnown {
		if intersects(r.SourceSecureTags, p.Peer.SecureTags) {
			return true, nil
		}
	} else {
		for _, t := range r.SourceSecureTags {
			maybe = append(maybe, "source secure tag "+t)
		}
	}
	return false, append(maybe, r.UnresolvedPeer...)
}

// instanceMatch reports whether the rule applies to the packet's instance; maybe lists the
// unresolvable criteria (target secure tags) on which that depends.
func instanceMatch(r Rule, p Packet) (ok bool, maybe []string) {
	if len(r.TargetTags) > 0 || len(r.TargetServiceAccounts) > 0 {
		switch {
		case p.Instance.IdentityUnknown:
			for _, t := range r.TargetTags {
				maybe = append(maybe, "target tag "+t)
			}
			for _, sa := range r.TargetServiceAccounts {
				maybe = append(maybe, "target service account "+sa)
			}
		case !intersects(r.TargetTags, p.Instance.Tags) && !intersectsFold(r.TargetServiceAccounts, p.Instance.ServiceAccounts):
			return false, nil
		}
	}
	if len(r.TargetResources) > 0 && p.Network != "" {
		in := false
		for _, n := range r.TargetResources {
			if sameNetwork(n, p.Network) {
				in = true
			}
		}
		if !in {
			return false, nil
		}
	}
	// For egress, sourceRanges on the rule (rare) restrict the sending instance's address.
	if len(instanceRangeStrings(r, p.Direction)) > 0 && len(p.Instance.Ranges) > 0 {
		ranges := r.match().instance(p.Direction)
		in := false
		for _, ip := range p.Instance.Ranges {
			if ip.IsValid() && inPrefixes(ip.Addr(), ranges) {
				in = true
			}
		}
		if !in {
			return false, nil
		}
	}
	if len(r.TargetSecureTags) > 0 && p.Instance.SecureTagsKnown {
		return intersects(r.TargetSecureTags, p.Instance.SecureTags), nil
	}
	for _, t := range r.TargetSecureTags {
		maybe = append(maybe, "target secure tag "+t)
	}
	return true, maybe
}

// instanceRangeStrings are the rule's ranges on the packet's instance side, as written.
func instanceRangeStrings(r Rule, direction string) []string {
	if direction == Egress {
		return r.SourceRanges
	}
	return r.DestinationRanges
}

// parseRange accepts a CIDR block or a single address.
func parseRange(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if pr, err := netip.ParsePrefix(s); err == nil {
		return pr.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// bounds returns the first and last address of a prefix.
func bounds(p netip.Prefix) (netip.Addr, netip.Addr) {
	p = p.Masked()
	lo := p.Addr()
	b := lo.AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	hi, _ := netip.AddrFromSlice(b)
	return lo, hi
}

// rangeToPrefixes covers [lo, hi] with the fewest CIDR blocks.
func rangeToPrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for !hi.Less(lo) {
		bits := lo.BitLen()
		// Grow the block while it stays aligned and inside the range.
		best := netip.PrefixFrom(lo, bits)
		for b := bits - 1; b >= 0; b-- {
			p := netip.PrefixFrom(lo, b)
			if p.Masked().Addr() != lo {
				break
			}
			_, end := bounds(p)
			if hi.Less(end) {
				break
			}
			best = p
		}
		out = append(out, best)
		_, end := bounds(best)
		if !end.Next().IsValid() {
			break
		}
		lo = end.Next()
		if len(out) > 256 {
			break
		}
	}
	return out
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != "" && x == y {
				return true
			}
		}
	}
	return false
}

func intersectsFold(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != "" && strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// sameNetwork compares network references (gref.NetworkMatches).
func sameNetwork(a, b string) bool { return gref.NetworkMatches(a, b) }

// networkMatcher is sameNetwork(·, packet) for one packet's network, parsed once: a set's rules
// mostly spell their network the same way, so the last answer is kept for the next rule.
func networkMatcher(packet string) func(string) bool {
	pp, pn := gref.SplitNetwork(packet)
	var last string
	var lastOK, have bool
	return func(n string) bool {
		if packet == "" || n == "" || n == packet {
			return true
		}
		if have && n == last {
			return lastOK
		}
		rp, rn := gref.SplitNetwork(n)
		last, lastOK, have = n, rn == pn && (rp == "" || pp == "" || rp == pp), true
		return lastOK
	}
}

var protoNumbers = map[string]int{"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132}

// protoNumber returns the IP protocol number of a name or number, or -1.
func protoNumber(s string) int {
	switch s { // what the API returns, without lower-casing
	case "tcp":
		return 6
	case "udp":
		return 17
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if n, ok := protoNumbers[s]; ok {
		return n
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 255 {
		if n == 94 {
			return 4 // ipip is protocol 94 in the API's list and 4 in IANA's; treat them as one
		}
		return n
	}
	return -1
}

func hasPorts(proto int) bool { return proto == 6 || proto == 17 || proto == 132 }

// ParsePorts parses "80" or "8000-9000" (1–65535; a range must not be reversed).
func ParsePorts(s string) (lo, hi int, ok bool) {
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 || lo > 65535 || a != strconv.Itoa(lo) {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err = strconv.Atoi(b)
	if err != nil || hi < lo || hi > 65535 || b != strconv.Itoa(hi) {
		return 0, 0, false
	}
	return lo, hi, true
}
