package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// `gkedoctor audit pod-egress-cross-project` against a real kube-apiserver (ip-masq-agent's DaemonSet
// and ConfigMap in kube-system) and the fake Google API server (seed 004's peering, through
// GKEDOCTOR_GCP_ENDPOINT) writes nothing: the kube-apiserver's audit log shows only get/list from
// gkedoctor, and the Google side sees only GETs.
func TestAuditPodEgressMakesZeroWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	admin := srv.Clientset()
	lab := map[string]string{"k8s-app": "ip-masq-agent"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ip-masq-agent", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: lab}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: lab},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ip-masq-agent", Image: "gke.gcr.io/ip-masq-agent:v2.11.0-gke.12",
				Args: []string{"--masq-chain=IP-MASQ", "--nomasq-all-reserved-ranges"}}}}}}}
	if _, err := admin.AppsV1().DaemonSets("kube-system").Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	g := fakegcp.New()
	t.Cleanup(g.Close)
	g.AddNetwork("dev-orchestra", &compute.Network{Name: "default", Peerings: []*compute.NetworkPeering{{Name: "peer-partner-data", Network: "projects/partner-data/global/networks/partner-vpc"}}})
	g.AddNetwork("partner-data", &compute.Network{Name: "partner-vpc", Peerings: []*compute.NetworkPeering{{Name: "peer-dev-orchestra", Network: "projects/dev-orchestra/global/networks/default"}}})
	g.AddSubnetwork("dev-orchestra", "europe-west1", &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: "10.132.0.0/20"})
	g.AddSubnetwork("partner-data", "europe-west1", &compute.Subnetwork{Name: "partner-subnet", Network: "partner-vpc", IpCidrRange: "10.2.0.0/16"})
	g.AddRoute("dev-orchestra", &compute.Route{Name: "gke-node-a", Network: "default", DestRange: "172.16.0.0/24",
		NextHopInstance: "https://www.googleapis.com/compute/v1/projects/dev-orchestra/zones/europe-west1-b/instances/node-a"})
	g.AddCluster("dev-orchestra", "europe-west1", &container.Cluster{Name: "dev-orchestra-cluster", Network: "default", Subnetwork: "default",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "172.16.0.0/16", IpAllocationPolicy: &container.IPAllocationPolicy{UseRoutes: true}})
	g.AddFirewall("partner-data", &compute.Firewall{Name: "partner-allow", Network: "partner-vpc", SourceRanges: []string{"10.132.0.0/20", "172.16.0.0/16"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"443"}}}})
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", g.URL)

	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "audit", "pod-egress-cross-project", "--kubeconfig", srv.KubeconfigPath,
		"--project", "dev-orchestra", "--location", "europe-west1", "--cluster", "dev-orchestra-cluster", "--peer", "10.2.0.1:443", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d (want 1: the seed's failure): %s\n%s", code, stderr, out)
	}
	var rep struct {
		Results []struct{ ID, Status, Cause, Summary string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Results) != 1 || rep.Results[0].Status != "fail" || rep.Results[0].Cause != "pod-range-not-exported" {
		t.Fatalf("results: %+v", rep.Results)
	}

	events, seen := gkedoctorRequests(t, srv, len(before))
	for _, e := range events {
		if !isRead(e) {
			t.Errorf("a write on the kube-apiserver: %s %s", e.Verb, e.RequestURI)
		}
	}
	for _, want := range []string{"get daemonsets", "get configmaps"} {
		if seen[want] == 0 {
			t.Errorf("no %q in the audit log (the check did not look): %v", want, seen)
		}
	}
	for _, rq := range g.Requests() {
		if rq.Method != http.MethodGet {
			t.Errorf("a write on the Google side: %s %s", rq.Method, rq.Path)
		}
	}
	if !strings.Contains(rep.Results[0].Summary, "10.2.0.1:443") {
		t.Errorf("summary: %s", rep.Results[0].Summary)
	}
}
