package checks

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

func svc(ns, name, clusterIP, lbIP string) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: clusterIP}}
	if lbIP != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
	}
	return s
}

var seedServices = []corev1.Service{
	svc("default", "development-agent", "34.118.231.33", ""),
	svc("default", "environment-manager", "34.118.233.158", ""),
	svc("default", "development-agent-ilb", "34.118.230.1", "10.132.0.6"),
}

func TestExtractURLs(t *testing.T) {
	got := ExtractURLs("AGENTS", "http://development-agent.default.svc.cluster.local:80, https://api.example.com/x;grpc://10.132.0.6:9090")
	if len(got) != 3 {
		t.Fatalf("got %+v", got)
	}
	if got[0].Host != "development-agent.default.svc.cluster.local" || got[0].Port != 80 {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Port != 443 || got[2].Port != 9090 || got[2].Host != "10.132.0.6" {
		t.Errorf("ports: %+v", got)
	}
	if len(ExtractURLs("X", "not a url, http://:80 , http://x:99999")) != 0 {
		t.Error("garbage yielded URLs")
	}
}

func TestMapHost(t *testing.T) {
	cases := []struct {
		host     string
		kind, ns string
		name     string
	}{
		{"development-agent.default.svc.cluster.local", TargetClusterDNS, "default", "development-agent"},
		{"environment-manager.default.svc", TargetClusterDNS, "default", "environment-manager"},
		{"environment-manager.default", TargetClusterDNS, "default", "environment-manager"},
		{"34.118.231.33", TargetClusterIP, "default", "development-agent"},
		{"10.132.0.6", TargetLBIP, "default", "development-agent-ilb"},
		{"10.2.0.1", TargetNotCluster, "", ""},
		{"api.internal.example.com", TargetOtherName, "", ""},
		{"ghost.default.svc.cluster.local", TargetClusterDNS, "default", "ghost"},
	}
	for _, tc := range cases {
		got := MapHost(tc.host, 80, "cluster.local", model.NewServices(seedServices))
		if got.Kind != tc.kind || got.Namespace != tc.ns || got.Name != tc.name {
			t.Errorf("%s: got %s %s/%s", tc.host, got.Kind, got.Namespace, got.Name)
		}
		if tc.name == "ghost" && got.Service != nil {
			t.Error("a missing Service must not be matched")
		}
	}
}

func TestRegion(t *testing.T) {
	if gref.Region("europe-west1-b") != "europe-west1" || gref.Region("europe-west1") != "europe-west1" || gref.Region("") != "" {
		t.Fatal("region")
	}
}

func FuzzExtractAndMap(f *testing.F) {
	f.Add("http://development-agent.default.svc.cluster.local:80")
	f.Add("https://34.118.231.33/x http://[::1]:8080")
	f.Add("tcp://a.b:0 grpc://x.y.svc:65535")
	f.Fuzz(func(t *testing.T, value string) {
		for _, u := range ExtractURLs("V", value) {
			if u.Port <= 0 || u.Port > 65535 || u.Host == "" || !strings.Contains(value, u.URL) {
				t.Fatalf("bad URL %+v from %q", u, value)
			}
			tg := MapHost(u.Host, u.Port, "cluster.local", model.NewServices(seedServices))
			if tg.Kind == "" {
				t.Fatalf("unclassified host %q", u.Host)
			}
			if tg.Service != nil && (tg.Service.Namespace != tg.Namespace || tg.Service.Name != tg.Name) {
				t.Fatalf("mismatched service for %q", u.Host)
			}
		}
	})
}
