package model

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ILB annotation keys (kubernetes/cloud-provider-gcp gce_annotations.go) and GKE's internal
// load-balancer class.
const (
	AnnotationLBType       = "networking.gke.io/load-balancer-type"
	AnnotationLBTypeLegacy = "cloud.google.com/load-balancer-type"
	AnnotationGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
	ILBClassPrefix         = "networking.gke.io/l4-regional-internal"
)

// Exposure is how a Service can be reached.
type Exposure string

const (
	ExposeClusterIP    Exposure = "ClusterIP"      // a virtual IP inside the cluster only
	ExposeInternalLB   Exposure = "internal L4 LB" // a passthrough internal load balancer in the VPC
	ExposeExternalLB   Exposure = "external LB"    // a load balancer on the internet
	ExposeNodePort     Exposure = "NodePort"       // a port on every node
	ExposeHeadless     Exposure = "headless"       // no virtual IP: DNS answers with pod IPs
	ExposeExternalName Exposure = "ExternalName"   // a CNAME to another name
)

// ExposureOf says how s can be reached.
func ExposureOf(s *corev1.Service) Exposure {
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		return ExposeExternalName
	case s.Spec.Type == corev1.ServiceTypeLoadBalancer && IsInternalLB(s):
		return ExposeInternalLB
	case s.Spec.Type == corev1.ServiceTypeLoadBalancer:
		return ExposeExternalLB
	case s.Spec.Type == corev1.ServiceTypeNodePort:
		return ExposeNodePort
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		return ExposeHeadless
	}
	return ExposeClusterIP
}

// IsInternalLB reports whether a LoadBalancer Service asks for an internal LB: either annotation key
// (case-insensitive "Internal"), or spec.loadBalancerClass networking.gke.io/l4-regional-internal.
func IsInternalLB(s *corev1.Service) bool {
	if s == nil || s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	// As GKE's controller reads it (cloud-provider-gcp GetLoadBalancerAnnotationType): the first
	// annotation present decides, and only "Internal" or "internal" make an internal LB — "INTERNAL"
	// or " Internal" get an external one.
	for _, k := range []string{AnnotationLBType, AnnotationLBTypeLegacy} {
		if v, ok := s.Annotations[k]; ok {
			return v == "Internal" || v == "internal"
		}
	}
	return s.Spec.LoadBalancerClass != nil && strings.HasPrefix(*s.Spec.LoadBalancerClass, ILBClassPrefix)
}

// IngressIP is the first status.loadBalancer.ingress IP ("" while pending).
func IngressIP(s *corev1.Service) string {
	if s == nil {
		return ""
	}
	for _, in := range s.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
	}
	return ""
}

// ClusterIPs are the Service's virtual IPs (none for headless and ExternalName Services).
func ClusterIPs(s *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
		if a, err := netip.ParseAddr(ip); err == nil && !contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func contains(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// PortOf returns the port of s a client reaching it on port uses: the one with that number, else the
// first (nil when s has none).
func PortOf(s *corev1.Service, port int) *corev1.ServicePort {
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

// AddrKind is what an address is to the Service that answers on it.
type AddrKind string

const (
	AddrClusterIP  AddrKind = "ClusterIP"
	AddrInternalLB AddrKind = "internal load balancer IP"
	AddrExternalLB AddrKind = "external load balancer IP"
	AddrPodIP      AddrKind = "pod IP of headless Service"
)

// Owner is a Service answering on an address, and how.
type Owner struct {
	Service *corev1.Service
	Kind    AddrKind
}

// Ref is NS/NAME.
func (o Owner) Ref() string { return o.Service.Namespace + "/" + o.Service.Name }

// Services indexes a cluster's Services by namespace/name and by every address they answer on.
type Services struct {
	all    []corev1.Service
	byName map[string]*corev1.Service
	byAddr map[netip.Addr][]Owner
	// bySelector groups LoadBalancer Services by namespace and selector, for the sibling finder.
	lbs map[string][]*corev1.Service
}

// NewServices indexes list (kept, not copied). Building it is linear in the number of Services.
func NewServices(list []corev1.Service) *Services {
	s := &Services{all: list, byName: make(map[string]*corev1.Service, len(list)),
		byAddr: make(map[netip.Addr][]Owner, len(list)), lbs: map[string][]*corev1.Service{}}
	for i := range list {
		svc := &list[i]
		s.byName[svc.Namespace+"/"+svc.Name] = svc
		for _, a := range ClusterIPs(svc) {
			s.byAddr[a] = append(s.byAddr[a], Owner{svc, AddrClusterIP})
		}
		// Ingress IPs count whatever the type says now: a status left from an earlier type is still
		// where a client's packets go.
		kind := AddrExternalLB
		if IsInternalLB(svc) {
			kind = AddrInternalLB
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				s.byAddr[a.Unmap()] = append(s.byAddr[a.Unmap()], Owner{svc, kind})
			}
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			k := svc.Namespace + "\x00" + selectorKey(svc.Spec.Selector)
			s.lbs[k] = append(s.lbs[k], svc)
		}
	}
	return s
}

// AddEndpoints indexes the pod IPs of headless Services from their EndpointSlices.
func (s *Services) AddEndpoints(slices []discoveryv1.EndpointSlice) {
	for i := range slices {
		es := &slices[i]
		svc := s.Get(es.Namespace, es.Labels[discoveryv1.LabelServiceName])
		if svc == nil || ExposureOf(svc) != ExposeHeadless {
			continue
		}
		for _, ep := range es.Endpoints {
			for _, ip := range ep.Addresses {
				if a, err := netip.ParseAddr(ip); err == nil {
					s.byAddr[a.Unmap()] = append(s.byAddr[a.Unmap()], Owner{svc, AddrPodIP})
				}
			}
		}
	}
}

// All returns the indexed Services.
func (s *Services) All() []corev1.Service {
	if s == nil {
		return nil
	}
	return s.all
}

// Get returns NS/NAME, or nil.
func (s *Services) Get(ns, name string) *corev1.Service {
	if s == nil {
		return nil
	}
	return s.byName[ns+"/"+name]
}

// OwnersOf returns every Service that answers on a, ClusterIPs first.
func (s *Services) OwnersOf(a netip.Addr) []Owner {
	if s == nil {
		return nil
	}
	return s.byAddr[a.Unmap()]
}

// OwnerOf returns the Service that answers on a (a ClusterIP before a load-balancer IP); ok false
// when no Service does. preferNS, when not "", wins among several owners (a name NAME.NS.zone says
// which namespace it means).
func (s *Services) OwnerOf(a netip.Addr, preferNS string) (Owner, bool) {
	os := s.OwnersOf(a)
	if len(os) == 0 {
		return Owner{}, false
	}
	if preferNS != "" {
		for _, o := range os {
			if o.Service.Namespace == preferNS {
				return o, true
			}
		}
	}
	return os[0], true
}

// InternalLBFor is the one internal-load-balancer finder: the internal LB that exposes svc for a
// client using port sp — svc itself when it is one, else a sibling internal LoadBalancer Service in
// the same namespace selecting the same pods and reaching the same target port (NAME-ilb first, then
// provisioned ones, then by name). It returns the Service and its port for sp (nil, 0 when none).
func (s *Services) InternalLBFor(svc *corev1.Service, sp *corev1.ServicePort) (*corev1.Service, int) {
	if svc == nil {
		return nil, 0
	}
	if IsInternalLB(svc) {
		return svc, portNumber(sp, svc)
	}
	return s.siblingLB(svc, sp, true)
}

// ExternalLBFor finds an external LoadBalancer for svc the same way (svc itself when it is one).
func (s *Services) ExternalLBFor(svc *corev1.Service, sp *corev1.ServicePort) (*corev1.Service, int) {
	if svc == nil {
		return nil, 0
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && !IsInternalLB(svc) {
		return svc, portNumber(sp, svc)
	}
	return s.siblingLB(svc, sp, false)
}

func portNumber(sp *corev1.ServicePort, svc *corev1.Service) int {
	if sp != nil {
		return int(sp.Port)
	}
	if len(svc.Spec.Ports) > 0 {
		return int(svc.Spec.Ports[0].Port)
	}
	return 0
}

func (s *Services) siblingLB(svc *corev1.Service, sp *corev1.ServicePort, internal bool) (*corev1.Service, int) {
	if s == nil || len(svc.Spec.Selector) == 0 {
		return nil, 0
	}
	type cand struct {
		svc  *corev1.Service
		port int
	}
	var cands []cand
	for _, o := range s.lbs[svc.Namespace+"\x00"+selectorKey(svc.Spec.Selector)] {
		if o.Name == svc.Name || IsInternalLB(o) != internal {
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
		if (a.svc.Name == svc.Name+"-ilb") != (b.svc.Name == svc.Name+"-ilb") {
			return a.svc.Name == svc.Name+"-ilb"
		}
		if (IngressIP(a.svc) != "") != (IngressIP(b.svc) != "") {
			return IngressIP(a.svc) != ""
		}
		return a.svc.Name < b.svc.Name
	})
	return cands[0].svc, cands[0].port
}

// selectorKey is a canonical spelling of a selector (equal selectors, equal keys).
func selectorKey(sel map[string]string) string {
	if len(sel) == 0 {
		return ""
	}
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(sel[k])
		b.WriteByte(0)
	}
	return b.String()
}

// matchingPort returns o's port that reaches the same pod port as sp (o's first port when sp is nil).
func matchingPort(o *corev1.Service, sp *corev1.ServicePort) (int, bool) {
	if sp == nil {
		if len(o.Spec.Ports) > 0 {
			return int(o.Spec.Ports[0].Port), true
		}
		return 0, false
	}
	target := func(p corev1.ServicePort) string {
		if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
			return strconv.Itoa(int(p.Port))
		}
		return p.TargetPort.String()
	}
	want := target(*sp)
	for _, p := range o.Spec.Ports {
		if target(p) == want && p.Protocol == sp.Protocol {
			return int(p.Port), true
		}
	}
	return 0, false
}

// Fronted returns the Service a load balancer Service exposes: NAME for NAME-ilb (the layout the
// reachability fix creates) when NAME exists, else lb itself.
func (s *Services) Fronted(lb *corev1.Service) *corev1.Service {
	if base, ok := strings.CutSuffix(lb.Name, "-ilb"); ok {
		if t := s.Get(lb.Namespace, base); t != nil {
			return t
		}
	}
	return lb
}

// OwnerOfKind returns the first Service answering on a in one of kinds.
func (s *Services) OwnerOfKind(a netip.Addr, kinds ...AddrKind) (Owner, bool) {
	for _, o := range s.OwnersOf(a) {
		for _, k := range kinds {
			if o.Kind == k {
				return o, true
			}
		}
	}
	return Owner{}, false
}
