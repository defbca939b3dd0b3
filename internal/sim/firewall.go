package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// host is one side of a packet for the firewall: the addresses it may come from (a single address, or
// a range such as a connector's /28), and the instance's network tags and service account.
type host struct {
	prefix netip.Prefix
	tags   []string
	sa     string
}

func single(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// firewallAllows evaluates the VPC firewall of project/network for a TCP or UDP packet from src to
// dst (dstIP on the instance dst) as Google Cloud does: egress rules applying to the source instance,
// then ingress rules applying to the destination instance; within each, the lowest priority number
// wins and a deny beats an allow of the same priority; no match means the implied rules (allow
// egress, deny ingress). A rule must cover the whole source range to allow it; a deny that covers
// any of it blocks. It returns the deciding rule's name, or "implied deny ingress".
func firewallAllows(rules []*compute.Firewall, project, network string, src host, dstIP netip.Addr, dst host, proto string, port int) (bool, string) {
	var egress, ingress []*compute.Firewall
	for _, r := range rules {
		if r.Disabled || !sameNetwork(r.Network, project, network) {
			continue
		}
		if r.Direction == "EGRESS" {
			egress = append(egress, r)
		} else {
			ingress = append(ingress, r)
		}
	}
	order := func(rs []*compute.Firewall) {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Priority != rs[j].Priority {
				return rs[i].Priority < rs[j].Priority
			}
			return len(rs[i].Denied) > 0 && len(rs[j].Denied) == 0
		})
	}
	order(egress)
	order(ingress)
	for _, r := range egress {
		if !appliesTo(r, src) || !protoMatches(r, proto, port) {
			continue
		}
		if !rangesMatch(r.DestinationRanges, single(dstIP), len(r.Denied) > 0) {
			continue
		}
		if len(r.Denied) > 0 {
			return false, r.Name
		}
		break
	}
	for _, r := range ingress {
		if !appliesTo(r, dst) || !protoMatches(r, proto, port) {
			continue
		}
		deny := len(r.Denied) > 0
		srcOK := rangesMatch(r.SourceRanges, src.prefix, deny)
		if !srcOK && len(r.SourceTags) > 0 {
			srcOK = intersects(r.SourceTags, src.tags)
		}
		if !srcOK && len(r.SourceServiceAccounts) > 0 && src.sa != "" {
			srcOK = slices.Contains(r.SourceServiceAccounts, src.sa)
		}
		if !srcOK {
			continue
		}
		return !deny, r.Name
	}
	return false, "implied deny ingress"
}

func sameNetwork(ref, project, network string) bool {
	if ref == "" {
		return network == "default"
	}
	if !strings.Contains(ref, "/") {
		return ref == network
	}
	return strings.HasSuffix(ref, "projects/"+project+"/global/networks/"+network)
}

// appliesTo reports whether a rule targets the instance h.
func appliesTo(r *compute.Firewall, h host) bool {
	if len(r.TargetTags) == 0 && len(r.TargetServiceAccounts) == 0 {
		return true
	}
	return intersects(r.TargetTags, h.tags) || (h.sa != "" && slices.Contains(r.TargetServiceAccounts, h.sa))
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// rangesMatch: for an allow, some range must contain all of p; for a deny, overlapping is enough.
func rangesMatch(ranges []string, p netip.Prefix, deny bool) bool {
	for _, r := range ranges {
		q, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				continue
			}
			q = single(a)
		}
		if deny && q.Overlaps(p) {
			return true
		}
		if !deny && q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

var protoNumbers = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "132": "sctp", "50": "esp", "51": "ah"}

// protoMatches reports whether a rule's allowed (or denied) list covers proto/port.
func protoMatches(r *compute.Firewall, proto string, port int) bool {
	type pp struct {
		proto string
		ports []string
	}
	var list []pp
	for _, a := range r.Allowed {
		if a != nil {
			list = append(list, pp{a.IPProtocol, a.Ports})
		}
	}
	for _, d := range r.Denied {
		if d != nil {
			list = append(list, pp{d.IPProtocol, d.Ports})
		}
	}
	for _, e := range list {
		p := strings.ToLower(e.proto)
		if n, ok := protoNumbers[p]; ok {
			p = n
		}
		if p != "all" && p != proto {
			continue
		}
		if len(e.ports) == 0 || p == "all" {
			return true
		}
		for _, spec := range e.ports {
			lo, hi, ok := portRange(spec)
			if ok && port >= lo && port <= hi {
				return true
			}
		}
	}
	return false
}

func portRange(spec string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(spec, "-")
	lo, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err = strconv.Atoi(strings.TrimSpace(b))
	if err != nil {
		return 0, 0, false
	}
	return lo, hi, true
}

func describeRule(allowed bool, rule string, src netip.Prefix, proto string, port int) string {
	if allowed {
		return fmt.Sprintf("firewall rule %s allows %s to %s:%d", rule, src, proto, port)
	}
	if rule == "implied deny ingress" {
		return fmt.Sprintf("no firewall rule allows %s on %s:%d (implied deny ingress)", src, proto, port)
	}
	return fmt.Sprintf("firewall rule %s denies %s on %s:%d", rule, src, proto, port)
}
