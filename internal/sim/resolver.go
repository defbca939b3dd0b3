package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	clouddns "google.golang.org/api/dns/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
)

// Resolution is an answer of the world's DNS, with the reason for it.
type Resolution struct {
	Rcode   int // dns.RcodeSuccess (with or without answers: NODATA), dns.RcodeNameError, dns.RcodeServerFailure
	Answers []dns.RR
	// Zone is the managed zone (or "kube-dns", "internal DNS") that decided the answer, "" for none.
	Zone   string
	Reason string
	slow   bool // a forwarder gave up on its targets: the answer comes late
}

const maxDepth = 8

// ResolveFromVPC answers as the VPC resolver (169.254.169.254) answers a client in network default,
// from the current Cloud DNS state: private zones bound to the network (the longest suffix wins;
// forwarding zones forward, and their targets must be reachable from Cloud DNS's forwarders), then
// Compute Engine internal DNS. Zones bound only to a GKE cluster (Cloud DNS for GKE in cluster scope)
// are invisible from the VPC; there is no public DNS in the demo.
func (w *World) ResolveFromVPC(name string, qtype uint16) Resolution {
	return w.resolveVPC(canonical(name), qtype, 0)
}

// ResolveFromCluster answers as a pod of the cluster sees DNS: with Cloud DNS for GKE, the zones bound
// to the cluster and then the VPC's; with kube-dns, the Services as the Kubernetes DNS specification
// says.
func (w *World) ResolveFromCluster(name string, qtype uint16) Resolution {
	name = canonical(name)
	if c, ok := w.gcp.Cluster(Project, Region, Cluster); ok && c.NetworkConfig != nil && c.NetworkConfig.DnsConfig != nil &&
		c.NetworkConfig.DnsConfig.ClusterDns == "CLOUD_DNS" {
		return w.resolveZones(name, qtype, true, 0)
	}
	return w.resolveKubeDNS(name, qtype, 0)
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func (w *World) vpcAnswer(q dns.Question, _ string) (fakedns.Answer, bool) {
	return w.toAnswer(w.ResolveFromVPC(q.Name, q.Qtype)), true
}

func (w *World) clusterAnswer(q dns.Question, _ string) (fakedns.Answer, bool) {
	return w.toAnswer(w.ResolveFromCluster(q.Name, q.Qtype)), true
}

func (w *World) toAnswer(r Resolution) fakedns.Answer {
	a := fakedns.Answer{Rcode: r.Rcode, RRs: r.Answers}
	if r.slow {
		a.Delay = min(w.after(4*time.Second), 1500*time.Millisecond)
	}
	return a
}

func (w *World) resolveVPC(name string, qtype uint16, depth int) Resolution {
	return w.resolveZones(name, qtype, false, depth)
}

// zoneIn is a managed zone with its project.
type zoneIn struct {
	project string
	zone    *clouddns.ManagedZone
}

// zones lists the managed zones visible from network default, and with fromCluster those bound to
// the cluster too.
func (w *World) zones(fromCluster bool) (visible []zoneIn, clusterOnly []zoneIn) {
	for _, p := range w.lay.zoneProjects {
		for _, z := range w.gcp.ManagedZones(p) {
			if z.Visibility != "private" || z.PrivateVisibilityConfig == nil {
				continue
			}
			bound := false
			for _, n := range z.PrivateVisibilityConfig.Networks {
				if n != nil && w.lay.onNetwork(n.NetworkUrl) {
					bound = true
				}
			}
			toCluster := false
			for _, c := range z.PrivateVisibilityConfig.GkeClusters {
				if c != nil && strings.HasSuffix(c.GkeClusterName, clusterName()) {
					toCluster = true
				}
			}
			switch {
			case bound || (fromCluster && toCluster):
				visible = append(visible, zoneIn{p, z})
			case toCluster:
				clusterOnly = append(clusterOnly, zoneIn{p, z})
			}
		}
	}
	return visible, clusterOnly
}

func inZone(name, zone string) bool {
	zone = strings.ToLower(zone)
	return name == zone || strings.HasSuffix(name, "."+zone)
}

func (w *World) resolveZones(name string, qtype uint16, fromCluster bool, depth int) Resolution {
	if depth > maxDepth {
		return Resolution{Rcode: dns.RcodeServerFailure, Reason: "too many CNAMEs or forwards"}
	}
	visible, clusterOnly := w.zones(fromCluster)
	var best *zoneIn
	for i := range visible {
		z := &visible[i]
		if !inZone(name, z.zone.DnsName) {
			continue
		}
		// Longest suffix wins; on a tie a cluster-bound zone is consulted first (GKE nodes check the
		// cluster's zones before the VPC's).
		if best == nil || len(z.zone.DnsName) > len(best.zone.DnsName) ||
			(len(z.zone.DnsName) == len(best.zone.DnsName) && fromCluster && len(z.zone.PrivateVisibilityConfig.GkeClusters) > 0) {
			best = z
		}
	}
	if best == nil {
		if r, ok := w.internalDNS(name, qtype); ok {
			return r
		}
		reason := fmt.Sprintf("no private zone bound to network %s covers %s, and the demo world has no public DNS", Network, name)
		for _, z := range clusterOnly {
			if inZone(name, z.zone.DnsName) {
				reason = fmt.Sprintf("zone %s (%s) covers %s but is bound to the GKE cluster only (Cloud DNS for GKE in cluster scope): invisible from the VPC",
					z.zone.Name, z.zone.DnsName, name)
			}
		}
		return Resolution{Rcode: dns.RcodeNameError, Reason: reason}
	}
	z := best.zone
	switch {
	case z.ForwardingConfig != nil && len(z.ForwardingConfig.TargetNameServers) > 0:
		var why []string
		for _, t := range z.ForwardingConfig.TargetNameServers {
			ok, reason := w.forwardTarget(t)
			if ok {
				r := w.resolveKubeDNS(name, qtype, depth+1)
				r.Zone = z.Name
				r.Reason = fmt.Sprintf("forwarding zone %s → %s: %s", z.Name, t.Ipv4Address, r.Reason)
				return r
			}
			why = append(why, reason)
		}
		return Resolution{Rcode: dns.RcodeServerFailure, Zone: z.Name, slow: true,
			Reason: fmt.Sprintf("forwarding zone %s (%s): no target answers: %s", z.Name, z.DnsName, strings.Join(why, "; "))}
	case z.PeeringConfig != nil && z.PeeringConfig.TargetNetwork != nil:
		// A peering zone: resolution continues as in the target network. Only this project's
		// network is simulated as a client, so a peering to it resolves like the VPC.
		pp, pn, ok := parseNetworkLink(z.PeeringConfig.TargetNetwork.NetworkUrl)
		if ok && pp == Project && pn == Network {
			r := w.resolveZones(name, qtype, false, depth+1)
			r.Reason = "peering zone " + z.Name + ": " + r.Reason
			return r
		}
		return Resolution{Rcode: dns.RcodeNameError, Zone: z.Name, Reason: fmt.Sprintf("peering zone %s targets %s, where no zone covers %s", z.Name, z.PeeringConfig.TargetNetwork.NetworkUrl, name)}
	}
	return w.zoneLookup(*best, name, qtype, fromCluster, depth)
}

// forwardTarget says whether Cloud DNS's forwarders (35.199.192.0/19) get an answer from t.
func (w *World) forwardTarget(t *clouddns.ManagedZoneForwardingConfigNameServerTarget) (bool, string) {
	if t.Ipv4Address == "" {
		return false, fmt.Sprintf("target %q: only IPv4 targets are simulated", t.DomainName+t.Ipv6Address)
	}
	ip, err := netip.ParseAddr(t.Ipv4Address)
	if err != nil {
		return false, fmt.Sprintf("target %q is not an IP address", t.Ipv4Address)
	}
	if svc, ok := w.serviceByClusterIP(ip); ok {
		return false, fmt.Sprintf("%s is the ClusterIP of %s/%s: neither a VM nor an internal load balancer, Cloud DNS's forwarders cannot reach it", ip, svc.Namespace, svc.Name)
	}
	if mustPrefix(ServicesCIDR).Contains(ip) {
		return false, fmt.Sprintf("%s is in the cluster's services range: not reachable from the VPC", ip)
	}
	if mustPrefix(PodCIDR).Contains(ip) {
		return false, fmt.Sprintf("%s is a pod IP: not a VM or an internal load balancer", ip)
	}
	if t.ForwardingPath != "private" && !ip.IsPrivate() {
		return false, fmt.Sprintf("%s is not an RFC 1918 address, so with the default forwarding path Cloud DNS sends the query to it over the internet, where it does not answer", ip)
	}
	for _, fr := range w.gcp.ForwardingRules(Project, "") {
		if fr.IPAddress != ip.String() || fr.LoadBalancingScheme != "INTERNAL" || !w.lay.onNetwork(fr.Network) {
			continue
		}
		if !fr.AllPorts && !portListed(fr.Ports, 53) {
			return false, fmt.Sprintf("internal LB %s does not forward port 53", ip)
		}
		src := host{prefix: mustPrefix(DNSForwarders)}
		node := host{tags: []string{NodeTag}, sa: computeSA(Project)}
		if ok, rule := w.firewallAllows(vpcNet{}, w.lay.vpc(), src, ip, node, "udp", 53); !ok {
			return false, fmt.Sprintf("internal LB %s: %s", ip, rule)
		}
		r := w.deliver(source{kind: "dns-forwarder", region: Region, prefix: mustPrefix(DNSForwarders)}, ip, 53)
		if r.Outcome != Connected || r.Backend != w.clusterDNS.Addr {
			return false, fmt.Sprintf("internal LB %s does not lead to a DNS server: %s", ip, r.Reason)
		}
		return true, ""
	}
	if name, ok := w.nodeByIP(ip); ok {
		return false, fmt.Sprintf("%s is node %s, which runs no DNS server on port 53", ip, name)
	}
	return false, fmt.Sprintf("nothing answers DNS at %s", ip)
}

// zoneLookup answers from an authoritative private zone.
func (w *World) zoneLookup(z zoneIn, name string, qtype uint16, fromCluster bool, depth int) Resolution {
	sets := w.gcp.RRSets(z.project, z.zone.Name)
	res := Resolution{Rcode: dns.RcodeSuccess, Zone: z.zone.Name}
	at := func(owner string) []*clouddns.ResourceRecordSet {
		var out []*clouddns.ResourceRecordSet
		for _, rr := range sets {
			if strings.EqualFold(rr.Name, owner) {
				out = append(out, rr)
			}
		}
		return out
	}
	exists := func(owner string) bool {
		for _, rr := range sets {
			if n := strings.ToLower(rr.Name); n == owner || strings.HasSuffix(n, "."+owner) {
				return true
			}
		}
		return false
	}
	here := at(name)
	owner := name
	if len(here) == 0 && !exists(name) {
		// A wildcard at the closest encloser stands for the name.
		for p := parent(name); inZone(p, z.zone.DnsName); p = parent(p) {
			if exists(p) {
				here = at("*." + p)
				break
			}
		}
		if len(here) == 0 {
			res.Rcode = dns.RcodeNameError
			res.Reason = fmt.Sprintf("zone %s (%s) has no %s", z.zone.Name, z.zone.DnsName, name)
			return res
		}
	}
	for _, rr := range here {
		t := dns.StringToType[rr.Type]
		if t == qtype || qtype == dns.TypeANY {
			res.Answers = append(res.Answers, toRRs(owner, rr)...)
		}
	}
	if len(res.Answers) > 0 {
		res.Reason = fmt.Sprintf("zone %s (%s): %s %s %s", z.zone.Name, z.zone.DnsName, name, dns.TypeToString[qtype], rrdatas(res.Answers))
		return res
	}
	for _, rr := range here {
		if rr.Type == "CNAME" && qtype != dns.TypeCNAME && len(rr.Rrdatas) > 0 {
			res.Answers = toRRs(owner, rr)
			next := w.resolveZones(canonical(rr.Rrdatas[0]), qtype, fromCluster, depth+1)
			res.Rcode = next.Rcode
			res.Answers = append(res.Answers, next.Answers...)
			res.Reason = fmt.Sprintf("zone %s: %s is a CNAME for %s; %s", z.zone.Name, name, rr.Rrdatas[0], next.Reason)
			return res
		}
	}
	res.Reason = fmt.Sprintf("zone %s (%s) has %s but no %s record (NODATA)", z.zone.Name, z.zone.DnsName, name, dns.TypeToString[qtype])
	return res
}

func parent(name string) string {
	_, rest, ok := strings.Cut(name, ".")
	if !ok || rest == "" {
		return "."
	}
	return rest
}

// toRRs renders a Cloud DNS record set as DNS records for owner.
func toRRs(owner string, rr *clouddns.ResourceRecordSet) []dns.RR {
	var out []dns.RR
	for _, d := range rr.Rrdatas {
		r, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", owner, rr.Ttl, rr.Type, d))
		if err == nil && r != nil {
			out = append(out, r)
		}
	}
	return out
}

func rrdatas(rrs []dns.RR) string {
	var parts []string
	for _, r := range rrs {
		h := r.Header().String()
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(r.String(), h)))
	}
	return strings.Join(parts, ", ")
}

// internalDNS answers Compute Engine's internal names: the nodes' zonal names and the metadata server.
func (w *World) internalDNS(name string, qtype uint16) (Resolution, bool) {
	if !strings.HasSuffix(name, ".internal.") {
		return Resolution{}, false
	}
	ip := ""
	if name == "metadata.google.internal." {
		ip = "169.254.169.254"
	}
	for _, n := range nodes {
		if name == n.name+"."+n.zone+".c."+Project+".internal." || name == n.name+".c."+Project+".internal." {
			ip = n.ip
		}
	}
	if ip == "" {
		return Resolution{Rcode: dns.RcodeNameError, Zone: "internal DNS", Reason: "Compute Engine internal DNS has no " + name}, true
	}
	res := Resolution{Rcode: dns.RcodeSuccess, Zone: "internal DNS", Reason: "Compute Engine internal DNS: " + name + " is " + ip}
	if qtype == dns.TypeA || qtype == dns.TypeANY {
		r, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A %s", name, ip))
		res.Answers = []dns.RR{r}
	}
	return res, true
}

// resolveKubeDNS answers as kube-dns does, from the Services (the Kubernetes DNS specification);
// names outside the cluster domain go upstream to the VPC resolver.
func (w *World) resolveKubeDNS(name string, qtype uint16, depth int) Resolution {
	if depth > maxDepth {
		return Resolution{Rcode: dns.RcodeServerFailure, Reason: "too many CNAMEs or forwards"}
	}
	domain := Domain + "."
	if c, ok := w.gcp.Cluster(Project, Region, Cluster); ok && c.NetworkConfig != nil && c.NetworkConfig.DnsConfig != nil && c.NetworkConfig.DnsConfig.ClusterDnsDomain != "" {
		domain = canonical(c.NetworkConfig.DnsConfig.ClusterDnsDomain)
	}
	if !inZone(name, domain) {
		r := w.resolveVPC(name, qtype, depth+1)
		r.Reason = "kube-dns forwards upstream: " + r.Reason
		return r
	}
	res := Resolution{Rcode: dns.RcodeSuccess, Zone: "kube-dns"}
	rel := strings.TrimSuffix(strings.TrimSuffix(name, domain), ".")
	var labels []string
	if rel != "" {
		labels = strings.Split(rel, ".")
	}
	a := func(owner string, ips ...string) {
		if qtype != dns.TypeA && qtype != dns.TypeANY {
			return
		}
		for _, ip := range ips {
			if r, err := dns.NewRR(fmt.Sprintf("%s %d IN A %s", owner, dnsTTL, ip)); err == nil {
				res.Answers = append(res.Answers, r)
			}
		}
	}
	nsExists := func(ns string) bool {
		_, err := getT[*corev1.Namespace](w.kube, gvrNamespaces, "", ns)
		return err == nil
	}
	switch {
	case len(labels) == 3 && labels[2] == "svc":
		svc, err := getT[*corev1.Service](w.kube, gvrServices, labels[1], labels[0])
		if err != nil {
			res.Rcode, res.Reason = dns.RcodeNameError, fmt.Sprintf("kube-dns: no Service %s/%s", labels[1], labels[0])
			return res
		}
		switch {
		case svc.Spec.Type == corev1.ServiceTypeExternalName:
			target := canonical(svc.Spec.ExternalName)
			r, _ := dns.NewRR(fmt.Sprintf("%s %d IN CNAME %s", name, dnsTTL, target))
			next := w.resolveKubeDNS(target, qtype, depth+1)
			res.Answers = append([]dns.RR{r}, next.Answers...)
			res.Rcode = next.Rcode
			res.Reason = "kube-dns: ExternalName " + target
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
			var ips []string
			for _, s := range w.kube.endpointSlices(svc.Namespace) {
				if s.Labels[discoveryv1.LabelServiceName] != svc.Name {
					continue
				}
				for _, e := range s.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						ips = append(ips, e.Addresses...)
					}
				}
			}
			if len(ips) == 0 {
				res.Rcode, res.Reason = dns.RcodeNameError, fmt.Sprintf("kube-dns: headless Service %s/%s has no ready endpoints", svc.Namespace, svc.Name)
				return res
			}
			sort.Strings(ips)
			a(name, ips...)
			res.Reason = fmt.Sprintf("kube-dns: headless Service %s/%s → its ready endpoints", svc.Namespace, svc.Name)
		default:
			a(name, svc.Spec.ClusterIP)
			res.Reason = fmt.Sprintf("kube-dns: Service %s/%s → its ClusterIP %s", svc.Namespace, svc.Name, svc.Spec.ClusterIP)
		}
		return res
	case len(labels) == 3 && labels[2] == "pod":
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", "."))
		if err != nil || !ip.Is4() || !nsExists(labels[1]) {
			res.Rcode, res.Reason = dns.RcodeNameError, "kube-dns: no such pod name"
			return res
		}
		a(name, ip.String())
		res.Reason = "kube-dns: pod A record"
		return res
	case len(labels) == 0, len(labels) == 1 && slices.Contains([]string{"svc", "pod"}, labels[0]),
		len(labels) == 2 && labels[1] == "svc" && nsExists(labels[0]):
		res.Reason = "kube-dns: the name exists but has no " + dns.TypeToString[qtype] + " record (NODATA)"
		return res
	}
	res.Rcode, res.Reason = dns.RcodeNameError, "kube-dns: no such name "+name
	return res
}
