package checks

// Shared facts of the reachability checks (FAILURE-MODES §1): the cluster's ranges and network, each
// destination resolved to the Service and the address the client's packets go to, and the internal
// load balancer that exposes it. The supporting checks (run-vpc-egress, vpc-connector-ready,
// ilb-provisioned, firewall-serverless-to-nodes) and the primary (clusterip-unreachable) all read
// these through inventory.Memo, so each fact is gathered once per run whoever asks first.

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	container "google.golang.org/api/container/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// ILB annotation keys (kubernetes/cloud-provider-gcp gce_annotations.go).
const (
	AnnotationLBType       = "networking.gke.io/load-balancer-type"
	AnnotationLBTypeLegacy = "cloud.google.com/load-balancer-type"
	AnnotationGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
	ilbClassPrefix         = "networking.gke.io/l4-regional-internal"
)

// clusterFacts are the cluster-side facts of the path, from the container API.
type clusterFacts struct {
	Cluster        *container.Cluster
	Err            error // why Cluster is nil
	Services, Pods netip.Prefix
	NetworkProject string // the VPC's project: the Shared VPC host, or the cluster's project
	Network        string // short name
	Region         string
	MasterVersion  string
}

func (f clusterFacts) networkLink() string {
	if f.Network == "" {
		return ""
	}
	return "projects/" + f.NetworkProject + "/global/networks/" + f.Network
}

func getClusterFacts(ctx context.Context, env *Env) clusterFacts {
	f := clusterFacts{Region: Region(env.Inv.Scope.Location), NetworkProject: env.Inv.Scope.Project}
	c, err := env.Inv.Cluster(ctx)
	if err != nil {
		f.Err = err
		return f
	}
	f.Cluster = c
	if c.Location != "" {
		f.Region = Region(c.Location)
	}
	f.MasterVersion = c.CurrentMasterVersion
	svc := c.ServicesIpv4Cidr
	pods := c.ClusterIpv4Cidr
	if p := c.IpAllocationPolicy; p != nil {
		if svc == "" {
			svc = p.ServicesIpv4CidrBlock
		}
		if pods == "" {
			pods = p.ClusterIpv4CidrBlock
		}
	}
	if pr, err := netip.ParsePrefix(svc); err == nil {
		f.Services = pr.Masked()
	}
	if pr, err := netip.ParsePrefix(pods); err == nil {
		f.Pods = pr.Masked()
	}
	f.Network = c.Network
	if c.NetworkConfig != nil && c.NetworkConfig.Network != "" {
		p, n := firewall.SplitNetwork(c.NetworkConfig.Network)
		f.Network = n
		if p != "" {
			f.NetworkProject = p
		}
	}
	if f.Network == "" {
		f.Network = "default"
	}
	return f
}

func clusterCommand(env *Env) string {
	s := env.Inv.Scope
	return fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format='value(servicesIpv4Cidr,clusterIpv4Cidr,networkConfig.network,currentMasterVersion)'",
		orPlaceholder(s.Cluster, "CLUSTER"), orPlaceholder(s.Location, "LOCATION"), orPlaceholder(s.Project, "PROJECT"))
}

func orPlaceholder(s, ph string) string {
	if s == "" {
		return ph
	}
	return s
}

// target is one destination with the facts every aspect of the path needs.
type target struct {
	Dest     Dest
	Svc      *corev1.Service     // the Service the client means; nil when not in the cluster or not found
	SvcPort  *corev1.ServicePort // the port of Svc the client uses
	ILB      *corev1.Service     // the internal LB Service exposing Svc (Svc itself or a sibling)
	ILBPort  int                 // ILB's port for SvcPort
	LBIP     string              // ILB's ingress IP when provisioned
	External *corev1.Service     // an external LB for Svc, when there is no internal one
	Addr     netip.Addr          // where the client's packets go; invalid when unknown
	Port     int                 // destination port of the packets
	Protocol string              // tcp or udp
	Class    string              // how Addr classifies, for people
	Err      error               // could not look at the cluster's Services
}

// Ref names the target.
func (t *target) Ref() string { return t.Dest.Ref() }

// usesILB reports whether the client's packets go to the internal LB.
func (t *target) usesILB() bool { return t.LBIP != "" && t.Addr.IsValid() && t.Addr.String() == t.LBIP }

// addrPort is IP:PORT of the packets, or the host the client uses when the address is unknown.
func (t *target) addrPort() string {
	if t.Addr.IsValid() {
		return netip.AddrPortFrom(t.Addr, uint16(t.Port)).String()
	}
	return t.Dest.Host + ":" + strconv.Itoa(t.Port)
}

// reachFacts are the path and its targets.
type reachFacts struct {
	Path    *Path
	Cluster clusterFacts
	Targets []*target
	// RunErr is why the Cloud Run services could not be listed, when discovery went on without them.
	RunErr error
}

// sourcesOf returns the sources whose packets go to t: its own source, or every source for --service.
func (f *reachFacts) sourcesOf(t *target) []*Source {
	var out []*Source
	for i := range f.Path.Sources {
		s := &f.Path.Sources[i]
		if t.Dest.Source == "" || t.Dest.Source == s.Name {
			out = append(out, s)
		}
	}
	return out
}

// targetsOf returns the targets a source sends packets to.
func (f *reachFacts) targetsOf(s *Source) []*target {
	var out []*target
	for _, t := range f.Targets {
		if t.Dest.Source == "" || t.Dest.Source == s.Name {
			out = append(out, t)
		}
	}
	return out
}

// getReachFacts discovers the path and resolves its targets, once per run.
func getReachFacts(ctx context.Context, env *Env) (*reachFacts, error) {
	return inventory.Memo(ctx, env.Inv, "derived/reach/facts", func(ctx context.Context) (*reachFacts, error) {
		p, err := DiscoverPath(ctx, env)
		if err != nil {
			return nil, err
		}
		f := &reachFacts{Path: p, Cluster: getClusterFacts(ctx, env)}
		if env.Targets.CloudRunService == "" && env.Inv.Scope.Project != "" && env.Inv.Scope.Location != "" {
			if _, err := env.Inv.RunServices(ctx, Region(env.Inv.Scope.Location)); err != nil {
				f.RunErr = err
			}
		}
		var all []corev1.Service
		var allErr error
		if len(p.Dests) > 0 {
			all, allErr = env.Inv.Services(ctx)
		}
		for _, d := range p.Dests {
			f.Targets = append(f.Targets, resolveTarget(d, all, allErr, f.Cluster))
		}
		return f, nil
	})
}

func resolveTarget(d Dest, all []corev1.Service, allErr error, cf clusterFacts) *target {
	t := &target{Dest: d, Svc: d.Service, Port: d.Port, Protocol: "tcp"}
	if ip, err := netip.ParseAddr(d.Host); err == nil {
		t.Addr = ip.Unmap()
	} else if d.Resolved.IsValid() {
		t.Addr = d.Resolved // a name in a private zone: packets go where its A record points
	}
	if t.Svc != nil {
		t.SvcPort = servicePort(t.Svc, d.Port)
		if t.SvcPort != nil && t.SvcPort.Protocol == corev1.ProtocolUDP {
			t.Protocol = "udp"
		}
		if t.Svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			if isInternalLB(t.Svc) {
				t.ILB, t.ILBPort = t.Svc, svcPortNumber(t.SvcPort, d.Port)
			} else {
				t.External = t.Svc
			}
		}
		if t.ILB == nil {
			if allErr != nil {
				t.Err = allErr
			} else if ilb, port := findSiblingILB(t.Svc, t.SvcPort, all); ilb != nil {
				t.ILB, t.ILBPort = ilb, port
			} else if t.External == nil {
				t.External, _ = findSiblingLB(t.Svc, t.SvcPort, all, false)
			}
		}
		if t.ILB != nil {
			t.LBIP = ingressIP(t.ILB)
		}
		// Where the packets go: an IP literal in the URL is where they go, on the URL's port; a
		// cluster name or --service reaches the Service at its internal LB once one is provisioned
		// (publishing a name for it is the DNS checks' part), else at its ClusterIP.
		if !t.Addr.IsValid() || d.Kind == TargetFlag {
			t.Addr = netip.Addr{}
			t.Port = svcPortNumber(t.SvcPort, d.Port)
			switch {
			case t.LBIP != "":
				t.Addr, _ = netip.ParseAddr(t.LBIP)
				t.Port = t.ILBPort
			case t.Svc.Spec.ClusterIP != "" && t.Svc.Spec.ClusterIP != corev1.ClusterIPNone:
				t.Addr, _ = netip.ParseAddr(t.Svc.Spec.ClusterIP)
			}
		}
	}
	if t.Svc == nil && allErr != nil && d.Kind != TargetOtherName {
		t.Err = allErr // whether the host is a Service of this cluster is unknown
	}
	t.Class = classify(t.Addr, all, cf)
	return t
}

// classify says what kind of address a is: against the services range, the pod range and the
// load balancers' IPs.
func classify(a netip.Addr, all []corev1.Service, cf clusterFacts) string {
	if !a.IsValid() {
		return "unknown address"
	}
	for i := range all {
		s := &all[i]
		for _, cip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if cip == a.String() {
				return fmt.Sprintf("ClusterIP of %s/%s", s.Namespace, s.Name)
			}
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP == a.String() {
				kind := "external"
				if isInternalLB(s) {
					kind = "internal"
				}
				return fmt.Sprintf("%s load balancer IP of %s/%s", kind, s.Namespace, s.Name)
			}
		}
	}
	switch {
	case cf.Services.IsValid() && cf.Services.Contains(a):
		return "in the cluster's services range " + cf.Services.String() + " (a ClusterIP)"
	case cf.Pods.IsValid() && cf.Pods.Contains(a):
		return "in the cluster's pod range " + cf.Pods.String() + " (a pod IP)"
	}
	return "an address outside the cluster's services and pod ranges"
}

// isClusterIPAddr reports whether a is a ClusterIP: in the services range or a Service's ClusterIP.
func (t *target) isClusterIPAddr(cf clusterFacts) bool {
	if !t.Addr.IsValid() {
		return false
	}
	if strings.HasPrefix(t.Class, "ClusterIP") {
		return true
	}
	return cf.Services.IsValid() && cf.Services.Contains(t.Addr)
}

func svcPortNumber(p *corev1.ServicePort, fallback int) int {
	if p != nil {
		return int(p.Port)
	}
	return fallback
}

func servicePort(s *corev1.Service, port int) *corev1.ServicePort {
	for i := range s.Spec.Ports {
		if int(s.Spec.Ports[i].Port) == port {
			return &s.Spec.Ports[i]
		}
	}
	if len(s.Spec.Ports) > 0 {
		return &s.Spec.Ports[0]
	}
	return nil
}

// isInternalLB reports whether a LoadBalancer Service asks for an internal LB: either annotation key
// (case-insensitive "Internal"), or spec.loadBalancerClass networking.gke.io/l4-regional-internal.
func isInternalLB(s *corev1.Service) bool {
	if s == nil || s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	for _, k := range []string{AnnotationLBType, AnnotationLBTypeLegacy} {
		if v, ok := s.Annotations[k]; ok {
			return strings.EqualFold(strings.TrimSpace(v), "internal")
		}
	}
	return s.Spec.LoadBalancerClass != nil && strings.HasPrefix(*s.Spec.LoadBalancerClass, ilbClassPrefix)
}

func ingressIP(s *corev1.Service) string {
	for _, in := range s.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
	}
	return ""
}

// findSiblingILB finds an internal LoadBalancer Service in the same namespace selecting the same pods
// on the same target port: the NAME-ilb pattern. NAME-ilb is preferred, then provisioned ones.
func findSiblingILB(s *corev1.Service, sp *corev1.ServicePort, all []corev1.Service) (*corev1.Service, int) {
	return findSiblingLB(s, sp, all, true)
}

func findSiblingLB(s *corev1.Service, sp *corev1.ServicePort, all []corev1.Service, internal bool) (*corev1.Service, int) {
	if len(s.Spec.Selector) == 0 {
		return nil, 0
	}
	type cand struct {
		svc  *corev1.Service
		port int
	}
	var cands []cand
	for i := range all {
		o := &all[i]
		if o.Namespace != s.Namespace || o.Name == s.Name || o.Spec.Type != corev1.ServiceTypeLoadBalancer ||
			isInternalLB(o) != internal || !sameSelector(o.Spec.Selector, s.Spec.Selector) {
			continue
		}
		if port, ok := matchingPort(o, sp); ok {
			cands = append(cands, cand{o, port})
		}
	}
	if len(cands) == 0 {
		return nil, 0
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if (a.svc.Name == s.Name+"-ilb") != (b.svc.Name == s.Name+"-ilb") {
			return a.svc.Name == s.Name+"-ilb"
		}
		if (ingressIP(a.svc) != "") != (ingressIP(b.svc) != "") {
			return ingressIP(a.svc) != ""
		}
		return a.svc.Name < b.svc.Name
	})
	return cands[0].svc, cands[0].port
}

func sameSelector(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// matchingPort returns o's port that reaches the same pod port as sp.
func matchingPort(o *corev1.Service, sp *corev1.ServicePort) (int, bool) {
	if sp == nil {
		if len(o.Spec.Ports) > 0 {
			return int(o.Spec.Ports[0].Port), true
		}
		return 0, false
	}
	want := sp.TargetPort.String()
	if sp.TargetPort.IntValue() == 0 && sp.TargetPort.StrVal == "" {
		want = strconv.Itoa(int(sp.Port))
	}
	for _, p := range o.Spec.Ports {
		got := p.TargetPort.String()
		if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
			got = strconv.Itoa(int(p.Port))
		}
		if got == want && p.Protocol == sp.Protocol {
			return int(p.Port), true
		}
	}
	return 0, false
}

// isPrivate reports whether Serverless VPC Access sends a in PRIVATE_RANGES_ONLY mode: RFC 1918 and
// RFC 6598 ranges.
func isPrivate(a netip.Addr) bool {
	for _, p := range privateRanges {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
}

// couldNotLook collects the reasons a verdict could not be confirmed.
type couldNotLook struct{ errs []error }

func (c *couldNotLook) add(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// result is the honest skip for the first reason, classified (a missing permission is named).
func (c *couldNotLook) result(what string) Result { return FromErr(what, c.errs[0]) }

// kubectlSvc is the kubectl command that shows a Service's reachability fields.
func kubectlSvc(ns, name string) string {
	return fmt.Sprintf("kubectl get service %s -n %s -o jsonpath='{.spec.type} {.spec.clusterIP} {.metadata.annotations} {.status.loadBalancer.ingress}'", name, ns)
}

func kubectlEvents(ns, name string) string {
	return fmt.Sprintf("kubectl get events -n %s --field-selector involvedObject.kind=Service,involvedObject.name=%s", ns, name)
}

func runDescribe(s *Source) string {
	return fmt.Sprintf("gcloud run services describe %s --region %s --project %s --format='value(template.vpcAccess)'", s.Name, s.Location, projectOf(s.FullName))
}

// sourceLabel names a source with its location.
func sourceLabel(s *Source) string {
	return fmt.Sprintf("Cloud Run %s (%s)", s.Name, s.Location)
}

// noTargetsReason explains why there is nothing to analyse.
func noTargetsReason(f *reachFacts) string {
	msg := "not applicable: no target: no Cloud Run service with VPC access calls a GKE Service by URL in its environment, and no --service NS/NAME was given"
	if len(f.Path.Notes) > 0 {
		msg += " (" + strings.Join(f.Path.Notes, "; ") + ")"
	}
	return msg
}

// reachSkip turns a failed discovery into the honest result (skip naming what was missing).
func reachSkip(err error) Result {
	return FromErr("discover the path from Cloud Run to the cluster", err)
}
