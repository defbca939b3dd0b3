// Package firewall evaluates VPC firewall rules the way the VPC does, for one packet: which rule
// decides whether it passes, and why. Checks use it instead of matching rule names or strings.
//
// The model (Google Cloud VPC firewall rules, compute v1 Firewall):
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
//     allow; when nothing matches, the implied rules decide: deny every ingress, allow every egress,
//     both at priority 65535.
//
// A packet's source is usually a range (a Serverless VPC connector's /28), so Evaluate splits the
// range into the segments on which the same rule decides and reports each: a deny that covers half
// of the connector range blocks half of the connections, and the verdict says so.
package firewall

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Directions.
const (
	Ingress = "INGRESS"
	Egress  = "EGRESS"
)

// ImpliedPriority is the priority of the implied deny-ingress and allow-egress rules.
const ImpliedPriority = 65535

// Rule is the part of a firewall rule that decides packets.
type Rule struct {
	Name      string
	Network   string // a name, a partial path or a URL; "" matches every network
	Direction string // INGRESS or EGRESS ("" is INGRESS)
	Priority  int64
	Disabled  bool
	Allow     bool // true: allowed entries; false: denied entries
	Protocols []Protocol

	SourceRanges          []string
	SourceTags            []string
	SourceServiceAccounts []string
	DestinationRanges     []string
	TargetTags            []string
	TargetServiceAccounts []string

	Implied bool // one of the implied rules at priority 65535
}

// Protocol is one allowed/denied entry.
type Protocol struct {
	IPProtocol string   // tcp, udp, icmp, esp, ah, sctp, ipip, all, or a number
	Ports      []string // "80", "8000-9000"; empty means every port
}

// Action returns "allow" or "deny".
func (r Rule) Action() string {
	if r.Allow {
		return "allow"
	}
	return "deny"
}

// String describes the rule in one line, as people read it in evidence.
func (r Rule) String() string {
	if r.Implied {
		if r.Direction == Egress {
			return "the implied allow-egress rule (priority 65535)"
		}
		return "the implied deny-ingress rule (priority 65535): no rule allows it"
	}
	var ps []string
	for _, p := range r.Protocols {
		if len(p.Ports) == 0 {
			ps = append(ps, p.IPProtocol)
		} else {
			ps = append(ps, p.IPProtocol+":"+strings.Join(p.Ports, ","))
		}
	}
	return fmt.Sprintf("%s (%s %s, priority %d, %s)", r.Name, strings.ToLower(dir(r.Direction)), r.Action(), r.Priority, strings.Join(ps, " "))
}

// FromCompute converts a compute API rule.
func FromCompute(f *compute.Firewall) Rule {
	if f == nil {
		return Rule{Disabled: true}
	}
	r := Rule{Name: f.Name, Network: f.Network, Direction: f.Direction, Priority: f.Priority, Disabled: f.Disabled,
		SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts,
		DestinationRanges: f.DestinationRanges, TargetTags: f.TargetTags, TargetServiceAccounts: f.TargetServiceAccounts}
	switch {
	case len(f.Allowed) > 0:
		r.Allow = true
		for _, a := range f.Allowed {
			if a != nil {
				r.Protocols = append(r.Protocols, Protocol{IPProtocol: a.IPProtocol, Ports: a.Ports})
			}
		}
	default:
		for _, d := range f.Denied {
			if d != nil {
				r.Protocols = append(r.Protocols, Protocol{IPProtocol: d.IPProtocol, Ports: d.Ports})
			}
		}
	}
	return r
}

// FromComputeList converts a list of compute API rules.
func FromComputeList(fs []*compute.Firewall) []Rule {
	out := make([]Rule, 0, len(fs))
	for _, f := range fs {
		if f != nil {
			out = append(out, FromCompute(f))
		}
	}
	return out
}

// Endpoint is one side of a packet.
type Endpoint struct {
	Ranges          []netip.Prefix // addresses (a single address is a /32)
	Tags            []string       // network tags
	ServiceAccounts []string       // service account emails
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
	Rule     Rule   // the deciding rule (Implied for the implied rules)
	Losing   []Rule // rules that matched too but lost to Rule (lower precedence)
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
	// Allowed is true when every address of the peer is allowed.
	Allowed bool
	// Segments cover the peer's addresses in order; adjacent segments decided by the same rule are
	// merged. With a peer known only by tags there is one segment with zero addresses.
	Segments []Segment
}

// Deciding returns the rule that decides the verdict: the first blocking rule when some address is
// denied, else the rule allowing the first segment.
func (v Verdict) Deciding() Rule {
	for _, s := range v.Segments {
		if !s.Allowed {
			return s.Rule
		}
	}
	if len(v.Segments) > 0 {
		return v.Segments[0].Rule
	}
	return Rule{}
}

// Blocked returns the segments that are denied.
func (v Verdict) Blocked() []Segment {
	var out []Segment
	for _, s := range v.Segments {
		if !s.Allowed {
			out = append(out, s)
		}
	}
	return out
}

// Shadowing returns the allow rules that match some denied segment but lose to the deny that decides
// it: the "rule exists but is shadowed" case.
func (v Verdict) Shadowing() (deny Rule, shadowed []Rule) {
	for _, s := range v.Segments {
		if s.Allowed || s.Rule.Implied {
			continue
		}
		for _, l := range s.Losing {
			if l.Allow {
				shadowed = append(shadowed, l)
			}
		}
		if len(shadowed) > 0 {
			return s.Rule, shadowed
		}
	}
	return Rule{}, nil
}

// Evaluate decides p against rules.
func Evaluate(rules []Rule, p Packet) Verdict {
	p.Direction = dir(p.Direction)
	cands := make([]Rule, 0, len(rules))
	for _, r := range rules {
		r.Direction = dir(r.Direction)
		if r.Disabled || r.Implied || r.Direction != p.Direction || !sameNetwork(r.Network, p.Network) ||
			!instanceMatch(r, p) || !protocolMatch(r, p.Protocol, p.Port) {
			continue
		}
		cands = append(cands, r)
	}
	var v Verdict
	if len(p.Peer.Ranges) == 0 {
		seg := decide(cands, p, netip.Addr{})
		v.Segments = []Segment{seg}
	} else {
		for _, pr := range p.Peer.Ranges {
			if !pr.IsValid() {
				continue
			}
			lo, hi := bounds(pr)
			for _, seg := range segments(cands, p, lo, hi) {
				n := len(v.Segments)
				if n > 0 && v.Segments[n-1].Rule.Name == seg.Rule.Name && v.Segments[n-1].Rule.Implied == seg.Rule.Implied &&
					v.Segments[n-1].To.IsValid() && v.Segments[n-1].To.Next() == seg.From {
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
	for _, s := range v.Segments {
		if !s.Allowed {
			v.Allowed = false
		}
	}
	return v
}

// segments splits [lo, hi] at every boundary of a candidate's peer ranges and decides each part.
func segments(cands []Rule, p Packet, lo, hi netip.Addr) []Segment {
	cuts := []netip.Addr{lo}
	for _, r := range cands {
		for _, s := range peerRanges(r, p.Direction) {
			pr, ok := parseRange(s)
			if !ok || pr.Addr().Is4() != lo.Is4() {
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

// decide picks the winning rule for one peer address (invalid: the peer is known by tags only).
func decide(cands []Rule, p Packet, addr netip.Addr) Segment {
	var matching []Rule
	for _, r := range cands {
		if peerMatch(r, p, addr) {
			matching = append(matching, r)
		}
	}
	sort.SliceStable(matching, func(i, j int) bool { return before(matching[i], matching[j]) })
	if len(matching) == 0 {
		imp := Rule{Name: "implied-deny-ingress", Direction: p.Direction, Priority: ImpliedPriority, Implied: true}
		if p.Direction == Egress {
			imp.Name, imp.Allow = "implied-allow-egress", true
		}
		return Segment{From: addr, To: addr, Allowed: imp.Allow, Rule: imp}
	}
	return Segment{From: addr, To: addr, Allowed: matching[0].Allow, Rule: matching[0], Losing: matching[1:]}
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

func peerRanges(r Rule, direction string) []string {
	if direction == Egress {
		return r.DestinationRanges
	}
	return r.SourceRanges
}

func instanceRanges(r Rule, direction string) []string {
	if direction == Egress {
		return r.SourceRanges
	}
	return r.DestinationRanges
}

func peerMatch(r Rule, p Packet, addr netip.Addr) bool {
	if p.Direction == Egress {
		ranges := r.DestinationRanges
		if len(ranges) == 0 {
			return true // the API defaults destinationRanges to 0.0.0.0/0
		}
		return addr.IsValid() && inAny(addr, ranges)
	}
	if len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 && len(r.SourceServiceAccounts) == 0 {
		return true // the API defaults sourceRanges to 0.0.0.0/0
	}
	if addr.IsValid() && inAny(addr, r.SourceRanges) {
		return true
	}
	return intersects(r.SourceTags, p.Peer.Tags) || intersectsFold(r.SourceServiceAccounts, p.Peer.ServiceAccounts)
}

func instanceMatch(r Rule, p Packet) bool {
	if len(r.TargetTags) > 0 || len(r.TargetServiceAccounts) > 0 {
		if !intersects(r.TargetTags, p.Instance.Tags) && !intersectsFold(r.TargetServiceAccounts, p.Instance.ServiceAccounts) {
			return false
		}
	}
	ranges := instanceRanges(r, p.Direction)
	// For egress, sourceRanges on the rule (rare) restrict the sending instance's address.
	if len(ranges) == 0 || len(p.Instance.Ranges) == 0 {
		return true
	}
	for _, ip := range p.Instance.Ranges {
		if ip.IsValid() && inAny(ip.Addr(), ranges) {
			return true
		}
	}
	return false
}

func inAny(a netip.Addr, ranges []string) bool {
	a = a.Unmap()
	for _, s := range ranges {
		if pr, ok := parseRange(s); ok && pr.Contains(a) {
			return true
		}
	}
	return false
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

// sameNetwork compares network references: names, partial paths and URLs. An empty side matches.
func sameNetwork(a, b string) bool {
	if a == "" || b == "" {
		return true
	}
	pa, na := SplitNetwork(a)
	pb, nb := SplitNetwork(b)
	if na != nb {
		return false
	}
	return pa == "" || pb == "" || pa == pb
}

// SplitNetwork returns the project ("" when the reference does not say) and the name of a network
// reference: "default", "global/networks/default", "projects/p/global/networks/default" or a URL.
func SplitNetwork(ref string) (project, name string) {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	if i := strings.Index(ref, "projects/"); i >= 0 {
		parts := strings.Split(ref[i:], "/")
		if len(parts) >= 2 {
			project = parts[1]
		}
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	} else {
		name = ref
	}
	return project, name
}

var protoNumbers = map[string]int{"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132}

// protoNumber returns the IP protocol number of a name or number, or -1.
func protoNumber(s string) int {
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

func protocolMatch(r Rule, proto string, port int) bool {
	want := protoNumber(proto)
	for _, e := range r.Protocols {
		if strings.EqualFold(strings.TrimSpace(e.IPProtocol), "all") {
			return true
		}
		got := protoNumber(e.IPProtocol)
		if got < 0 || got != want {
			continue
		}
		if len(e.Ports) == 0 || !hasPorts(got) {
			return true
		}
		for _, ps := range e.Ports {
			if lo, hi, ok := ParsePorts(ps); ok && port >= lo && port <= hi {
				return true
			}
		}
	}
	return false
}

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
