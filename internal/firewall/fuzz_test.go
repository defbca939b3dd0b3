package firewall

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// naive decides one peer address the slow, obvious way: every rule, every address, no segments.
func naive(rules []Rule, p Packet, addr netip.Addr) (bool, string) {
	var best *Rule
	for i := range rules {
		r := rules[i]
		if r.Disabled || dir(r.Direction) != dir(p.Direction) || !sameNetwork(r.Network, p.Network) {
			continue
		}
		if ok, _ := instanceMatch(r, p); !ok || !naiveProtocol(r, p.Protocol, p.Port) {
			continue
		}
		src := len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 && len(r.SourceServiceAccounts) == 0
		for _, s := range r.SourceRanges {
			if pr, ok := parseRange(s); ok && pr.Contains(addr) {
				src = true
			}
		}
		src = src || intersects(r.SourceTags, p.Peer.Tags)
		if !src {
			continue
		}
		if best == nil || r.Priority < best.Priority || (r.Priority == best.Priority && !r.Allow && best.Allow) ||
			(r.Priority == best.Priority && r.Allow == best.Allow && r.Name < best.Name) {
			best = &rules[i]
		}
	}
	if best == nil {
		return false, "implied-deny-ingress"
	}
	return best.Allow, best.Name
}

// naiveProtocol is the protocol and port test on the rule's strings, parsed every time: the
// reference for the parsed matcher (match.go).
func naiveProtocol(r Rule, proto string, port int) bool {
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

// stripMatch drops the parsed criteria from a verdict's rules, to compare verdicts.
func stripMatch(v Verdict) Verdict {
	segs := make([]Segment, len(v.Segments))
	for i, s := range v.Segments {
		s.Rule.m = nil
		s.Losing = append([]Rule(nil), s.Losing...)
		for j := range s.Losing {
			s.Losing[j].m = nil
		}
		segs[i] = s
	}
	v.Segments = segs
	return v
}

// attached returns the rules with their parsed criteria attached, as FromCompute builds them.
func attached(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = withMatch(r)
	}
	return out
}

// FuzzEvaluate builds rule sets from bytes and checks, for every address of a /27 source, that the
// segmented evaluation agrees with the naive one, that segments tile the range, and that the rule
// order does not change the answer.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint16(80))
	f.Add([]byte{9, 9, 9, 200, 17, 3, 250, 1, 0, 0, 0, 7, 7, 7, 7}, uint16(8080))
	f.Add([]byte{}, uint16(0))
	ranges := []string{"192.168.99.0/28", "192.168.99.0/29", "192.168.99.8/29", "192.168.99.4/30", "192.168.99.7",
		"192.168.99.16/28", "0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16", "not-a-range", "::/0", "192.168.99.31/32"}
	ports := []string{"80", "8000-9000", "1-65535", "443", "x", "90-80", ""}
	protos := []string{"tcp", "udp", "all", "6", "17", "icmp", "bogus"}
	f.Fuzz(func(t *testing.T, data []byte, port uint16) {
		var rules []Rule
		for i := 0; i+5 <= len(data) && len(rules) < 12; i += 5 {
			b := data[i : i+5]
			r := Rule{Name: "r" + strconv.Itoa(len(rules)), Priority: int64(b[0]%4) * 500, Allow: b[1]&1 == 0,
				Disabled: b[1]&2 != 0, Direction: []string{"", "INGRESS", "EGRESS", "ingress"}[b[1]>>2%4]}
			if b[2]%5 != 0 {
				r.SourceRanges = []string{ranges[int(b[2])%len(ranges)]}
				if b[2]&0x80 != 0 {
					r.SourceRanges = append(r.SourceRanges, ranges[int(b[2]>>3)%len(ranges)])
				}
			}
			if b[3]%3 == 0 {
				r.SourceTags = []string{"vpc-connector"}
			}
			switch b[3] % 4 {
			case 1:
				r.TargetTags = []string{"gke-node"}
			case 2:
				r.TargetTags = []string{"web"}
			case 3:
				r.TargetServiceAccounts = []string{"nodes@p.iam.gserviceaccount.com"}
			}
			pe := Protocol{IPProtocol: protos[int(b[4])%len(protos)]}
			if ps := ports[int(b[4]>>3)%len(ports)]; ps != "" {
				pe.Ports = []string{ps}
			}
			r.Protocols = []Protocol{pe}
			rules = append(rules, r)
		}
		p := Packet{Instance: Endpoint{Tags: []string{"gke-node"}, ServiceAccounts: []string{"nodes@p.iam.gserviceaccount.com"}},
			Peer: Endpoint{Ranges: []netip.Prefix{netip.MustParsePrefix("192.168.99.0/27")}}, Protocol: "tcp", Port: int(port)}
		if port%2 == 0 {
			p.Peer.Tags = []string{"vpc-connector"}
		}
		v := Evaluate(rules, p)
		if va := Evaluate(attached(rules), p); !reflect.DeepEqual(stripMatch(va), stripMatch(v)) {
			t.Fatalf("rules with parsed criteria attached decide differently:\n%+v\n%+v", va, v)
		}
		rev := make([]Rule, len(rules))
		for i := range rules {
			rev[len(rules)-1-i] = rules[i]
		}
		v2 := Evaluate(rev, p)
		if v.Allowed != v2.Allowed || len(v.Segments) != len(v2.Segments) {
			t.Fatalf("rule order changed the verdict: %+v vs %+v", v, v2)
		}
		// Segments tile 192.168.99.0/27 in order, and each agrees with the naive answer.
		next := netip.MustParseAddr("192.168.99.0")
		all := true
		for i, s := range v.Segments {
			if s.From != next || s.To.Less(s.From) {
				t.Fatalf("segment %d %v-%v does not continue at %v", i, s.From, s.To, next)
			}
			if v2.Segments[i].Rule.Name != s.Rule.Name {
				t.Fatalf("order changed segment %d: %s vs %s", i, s.Rule.Name, v2.Segments[i].Rule.Name)
			}
			for a := s.From; ; a = a.Next() {
				ok, name := naive(rules, p, a)
				if ok != s.Allowed || name != s.Rule.Name {
					t.Fatalf("%v: segment says %v by %s, naive %v by %s (rules %+v)", a, s.Allowed, s.Rule.Name, ok, name, rules)
				}
				if a == s.To {
					break
				}
			}
			all = all && s.Allowed
			next = s.To.Next()
		}
		if next != netip.MustParseAddr("192.168.99.32") {
			t.Fatalf("segments end before the range does: %v", next)
		}
		if all != v.Allowed {
			t.Fatalf("Allowed %v but segments say %v", v.Allowed, all)
		}
	})
}

// FuzzParsePorts: whatever parses is a sane range.
func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "8000-9000", "-1", "65536", "1-65535", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, ok := ParsePorts(s)
		if ok && (lo < 0 || hi > 65535 || hi < lo) {
			t.Fatalf("%q → %d-%d", s, lo, hi)
		}
	})
}

// naiveSet decides one peer address of an ingress packet the obvious way: tier by tier, every rule
// of the tier, the best match decides (goto_next passes to the next tier), a rule with an
// unresolvable criterion reached first makes the address unknown.
func naiveSet(set Set, p Packet, addr netip.Addr) (allowed, unknown bool, name string) {
	var tiers [][]Rule
	var hier, netw []Policy
	for _, pol := range set.Policies {
		if pol.Type == TypeHierarchy {
			hier = append(hier, pol)
		} else {
			netw = append(netw, pol)
		}
	}
	add := func(ps []Policy) {
		for _, pol := range ps {
			tiers = append(tiers, pol.Rules)
		}
	}
	add(hier)
	if set.Order == BeforeClassicFirewall {
		add(netw)
		tiers = append(tiers, set.Rules)
	} else {
		tiers = append(tiers, set.Rules)
		add(netw)
	}
	for _, tier := range tiers {
		var best *Rule
		bestMaybe := false
		for i := range tier {
			r := tier[i]
			if r.Disabled || dir(r.Direction) != Ingress || !naiveProtocol(r, p.Protocol, p.Port) {
				continue
			}
			if len(r.TargetServiceAccounts) > 0 && !intersectsFold(r.TargetServiceAccounts, p.Instance.ServiceAccounts) {
				continue
			}
			if len(r.TargetTags) > 0 && !intersects(r.TargetTags, p.Instance.Tags) && !intersectsFold(r.TargetServiceAccounts, p.Instance.ServiceAccounts) {
				continue
			}
			match := len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 && len(r.SourceSecureTags) == 0
			for _, s := range r.SourceRanges {
				if pr, ok := parseRange(s); ok && pr.Contains(addr) {
					match = true
				}
			}
			match = match || intersects(r.SourceTags, p.Peer.Tags)
			maybe := !match && len(r.SourceSecureTags) > 0
			if match && len(r.TargetSecureTags) > 0 {
				maybe = true
			}
			if !match && !maybe {
				continue
			}
			if best == nil || before(r, *best) {
				best, bestMaybe = &tier[i], maybe
			}
		}
		if best == nil {
			continue
		}
		if bestMaybe {
			return false, true, best.Name
		}
		if best.GotoNext {
			continue
		}
		return best.Allow, false, best.Name
	}
	return false, false, "implied-deny-ingress"
}

// FuzzEvaluateSet builds VPC rules and firewall policies (hierarchical, global network) from bytes
// and checks every address of a /27 against naiveSet, the tiling of the segments, and that the
// Unknown flag and the verdict agree with the segments.
func FuzzEvaluateSet(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, uint16(80), false)
	f.Add([]byte{9, 9, 9, 200, 17, 3, 250, 1, 0, 0, 0, 7, 7, 7, 7, 1, 2, 3, 4, 5, 6}, uint16(8080), true)
	f.Add([]byte{}, uint16(0), false)
	ranges := []string{"192.168.99.0/28", "192.168.99.0/29", "192.168.99.8/29", "192.168.99.4/30", "192.168.99.7",
		"192.168.99.16/28", "0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16", "192.168.99.31/32"}
	ports := []string{"80", "8000-9000", "1-65535", "443", ""}
	protos := []string{"tcp", "udp", "all", "6"}
	f.Fuzz(func(t *testing.T, data []byte, port uint16, beforeClassic bool) {
		set := Set{Policies: []Policy{{Name: "1", ShortName: "org", Type: TypeHierarchy}, {Name: "2", ShortName: "folder", Type: TypeHierarchy},
			{Name: "net", Type: TypeNetwork}}}
		if beforeClassic {
			set.Order = BeforeClassicFirewall
		}
		for i := 0; i+6 <= len(data) && i < 16*6; i += 6 {
			b := data[i : i+6]
			r := Rule{Name: "r" + strconv.Itoa(i/6), Priority: int64(b[0]%4) * 500, Allow: b[1]&1 == 0, Disabled: b[1]&2 != 0}
			if b[2]%5 != 0 {
				r.SourceRanges = []string{ranges[int(b[2])%len(ranges)]}
			}
			pe := Protocol{IPProtocol: protos[int(b[4])%len(protos)]}
			if ps := ports[int(b[4]>>3)%len(ports)]; ps != "" {
				pe.Ports = []string{ps}
			}
			r.Protocols = []Protocol{pe}
			tier := int(b[5] % 4) // 0-2: a policy, 3: VPC
			if tier == 3 {
				if b[3]%3 == 0 {
					r.SourceTags = []string{"vpc-connector"}
				}
				if b[3]%4 == 1 {
					r.TargetTags = []string{"web"}
				}
				set.Rules = append(set.Rules, r)
				continue
			}
			switch b[3] % 6 {
			case 1:
				r.GotoNext, r.Allow = true, false
			case 2:
				r.SourceSecureTags = []string{"tagValues/1"}
			case 3:
				r.TargetSecureTags = []string{"tagValues/2"}
			case 4:
				r.TargetServiceAccounts = []string{"other@p.iam.gserviceaccount.com"}
			}
			r.Priority = int64(i) // unique within a policy, as the API requires
			set.Policies[tier].Rules = append(set.Policies[tier].Rules, r)
		}
		p := Packet{Instance: Endpoint{Tags: []string{"gke-node"}, ServiceAccounts: []string{"nodes@p.iam.gserviceaccount.com"}},
			Peer: Endpoint{Ranges: []netip.Prefix{netip.MustParsePrefix("192.168.99.0/27")}, Tags: []string{"vpc-connector"}}, Protocol: "tcp", Port: int(port)}
		v := EvaluateSet(set, p)
		withm := Set{Rules: attached(set.Rules), Order: set.Order}
		for _, pol := range set.Policies {
			pol.Rules = attached(pol.Rules)
			withm.Policies = append(withm.Policies, pol)
		}
		if va := EvaluateSet(withm, p); !reflect.DeepEqual(stripMatch(va), stripMatch(v)) {
			t.Fatalf("rules with parsed criteria attached decide differently:\n%+v\n%+v", va, v)
		}
		next := netip.MustParseAddr("192.168.99.0")
		all, unknown := true, false
		for i, s := range v.Segments {
			if s.From != next || s.To.Less(s.From) {
				t.Fatalf("segment %d %v-%v does not continue at %v", i, s.From, s.To, next)
			}
			for a := s.From; ; a = a.Next() {
				ok, unk, name := naiveSet(set, p, a)
				if ok != s.Allowed || unk != s.Unknown || name != s.Rule.Name {
					t.Fatalf("%v: segment says allowed=%v unknown=%v by %s, naive %v %v by %s (set %+v)", a, s.Allowed, s.Unknown, s.Rule.Name, ok, unk, name, set)
				}
				if a == s.To {
					break
				}
			}
			all = all && s.Allowed
			unknown = unknown || s.Unknown
			next = s.To.Next()
		}
		if next != netip.MustParseAddr("192.168.99.32") {
			t.Fatalf("segments end before the range does: %v", next)
		}
		if all != v.Allowed || unknown != v.Unknown || (unknown && len(v.Unresolved) == 0) || (v.Allowed && v.Unknown) {
			t.Fatalf("verdict %+v disagrees with its segments", v)
		}
	})
}
