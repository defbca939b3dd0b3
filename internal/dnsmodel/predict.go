package dnsmodel

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// Model is the configuration a prediction is made from.
type Model struct {
	// Project is the main project (the cluster's): it qualifies short network names of zones whose
	// project is not recorded.
	Project string
	// Zones are the Cloud DNS managed zones of every project read (the cluster's, the client's, the
	// network's host project, hub DNS projects); ZoneProjects records the project of each zone
	// (Model.ZoneProject), default Project.
	Zones        []*dns.ManagedZone
	ZoneProjects map[*dns.ManagedZone]string
	// ResponsePolicies and ServerPolicies of every project read; the ones bound to a network apply.
	ResponsePolicies []ResponsePolicy
	ServerPolicies   []ServerPolicy
	// Unread lists what could not be read (a project's zones or policies): every prediction carries
	// it as Incomplete, so a check never passes on an unread view.
	Unread []Unread
	// Records returns an authoritative zone's record sets; it is only called for zones a prediction
	// needs. Nil means records cannot be read (the prediction stops at the zone).
	Records func(z *dns.ManagedZone) ([]*dns.ResourceRecordSet, error)
	// Cluster is the GKE cluster whose names are asked about (nil when unknown).
	Cluster *model.Cluster
	// ServiceByIP names the Service that holds a ClusterIP ("kube-system/kube-dns"), when known.
	ServiceByIP func(netip.Addr) string
	// Firewall is what the VPC enforces on the client's network (VPC rules and firewall policies),
	// for forwarding targets; FirewallRead says it was read (false means "not known", not "open").
	Firewall     firewall.Set
	FirewallRead bool
	// FirewallWhy says why the firewall could not be read (with the permission), for the evidence.
	FirewallWhy string
	// Subnets are the ranges of the client's network's subnets (primary and secondary): a private
	// forwarding target inside them is a VM or internal LB the firewall decides for; one outside them
	// is reached over Cloud VPN or Interconnect, or not at all, which configuration cannot tell.
	// SubnetsRead false means "not known"; SubnetsWhy says why.
	Subnets     []netip.Prefix
	SubnetsRead bool
	SubnetsWhy  string

	// indexes is a *sync.Map of *dns.ManagedZone → its record index (index), made on first use
	// (atomically); a copy of the model made after that shares it.
	indexes unsafe.Pointer
}

// Situation is the model's explanation of a prediction, one per way a name fails or resolves.
type Situation string

const (
	// SitAnswer: an authoritative zone visible to the network answers with A records.
	SitAnswer Situation = "answer"
	// SitForwardUnreachable: a forwarding zone answers and none of its targets can be reached by
	// the forwarder: SERVFAIL.
	SitForwardUnreachable Situation = "forward-unreachable"
	// SitForwarded: a forwarding zone answers with targets that may be reachable; the answer
	// depends on them.
	SitForwarded Situation = "forwarded"
	// SitClusterOnly: the name is under the cluster's domain and the records are only visible
	// inside the cluster (kube-dns, or Cloud DNS for GKE in cluster scope): NXDOMAIN.
	SitClusterOnly Situation = "cluster-only"
	// SitWrongDomain: the cluster publishes its records to the VPC under another domain than the
	// one asked (VPC scope with a custom clusterDnsDomain, or additive VPC scope): NXDOMAIN.
	SitWrongDomain Situation = "wrong-domain"
	// SitOtherNetwork: the zone that holds the name is bound to other networks only.
	SitOtherNetwork Situation = "other-network"
	// SitNoRecord: the answering zone has no A record for the name (NXDOMAIN or NODATA).
	SitNoRecord Situation = "no-record"
	// SitNoZone: no private zone holds the name and public DNS does not know it: NXDOMAIN.
	SitNoZone Situation = "no-zone"
	// SitUnpredicted: the answer comes from somewhere the model cannot see (public DNS, a
	// Compute Engine VM name, Service Directory, unreadable records).
	SitUnpredicted Situation = "unpredicted"
	// SitServerPolicy: an outbound server policy sends every query to alternative name servers; the
	// private zones are not consulted.
	SitServerPolicy Situation = "server-policy"
	// SitResponsePolicy: a response policy rule answers from local data, before any zone.
	SitResponsePolicy Situation = "response-policy"
)

// TargetClass is what kind of address a forwarding target is, which decides whether configuration
// can judge it.
type TargetClass string

const (
	// ClassClusterIP: a ClusterIP; never reachable by the forwarder.
	ClassClusterIP TargetClass = "clusterip"
	// ClassPodRoutes: a pod IP of a routes-based cluster; not routable for the forwarder.
	ClassPodRoutes TargetClass = "pod-ip"
	// ClassInVPC: a private address inside the network's subnets (a VM, an internal load balancer):
	// reached from 35.199.192.0/19, the firewall decides.
	ClassInVPC TargetClass = "in-vpc"
	// ClassOutside: a private address outside every subnet (on premises over Cloud VPN or
	// Interconnect, or nowhere): configuration cannot judge it; a live query decides.
	ClassOutside TargetClass = "outside-vpc"
	// ClassPublic: a public address forwarded over the internet (forwarding path DEFAULT): reachable
	// or not, configuration cannot tell.
	ClassPublic TargetClass = "public"
	// ClassUnknown: a name, an outbound endpoint, or a private address whose network's subnets could
	// not be read.
	ClassUnknown TargetClass = "unknown"
)

// TargetVerdict is the model's view of one forwarding target.
type TargetVerdict struct {
	Target         string // the target's IPv4/IPv6 address or domain name
	ForwardingPath string // DEFAULT or PRIVATE
	Class          TargetClass
	Reach          Reach
	Why            string
	ClusterIP      bool // the target is in the cluster's services range
	// ClusterOnly: the address exists only inside the cluster (a ClusterIP, a pod IP of a routes-based
	// cluster). Only such targets make a forwarding zone wrong in itself (forwarding-to-clusterip).
	ClusterOnly bool
	Service     string // the Service holding that ClusterIP, when known
}

// Unseen is a zone that holds the name but is not visible to the client's network.
type Unseen struct {
	Zone        *dns.ManagedZone
	ClusterOnly bool     // bound to GKE clusters only
	Networks    []string // the networks it is bound to
	Why         string
}

// Prediction is what the VPC resolver is expected to answer for an A query.
type Prediction struct {
	Name    string // FQDN asked
	Network string // the client's network
	// Outcome is the predicted probe outcome; 0 when the model cannot predict it.
	Outcome   probe.Outcome
	Situation Situation
	// Via says where the answer comes from, in words ("private zone gkedoctor-internal
	// (gkedoctor.internal.)").
	Via  string
	Zone *dns.ManagedZone // the zone that answers; nil when no private zone does
	Kind Kind
	// RRSet is the A record set that answers (after CNAMEs, possibly a wildcard); Owner is the
	// name it is stored under.
	RRSet *dns.ResourceRecordSet
	Owner string
	// RRSetZone is the authoritative zone that holds RRSet (Zone may be a peering zone, or the
	// start of a CNAME chain into another zone).
	RRSetZone *dns.ManagedZone
	IPs       []netip.Addr
	CNAMEs    []string // the chain followed, in order
	// Targets of a forwarding zone.
	Targets []TargetVerdict
	// Unseen zones hold the name but are not visible to the network.
	Unseen []Unseen
	// Shadowed zones have the same name as the answering zone and are bound to the same network.
	// Which of them Cloud DNS uses is not documented [U]; the prediction is made from Zone.
	Shadowed []*dns.ManagedZone
	// ServerPolicy is the outbound server policy that answers instead of the zones (SitServerPolicy).
	ServerPolicy *ServerPolicy
	// Rule is the response policy rule that answers (SitResponsePolicy, or its CNAME's situation),
	// RulePolicy its policy.
	Rule       *dns.ResponsePolicyRule
	RulePolicy *ResponsePolicy
	// Bypassed says which response policy rules let resolution continue to the zones.
	Bypassed []string
	// Incomplete lists what could not be read and might have changed the answer.
	Incomplete []Unread
	// Reason is one sentence that explains the prediction.
	Reason string
	Err    error
}

// IncompleteNote says what the prediction could not see ("" when it saw everything).
func (p *Prediction) IncompleteNote() string {
	if len(p.Incomplete) == 0 {
		return ""
	}
	var s []string
	for _, u := range p.Incomplete {
		s = append(s, u.String())
	}
	return "the DNS view is incomplete: could not read " + strings.Join(s, "; ")
}

// Unjudged reports whether the answer comes from forwarding targets configuration cannot judge (on
// premises over Cloud VPN or Interconnect, a public address, a name): a live query decides.
func (p *Prediction) Unjudged() bool {
	if p.Outcome != 0 || (p.Situation != SitForwarded && p.Situation != SitServerPolicy) {
		return false
	}
	for _, t := range p.Targets {
		if t.Reach == ReachUnknown && t.Class != ClassInVPC {
			return true
		}
	}
	return false
}

// Caveats lists what the model does not see; shown once with the predictions.
const Caveats = "the prediction follows Cloud DNS's VPC order (server policy, response policies, private zones of every project read, then internal and public DNS) " +
	"over the projects listed in the view; a peering zone continues with the target network's response policies and zones, not its server policy [U], " +
	"and GKE cluster-scoped response policies apply only inside the cluster"

// maxDepth bounds CNAME chains and peering hops.
const maxDepth = 8

// Predict returns what a client on network gets for an A query of name.
func (m *Model) Predict(name, network string) Prediction {
	p := m.predict(model.Fqdn(name), gref.Network(network, m.Project), 0, true)
	p.Incomplete = append(p.Incomplete, m.Unread...)
	return p
}

func (m *Model) predict(name, network string, depth int, allowPeering bool) Prediction {
	p := Prediction{Name: name, Network: network}
	if depth > maxDepth {
		p.Situation, p.Reason = SitUnpredicted, "too many CNAME or peering hops"
		return p
	}
	// 1. An outbound server policy answers everything (not applied inside a peering hop [U]).
	if allowPeering && m.serverPolicy(&p, network) {
		return p
	}
	// 2. Response policy rules, before any zone.
	if m.responsePolicy(&p, name, network, depth) {
		return p
	}
	// 3. Private zones.
	zone, shadowed, unseen := m.route(name, network, allowPeering)
	p.Unseen, p.Shadowed = unseen, shadowed
	if zone == nil {
		m.fallback(&p)
		return p
	}
	p.Zone, p.Kind = zone, KindOf(zone)
	p.Via = fmt.Sprintf("%s zone %s (%s)", p.Kind, zone.Name, model.Fqdn(zone.DnsName))
	if len(shadowed) > 0 {
		var names []string
		for _, z := range shadowed {
			names = append(names, z.Name)
		}
		p.Via += fmt.Sprintf("; %s of the same name %s also bound to network %s (which one Cloud DNS uses is not documented)",
			plural(len(names), "zone", "zones"), strings.Join(names, ", "), gref.NetworkName(network))
	}
	switch p.Kind {
	case KindForwarding:
		m.forward(&p, zone)
	case KindPeering:
		target := gref.Network(zone.PeeringConfig.TargetNetwork.NetworkUrl, m.ZoneProject(zone))
		if target == network {
			// Loop guard: a peering zone that targets its own network would query itself.
			p.Situation = SitUnpredicted
			p.Reason = "peering zone " + zone.Name + " targets network " + gref.NetworkName(network) + " itself; not modelled"
			return p
		}
		inner := m.predict(name, target, depth+1, false)
		p.Bypassed = append(p.Bypassed, inner.Bypassed...)
		p.Rule, p.RulePolicy, p.Incomplete = inner.Rule, inner.RulePolicy, append(p.Incomplete, inner.Incomplete...)
		p.Outcome, p.Situation, p.IPs, p.RRSet, p.Owner, p.CNAMEs = inner.Outcome, inner.Situation, inner.IPs, inner.RRSet, inner.Owner, inner.CNAMEs
		p.Targets, p.Err, p.RRSetZone = inner.Targets, inner.Err, inner.RRSetZone
		p.Via += " → network " + gref.NetworkName(target) + ": " + inner.Via
		p.Reason = "peering zone " + zone.Name + " resolves the name as network " + gref.NetworkName(target) + " does: " + inner.Reason
	case KindPrivate:
		m.authoritative(&p, zone, depth)
	default:
		p.Situation = SitUnpredicted
		p.Reason = fmt.Sprintf("%s zone %s answers; its answers are not modelled", p.Kind, zone.Name)
	}
	return p
}

// route picks the zone Cloud DNS uses for name on network: the private zones bound to the network,
// longest suffix first (forwarding and peering zones included). It also returns the zones of the same
// name bound to the network (shadowed) and the zones that hold the name but are not visible.
func (m *Model) route(name, network string, allowPeering bool) (*dns.ManagedZone, []*dns.ManagedZone, []Unseen) {
	var visible []*dns.ManagedZone
	var unseen []Unseen
	for _, z := range m.Zones {
		k := KindOf(z)
		if z == nil || k == KindPublic || k == KindReverseLookup || !InZone(name, z.DnsName) {
			continue
		}
		if !allowPeering && k == KindPeering {
			continue // Cloud DNS peering is not transitive
		}
		if VisibleTo(z, network, m.ZoneProject(z)) {
			visible = append(visible, z)
			continue
		}
		u := Unseen{Zone: z, Networks: BoundNetworks(z, m.ZoneProject(z))}
		clusters := BoundClusters(z)
		switch {
		case len(clusters) > 0 && len(u.Networks) == 0:
			u.ClusterOnly = true
			u.Why = fmt.Sprintf("zone %s (%s) is bound only to GKE cluster %s: visible inside the cluster, not to network %s",
				z.Name, model.Fqdn(z.DnsName), strings.Join(shortNames(clusters), ", "), gref.NetworkName(network))
		case len(u.Networks) > 0:
			u.Why = fmt.Sprintf("zone %s (%s) is bound to network %s, not to %s",
				z.Name, model.Fqdn(z.DnsName), strings.Join(u.Networks, ", "), network)
		default:
			u.Why = fmt.Sprintf("zone %s (%s) is bound to no network", z.Name, model.Fqdn(z.DnsName))
		}
		unseen = append(unseen, u)
	}
	if len(visible) == 0 {
		return nil, nil, unseen
	}
	rank := map[Kind]int{KindForwarding: 0, KindPeering: 1, KindPrivate: 2}
	sort.SliceStable(visible, func(i, j int) bool {
		li, lj := labels(model.Fqdn(visible[i].DnsName)), labels(model.Fqdn(visible[j].DnsName))
		if li != lj {
			return li > lj
		}
		ri, rj := rank[KindOf(visible[i])], rank[KindOf(visible[j])]
		if ri != rj {
			return ri < rj
		}
		return visible[i].Name < visible[j].Name
	})
	best := visible[0]
	var shadowed []*dns.ManagedZone
	for _, z := range visible[1:] {
		if model.Fqdn(z.DnsName) == model.Fqdn(best.DnsName) {
			shadowed = append(shadowed, z)
		}
	}
	// Only unseen zones at least as specific as the answering one matter.
	var keep []Unseen
	for _, u := range unseen {
		if labels(model.Fqdn(u.Zone.DnsName)) >= labels(model.Fqdn(best.DnsName)) {
			keep = append(keep, u)
		}
	}
	return best, shadowed, keep
}

// forward judges a forwarding zone's targets.
func (m *Model) forward(p *Prediction, z *dns.ManagedZone) {
	fc := z.ForwardingConfig
	reachable, unknown, why := m.judgeTargets(p, fc.TargetNameServers, len(fc.OutboundEndpoints) > 0, p.Network)
	switch {
	case len(p.Targets) > 0 && reachable == 0 && unknown == 0:
		p.Outcome, p.Situation = probe.OutcomeServFail, SitForwardUnreachable
		p.Reason = fmt.Sprintf("forwarding zone %s sends the query to %s; the forwarder (35.199.192.0/19) cannot reach %s, so the resolver answers SERVFAIL",
			z.Name, targetList(p.Targets), plural(len(p.Targets), "it", "any of them"))
	default:
		p.Situation = SitForwarded
		p.Reason = fmt.Sprintf("forwarding zone %s sends the query to %s; the answer is whatever %s", z.Name, targetList(p.Targets),
			plural(len(p.Targets), "that server says", "those servers say"))
	}
	if len(why) > 0 {
		p.Reason += " (" + strings.Join(why, "; ") + ")"
	}
}

// judgeTargets judges forwarding targets (a forwarding zone's, or an outbound server policy's
// alternative name servers) as network's queries meet them, appends them to p.Targets, and counts the
// reachable and the unknown ones; why is each target's explanation.
func (m *Model) judgeTargets(p *Prediction, ts []*dns.ManagedZoneForwardingConfigNameServerTarget, outboundEndpoints bool, network string) (reachable, unknown int, why []string) {
	for _, t := range ts {
		if t != nil {
			p.Targets = append(p.Targets, m.judgeTarget(t, network))
		}
	}
	if outboundEndpoints {
		p.Targets = append(p.Targets, TargetVerdict{Target: "outbound endpoints", Class: ClassUnknown, Why: "forwarding through outbound endpoints is not modelled"})
	}
	for _, t := range p.Targets {
		why = append(why, t.Target+": "+t.Why)
		switch t.Reach {
		case ReachYes:
			reachable++
		case ReachUnknown:
			unknown++
		}
	}
	return reachable, unknown, why
}

// AllClusterOnly reports whether every forwarding target exists only inside the cluster: the zone
// can never work, whatever the firewall says.
func (p *Prediction) AllClusterOnly() bool {
	if len(p.Targets) == 0 {
		return false
	}
	for _, t := range p.Targets {
		if !t.ClusterOnly {
			return false
		}
	}
	return true
}

func targetList(ts []TargetVerdict) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Target)
	}
	return strings.Join(s, ", ")
}

// judgeTarget decides whether the Cloud DNS forwarder can reach one target.
func (m *Model) judgeTarget(t *dns.ManagedZoneForwardingConfigNameServerTarget, network string) TargetVerdict {
	v := TargetVerdict{Target: t.Ipv4Address, ForwardingPath: t.ForwardingPath, Class: ClassUnknown}
	if v.Target == "" {
		v.Target = t.Ipv6Address
	}
	if v.Target == "" {
		v.Target = t.DomainName
		v.Why = "a target given by name is resolved by Cloud DNS; not modelled"
		return v
	}
	ip, err := netip.ParseAddr(v.Target)
	if err != nil {
		v.Why = "not an IP address"
		return v
	}
	ip = ip.Unmap()
	c := m.Cluster
	switch {
	case c.IsClusterIP(ip):
		v.Reach, v.ClusterIP, v.ClusterOnly, v.Class = ReachNo, true, true, ClassClusterIP
		if m.ServiceByIP != nil {
			v.Service = m.ServiceByIP(ip)
		}
		svc := ""
		if v.Service != "" {
			svc = " of Service " + v.Service
		}
		v.Why = fmt.Sprintf("the ClusterIP%s (services range %s): a virtual address that exists only on the cluster's nodes, neither a VM nor an internal load balancer, so the forwarder cannot reach it", svc, c.ServicesCIDR)
		return v
	case c.IsPodIP(ip) && !c.VPCNative:
		v.Reach, v.ClusterOnly, v.Class = ReachNo, true, ClassPodRoutes
		v.Why = fmt.Sprintf("a pod IP of a routes-based cluster (pod range %s): not routable for the forwarder", c.PodCIDR)
		return v
	}
	private := model.IsPrivate(ip)
	if !private && !strings.EqualFold(t.ForwardingPath, "PRIVATE") {
		v.Class = ClassPublic
		v.Why = "a public address with forwarding path DEFAULT: Cloud DNS sends the query over the internet, so whether it answers cannot be judged from configuration; a live query decides"
		return v
	}
	if c.IsPodIP(ip) {
		v.Why = "a pod IP (VPC-native, routable, but it changes when the pod is replaced)"
	}
	if in, why := m.inSubnets(ip, network); !in {
		if m.SubnetsRead {
			v.Class = ClassOutside
		}
		v.Why = strings.TrimPrefix(v.Why+"; "+why, "; ")
		return v // Unknown: outside the model, a live query decides
	}
	v.Class = ClassInVPC
	if !m.FirewallRead {
		why := "the firewall was not read"
		if m.FirewallWhy != "" {
			why = "the firewall could not be read (" + m.FirewallWhy + ")"
		}
		v.Why = strings.TrimPrefix(v.Why+"; "+why+", so whether 35.199.192.0/19 may reach it on port 53 is unknown", "; ")
		return v
	}
	reach, why := ForwarderAllowed(m.Firewall, gref.Network(network, m.Project), ip)
	v.Reach = reach
	v.Why = strings.TrimPrefix(v.Why+"; "+why, "; ")
	return v
}

// inSubnets tells whether a private forwarding target is inside the client's network, where the
// firewall decides; when it is not, or that is unknown, it says why the model cannot judge it.
func (m *Model) inSubnets(ip netip.Addr, network string) (bool, string) {
	if !m.SubnetsRead {
		why := "the network's subnets were not read"
		if m.SubnetsWhy != "" {
			why = "the network's subnets could not be read (" + m.SubnetsWhy + ")"
		}
		return false, why + ", so whether it is a VM in the VPC or a server reached over Cloud VPN or Interconnect is unknown; a live query decides"
	}
	for _, p := range m.Subnets {
		if p.Contains(ip) {
			return true, ""
		}
	}
	return false, "in no subnet of network " + gref.NetworkName(network) + ": reached over Cloud VPN or Interconnect (or not at all), which configuration cannot tell; a live query decides"
}

// authoritative answers from a private zone's record sets.
func (m *Model) authoritative(p *Prediction, z *dns.ManagedZone, depth int) {
	if m.Records == nil {
		p.Situation, p.Reason = SitUnpredicted, "the record sets of zone "+z.Name+" were not read"
		return
	}
	rrs, err := m.Records(z)
	if err != nil {
		p.Situation, p.Err = SitUnpredicted, err
		p.Reason = "the record sets of zone " + z.Name + " could not be read: " + err.Error()
		return
	}
	name := p.Name
	for hop := 0; ; hop++ {
		res := lookup(name, z, m.index(z, rrs))
		switch {
		case res.cname != "" && hop < maxDepth:
			p.CNAMEs = append(p.CNAMEs, res.cname)
			if InZone(res.cname, z.DnsName) {
				name = res.cname
				continue
			}
			inner := m.predict(res.cname, p.Network, depth+1, true)
			p.Outcome, p.Situation, p.IPs, p.RRSet, p.Owner, p.Targets, p.Err = inner.Outcome, inner.Situation, inner.IPs, inner.RRSet, inner.Owner, inner.Targets, inner.Err
			p.RRSetZone = inner.RRSetZone
			p.CNAMEs = append(p.CNAMEs, inner.CNAMEs...)
			p.Reason = fmt.Sprintf("zone %s has %s CNAME %s; %s", z.Name, name, res.cname, inner.Reason)
			return
		case res.rrset != nil:
			p.RRSet, p.Owner, p.RRSetZone = res.rrset, res.rrset.Name, z
			for _, d := range res.rrset.Rrdatas {
				if a, err := netip.ParseAddr(strings.TrimSpace(d)); err == nil {
					p.IPs = append(p.IPs, a.Unmap())
				}
			}
			p.Outcome, p.Situation = probe.OutcomeAnswer, SitAnswer
			how := "has"
			if res.wildcard {
				how = "matches wildcard " + res.rrset.Name + " with"
			}
			p.Reason = fmt.Sprintf("zone %s %s A %s (TTL %ds)", z.Name, how, strings.Join(res.rrset.Rrdatas, ", "), res.rrset.Ttl)
			return
		case res.nodata:
			p.Outcome, p.Situation = probe.OutcomeNoData, SitNoRecord
			p.Reason = fmt.Sprintf("zone %s has the name %s but no A record for it (NODATA)", z.Name, name)
			return
		default:
			p.Outcome, p.Situation = probe.OutcomeNXDomain, SitNoRecord
			p.Reason = fmt.Sprintf("zone %s holds %s but has no record for %s, so the resolver answers NXDOMAIN", z.Name, model.Fqdn(z.DnsName), name)
			m.explainMissing(p)
			return
		}
	}
}

// explainMissing refines a missing name under the cluster's domains.
func (m *Model) explainMissing(p *Prediction) {
	c := m.Cluster
	if c == nil {
		return
	}
	if vd := c.VPCDomain(); vd != "" && !InZone(p.Name, vd) {
		for _, d := range c.Domains() {
			if InZone(p.Name, d) {
				p.Situation = SitWrongDomain
				p.Reason += fmt.Sprintf("; the cluster publishes its records to the VPC under %s (%s)", vd, c.ScopeName())
				return
			}
		}
	}
}

// RecordIn returns the A record set an authoritative zone holds for name (following CNAMEs inside
// the zone, and wildcards), whether or not the zone is visible to any client; nil when it has none.
func (m *Model) RecordIn(z *dns.ManagedZone, name string) (*dns.ResourceRecordSet, error) {
	if m.Records == nil || KindOf(z) != KindPrivate {
		return nil, nil
	}
	rrs, err := m.Records(z)
	if err != nil {
		return nil, err
	}
	name = model.Fqdn(name)
	for hop := 0; hop < maxDepth; hop++ {
		res := lookup(name, z, m.index(z, rrs))
		if res.rrset != nil {
			return res.rrset, nil
		}
		if res.cname == "" || !InZone(res.cname, z.DnsName) {
			return nil, nil
		}
		name = res.cname
	}
	return nil, nil
}

type lookupResult struct {
	rrset    *dns.ResourceRecordSet
	cname    string
	nodata   bool
	wildcard bool
}

// lookup finds name's A record set in one zone, with CNAMEs, empty non-terminals and wildcards
// (RFC 4592's closest encloser) handled the way an authoritative server does.
func lookup(name string, z *dns.ManagedZone, idx *zoneIndex) lookupResult {
	byName := idx.byName
	exists := func(n string) bool { return idx.names[n] }
	at := func(n string) lookupResult {
		var r lookupResult
		for _, rr := range byName[n] {
			switch strings.ToUpper(rr.Type) {
			case "A":
				r.rrset = rr
				return r
			case "CNAME":
				if len(rr.Rrdatas) > 0 {
					r.cname = model.Fqdn(rr.Rrdatas[0])
				}
			}
		}
		if r.cname == "" {
			r.nodata = true
		}
		return r
	}
	if len(byName[name]) > 0 {
		return at(name)
	}
	if exists(name) {
		return lookupResult{nodata: true} // an empty non-terminal
	}
	apex := model.Fqdn(z.DnsName)
	for a := parent(name); a != "" && InZone(a, apex); a = parent(a) {
		if !exists(a) {
			continue
		}
		wc := "*." + a
		if len(byName[wc]) > 0 {
			r := at(wc)
			r.wildcard = true
			return r
		}
		break
	}
	return lookupResult{}
}

// zoneIndex is a zone's record sets by owner name, and every name that exists in it: an owner name
// or an empty non-terminal above one.
type zoneIndex struct {
	byName map[string][]*dns.ResourceRecordSet
	names  map[string]bool
}

// index returns the index of zone z's record sets rrs, built once per zone and record list: a
// run predicts hundreds of names in a zone of thousands of records, and building the index for every
// name was quadratic.
func (m *Model) index(z *dns.ManagedZone, rrs []*dns.ResourceRecordSet) *zoneIndex {
	type cached struct {
		from []*dns.ResourceRecordSet
		idx  *zoneIndex
	}
	cache := (*sync.Map)(atomic.LoadPointer(&m.indexes))
	if cache == nil {
		atomic.CompareAndSwapPointer(&m.indexes, nil, unsafe.Pointer(&sync.Map{}))
		cache = (*sync.Map)(atomic.LoadPointer(&m.indexes))
	}
	if c, ok := cache.Load(z); ok {
		if c := c.(cached); len(c.from) == len(rrs) && (len(rrs) == 0 || &c.from[0] == &rrs[0]) {
			return c.idx
		}
	}
	idx := &zoneIndex{byName: map[string][]*dns.ResourceRecordSet{}, names: map[string]bool{}}
	for _, rr := range rrs {
		if rr == nil {
			continue
		}
		n := model.Fqdn(rr.Name)
		idx.byName[n] = append(idx.byName[n], rr)
		idx.names[n] = true
		for a := parent(n); a != "" && a != "." && !idx.names[a]; a = parent(a) {
			idx.names[a] = true
		}
	}
	cache.Store(z, cached{from: rrs, idx: idx})
	return idx
}

var gceInternalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\.c\.[a-z0-9-]+\.internal\.$`) })

// fallback predicts a name no private zone holds: Compute Engine internal DNS, then public DNS.
func (m *Model) fallback(p *Prediction) {
	name, c := p.Name, m.Cluster
	clusterDomain := ""
	for _, d := range c.Domains() {
		if InZone(name, d) {
			clusterDomain = d
		}
	}
	if clusterDomain == "" && InZone(name, "cluster.local.") {
		// The default domain is what clients use even when the cluster's is another one.
		clusterDomain = "cluster.local."
	}
	shortName := c != nil && (labels(name) == 2 || strings.HasSuffix(name, ".svc."))
	onlyCluster := false
	for _, u := range p.Unseen {
		onlyCluster = onlyCluster || u.ClusterOnly
	}
	switch {
	case clusterDomain != "":
		p.Outcome, p.Situation = probe.OutcomeNXDomain, SitClusterOnly
		p.Via = "no private zone for " + clusterDomain + " is visible to network " + gref.NetworkName(p.Network)
		switch {
		case c == nil:
			p.Reason = "no zone bound to network " + gref.NetworkName(p.Network) + " holds " + clusterDomain +
				": Kubernetes Service names exist only inside the cluster unless Cloud DNS for GKE publishes them to the VPC, so the resolver answers NXDOMAIN"
		case c.VPCDomain() != "" && c.VPCDomain() != clusterDomain:
			p.Situation = SitWrongDomain
			p.Reason = fmt.Sprintf("the cluster (%s) publishes its records to the VPC under %s, not %s, so the resolver answers NXDOMAIN",
				c.ScopeName(), c.VPCDomain(), clusterDomain)
		case c.CloudDNS() && c.Scope == model.ScopeVPC:
			p.Reason = fmt.Sprintf("the cluster is in VPC scope but no zone for %s is bound to network %s (is the client on the cluster's network %s?), so the resolver answers NXDOMAIN",
				clusterDomain, gref.NetworkName(p.Network), gref.NetworkName(c.Network))
			if u := firstUnseen(p.Unseen, false); u != nil {
				p.Situation = SitOtherNetwork
				p.Reason = u.Why + "; a private zone answers only the networks it is bound to, so the resolver answers NXDOMAIN"
			}
		default:
			p.Reason = fmt.Sprintf("the cluster runs %s: %s records are served only to the cluster's own pods and nodes, so a VPC client gets NXDOMAIN",
				c.ScopeName(), clusterDomain)
			if u := firstUnseen(p.Unseen, true); u != nil {
				p.Reason += " (" + u.Why + ")"
			}
		}
	case len(p.Unseen) > 0 && !onlyCluster:
		p.Outcome, p.Situation = probe.OutcomeNXDomain, SitOtherNetwork
		p.Via = "no private zone visible to network " + gref.NetworkName(p.Network)
		p.Reason = p.Unseen[0].Why + "; a private zone answers only the networks it is bound to, so the name falls through to public DNS: NXDOMAIN"
		if nonPublicTLDs[tld(name)] && !gceInternalRE().MatchString(name) {
			break
		}
		p.Outcome, p.Situation = 0, SitOtherNetwork
		p.Reason = p.Unseen[0].Why + "; a private zone answers only the networks it is bound to, so public DNS answers instead (not predicted)"
	case shortName:
		p.Outcome, p.Situation = probe.OutcomeNXDomain, SitClusterOnly
		p.Via = "public DNS"
		p.Reason = "a short in-cluster name relies on the pod's DNS search path (NS.svc." + strings.TrimSuffix(c.Domain, ".") + "), which VPC clients do not have: NXDOMAIN"
	case tld(name) == "internal" && gceInternalRE().MatchString(name):
		p.Situation, p.Via = SitUnpredicted, "Compute Engine internal DNS"
		p.Reason = "Compute Engine internal DNS answers VM names under .internal; not modelled"
	case nonPublicTLDs[tld(name)]:
		p.Outcome, p.Situation, p.Via = probe.OutcomeNXDomain, SitNoZone, "public DNS"
		p.Reason = fmt.Sprintf("no private zone bound to network %s holds the name and .%s is not a public top-level domain, so the resolver answers NXDOMAIN",
			gref.NetworkName(p.Network), tld(name))
	default:
		p.Situation, p.Via = SitUnpredicted, "public DNS"
		p.Reason = "no private zone bound to network " + gref.NetworkName(p.Network) + " holds the name: public DNS answers it (not predicted)"
	}
}

// firstUnseen returns the first unseen zone bound only to clusters (clusterOnly) or to other
// networks (!clusterOnly).
func firstUnseen(us []Unseen, clusterOnly bool) *Unseen {
	for i := range us {
		if us[i].ClusterOnly == clusterOnly {
			return &us[i]
		}
	}
	return nil
}

func shortNames(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s[strings.LastIndexByte(s, '/')+1:]
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
