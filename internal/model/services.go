package model

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
//
// A large cluster has tens of thousands of Services, and the model keeps them for the whole run, so
// it keeps each in a compact record of what the checks read (svcRecord) rather than the listed
// object: a *corev1.Service holding those fields is built when a check first asks for that Service
// (Get, OwnersOf, the load-balancer finders), once, so every caller gets the same pointer. The
// decoded list is garbage as soon as it is indexed.
type Services struct {
	n      int
	chunks [][]svcRecord // one per indexed list (page): records never move, the indexes point at them
	byName map[nsName]*svcRecord
	byAddr map[netip.Addr]owners
	// lbs groups LoadBalancer Services by namespace and selector, for the sibling finder.
	lbs map[string][]*svcRecord
	// namespaces interns namespace names (thousands of Services share a few hundred).
	namespaces map[string]string
}

type nsName struct{ ns, name string }

type ownerRef struct {
	rec  *svcRecord
	kind AddrKind
}

// owners are the Services answering on one address: almost always one, kept without an allocation.
type owners struct {
	first ownerRef
	more  []ownerRef
}

// svcRecord is what the model keeps of a Service: the fields the checks and fixes read (metadata
// name, namespace, uid, resourceVersion, creationTimestamp; spec type, clusterIP(s), ports,
// selector; for load balancers and ExternalName Services also the annotations, class, IP, source
// ranges, traffic policy, health-check port, externalName and status.loadBalancer). Not kept:
// labels, managedFields, owner references, finalizers, IP families, session affinity — and the
// annotations of Services that are not load balancers, which no check reads. A check that needs a
// Service in full reads it with inventory.Service (a GET); fixes always do.
type svcRecord struct {
	name, namespace string
	uid             types.UID
	resourceVersion string
	created         metav1.Time
	typ             corev1.ServiceType
	clusterIP       string
	// clusterIPs is spec.clusterIPs when it is not exactly [clusterIP] (ipsSame).
	clusterIPs []string
	ipsSame    bool
	ports      []corev1.ServicePort
	selector   string // selectorKey form; the map is rebuilt for the materialised Service
	lb         *svcLB
	svc        atomic.Pointer[corev1.Service]
}

// svcLB is the part of a Service that matters only for load balancers and ExternalName Services.
type svcLB struct {
	annotations   map[string]string
	class         *string
	ip            string
	sourceRanges  []string
	trafficPolicy corev1.ServiceExternalTrafficPolicy
	hcNodePort    int32
	externalName  string
	ingress       []corev1.LoadBalancerIngress
}

// NewServices indexes list. Building it is linear in the number of Services.
func NewServices(list []corev1.Service) *Services {
	s := newServices(len(list))
	s.Add(list)
	return s
}

func newServices(hint int) *Services {
	return &Services{byName: make(map[nsName]*svcRecord, hint), byAddr: make(map[netip.Addr]owners, hint),
		lbs: map[string][]*svcRecord{}, namespaces: map[string]string{}}
}

// NewServicesSized returns an empty index expecting about n Services, to fill with Add page by page.
func NewServicesSized(n int) *Services { return newServices(n) }

// Add indexes more Services (a page of a list). list is not kept.
func (s *Services) Add(list []corev1.Service) {
	if len(list) == 0 {
		return
	}
	chunk := make([]svcRecord, len(list))
	s.chunks = append(s.chunks, chunk)
	s.n += len(list)
	for i := range list {
		svc := &list[i]
		r := &chunk[i]
		s.fill(r, svc)
		s.byName[nsName{r.namespace, r.name}] = r
		for _, a := range ClusterIPs(svc) {
			s.addOwner(a, ownerRef{r, AddrClusterIP})
		}
		// Ingress IPs count whatever the type says now: a status left from an earlier type is still
		// where a client's packets go.
		kind := AddrExternalLB
		if IsInternalLB(svc) {
			kind = AddrInternalLB
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				s.addOwner(a.Unmap(), ownerRef{r, kind})
			}
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			k := r.namespace + "\x00" + r.selector
			s.lbs[k] = append(s.lbs[k], r)
		}
	}
}

func (s *Services) fill(r *svcRecord, svc *corev1.Service) {
	ns, ok := s.namespaces[svc.Namespace]
	if !ok {
		ns = svc.Namespace
		s.namespaces[ns] = ns
	}
	sp := &svc.Spec
	*r = svcRecord{name: svc.Name, namespace: ns, uid: svc.UID, resourceVersion: svc.ResourceVersion, created: svc.CreationTimestamp,
		typ: sp.Type, clusterIP: sp.ClusterIP, ports: sp.Ports, selector: selectorKey(sp.Selector)}
	if len(sp.ClusterIPs) == 1 && sp.ClusterIPs[0] == sp.ClusterIP {
		r.ipsSame = true
	} else {
		r.clusterIPs = sp.ClusterIPs
	}
	if sp.Type == corev1.ServiceTypeLoadBalancer || sp.Type == corev1.ServiceTypeExternalName || len(svc.Status.LoadBalancer.Ingress) > 0 ||
		sp.LoadBalancerClass != nil || sp.LoadBalancerIP != "" || len(sp.LoadBalancerSourceRanges) > 0 || sp.ExternalName != "" {
		r.lb = &svcLB{class: sp.LoadBalancerClass, ip: sp.LoadBalancerIP, sourceRanges: sp.LoadBalancerSourceRanges,
			trafficPolicy: sp.ExternalTrafficPolicy, hcNodePort: sp.HealthCheckNodePort, externalName: sp.ExternalName,
			ingress: svc.Status.LoadBalancer.Ingress}
		if sp.Type == corev1.ServiceTypeLoadBalancer {
			r.lb.annotations = svc.Annotations
		}
	}
}

func (s *Services) addOwner(a netip.Addr, o ownerRef) {
	cur, ok := s.byAddr[a]
	if !ok {
		s.byAddr[a] = owners{first: o}
		return
	}
	cur.more = append(cur.more, o)
	s.byAddr[a] = cur
}

// service is the record as a *corev1.Service, built on first use and the same pointer after.
func (r *svcRecord) service() *corev1.Service {
	if p := r.svc.Load(); p != nil {
		return p
	}
	out := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: r.name, Namespace: r.namespace, UID: r.uid, ResourceVersion: r.resourceVersion, CreationTimestamp: r.created},
		Spec: corev1.ServiceSpec{Type: r.typ, ClusterIP: r.clusterIP, ClusterIPs: r.clusterIPs, Ports: r.ports,
			Selector: selectorMap(r.selector)},
	}
	if r.ipsSame {
		out.Spec.ClusterIPs = []string{r.clusterIP}
	}
	if lb := r.lb; lb != nil {
		out.Annotations = lb.annotations
		out.Spec.LoadBalancerClass, out.Spec.LoadBalancerIP, out.Spec.LoadBalancerSourceRanges = lb.class, lb.ip, lb.sourceRanges
		out.Spec.ExternalTrafficPolicy, out.Spec.HealthCheckNodePort, out.Spec.ExternalName = lb.trafficPolicy, lb.hcNodePort, lb.externalName
		out.Status.LoadBalancer.Ingress = lb.ingress
	}
	if r.svc.CompareAndSwap(nil, out) {
		return out
	}
	return r.svc.Load()
}

// AddEndpoints indexes the pod IPs of headless Services from their EndpointSlices.
func (s *Services) AddEndpoints(slices []discoveryv1.EndpointSlice) {
	for i := range slices {
		es := &slices[i]
		r := s.byName[nsName{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}]
		if r == nil || ExposureOf(r.service()) != ExposeHeadless {
			continue
		}
		for _, ep := range es.Endpoints {
			for _, ip := range ep.Addresses {
				if a, err := netip.ParseAddr(ip); err == nil {
					s.addOwner(a.Unmap(), ownerRef{r, AddrPodIP})
				}
			}
		}
	}
}

// Len is the number of indexed Services.
func (s *Services) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// All returns the indexed Services (built for the call: prefer Get and the finders, which build only
// the Services they return).
func (s *Services) All() []corev1.Service {
	if s == nil {
		return nil
	}
	out := make([]corev1.Service, 0, s.n)
	for _, c := range s.chunks {
		for i := range c {
			out = append(out, *c[i].service())
		}
	}
	return out
}

// Get returns NS/NAME, or nil.
func (s *Services) Get(ns, name string) *corev1.Service {
	if s == nil {
		return nil
	}
	if r := s.byName[nsName{ns, name}]; r != nil {
		return r.service()
	}
	return nil
}

// OwnersOf returns every Service that answers on a, ClusterIPs first.
func (s *Services) OwnersOf(a netip.Addr) []Owner {
	if s == nil {
		return nil
	}
	o, ok := s.byAddr[a.Unmap()]
	if !ok {
		return nil
	}
	out := make([]Owner, 0, 1+len(o.more))
	out = append(out, Owner{o.first.rec.service(), o.first.kind})
	for _, m := range o.more {
		out = append(out, Owner{m.rec.service(), m.kind})
	}
	return out
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
	for _, r := range s.lbs[svc.Namespace+"\x00"+selectorKey(svc.Spec.Selector)] {
		o := r.service()
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

// selectorMap is the selector selectorKey spelled (nil for "").
func selectorMap(key string) map[string]string {
	if key == "" {
		return nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(key, "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
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
