package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/miekg/dns"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// Outcome is what a TCP connect from a source to an address does in the world.
type Outcome string

// The outcomes, as a kernel reports them.
const (
	Connected Outcome = "connected" // a loopback listener plays the backend
	Timeout   Outcome = "timeout"   // the SYN is dropped somewhere: the dial blocks until its deadline
	Refused   Outcome = "refused"   // the host is there and answers RST: nothing listens on the port
)

// Reach is the world's verdict on one connection.
type Reach struct {
	Outcome Outcome
	// Reason says why, in the words of someone tracing the packet (for tests, the TUI and debugging).
	Reason string
	// Backend is the loopback address that plays the destination when Outcome is Connected.
	Backend string
}

// source is a client of the network.
type source struct {
	kind    string // "cloud-run", "pod", "node"
	name    string
	region  string
	prefix  netip.Prefix // the addresses its packets carry in the VPC (before ip-masq-agent, for pods)
	tags    []string
	sa      string
	egress  string // Cloud Run: ALL_TRAFFIC or PRIVATE_RANGES_ONLY
	blocked string // why nothing leaves it into the VPC ("" when something does)
	podIP   netip.Addr
	nodeIP  netip.Addr
}

// VPCDialer dials as one source of the world. Reachable destinations are connected to loopback
// listeners (through probe.LoopbackOnlyDialer); unreachable ones block until the context ends, as a
// dropped SYN does; refusals come back as ECONNREFUSED.
type VPCDialer struct {
	w      *World
	source string
}

// DialerFrom returns the network as source sees it: SourceCloudRun ("cloud-run/NAME" for any Cloud
// Run service), SourcePod ("pod/NS/NAME") or SourceNode ("node/NAME").
func (w *World) DialerFrom(source string) *VPCDialer { return &VPCDialer{w: w, source: source} }

// DialContext implements checks.Dialer and probe.Dialer. Host names are resolved the way the source
// resolves them (the VPC resolver for Cloud Run and nodes, the cluster's DNS for pods).
func (d *VPCDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("the demo world simulates TCP only")}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ip, err = d.lookup(host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("invalid port %q", portStr)}
	}
	r := d.w.reach(d.source, ip, port)
	tcpAddr := &net.TCPAddr{IP: ip.AsSlice(), Port: port}
	switch r.Outcome {
	case Connected:
		return d.w.loopback.DialContext(ctx, "tcp", r.Backend)
	case Refused:
		return nil, &net.OpError{Op: "dial", Net: network, Addr: tcpAddr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	select {
	case <-ctx.Done():
		err := ctx.Err()
		if err == context.DeadlineExceeded {
			err = os.ErrDeadlineExceeded
		}
		return nil, &net.OpError{Op: "dial", Net: network, Addr: tcpAddr, Err: err}
	case <-d.w.ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: network, Addr: tcpAddr, Err: errWorldClosed}
	}
}

func (d *VPCDialer) lookup(name string) (netip.Addr, error) {
	var res Resolution
	if strings.HasPrefix(d.source, "pod/") {
		res = d.w.ResolveFromCluster(name, dns.TypeA)
	} else {
		res = d.w.ResolveFromVPC(name, dns.TypeA)
	}
	dnsErr := &net.DNSError{Name: name, Server: d.w.vpcDNS.Addr}
	switch res.Rcode {
	case dns.RcodeSuccess:
		for _, rr := range res.Answers {
			if a, ok := rr.(*dns.A); ok {
				if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
					return ip, nil
				}
			}
		}
		dnsErr.Err, dnsErr.IsNotFound = "no such host", true
	case dns.RcodeNameError:
		dnsErr.Err, dnsErr.IsNotFound = "no such host", true
	default:
		dnsErr.Err, dnsErr.IsTemporary = "server misbehaving", true
	}
	return netip.Addr{}, dnsErr
}

// Reach says what a TCP connect from source to addr (IP:PORT) does, from the world's current state.
func (w *World) Reach(source, addr string) Reach {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return Reach{Outcome: Timeout, Reason: "bad address: " + err.Error()}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return Reach{Outcome: Timeout, Reason: "not an IP address: " + host}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return Reach{Outcome: Timeout, Reason: "bad port: " + portStr}
	}
	return w.reach(source, ip, port)
}

func (w *World) reach(srcName string, ip netip.Addr, port int) Reach {
	ip = ip.Unmap()
	src, err := w.source(srcName)
	if err != nil {
		return Reach{Outcome: Timeout, Reason: err.Error()}
	}
	switch src.kind {
	case "cloud-run":
		if src.blocked != "" {
			return Reach{Outcome: Timeout, Reason: src.blocked}
		}
		if !isPrivate(ip) && src.egress != "ALL_TRAFFIC" {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("Cloud Run %s has egress %s: %s is outside RFC 1918/6598, so it goes to the internet, not into the VPC", src.name, src.egress, ip)}
		}
		return w.deliver(src, ip, port)
	case "pod", "node":
		if r, ok := w.inCluster(src, ip, port); ok {
			return r
		}
		out := src
		if src.kind == "pod" {
			if w.masquerades(ip) {
				out.prefix, out.tags, out.sa = single(src.nodeIP), []string{NodeTag}, computeSA(Project)
			} else {
				out.tags, out.sa = nil, ""
			}
		}
		r := w.deliver(out, ip, port)
		if src.kind == "pod" && r.Outcome != Connected {
			if out.prefix.Addr() == src.podIP {
				r.Reason += fmt.Sprintf(" (the packet left with the pod's IP %s: ip-masq-agent does not masquerade %s)", src.podIP, ip)
			} else {
				r.Reason += fmt.Sprintf(" (ip-masq-agent masqueraded the pod's IP to the node's %s)", src.nodeIP)
			}
		}
		return r
	}
	return Reach{Outcome: Timeout, Reason: "unknown source " + srcName}
}

// source resolves a source name against the current state.
func (w *World) source(name string) (source, error) {
	kind, rest, _ := strings.Cut(name, "/")
	switch kind {
	case "cloud-run":
		return w.cloudRunSource(rest)
	case "pod":
		ns, pn, ok := strings.Cut(rest, "/")
		if !ok {
			return source{}, fmt.Errorf("source %q: want pod/NAMESPACE/NAME", name)
		}
		pod, err := getT[*corev1.Pod](w.kube, gvrPods, ns, pn)
		if err != nil {
			return source{}, fmt.Errorf("source %q: %v", name, err)
		}
		podIP, err1 := netip.ParseAddr(pod.Status.PodIP)
		nodeIP, err2 := netip.ParseAddr(pod.Status.HostIP)
		if err1 != nil || err2 != nil {
			return source{}, fmt.Errorf("source %q: the pod is not running", name)
		}
		if pod.Spec.HostNetwork {
			return source{kind: "node", name: pod.Spec.NodeName, region: Region, prefix: single(nodeIP), tags: []string{NodeTag},
				sa: computeSA(Project), podIP: nodeIP, nodeIP: nodeIP}, nil
		}
		return source{kind: "pod", name: ns + "/" + pn, region: Region, prefix: single(podIP), podIP: podIP, nodeIP: nodeIP}, nil
	case "node":
		for _, n := range w.kube.nodes() {
			if n.Name != rest {
				continue
			}
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					ip, err := netip.ParseAddr(a.Address)
					if err != nil {
						break
					}
					return source{kind: "node", name: rest, region: Region, prefix: single(ip), tags: []string{NodeTag}, sa: computeSA(Project),
						podIP: ip, nodeIP: ip}, nil
				}
			}
		}
		return source{}, fmt.Errorf("source %q: no such node", name)
	}
	return source{}, fmt.Errorf("unknown source %q (want cloud-run/NAME, pod/NS/NAME or node/NAME)", name)
}

// cloudRunSource is a Cloud Run service as its serving revision reaches the VPC.
func (w *World) cloudRunSource(name string) (source, error) {
	project, region := w.lay.runProject, w.lay.runRegion
	if name != CloudRunService {
		project, region = Project, Region // the seed's other services stay in the cluster's project
	}
	svc, tmpl, ok := w.run.serving(project, region, name)
	if !ok {
		return source{}, fmt.Errorf("Cloud Run service %s does not exist in %s/%s", name, project, region)
	}
	src := source{kind: "cloud-run", name: name, region: region, egress: "PRIVATE_RANGES_ONLY"}
	_ = svc
	va := tmpl.VpcAccess
	if va == nil || (va.Connector == "" && len(va.NetworkInterfaces) == 0) {
		src.blocked = fmt.Sprintf("Cloud Run %s has no VPC access (no connector, no Direct VPC egress): its traffic goes to the internet, never into network %s", name, w.lay.netName)
		return src, nil
	}
	if va.Egress != "" && va.Egress != "VPC_EGRESS_UNSPECIFIED" {
		src.egress = va.Egress
	}
	if va.Connector != "" {
		cname := va.Connector[strings.LastIndex(va.Connector, "/")+1:]
		loc, cproject := region, project
		if parts := strings.Split(va.Connector, "/"); len(parts) == 6 {
			cproject, loc = parts[1], parts[3]
		}
		c, ok := w.gcp.Connector(cproject, loc, cname)
		if !ok {
			src.blocked = fmt.Sprintf("connector %s does not exist", va.Connector)
			return src, nil
		}
		if c.State != "READY" {
			src.blocked = fmt.Sprintf("connector %s is %s, not READY: it carries no traffic", cname, c.State)
			return src, nil
		}
		if loc != region {
			src.blocked = fmt.Sprintf("connector %s is in %s, Cloud Run %s in %s: a connector serves its own region only", cname, loc, name, region)
			return src, nil
		}
		if !sameNetwork(c.Network, cproject, c.Network) || !w.lay.onNetwork(gref.Network(c.Network, cproject)) {
			src.blocked = fmt.Sprintf("connector %s is in network %s, not %s", cname, c.Network, w.lay.netName)
			return src, nil
		}
		pfx, err := netip.ParsePrefix(c.IpCidrRange)
		if err != nil {
			src.blocked = fmt.Sprintf("connector %s has no usable range (%q)", cname, c.IpCidrRange)
			return src, nil
		}
		src.prefix = pfx
		src.tags = []string{"vpc-connector", "vpc-connector-" + loc + "-" + cname}
		return src, nil
	}
	ni := va.NetworkInterfaces[0]
	if ni.Network != "" && !w.lay.onNetwork(gref.Network(ni.Network, project)) && ni.Network != w.lay.netName {
		src.blocked = fmt.Sprintf("Direct VPC egress into network %s, not %s", ni.Network, w.lay.netName)
		return src, nil
	}
	src.prefix = mustPrefix(w.lay.directVPCRange) // the subnet's addresses (the only subnet a Direct VPC client uses here)
	src.tags = ni.Tags
	return src, nil
}

// nodeByIP returns the cluster node with an internal IP.
func (w *World) nodeByIP(ip netip.Addr) (string, bool) {
	for _, n := range w.kube.nodes() {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address == ip.String() {
				return n.Name, true
			}
		}
	}
	return "", false
}

func (w *World) podByIP(ip netip.Addr) (*corev1.Pod, bool) {
	for _, p := range w.kube.pods() {
		if p.Status.PodIP == ip.String() && !p.Spec.HostNetwork && p.Status.Phase == corev1.PodRunning {
			return &p, true
		}
	}
	return nil, false
}

func (w *World) serviceByClusterIP(ip netip.Addr) (*corev1.Service, bool) {
	for _, s := range w.kube.services() {
		if s.Spec.ClusterIP == ip.String() {
			return &s, true
		}
	}
	return nil, false
}

// inCluster handles what kube-proxy and the cluster network do for pods and nodes: ClusterIPs, pod
// IPs, node IPs and the control plane. ok is false for destinations outside the cluster.
func (w *World) inCluster(src source, ip netip.Addr, port int) (Reach, bool) {
	if svc, ok := w.serviceByClusterIP(ip); ok {
		return w.viaService(svc, port, "kube-proxy on "+src.kind), true
	}
	if mustPrefix(ServicesCIDR).Contains(ip) {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s is in the services range but no Service has it", ip)}, true
	}
	if pod, ok := w.podByIP(ip); ok {
		return w.podPort(pod, port, "pod "+pod.Namespace+"/"+pod.Name), true
	}
	if name, ok := w.nodeByIP(ip); ok {
		return w.nodePort(name, port), true
	}
	if ip.String() == APIPrivateEndpoint {
		if port == 443 {
			return Reach{Outcome: Connected, Reason: "the control plane's private endpoint", Backend: hostPort(w.exec.url)}, true
		}
		return Reach{Outcome: Timeout, Reason: "the control plane's private endpoint serves 443 only"}, true
	}
	return Reach{}, false
}

// viaService picks a ready endpoint of svc for port, as kube-proxy (or an ILB's backends) would.
func (w *World) viaService(svc *corev1.Service, port int, via string) Reach {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if int(p.Port) == port && (p.Protocol == corev1.ProtocolTCP || p.Protocol == "") {
			sp = p
		}
	}
	if sp == nil {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("Service %s/%s has no TCP port %d", svc.Namespace, svc.Name, port)}
	}
	var eps []discoveryv1.Endpoint
	target := int32(0)
	for _, s := range w.kube.endpointSlices(svc.Namespace) {
		if s.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == sp.Name && p.Port != nil {
				target = *p.Port
			}
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready && len(e.Addresses) > 0 {
				eps = append(eps, e)
			}
		}
	}
	if len(eps) == 0 || target == 0 {
		return Reach{Outcome: Refused, Reason: fmt.Sprintf("%s: Service %s/%s has no ready endpoints (REJECT)", via, svc.Namespace, svc.Name)}
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Addresses[0] < eps[j].Addresses[0] })
	ip, err := netip.ParseAddr(eps[0].Addresses[0])
	if err != nil {
		return Reach{Outcome: Timeout, Reason: "bad endpoint address " + eps[0].Addresses[0]}
	}
	if ip.String() == APIPrivateEndpoint {
		return Reach{Outcome: Connected, Reason: via + ": Service " + svc.Name + " → the control plane", Backend: hostPort(w.exec.url)}
	}
	pod, ok := w.podByIP(ip)
	if !ok {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("endpoint %s of %s/%s is no running pod", ip, svc.Namespace, svc.Name)}
	}
	r := w.podPort(pod, int(target), fmt.Sprintf("%s: Service %s/%s → pod %s", via, svc.Namespace, svc.Name, pod.Name))
	return r
}

// podPort connects to a pod's port: its backend when a container declares it, else RST.
func (w *World) podPort(pod *corev1.Pod, port int, via string) Reach {
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if int(cp.ContainerPort) != port || (cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP) {
				continue
			}
			app := appOf(pod)
			if app == "kube-dns" && port == 53 {
				return Reach{Outcome: Connected, Reason: via + ":53 (DNS over TCP)", Backend: w.clusterDNS.Addr}
			}
			addr, err := w.backends.addr(app)
			if err != nil {
				return Reach{Outcome: Timeout, Reason: err.Error()}
			}
			return Reach{Outcome: Connected, Reason: fmt.Sprintf("%s:%d", via, port), Backend: addr}
		}
	}
	return Reach{Outcome: Refused, Reason: fmt.Sprintf("%s: nothing listens on port %d", via, port)}
}

// nodePort connects to a node's port: a NodePort Service, else RST.
func (w *World) nodePort(node string, port int) Reach {
	for _, s := range w.kube.services() {
		for _, p := range s.Spec.Ports {
			if int(p.NodePort) == port && (p.Protocol == corev1.ProtocolTCP || p.Protocol == "") {
				return w.viaService(&s, int(p.Port), "NodePort "+strconv.Itoa(port)+" on "+node)
			}
		}
	}
	return Reach{Outcome: Refused, Reason: fmt.Sprintf("node %s: nothing listens on port %d", node, port)}
}

func appOf(pod *corev1.Pod) string {
	for _, k := range []string{"app", "k8s-app", "app.kubernetes.io/name"} {
		if v := pod.Labels[k]; v != "" {
			return v
		}
	}
	return pod.Name
}

// deliver sends a packet from src into network default towards ip:port.
func (w *World) deliver(src source, ip netip.Addr, port int) Reach {
	g := w.gcp
	node := host{tags: []string{NodeTag}, sa: computeSA(Project)}
	local := w.lay.vpc()
	from := local
	if src.kind == "dns-forwarder" {
		from = vpcNet{} // Cloud DNS's forwarders are not VMs of the network: no egress rule governs them
	}
	fw := func(dstIP netip.Addr) (bool, string) {
		return w.firewallAllows(from, local, host{prefix: src.prefix, tags: src.tags, sa: src.sa}, dstIP, node, "tcp", port)
	}
	// An internal passthrough load balancer.
	for _, fr := range g.ForwardingRules(Project, "") {
		if fr.IPAddress != ip.String() {
			continue
		}
		if fr.LoadBalancingScheme != "INTERNAL" {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s is an external load balancer: reached through the internet, which the demo world does not have", ip)}
		}
		return w.viaILB(src, fr, ip, port, fw)
	}
	if svc, ok := w.serviceByClusterIP(ip); ok {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s is the ClusterIP of %s/%s: ClusterIPs exist only in kube-proxy's rules on the nodes, the VPC has no route to them", ip, svc.Namespace, svc.Name)}
	}
	if mustPrefix(ServicesCIDR).Contains(ip) {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s is in the cluster's services range %s: not routable in the VPC", ip, ServicesCIDR)}
	}
	if name, ok := w.nodeByIP(ip); ok {
		if ok, rule := fw(ip); !ok {
			return Reach{Outcome: Timeout, Reason: "to node " + name + ": " + rule}
		}
		return w.nodePort(name, port)
	}
	if ip.String() == APIPrivateEndpoint {
		if port != 443 {
			return Reach{Outcome: Timeout, Reason: "the control plane's private endpoint serves 443 only"}
		}
		if src.region != Region {
			return Reach{Outcome: Timeout, Reason: "the control plane's private endpoint is regional"}
		}
		return Reach{Outcome: Connected, Reason: "the control plane's private endpoint (authorized networks off)", Backend: hostPort(w.exec.url)}
	}
	if rt := w.routeTo(Project, Network, ip); rt != nil && rt.NextHopInstance != "" {
		node := rt.NextHopInstance[strings.LastIndex(rt.NextHopInstance, "/")+1:]
		if ok, rule := fw(ip); !ok {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("to %s via route %s (node %s): %s", ip, rt.Name, node, rule)}
		}
		if pod, ok := w.podByIP(ip); ok {
			return w.podPort(pod, port, fmt.Sprintf("route %s → node %s → pod %s", rt.Name, node, pod.Name))
		}
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("route %s leads to node %s, where no pod has %s", rt.Name, node, ip)}
	}
	if r, ok := w.viaPeering(src, ip, port); ok {
		return r
	}
	if isPrivate(ip) {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("no host at %s in network %s", ip, Network)}
	}
	return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s is on the internet, which the demo world does not have", ip)}
}

// viaILB follows an internal passthrough NLB to its Service's endpoints.
func (w *World) viaILB(src source, fr *compute.ForwardingRule, ip netip.Addr, port int, fw func(netip.Addr) (bool, string)) Reach {
	region := fr.Region[strings.LastIndex(fr.Region, "/")+1:]
	if !w.lay.onNetwork(fr.Network) {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("forwarding rule %s is in another network", fr.Name)}
	}
	if region != src.region && !fr.AllowGlobalAccess {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("internal LB %s is in %s without global access; the client is in %s", ip, region, src.region)}
	}
	if !fr.AllPorts && !portListed(fr.Ports, port) {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("forwarding rule %s does not forward port %d (ports %v)", fr.Name, port, fr.Ports)}
	}
	var desc map[string]string
	_ = json.Unmarshal([]byte(fr.Description), &desc)
	ns, name, _ := strings.Cut(desc[serviceNameKey], "/")
	svc, err := getT[*corev1.Service](w.kube, gvrServices, ns, name)
	if err != nil {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("forwarding rule %s has no backends", fr.Name)}
	}
	// Passthrough: the packet reaches the node with the client's source address.
	if ok, rule := fw(ip); !ok {
		return Reach{Outcome: Timeout, Reason: fmt.Sprintf("internal LB %s → nodes: %s", ip, rule)}
	}
	r := w.viaService(svc, port, fmt.Sprintf("internal LB %s (%s)", ip, fr.Name))
	if r.Outcome == Refused {
		// An LB with no healthy backend drops the packet; it does not answer RST.
		r.Outcome = Timeout
		r.Reason += "; the load balancer has no healthy backend and drops the connection"
	}
	return r
}

func portListed(ports []string, port int) bool {
	for _, p := range ports {
		lo, hi, ok := firewall.ParsePorts(p)
		if ok && port >= lo && port <= hi {
			return true
		}
	}
	return false
}

// routeTo returns the most specific static route of a network covering ip (subnet routes and the
// default route aside).
func (w *World) routeTo(project, network string, ip netip.Addr) *compute.Route {
	var best *compute.Route
	bestBits := -1
	for _, rt := range w.gcp.Routes(project) {
		if !sameNetwork(rt.Network, project, network) || rt.NextHopGateway != "" {
			continue
		}
		p, err := netip.ParsePrefix(rt.DestRange)
		if err != nil || !p.Contains(ip) || len(rt.Tags) > 0 {
			continue
		}
		if p.Bits() > bestBits {
			best, bestBits = rt, p.Bits()
		}
	}
	return best
}

// viaPeering follows a packet into a peered network and checks the way back (seed 004).
func (w *World) viaPeering(src source, ip netip.Addr, port int) (Reach, bool) {
	g := w.gcp
	local, ok := g.Network(Project, Network)
	if !ok {
		return Reach{}, false
	}
	for _, pe := range local.Peerings {
		pp, pn, ok := parseNetworkLink(pe.Network)
		if !ok {
			continue
		}
		peer, ok := g.Network(pp, pn)
		if !ok {
			continue
		}
		ranges := w.subnetRanges(pp, pn)
		if !inAny(ip, ranges) {
			continue
		}
		var back *compute.NetworkPeering
		for _, bp := range peer.Peerings {
			if bpp, bpn, ok := parseNetworkLink(bp.Network); ok && bpp == Project && bpn == Network {
				back = bp
			}
		}
		if back == nil || pe.State != "ACTIVE" || back.State != "ACTIVE" {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("peering %s is not ACTIVE", pe.Name)}, true
		}
		// The way back: the peer knows our subnet ranges always, our custom routes only when we
		// export them and it imports them.
		srcIP := src.prefix.Addr()
		backOK := false
		via := ""
		for _, r := range w.subnetRanges(Project, Network) {
			if q := mustPrefix(r); q.Bits() <= src.prefix.Bits() && q.Contains(srcIP) {
				backOK, via = true, "subnet route "+r
			}
		}
		if rt := w.routeTo(Project, Network, srcIP); !backOK && rt != nil && pe.ExportCustomRoutes && back.ImportCustomRoutes {
			backOK, via = true, "custom route "+rt.Name+" ("+rt.DestRange+"), exchanged over the peering"
		}
		if !backOK {
			why := "no route back"
			if rt := w.routeTo(Project, Network, srcIP); rt != nil {
				why = fmt.Sprintf("no route back: %s is covered by custom route %s (%s), which is not exchanged (export on %s: %v, import on %s: %v)",
					srcIP, rt.Name, rt.DestRange, pe.Name, pe.ExportCustomRoutes, back.Name, back.ImportCustomRoutes)
			}
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("%s/%s can reach %s, but %s", pp, pn, ip, why)}, true
		}
		dst := host{tags: nil}
		isHost := pp == PeerProject && ip.String() == PeerHost
		if isHost {
			dst = host{tags: []string{PeerHostTag}, sa: computeSA(PeerProject)}
		}
		if ok, rule := w.firewallAllows(vpcNet{Project, Network}, vpcNet{pp, pn}, host{prefix: src.prefix, tags: src.tags}, ip, dst, "tcp", port); !ok {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("in %s/%s: %s", pp, pn, rule)}, true
		}
		if !isHost {
			return Reach{Outcome: Timeout, Reason: fmt.Sprintf("no host at %s in %s/%s", ip, pp, pn)}, true
		}
		if port != 80 && port != 443 {
			return Reach{Outcome: Refused, Reason: fmt.Sprintf("%s (%s) listens on 80 and 443 only", PeerHostName, ip)}, true
		}
		addr, err := w.backends.addr("partner-api")
		if err != nil {
			return Reach{Outcome: Timeout, Reason: err.Error()}, true
		}
		return Reach{Outcome: Connected, Reason: fmt.Sprintf("peering %s to %s (%s); back via %s", pe.Name, PeerHostName, ip, via), Backend: addr}, true
	}
	return Reach{}, false
}

func parseNetworkLink(v string) (project, network string, ok bool) {
	project, network = gref.SplitNetwork(v)
	return project, network, project != "" && network != ""
}

// subnetRanges are the ranges of a network's subnets the world knows (fakegcp has no subnetwork
// reader, and the world made them).
func (w *World) subnetRanges(project, network string) []string {
	switch {
	case project == Project && network == Network:
		return []string{NodeCIDR}
	case project == PeerProject && network == PeerNetwork:
		return []string{PeerRange}
	}
	return nil
}

// sameNetwork reports whether a network reference (a name, a partial path or a URL; "" is the
// default network) names project/network.
func sameNetwork(ref, project, network string) bool {
	if ref == "" {
		ref = "default"
	}
	return gref.SameNetwork(ref, network, project)
}
