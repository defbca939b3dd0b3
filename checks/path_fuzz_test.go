package checks

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gkedoctor/gkedoctor/internal/model"
)

// The seed's Services as the reachability checks see them: two ClusterIP Services, the internal LB
// in front of one, an external LB, an ExternalName and a headless Service.
func fuzzServices() []corev1.Service {
	mk := func(name, cip string, typ corev1.ServiceType, ann map[string]string, sel string, lb string) corev1.Service {
		s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: ann},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: cip, Selector: map[string]string{"app": sel},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
		if lb != "" {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lb}}
		}
		return s
	}
	return []corev1.Service{
		mk("development-agent", "34.118.231.33", corev1.ServiceTypeClusterIP, nil, "da", ""),
		mk("development-agent-ilb", "34.118.230.1", corev1.ServiceTypeLoadBalancer, map[string]string{model.AnnotationLBType: "Internal"}, "da", "10.132.0.6"),
		mk("environment-manager", "34.118.233.158", corev1.ServiceTypeClusterIP, nil, "em", ""),
		mk("environment-manager-ext", "34.118.233.9", corev1.ServiceTypeLoadBalancer, nil, "em", "34.140.0.9"),
		mk("headless", "None", corev1.ServiceTypeClusterIP, nil, "h", ""),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.example.com"}},
	}
}

// FuzzURLToTarget drives the whole mapping a client's environment goes through: URLs extracted from a
// value, mapped to a Service, resolved to the address the packets go to and classified. Whatever the
// input, it must not panic and must stay consistent.
func FuzzURLToTarget(f *testing.F) {
	for _, s := range []string{
		"http://development-agent.default.svc.cluster.local:80",
		"http://34.118.231.33:80/x https://10.132.0.6",
		"grpc://environment-manager.default:9090,http://34.118.233.158",
		"http://headless.default.svc.cluster.local http://ext.default.svc:8080",
		"http://[::ffff:34.118.231.33]:80", "http://172.16.4.5:80", "tcp://ghost.default.svc.cluster.local:1",
	} {
		f.Add(s)
	}
	svcs := model.NewServices(fuzzServices())
	cf := &model.Cluster{ServicesCIDR: netip.MustParsePrefix("34.118.224.0/20"), PodCIDR: netip.MustParsePrefix("172.16.0.0/16")}
	m := &model.Model{Cluster: cf, Services: svcs}
	f.Fuzz(func(t *testing.T, value string) {
		for _, u := range ExtractURLs("V", value) {
			d := MapHost(u.Host, u.Port, "cluster.local", svcs)
			tg := resolveTarget(d, m)
			if tg.Class == "" {
				t.Fatalf("%q: no classification", u.Host)
			}
			if tg.LBIP != "" && (tg.ILB == nil || !model.IsInternalLB(tg.ILB) || model.IngressIP(tg.ILB) != tg.LBIP) {
				t.Fatalf("%q: LB IP %s without a provisioned internal LB", u.Host, tg.LBIP)
			}
			if tg.Svc != nil && tg.Svc.Spec.Type != corev1.ServiceTypeExternalName && (tg.Port <= 0 || tg.Port > 65535) {
				t.Fatalf("%q: port %d", u.Host, tg.Port)
			}
			if ip, err := netip.ParseAddr(u.Host); err == nil {
				ip = ip.Unmap()
				if d.Kind != TargetClusterIP && d.Kind != TargetLBIP && d.Kind != TargetNotCluster {
					t.Fatalf("IP literal %q mapped as %s", u.Host, d.Kind)
				}
				if tg.Addr != ip {
					t.Fatalf("IP literal %q: packets go to %v", u.Host, tg.Addr)
				}
				if cf.ServicesCIDR.Contains(ip) != tg.isClusterIPAddr(m) && d.Kind != TargetLBIP {
					t.Fatalf("%q: ClusterIP classification disagrees with the services range", u.Host)
				}
			}
			if d.Kind == TargetClusterDNS && tg.Svc != nil && tg.Svc.Name == "development-agent" && (tg.LBIP != "10.132.0.6" || tg.ILB.Name != "development-agent-ilb") {
				t.Fatalf("%q: the sibling ILB was not found: %+v", u.Host, tg)
			}
		}
	})
}

// FuzzCloudRunRef: --cloud-run-service never yields an empty name, and round-trips the forms it knows.
func FuzzCloudRunRef(f *testing.F) {
	for _, s := range []string{"gke-connectivity-tester4", "us-central1/x", "projects/p/locations/l/services/s", "/", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		project, loc, name := CloudRunRef(ref, "dev-orchestra", "europe-west1")
		if ref != "" && name == "" {
			t.Fatalf("%q → empty name", ref)
		}
		if !strings.Contains(ref, "/") && (project != "dev-orchestra" || loc != "europe-west1" || name != ref) {
			t.Fatalf("%q → %q %q %q", ref, project, loc, name)
		}
		if project == "" {
			t.Fatalf("%q → empty project", ref)
		}
	})
}
