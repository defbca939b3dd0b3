package dnsmodel

import (
	"net/netip"
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// ForwarderRange is where Cloud DNS sends queries to private forwarding targets from
// ("Queries forwarded to private targets originate from 35.199.192.0/19", FAILURE-MODES §2).
var ForwarderRange = netip.MustParsePrefix("35.199.192.0/19")

// Reach is a three-valued verdict.
type Reach int

const (
	ReachUnknown Reach = iota
	ReachYes
	ReachNo
)

func (r Reach) String() string {
	switch r {
	case ReachYes:
		return "reachable"
	case ReachNo:
		return "unreachable"
	}
	return "unknown"
}

// ForwarderAllowed decides with the one firewall evaluator (VPC rules and firewall policies, in the
// network's enforcement order) whether the Cloud DNS forwarder's queries — from 35.199.192.0/19 to
// UDP port 53 — reach target on network. The target's network tags and service accounts are not
// known, so a rule limited to targets leaves the verdict unknown where it would decide.
func ForwarderAllowed(set firewall.Set, network string, target netip.Addr) (Reach, string) {
	p := firewall.Packet{Direction: firewall.Ingress, Network: network, Protocol: "udp", Port: 53,
		Instance: firewall.Endpoint{IdentityUnknown: true},
		Peer:     firewall.Endpoint{Ranges: []netip.Prefix{ForwarderRange}}}
	if target.IsValid() {
		p.Instance.Ranges = []netip.Prefix{netip.PrefixFrom(target, target.BitLen())}
	}
	v := firewall.EvaluateSet(set, p)
	blocked := v.Blocked()
	switch {
	case v.Allowed:
		return ReachYes, v.Deciding().String() + " allows 35.199.192.0/19 on UDP port 53"
	case len(blocked) > 0 && len(blocked) == len(v.Segments):
		d := blocked[0].Rule
		if d.Implied {
			return ReachNo, "no ingress rule on network " + gref.NetworkName(network) + " allows 35.199.192.0/19 on UDP port 53, so the implied deny-ingress rule drops the forwarder's queries"
		}
		return ReachNo, d.String() + " denies 35.199.192.0/19 on UDP port 53"
	case len(blocked) > 0:
		var parts []string
		for _, b := range blocked {
			parts = append(parts, b.String()+" by "+b.Rule.String())
		}
		return ReachNo, "part of 35.199.192.0/19 is denied on port 53 (" + strings.Join(parts, "; ") + "): queries from those forwarder addresses are dropped"
	}
	return ReachUnknown, v.Deciding().String() + " may decide, depending on " + strings.Join(v.Unresolved, ", ") + " of the target, which is known only by its IP"
}
