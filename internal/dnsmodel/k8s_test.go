package dnsmodel

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/model"
)

func TestServiceRecords(t *testing.T) {
	yes, no := true, false
	slice := func(eps ...discoveryv1.Endpoint) []discoveryv1.EndpointSlice {
		return []discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Name: "s"}, AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps}}
	}
	ep := func(ip string, ready *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	}
	tests := []struct {
		name   string
		svc    *corev1.Service
		slices []discoveryv1.EndpointSlice
		want   SpecRecords
	}{
		{"cluster_ip", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "34.118.231.33", ClusterIPs: []string{"34.118.231.33"}}}, nil,
			SpecRecords{A: []string{"34.118.231.33"}}},
		{"load_balancer_gets_its_clusterip_not_its_lb_ip", &corev1.Service{
			Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "34.118.231.40"},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.132.0.6"}}}}}, nil,
			SpecRecords{A: []string{"34.118.231.40"}}},
		{"headless_ready_endpoints_only", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "None"}},
			slice(ep("172.16.0.9", &yes), ep("172.16.0.3", nil), ep("172.16.0.4", &no)),
			SpecRecords{A: []string{"172.16.0.3", "172.16.0.9"}, Headless: true}},
		{"headless_without_ready_endpoints_is_nxdomain", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "None"}},
			slice(ep("172.16.0.4", &no)), SpecRecords{Headless: true, NXDOMAIN: true}},
		{"external_name", &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}}, nil,
			SpecRecords{CNAME: "db.example.com."}},
		{"absent", nil, nil, SpecRecords{NXDOMAIN: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ServiceRecords(tc.svc, tc.slices); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if !SameIPs([]string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.2", "10.0.0.1"}) || SameIPs([]string{"10.0.0.1"}, []string{"10.0.0.2"}) {
		t.Error("SameIPs")
	}
	if got := model.ServiceFQDN("default", "development-agent", "cluster.local"); got != "development-agent.default.svc.cluster.local." {
		t.Errorf("ServiceFQDN = %s", got)
	}
}
