package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// Seed 004's layout, served by the fake Google API server through the real clients: project
// dev-orchestra's network default (nodes in 10.132.0.0/20) peered with partner-data's partner-vpc
// (10.2.0.0/16, host 10.2.0.1 tagged partner-api), a routes-based cluster whose pod range
// 172.16.0.0/16 is one route per node, custom routes not exchanged, and a partner firewall that
// admits the cluster's nodes and pods.
const (
	ewPeerProject = "partner-data"
	ewPeerNetwork = "partner-vpc"
	ewPeering     = "peer-partner-data"
	ewBack        = "peer-dev-orchestra"
	ewPodCIDR     = "172.16.0.0/16"
	ewNodeCIDR    = "10.132.0.0/20"
	ewPeerRange   = "10.2.0.0/16"
)

type egressWorld struct {
	t     *testing.T
	srv   *fakegcp.Server
	kube  kubernetes.Interface
	peers []string
}

type egressOpts struct {
	vpcNative string // a VPC-native cluster with this pod range (a secondary range of the node subnet)
	ourState  string // our peering's seeded state ("" derives it)
	noBack    bool   // partner-vpc has no peering back
	peerFW    []string
}

func seedEgressGCP(s *fakegcp.Server, o egressOpts) {
	ours := &compute.NetworkPeering{Name: ewPeering, Network: "projects/" + ewPeerProject + "/global/networks/" + ewPeerNetwork, State: o.ourState}
	if o.ourState != "" {
		ours.StateDetails = "[2026-01-01T00:00:00.000-07:00]: Waiting for peer network to connect."
	}
	s.AddNetwork(wProject, &compute.Network{Name: "default", AutoCreateSubnetworks: true, Peerings: []*compute.NetworkPeering{ours}})
	back := []*compute.NetworkPeering{{Name: ewBack, Network: "projects/" + wProject + "/global/networks/default"}}
	if o.noBack {
		back = nil
	}
	s.AddNetwork(ewPeerProject, &compute.Network{Name: ewPeerNetwork, Peerings: back})
	sub := &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: ewNodeCIDR}
	podCIDR := ewPodCIDR
	if o.vpcNative != "" {
		podCIDR = o.vpcNative
		sub.SecondaryIpRanges = []*compute.SubnetworkSecondaryRange{{RangeName: "gke-pods", IpCidrRange: o.vpcNative}}
	}
	s.AddSubnetwork(wProject, wRegion, sub)
	s.AddSubnetwork(ewPeerProject, wRegion, &compute.Subnetwork{Name: "partner-subnet", Network: ewPeerNetwork, IpCidrRange: ewPeerRange})
	s.AddRoute(wProject, &compute.Route{Name: "default-route-1", Network: "default", DestRange: "0.0.0.0/0", Priority: 1000, NextHopGateway: "global/gateways/default-internet-gateway"})
	if o.vpcNative == "" {
		for i, n := range []string{"172.16.0.0/24", "172.16.1.0/24"} {
			s.AddRoute(wProject, &compute.Route{Name: "gke-dev-orchestra-cluster-f5e836d0-node-" + string(rune('a'+i)), Network: "default", DestRange: n, Priority: 1000,
				NextHopInstance: "https://www.googleapis.com/compute/v1/projects/dev-orchestra/zones/europe-west1-b/instances/node-" + string(rune('a'+i)), Description: "k8s-node-route"})
		}
	}
	s.AddCluster(wProject, wRegion, &container.Cluster{Name: wCluster, Network: "default", Subnetwork: "default",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: podCIDR, CurrentMasterVersion: "1.33.5-gke.1308000",
		IpAllocationPolicy: &container.IPAllocationPolicy{UseIpAliases: o.vpcNative != "", UseRoutes: o.vpcNative == ""},
		NetworkConfig:      &container.NetworkConfig{Network: "projects/" + wProject + "/global/networks/default", Subnetwork: "projects/" + wProject + "/regions/" + wRegion + "/subnetworks/default"},
		NodePools:          []*container.NodePool{{Name: "default-pool", Config: &container.NodeConfig{ServiceAccount: "default", Tags: []string{wNodeTag}}}}})
	src := o.peerFW
	if src == nil {
		src = []string{ewNodeCIDR, podCIDR}
	}
	s.AddFirewall(ewPeerProject, &compute.Firewall{Name: "partner-allow-from-dev-orchestra", Network: ewPeerNetwork, Priority: 1000,
		SourceRanges: src, TargetTags: []string{"partner-api"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "443"}}, {IPProtocol: "icmp"}}})
	s.AddFirewall(ewPeerProject, &compute.Firewall{Name: "partner-allow-internal", Network: ewPeerNetwork, Priority: 65534,
		SourceRanges: []string{ewPeerRange}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}})
}

// ipMasqDaemonSet is GKE's ip-masq-agent DaemonSet (with --nomasq-all-reserved-ranges).
func ipMasqDaemonSet() *appsv1.DaemonSet {
	lab := map[string]string{"k8s-app": "ip-masq-agent"}
	opt := true
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ip-masq-agent", Namespace: "kube-system", Labels: lab},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: lab}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: lab},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ip-masq-agent", Image: "gke.gcr.io/ip-masq-agent:v2.11.0-gke.12",
				Args:         []string{"--v=2", "--logtostderr=true", "--masq-chain=IP-MASQ", "--nomasq-all-reserved-ranges"},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "ip-masq-agent"}, Optional: &opt,
					Items: []corev1.KeyToPath{{Key: "config", Path: "ip-masq-agent"}}}}}}}}}}
}

// env is a fresh run (new inventory) with the real Google clients pointed at the fake.
func (w *egressWorld) env(readOnly bool) *Env {
	w.t.Helper()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.srv.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{Project: wProject, Location: wRegion, Cluster: wCluster}, w.kube, nil, g, nil)
	return &Env{Target: Target{Project: wProject, Location: wRegion, Cluster: wCluster}, Targets: Targets{Peers: w.peers}, Inv: inv,
		Where: Laptop, ReadOnly: readOnly, Now: time.Now, FixDeps: &fixes.Deps{Kube: w.kube, GCP: g}}
}

func (w *egressWorld) run() Result {
	w.t.Helper()
	return runCheck(w.t, w.env(true), "pod-egress-cross-project")
}

// setPeering turns exchange flags on one side through the real compute client.
func (w *egressWorld) setPeering(project, network, peering string, np compute.NetworkPeering) {
	w.t.Helper()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.srv.URL})
	if err != nil {
		w.t.Fatal(err)
	}
	np.Name = peering
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := g.Compute.Networks.UpdatePeering(project, network, &compute.NetworksUpdatePeeringRequest{NetworkPeering: &np}).Context(ctx).Do(); err != nil {
		w.t.Fatalf("updatePeering %s/%s: %v", project, peering, err)
	}
}

func (w *egressWorld) peering(project, network, name string) *compute.NetworkPeering {
	w.t.Helper()
	n, ok := w.srv.Network(project, network)
	if !ok {
		w.t.Fatalf("no network %s/%s", project, network)
	}
	for _, p := range n.Peerings {
		if p.Name == name {
			return p
		}
	}
	w.t.Fatalf("no peering %s on %s/%s", name, project, network)
	return nil
}

func hasFix(r Result, id string) bool {
	for _, p := range r.Fixes {
		if p.ID == id {
			return true
		}
	}
	return false
}

func egressEvidence(r Result, sub string) bool {
	for _, e := range r.Evidence {
		if strings.Contains(e.Detail, sub) || strings.Contains(e.Step, sub) {
			return true
		}
	}
	return false
}
