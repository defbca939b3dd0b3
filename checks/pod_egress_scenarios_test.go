package checks

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// pod-egress-cross-project against the fake Google API server through the real compute and
// container clients. The Kubernetes side (ip-masq-agent's DaemonSet on GKE's defaults) is a fact here,
// from a fake clientset; the ip-masq-agent cases run against the real kube-apiserver
// (pod_egress_testenv_test.go).

func newEgressWorld(t *testing.T, o egressOpts) *egressWorld {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	seedEgressGCP(s, o)
	return &egressWorld{t: t, srv: s, kube: kfake.NewSimpleClientset(ipMasqDaemonSet())}
}

func TestPodEgressScenarios(t *testing.T) {
	t.Run("routes_based_no_export", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		r := w.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		for _, want := range []string{"leaves with its pod IP (172.16.0.0/16)", "has no route back", "exportCustomRoutes false", "importCustomRoutes false", "firewall admits it"} {
			if !strings.Contains(r.Summary, want) {
				t.Errorf("summary lacks %q: %s", want, r.Summary)
			}
		}
		a := planByID(t, r, fixes.IPMasqPlanID)
		b := planByID(t, r, "exchange-custom-routes/dev-orchestra/peer-partner-data")
		c := planByID(t, r, "vpc-native-cluster/"+wCluster)
		if a.Advice || a.Alternative || !b.VPCWide || !b.Alternative || b.Advice || !c.Advice {
			t.Errorf("A %+v\nB %+v\nC %+v", a, b, c)
		}
		if !strings.Contains(a.Diff, "+   - 10.3.0.0/16") || strings.Contains(a.Diff, "+   - 10.0.0.0/8") || !strings.Contains(a.Diff, "34.118.224.0/20") {
			t.Errorf("fix A does not masquerade exactly the peer range:\n%s", a.Diff)
		}
		if !strings.Contains(strings.Join(b.Commands, "\n"), "gcloud compute networks peerings update peer-dev-orchestra --network partner-vpc --project partner-data --import-custom-routes") {
			t.Errorf("fix B commands: %v", b.Commands)
		}
	})
	t.Run("export_only", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ExportCustomRoutes: true})
		r := w.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
		if !strings.Contains(r.Summary, "peer-dev-orchestra does not import custom routes") {
			t.Errorf("summary: %s", r.Summary)
		}
	})
	t.Run("export_and_import", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ExportCustomRoutes: true})
		w.setPeering(ewPeerProject, ewPeerNetwork, ewBack, compute.NetworkPeering{ImportCustomRoutes: true})
		r := w.run()
		if r.Status != Pass || !strings.Contains(r.Summary, "has a route back") || !egressEvidence(r, "listPeeringRoutes INCOMING on partner-data/partner-vpc shows them") {
			t.Fatalf("want pass confirmed by listPeeringRoutes: %s", resultText(r))
		}
	})
	t.Run("peer_unreadable", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ExportCustomRoutes: true})
		w.srv.InjectFault(fakegcp.Fault{Method: http.MethodGet, PathRegexp: regexpMust(`^/compute/v1/projects/partner-data/global/networks/partner-vpc$`), Permission: "compute.networks.get"})
		r := w.run()
		wantCause(t, r, Warn, "pod-range-not-exported")
		if !strings.Contains(r.Summary, "compute.networks.get on project partner-data") {
			t.Errorf("the warning does not name the permission on the peer's project: %s", r.Summary)
		}
		if b := planByID(t, r, "exchange-custom-routes/dev-orchestra/peer-partner-data"); !b.Advice {
			t.Errorf("with the peer's side unreadable fix B must be advice: %+v", b)
		}
	})
	t.Run("peer_unreadable_export_off_still_fails", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		w.srv.InjectFault(fakegcp.Fault{Method: http.MethodGet, PathRegexp: regexpMust(`^/compute/v1/projects/partner-data/global/networks/partner-vpc$`), Permission: "compute.networks.get"})
		r := w.run()
		wantCause(t, r, Fail, "pod-range-not-exported")
	})
	t.Run("peering_not_active", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{ourState: "INACTIVE"})
		r := w.run()
		wantCause(t, r, Fail, "peering-not-active")
		if !strings.Contains(r.Summary, "Waiting for peer network to connect") || !hasFix(r, "review-peering/dev-orchestra/peer-partner-data") {
			t.Errorf("%s", resultText(r))
		}
	})
	t.Run("no_peering_back", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{noBack: true})
		r := w.run()
		wantCause(t, r, Fail, "peering-not-active")
	})
	t.Run("pupi_pod_range", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{vpcNative: "5.0.0.0/16"})
		w.peers = []string{"10.2.0.1:443"}
		r := w.run()
		wantCause(t, r, Fail, "pupi-routes-not-exchanged")
		if !strings.Contains(r.Summary, "importSubnetRoutesWithPublicIp false") {
			t.Errorf("summary: %s", r.Summary)
		}
		if !hasFix(r, "exchange-public-ip-subnet-routes/dev-orchestra/peer-partner-data") {
			t.Errorf("fixes: %v", fixIDs(r))
		}
		w.setPeering(ewPeerProject, ewPeerNetwork, ewBack, compute.NetworkPeering{ImportSubnetRoutesWithPublicIp: true})
		if r := w.run(); r.Status != Pass {
			t.Fatalf("after importSubnetRoutesWithPublicIp: %s", resultText(r))
		}
	})
	t.Run("vpc_native_private_pods_pass", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{vpcNative: "10.4.0.0/14"})
		if r := w.run(); r.Status != Pass {
			t.Fatalf("%s", resultText(r))
		}
	})
	t.Run("peer_firewall_admits_nodes_only", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{peerFW: []string{ewNodeCIDR}})
		w.peers = []string{"10.2.0.1:443"}
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ExportCustomRoutes: true})
		w.setPeering(ewPeerProject, ewPeerNetwork, ewBack, compute.NetworkPeering{ImportCustomRoutes: true})
		r := w.run()
		wantCause(t, r, Fail, "peer-firewall-blocks-pod-range")
		if !strings.Contains(r.Summary, "tcp:443 on instances tagged partner-api") {
			t.Errorf("summary: %s", r.Summary)
		}
		if !hasFix(r, fixes.IPMasqPlanID) || !hasFix(r, "create-peer-firewall/partner-data/allow-gke-pods-dev-orchestra-cluster") {
			t.Errorf("fixes: %v", fixIDs(r))
		}
	})
	t.Run("no_cluster_credentials", func(t *testing.T) {
		// ip-masq-agent cannot be read: which source pods use is unknown, so the verdict is a
		// warning naming what is missing, and no ConfigMap fix is offered blind.
		w := newEgressWorld(t, egressOpts{})
		w.kube = nil
		r := w.run()
		wantCause(t, r, Warn, "pod-range-not-exported")
		if !strings.Contains(r.Summary, "gcloud container clusters get-credentials") || hasFix(r, fixes.IPMasqPlanID) || hasFix(r, "deploy-ip-masq-agent/"+wCluster) {
			t.Fatalf("%s", resultText(r))
		}
		w2 := newEgressWorld(t, egressOpts{vpcNative: "10.4.0.0/14"})
		w2.kube = nil
		if r := w2.run(); r.Status != Pass {
			t.Fatalf("with either source working the check passes: %s", resultText(r))
		}
	})
	t.Run("peer_not_behind_a_peering", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		w.srv.AddNetwork(wProject, &compute.Network{Name: "default"}) // no peering at all
		w.peers = []string{"10.9.0.1"}
		r := w.run()
		wantCause(t, r, Skip, "not-applicable")
	})
}

// Fix B through the real compute client: both sides change, re-check passes, undo sets the flags
// back; and the read-compare-write stops, writing nothing, when a peering changed since it was read.
func TestPodEgressFixB(t *testing.T) {
	t.Run("apply_and_undo", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		env := w.env(false)
		r := runCheck(t, env, "pod-egress-cross-project")
		p := planByID(t, r, "exchange-custom-routes/dev-orchestra/peer-partner-data")
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := ap.Apply(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !w.peering(wProject, "default", ewPeering).ExportCustomRoutes || !w.peering(ewPeerProject, ewPeerNetwork, ewBack).ImportCustomRoutes {
			t.Fatal("the flags were not set on both sides")
		}
		if r := w.run(); r.Status != Pass {
			t.Fatalf("after fix B: %s", resultText(r))
		}
		if err := ap.Undo(ctx, res.Entry); err != nil {
			t.Fatal(err)
		}
		if w.peering(wProject, "default", ewPeering).ExportCustomRoutes || w.peering(ewPeerProject, ewPeerNetwork, ewBack).ImportCustomRoutes {
			t.Fatal("undo left a flag set")
		}
		wantCause(t, w.run(), Fail, "pod-range-not-exported")
	})
	t.Run("peer_firewall_rule_apply_and_undo", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{peerFW: []string{ewNodeCIDR}})
		w.peers = []string{"10.2.0.1:443"}
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ExportCustomRoutes: true})
		w.setPeering(ewPeerProject, ewPeerNetwork, ewBack, compute.NetworkPeering{ImportCustomRoutes: true})
		env := w.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), "create-peer-firewall/partner-data/allow-gke-pods-dev-orchestra-cluster")
		ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := ap.Apply(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := w.run(); r.Status != Pass {
			t.Fatalf("after the peer firewall rule: %s", resultText(r))
		}
		if err := ap.Undo(ctx, res.Entry); err != nil {
			t.Fatal(err)
		}
		wantCause(t, w.run(), Fail, "peer-firewall-blocks-pod-range")
	})
	t.Run("stops_when_the_peering_changed", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		env := w.env(false)
		r := runCheck(t, env, "pod-egress-cross-project")
		p := planByID(t, r, "exchange-custom-routes/dev-orchestra/peer-partner-data")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		snap, err := p.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Someone changes our side of the peering between the read and the write.
		w.setPeering(wProject, "default", ewPeering, compute.NetworkPeering{ImportSubnetRoutesWithPublicIp: true})
		before := len(w.srv.Requests())
		_, err = p.Apply(ctx, snap)
		if apierr.KindOf(err) != apierr.Conflict {
			t.Fatalf("want a conflict, got %v", err)
		}
		for _, rq := range w.srv.Requests()[before:] {
			if rq.Method != http.MethodGet {
				t.Errorf("a write after the peering changed: %s %s", rq.Method, rq.Path)
			}
		}
		if w.peering(wProject, "default", ewPeering).ExportCustomRoutes || w.peering(ewPeerProject, ewPeerNetwork, ewBack).ImportCustomRoutes {
			t.Fatal("a flag was set although the peering had changed")
		}
	})
	t.Run("stops_before_any_write_when_the_peer_changed", func(t *testing.T) {
		w := newEgressWorld(t, egressOpts{})
		env := w.env(false)
		p := planByID(t, runCheck(t, env, "pod-egress-cross-project"), "exchange-custom-routes/dev-orchestra/peer-partner-data")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		snap, err := p.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.setPeering(ewPeerProject, ewPeerNetwork, ewBack, compute.NetworkPeering{ExportCustomRoutes: true})
		before := len(w.srv.Requests())
		if _, err := p.Apply(ctx, snap); apierr.KindOf(err) != apierr.Conflict {
			t.Fatalf("want a conflict, got %v", err)
		}
		for _, rq := range w.srv.Requests()[before:] {
			if rq.Method != http.MethodGet {
				t.Errorf("a write after the peering changed: %s %s", rq.Method, rq.Path)
			}
		}
		if w.peering(ewPeerProject, ewPeerNetwork, ewBack).ImportCustomRoutes || w.peering(wProject, "default", ewPeering).ExportCustomRoutes {
			t.Fatal("a flag was written")
		}
	})
}

func TestParsePeer(t *testing.T) {
	for in, want := range map[string]string{"10.2.0.0/16": "10.2.0.0/16", "10.2.0.1": "10.2.0.1", "10.2.0.1:443": "10.2.0.1:443", "10.2.3.4/16": "10.2.0.0/16", "[fd00::1]:80": "[fd00::1]:80"} {
		p, err := ParsePeer(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePeer(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.2.0.1:", "10.2.0.1:0", "10.2.0.1:65536", "host:80", "10.2.0.0/16:443", "10.2.0.1:+80"} {
		if _, err := ParsePeer(bad); err == nil {
			t.Errorf("ParsePeer(%q) accepted", bad)
		}
	}
}
