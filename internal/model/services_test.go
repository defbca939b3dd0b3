package model

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc(ns, name, clusterIP string, typ corev1.ServiceType, internal bool, lbIP string, port, target int32) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": "agent"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(target)}}}}
	if internal {
		s.Annotations = map[string]string{AnnotationLBType: "Internal"}
	}
	if lbIP != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
	}
	return s
}

func TestServicesIndex(t *testing.T) {
	list := []corev1.Service{
		svc("default", "agent", "34.118.231.33", corev1.ServiceTypeClusterIP, false, "", 80, 8080),
		svc("default", "agent-lb2", "34.118.230.9", corev1.ServiceTypeLoadBalancer, true, "10.132.0.9", 80, 8080),        // provisioned, not NAME-ilb
		svc("default", "agent-ilb", "34.118.230.1", corev1.ServiceTypeLoadBalancer, true, "", 80, 8080),                  // NAME-ilb, pending: still first
		svc("default", "agent-other-port", "34.118.230.2", corev1.ServiceTypeLoadBalancer, true, "10.132.0.7", 81, 9090), // other pod port
		svc("default", "agent-ext", "34.118.230.3", corev1.ServiceTypeLoadBalancer, false, "34.1.2.3", 80, 8080),
		svc("prod", "agent-ilb", "34.118.230.4", corev1.ServiceTypeLoadBalancer, true, "10.132.0.8", 80, 8080), // other namespace
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}},
	}
	s := NewServices(list)
	agent := s.Get("default", "agent")
	ilb, port := s.InternalLBFor(agent, PortOf(agent, 80))
	if ilb == nil || ilb.Name != "agent-ilb" || port != 80 {
		t.Fatalf("InternalLBFor = %v %d, want default/agent-ilb 80 (NAME-ilb first, same selector and pod port)", ilb, port)
	}
	if ext, _ := s.ExternalLBFor(agent, PortOf(agent, 80)); ext == nil || ext.Name != "agent-ext" {
		t.Fatalf("ExternalLBFor = %v", ext)
	}
	if o, ok := s.OwnerOf(netip.MustParseAddr("34.118.231.33"), ""); !ok || o.Kind != AddrClusterIP || o.Ref() != "default/agent" {
		t.Fatalf("OwnerOf ClusterIP = %+v %v", o, ok)
	}
	if o, ok := s.OwnerOf(netip.MustParseAddr("10.132.0.9"), ""); !ok || o.Kind != AddrInternalLB || s.Fronted(o.Service).Name != "agent-lb2" {
		t.Fatalf("OwnerOf ILB = %+v %v", o, ok)
	}
	if o, _ := s.OwnerOf(netip.MustParseAddr("10.132.0.8"), ""); s.Fronted(o.Service) != o.Service {
		t.Fatal("prod/agent-ilb fronts nothing: prod/agent does not exist")
	}
	if _, ok := s.OwnerOf(netip.MustParseAddr("10.2.0.1"), ""); ok {
		t.Fatal("an outside address has no owner")
	}
	if got := ExposureOf(s.Get("default", "db")); got != ExposeHeadless {
		t.Fatalf("headless: %s", got)
	}
	s.AddEndpoints([]discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db-x", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"172.16.0.5"}}}}})
	if o, ok := s.OwnerOf(netip.MustParseAddr("172.16.0.5"), ""); !ok || o.Kind != AddrPodIP || o.Ref() != "default/db" {
		t.Fatalf("headless pod IP = %+v %v", o, ok)
	}
	m := &Model{Cluster: &Cluster{ServicesCIDR: netip.MustParsePrefix("34.118.224.0/20"), PodCIDR: netip.MustParsePrefix("172.16.0.0/16")}, Services: s}
	for ip, want := range map[string]string{
		"34.118.231.33": "ClusterIP of default/agent",
		"34.118.239.1":  "in the cluster's services range 34.118.224.0/20 (a ClusterIP)",
		"172.16.9.9":    "in the cluster's pod range 172.16.0.0/16 (a pod IP)",
		"34.1.2.3":      "external load balancer IP of default/agent-ext",
	} {
		if got := m.Classify(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", ip, got, want)
		}
	}
	for ip, want := range map[string]bool{"10.132.0.6": true, "100.64.1.1": true, "192.168.99.1": true, "34.118.231.33": false, "172.32.0.1": false, "fd00::1": true} {
		if IsPrivate(netip.MustParseAddr(ip)) != want {
			t.Errorf("IsPrivate(%s) != %v", ip, want)
		}
	}
	if !m.IsClusterIP(netip.MustParseAddr("34.118.239.1")) || m.IsClusterIP(netip.MustParseAddr("10.132.0.9")) {
		t.Error("IsClusterIP")
	}
}

// The model keeps a compact record per Service and builds the *corev1.Service a check reads on
// first use: what the checks and fixes read survives, each Service is one pointer whoever asks, and
// what no check reads (labels, managedFields, a ClusterIP Service's annotations) is not kept.
func TestServicesKeepWhatChecksRead(t *testing.T) {
	class := "networking.gke.io/l4-regional-internal"
	ilb := svc("default", "agent-ilb", "34.118.230.1", corev1.ServiceTypeLoadBalancer, true, "10.132.0.6", 80, 8080)
	ilb.Annotations[AnnotationGlobalAccess] = "true"
	ilb.Spec.ClusterIPs = []string{"34.118.230.1"}
	ilb.Spec.LoadBalancerClass = &class
	ilb.Spec.LoadBalancerSourceRanges = []string{"192.168.99.0/28"}
	ilb.UID, ilb.ResourceVersion = "uid-1", "42"
	agent := svc("default", "agent", "34.118.231.33", corev1.ServiceTypeClusterIP, false, "", 80, 8080)
	agent.Labels = map[string]string{"app": "agent"}
	agent.Annotations = map[string]string{"description": "not read by any check"}
	agent.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	agent.Spec.Selector = map[string]string{"app": "agent", "tier": "web"}
	agent.Spec.ClusterIPs = []string{"34.118.231.33", "fd00::33"}
	ext := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "partner"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.partner.example."}}

	s := NewServicesSized(3)
	s.Add([]corev1.Service{agent})
	s.Add([]corev1.Service{ilb, ext})
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	a := s.Get("default", "agent")
	if a != s.Get("default", "agent") {
		t.Fatal("Get builds a Service once: the same pointer for every caller")
	}
	if o, _ := s.OwnerOf(netip.MustParseAddr("34.118.231.33"), ""); o.Service != a {
		t.Fatal("OwnerOf and Get return the same Service")
	}
	if len(a.Spec.Selector) != 2 || a.Spec.Selector["tier"] != "web" || a.Spec.ClusterIPs[1] != "fd00::33" || a.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Fatalf("agent lost what the checks read: %+v", a.Spec)
	}
	if a.Labels != nil || a.Annotations != nil || a.ManagedFields != nil {
		t.Fatalf("agent keeps what no check reads: labels %v annotations %v managedFields %v", a.Labels, a.Annotations, a.ManagedFields)
	}
	if _, ok := s.OwnerOf(netip.MustParseAddr("fd00::33"), ""); !ok {
		t.Fatal("the second ClusterIP is indexed")
	}
	l := s.Get("default", "agent-ilb")
	if !IsInternalLB(l) || l.Annotations[AnnotationGlobalAccess] != "true" || IngressIP(l) != "10.132.0.6" || *l.Spec.LoadBalancerClass != class ||
		l.Spec.LoadBalancerSourceRanges[0] != "192.168.99.0/28" || l.UID != "uid-1" || l.ResourceVersion != "42" || len(l.Spec.ClusterIPs) != 1 {
		t.Fatalf("the internal LB lost what the checks read: %+v", l)
	}
	if got, _ := s.InternalLBFor(s.Get("default", "agent-ilb"), nil); got != l {
		t.Fatal("an internal LB exposes itself")
	}
	if e := s.Get("default", "partner"); e == nil || ExposureOf(e) != ExposeExternalName || e.Spec.ExternalName != "api.partner.example." {
		t.Fatalf("ExternalName: %+v", e)
	}
	if got := len(s.All()); got != 3 {
		t.Fatalf("All = %d Services, want 3", got)
	}
}
