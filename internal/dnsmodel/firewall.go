package dnsmodel

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

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

// ForwarderAllowed evaluates a network's VPC firewall rules for the Cloud DNS forwarder's queries
// (from 35.199.192.0/19 to port 53, UDP or TCP) to a target whose network tags and service account
// are not known. It follows the VPC's rules: ingress only, enabled rules only, lowest priority number
// first, deny before allow at equal priority, and the implied deny-ingress when nothing matches. A
// rule limited to target tags or service accounts may or may not apply to the target, so it can
// only make the verdict unknown. Hierarchical and network firewall policies are not evaluated.
func ForwarderAllowed(fws []*compute.Firewall, network, defaultProject string) (Reach, string) {
	network = gref.Network(network, defaultProject)
	type rule struct {
		fw      *compute.Firewall
		deny    bool
		covers  bool // source ranges hold all of 35.199.192.0/19
		allInst bool // applies to every instance of the network
	}
	var rules []rule
	for _, fw := range fws {
		if fw == nil || fw.Disabled || (fw.Direction != "" && !strings.EqualFold(fw.Direction, "INGRESS")) {
			continue
		}
		if gref.Network(fw.Network, defaultProject) != network {
			continue
		}
		touches, covers := false, false
		for _, s := range fw.SourceRanges {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				if a, err2 := netip.ParseAddr(strings.TrimSpace(s)); err2 == nil {
					p = netip.PrefixFrom(a, a.BitLen())
				} else {
					continue
				}
			}
			p = p.Masked()
			if p.Overlaps(ForwarderRange) {
				touches = true
				if p.Bits() <= ForwarderRange.Bits() && p.Contains(ForwarderRange.Addr()) {
					covers = true
				}
			}
		}
		if !touches {
			continue
		}
		deny := len(fw.Denied) > 0
		ports := false
		if deny {
			for _, d := range fw.Denied {
				ports = ports || protoPort53(d.IPProtocol, d.Ports)
			}
		} else {
			for _, a := range fw.Allowed {
				ports = ports || protoPort53(a.IPProtocol, a.Ports)
			}
		}
		if !ports {
			continue
		}
		rules = append(rules, rule{fw: fw, deny: deny, covers: covers,
			allInst: len(fw.TargetTags) == 0 && len(fw.TargetServiceAccounts) == 0})
	}
	sort.SliceStable(rules, func(i, j int) bool {
		if rules[i].fw.Priority != rules[j].fw.Priority {
			return rules[i].fw.Priority < rules[j].fw.Priority
		}
		return rules[i].deny && !rules[j].deny
	})
	var maybe []string
	for _, r := range rules {
		name := fmt.Sprintf("%s (priority %d)", r.fw.Name, r.fw.Priority)
		switch {
		case r.deny && r.covers && r.allInst:
			return ReachNo, "firewall rule " + name + " denies 35.199.192.0/19 on port 53"
		case !r.deny && r.covers && r.allInst:
			if len(maybe) > 0 {
				return ReachUnknown, "firewall rule " + name + " allows 35.199.192.0/19 on port 53, but " + strings.Join(maybe, ", ") + " may decide first"
			}
			return ReachYes, "firewall rule " + name + " allows 35.199.192.0/19 on port 53"
		}
		what := "allow"
		if r.deny {
			what = "deny"
		}
		maybe = append(maybe, "rule "+name+" ("+what+", only part of the range or only some targets)")
	}
	if len(maybe) > 0 {
		return ReachUnknown, strings.Join(maybe, "; ") + " may apply to the target; its tags are not known"
	}
	return ReachNo, "no ingress rule on network " + gref.NetworkName(network) + " allows 35.199.192.0/19 on port 53, so the implied deny-ingress rule drops the forwarder's queries"
}

// protoPort53 reports whether a firewall protocol/ports entry covers UDP or TCP port 53.
func protoPort53(proto string, ports []string) bool {
	switch strings.ToLower(proto) {
	case "all":
		return true
	case "udp", "tcp", "17", "6":
	default:
		return false
	}
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		lo, hi, found := strings.Cut(p, "-")
		if !found {
			hi = lo
		}
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 == nil && err2 == nil && l <= 53 && 53 <= h {
			return true
		}
	}
	return false
}
