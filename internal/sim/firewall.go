package sim

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
)

// host is one side of a packet for the firewall: the addresses it may come from (a single address, or
// a range such as a connector's /28), and the instance's network tags and service account.
type host struct {
	prefix netip.Prefix
	tags   []string
	sa     string
}

func single(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

// vpcNet names a VPC network; the zero value is "not a VM in a VPC network" (Cloud DNS's forwarders),
// whose egress no VPC firewall governs.
type vpcNet struct{ project, network string }

func (n vpcNet) ref() string { return "projects/" + n.project + "/global/networks/" + n.network }

// firewallSet is what the VPC enforces on a network in the world's region, read from the fake
// Google API server's state exactly as getEffectiveFirewalls reports it (VPC rules, hierarchical,
// global and regional network firewall policies) with the network's enforcement order, so that the
// simulated network enforces what the checks read.
func (w *World) firewallSet(n vpcNet) firewall.Set {
	resp, ok := w.gcp.RegionEffectiveFirewalls(n.project, Region, n.network)
	if !ok {
		return firewall.Set{Rules: firewall.FromComputeList(w.gcp.Firewalls(n.project))}
	}
	set := firewall.FromRegionEffectiveFirewalls(resp)
	if net, ok := w.gcp.Network(n.project, n.network); ok {
		set.Order = net.NetworkFirewallPolicyEnforcementOrder
	}
	return set
}

// firewallAllows decides a packet from src (in network from) to dstIP on the instance dst (in
// network to) with the one firewall evaluator, internal/firewall: egress on the source's network
// for the sending instance, then ingress on the destination's network. Every address of the
// source's range must be allowed. It returns whether the packet passes and, when it does not, why.
func (w *World) firewallAllows(from, to vpcNet, src host, dstIP netip.Addr, dst host, proto string, port int) (bool, string) {
	var srcSAs, dstSAs []string
	if src.sa != "" {
		srcSAs = []string{src.sa}
	}
	if dst.sa != "" {
		dstSAs = []string{dst.sa}
	}
	// No simulated instance carries a secure tag, so rules that depend on them are resolved.
	srcEP := firewall.Endpoint{Ranges: []netip.Prefix{src.prefix}, Tags: src.tags, ServiceAccounts: srcSAs, SecureTagsKnown: true}
	if from != (vpcNet{}) {
		v := firewall.EvaluateSet(w.firewallSet(from), firewall.Packet{Direction: firewall.Egress, Network: from.ref(),
			Instance: srcEP, Peer: firewall.Endpoint{Ranges: []netip.Prefix{single(dstIP)}, SecureTagsKnown: true}, Protocol: proto, Port: port})
		if !v.Allowed {
			return false, describeVerdict(v, "egress from "+src.prefix.String(), proto, port)
		}
	}
	v := firewall.EvaluateSet(w.firewallSet(to), firewall.Packet{Network: to.ref(),
		Instance: firewall.Endpoint{Ranges: []netip.Prefix{single(dstIP)}, Tags: dst.tags, ServiceAccounts: dstSAs, SecureTagsKnown: true},
		Peer:     srcEP, Protocol: proto, Port: port})
	if !v.Allowed {
		return false, describeVerdict(v, src.prefix.String(), proto, port)
	}
	return true, ""
}

// describeVerdict says why a packet does not pass: the rule that denies it (and for which part of the
// source range), or the rule that cannot be resolved. The simulated network drops what it cannot
// decide, and says so.
func describeVerdict(v firewall.Verdict, what, proto string, port int) string {
	if b := v.Blocked(); len(b) > 0 {
		r := b[0].Rule
		part := ""
		if len(v.Segments) > 1 && b[0].From.IsValid() {
			part = " (" + b[0].String() + ")"
		}
		if r.Implied {
			return fmt.Sprintf("no firewall rule allows %s%s on %s:%d (implied deny ingress)", what, part, proto, port)
		}
		if r.IsPolicy() {
			return fmt.Sprintf("%s denies %s%s on %s:%d", r, what, part, proto, port)
		}
		return fmt.Sprintf("firewall rule %s denies %s%s on %s:%d", r.Name, what, part, proto, port)
	}
	d := v.Deciding()
	return fmt.Sprintf("%s depends on %s, which the simulated network cannot resolve: %s on %s:%d is dropped",
		d, strings.Join(v.Unresolved, ", "), what, proto, port)
}
