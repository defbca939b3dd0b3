package firewall

import (
	"net/netip"
	"strings"
	"unsafe"
)

// matcher is what the evaluator tests of a rule for every packet — its direction, protocols and
// ports, and address ranges — parsed once. FromCompute and FromPolicyRule attach one to the rules
// they build: a large set is evaluated many times per audit (every node pool, connector, load
// balancer and Cloud Run service is a packet), and parsing "8000-9000" and "10.0.0.0/8" again for
// every rule of every packet was most of the audit's CPU. A rule built by hand, or whose match fields
// were given new slices after it was built, is parsed when it is evaluated (see Rule.match).
type matcher struct {
	dir    string // Ingress or Egress
	all    bool   // an "all" protocol entry: every protocol and port
	protos []protoMatch
	src    []netip.Prefix // SourceRanges that parse
	dst    []netip.Prefix // DestinationRanges that parse

	// What it was parsed from, to tell a rule whose fields were replaced since.
	from struct {
		dir        string
		protos     *Protocol
		nProtos    int
		src, dst   *string
		nSrc, nDst int
	}
}

// protoMatch is one protocol entry: its IP protocol number and the port ranges it covers.
type protoMatch struct {
	num     int
	anyPort bool     // no ports given, or a protocol without ports
	ports   [][2]int // the entries that parse; an entry that does not parse matches nothing
}

// compile parses r's match criteria.
func compile(r *Rule) *matcher {
	m := &matcher{dir: dir(r.Direction), src: prefixes(r.SourceRanges), dst: prefixes(r.DestinationRanges)}
	m.from.dir = r.Direction
	m.from.protos, m.from.nProtos = unsafe.SliceData(r.Protocols), len(r.Protocols)
	m.from.src, m.from.nSrc = unsafe.SliceData(r.SourceRanges), len(r.SourceRanges)
	m.from.dst, m.from.nDst = unsafe.SliceData(r.DestinationRanges), len(r.DestinationRanges)
	for _, e := range r.Protocols {
		if strings.EqualFold(strings.TrimSpace(e.IPProtocol), "all") {
			m.all = true
			continue
		}
		n := protoNumber(e.IPProtocol)
		if n < 0 {
			continue
		}
		pm := protoMatch{num: n, anyPort: len(e.Ports) == 0 || !hasPorts(n)}
		for _, ps := range e.Ports {
			if lo, hi, ok := ParsePorts(ps); ok {
				pm.ports = append(pm.ports, [2]int{lo, hi})
			}
		}
		m.protos = append(m.protos, pm)
	}
	return m
}

// fresh reports whether m was parsed from r's current fields.
func (m *matcher) fresh(r *Rule) bool {
	f := &m.from
	return (f.dir == r.Direction || m.dir == r.Direction) &&
		f.protos == unsafe.SliceData(r.Protocols) && f.nProtos == len(r.Protocols) &&
		f.src == unsafe.SliceData(r.SourceRanges) && f.nSrc == len(r.SourceRanges) &&
		f.dst == unsafe.SliceData(r.DestinationRanges) && f.nDst == len(r.DestinationRanges)
}

// match returns r's parsed criteria: the ones attached when it was built, else parsed now.
func (r *Rule) match() *matcher {
	if r.m != nil && r.m.fresh(r) {
		return r.m
	}
	return compile(r)
}

// withMatch returns r with its criteria parsed and attached.
func withMatch(r Rule) Rule {
	r.m = compile(&r)
	return r
}

// proto reports whether the rule covers protocol number want on port.
func (m *matcher) proto(want, port int) bool {
	if m.all {
		return true
	}
	for i := range m.protos {
		e := &m.protos[i]
		if e.num != want {
			continue
		}
		if e.anyPort {
			return true
		}
		for _, pr := range e.ports {
			if port >= pr[0] && port <= pr[1] {
				return true
			}
		}
	}
	return false
}

// peer and instance are the parsed ranges on the packet's peer and instance side.
func (m *matcher) peer(direction string) []netip.Prefix {
	if direction == Egress {
		return m.dst
	}
	return m.src
}

func (m *matcher) instance(direction string) []netip.Prefix {
	if direction == Egress {
		return m.src
	}
	return m.dst
}

// prefixes parses the ranges that parse (parseRange), dropping the rest as inAny did.
func prefixes(ranges []string) []netip.Prefix {
	if len(ranges) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(ranges))
	for _, s := range ranges {
		if pr, ok := parseRange(s); ok {
			out = append(out, pr)
		}
	}
	return out
}

// inPrefixes reports whether a is in one of ps.
func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
