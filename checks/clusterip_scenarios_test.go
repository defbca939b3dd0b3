package checks

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The working world: every supporting check passes; the primary warns only because the client still
// calls the cluster name (issue 12: it judges what the client actually calls; the client fix is in
// TestClientFixPointsAtTheILB).
func TestReachBaselinePasses(t *testing.T) {
	w := newReachWorld(t)
	rs := w.run(nil)
	for _, id := range reachIDs {
		if rs[id].Status != Pass && (id != "clusterip-unreachable" || !reachable(rs[id])) {
			t.Fatalf("%s: %s%s", id, rs[id].Status, dump(rs))
		}
	}
	r := rs["clusterip-unreachable"]
	want := []string{"Cloud Run gke-connectivity-tester4 (europe-west1)", "connector my-vpc-connector (192.168.99.0/28, READY), egress ALL_TRAFFIC",
		"network projects/dev-orchestra/global/networks/default", "10.132.0.6:80 (internal LB default/development-agent-ilb)", "Service default/development-agent"}
	if strings.Join(r.Path, " → ") != strings.Join(want, " → ") {
		t.Fatalf("path:\n%s\nwant\n%s", strings.Join(r.Path, " → "), strings.Join(want, " → "))
	}
	if len(r.Fixes) != 1 || r.Fixes[0].ID != "point-client-at-ilb/europe-west1/gke-connectivity-tester4/DEV_AGENT_URL" {
		t.Fatalf("the only fix is the client's: %v", fixIDs(r))
	}
	if !hasStep(r, "live TCP probe", Skip, "verdict from configuration: the tool runs on a laptop") {
		t.Fatalf("no configuration-only note%s", dump(rs))
	}
	if !hasStep(rs["firewall-serverless-to-nodes"], "firewall tcp:80", Pass, "allowed by k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e") {
		t.Fatalf("the deciding rule is not named%s", dump(rs))
	}
}

func hasStep(r Result, stepPrefix string, st Status, detail string) bool {
	for _, e := range r.Evidence {
		if strings.HasPrefix(e.Step, stepPrefix) && e.Status == st && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

// Each cause of FAILURE-MODES §1, produced by one change to the working world, is recognised by the
// primary check (first cause in order) and by the supporting check that owns it.
func TestReachCauses(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(w *reachWorld)
		cause     string
		status    Status
		supporter string // the supporting check that must report the same cause
		fix       string // a fix the primary offers
		advice    bool
		summary   string
	}{
		{
			name:  "ClusterIP without an internal LB",
			setup: func(w *reachWorld) { w.deleteService("default", "development-agent-ilb") },
			cause: "target-is-clusterip", status: Fail, supporter: "ilb-provisioned",
			fix: "create-internal-lb/default/development-agent", summary: "no internal load balancer exposes default/development-agent",
		},
		{
			name: "external LB only",
			setup: func(w *reachWorld) {
				s := agentILB("34.140.0.9")
				s.Annotations = nil
				w.putService(s)
			},
			cause: "ilb-external", status: Fail, supporter: "ilb-provisioned", fix: "create-internal-lb/default/development-agent",
		},
		{
			name:  "internal LB pending",
			setup: func(w *reachWorld) { w.putService(agentILB("")) },
			cause: "ilb-pending", status: Warn, supporter: "ilb-provisioned", summary: "still provisioning",
		},
		{
			name: "no VPC access",
			setup: func(w *reachWorld) {
				w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess = nil })
				w.targets.CloudRunService = wRun
			},
			cause: "no-vpc-access", status: Fail, supporter: "run-vpc-egress", fix: "vpc-access/europe-west1/gke-connectivity-tester4", advice: true,
		},
		{
			name: "private-ranges-only with a 34.118.x target",
			setup: func(w *reachWorld) {
				// The internal LB got a privately used public address (a PUPI node subnet in 34.118.0.0/16).
				w.putService(agentILB("34.118.16.5"))
				w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "34.118.16.5", LoadBalancingScheme: "INTERNAL"})
				w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY" })
			},
			cause: "egress-private-ranges-only", status: Fail, supporter: "run-vpc-egress", fix: "run-egress-all-traffic/europe-west1/gke-connectivity-tester4",
			summary: "34.118.16.5:80",
		},
		{
			name: "connector ERROR",
			setup: func(w *reachWorld) {
				if err := w.srv.SetConnectorState(wProject, wRegion, wConnector, "ERROR"); err != nil {
					t.Fatal(err)
				}
			},
			cause: "connector-not-ready", status: Fail, supporter: "vpc-connector-ready", fix: "replace-connector/europe-west1/my-vpc-connector", advice: true,
			summary: "cannot be repaired in place",
		},
		{
			name:  "firewall missing",
			setup: func(w *reachWorld) { deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e") },
			cause: "firewall-blocks-serverless", status: Fail, supporter: "firewall-serverless-to-nodes",
			fix: "create-firewall/dev-orchestra/allow-serverless-to-dev-orchestra-cluster-80-f29b49", summary: "implied deny-ingress",
		},
		{
			name: "firewall shadowed by a higher-priority deny",
			setup: func(w *reachWorld) {
				w.srv.AddFirewall(wProject, &compute.Firewall{Name: "deny-untrusted-to-nodes", Network: "default", Priority: 900,
					SourceRanges: []string{"192.168.0.0/16"}, TargetTags: []string{wNodeTag}, Denied: []*compute.FirewallDenied{{IPProtocol: "all"}}})
			},
			cause: "firewall-blocks-serverless", status: Fail, supporter: "firewall-serverless-to-nodes",
			fix: "override-firewall-deny/dev-orchestra/deny-untrusted-to-nodes", advice: true, summary: "deny rule deny-untrusted-to-nodes (priority 900)",
		},
		{
			name: "region mismatch",
			setup: func(w *reachWorld) {
				w.srv.AddConnector(wProject, "us-central1", &vpcaccess.Connector{Name: wConnector, Network: "default", IpCidrRange: wConnRange, State: "READY"})
				w.srv.AddRunService(wProject, "us-central1", runService("us-central1", "ALL_TRAFFIC"))
				w.targets.CloudRunService = "us-central1/" + wRun
			},
			cause: "region-mismatch", status: Fail, supporter: "ilb-provisioned", fix: "ilb-global-access/default/development-agent-ilb", advice: true,
			summary: "global access is off",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newReachWorld(t)
			tc.setup(w)
			rs := w.run(nil)
			if testing.Verbose() {
				t.Log(dump(rs))
			}
			r := rs["clusterip-unreachable"]
			if r.Status != tc.status || r.Cause != tc.cause {
				t.Fatalf("clusterip-unreachable: %s [%s], want %s [%s]%s", r.Status, r.Cause, tc.status, tc.cause, dump(rs))
			}
			if s := rs[tc.supporter]; s.Cause != tc.cause || s.Status != tc.status {
				t.Fatalf("%s: %s [%s], want %s [%s]%s", tc.supporter, s.Status, s.Cause, tc.status, tc.cause, dump(rs))
			}
			if tc.summary != "" && !strings.Contains(r.Summary, tc.summary) {
				t.Fatalf("summary %q lacks %q", r.Summary, tc.summary)
			}
			if tc.fix != "" {
				p := planByID(t, r, tc.fix)
				if p.Advice != tc.advice || len(p.Commands) == 0 {
					t.Fatalf("fix %s: advice %v, commands %v", p.ID, p.Advice, p.Commands)
				}
			}
			// The supporting check's evidence backs the reported cause.
			found := false
			for _, e := range r.Evidence {
				if strings.HasPrefix(e.Step, "["+tc.supporter+"] ") {
					found = true
				}
			}
			if !found {
				t.Fatalf("no evidence from %s in the primary's result%s", tc.supporter, dump(rs))
			}
			if len(r.Path) < 4 {
				t.Fatalf("path %v", r.Path)
			}
		})
	}
}

func deleteFirewall(t *testing.T, w *reachWorld, name string) {
	t.Helper()
	env := w.env(false)
	g, _ := env.Inv.GCP()
	if _, err := g.Compute.Firewalls.Delete(wProject, name).Do(); err != nil {
		t.Fatal(err)
	}
}

// Two Services called by one client, both ClusterIP (the seed's situation): both fail with the
// ClusterIP cause and get one ILB plan each.
func TestReachTwoClusterIPTargets(t *testing.T) {
	w := newReachWorld(t)
	w.deleteService("default", "development-agent-ilb")
	em := agentService()
	em.Name, em.Spec.ClusterIP = "environment-manager", "34.118.233.158"
	em.Spec.Selector = map[string]string{"app": "environment-manager"}
	w.putService(em)
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) {
		s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &run.GoogleCloudRunV2EnvVar{Name: "ENV_MANAGER_URL", Value: "http://34.118.233.158:80/x"})
	})
	rs := w.run(nil)
	r := rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "target-is-clusterip" {
		t.Fatalf("%s", dump(rs))
	}
	planByID(t, r, "create-internal-lb/default/development-agent")
	planByID(t, r, "create-internal-lb/default/environment-manager")
	if !strings.Contains(r.Summary, "default/environment-manager") || !strings.Contains(r.Summary, "default/development-agent") {
		t.Fatalf("summary names one target only: %s", r.Summary)
	}
	if !hasStep(r, "target default/environment-manager", Pass, "in the cluster's services range 34.118.224.0/20") &&
		!hasStep(r, "target default/environment-manager", Pass, "ClusterIP of default/environment-manager") {
		t.Fatalf("classification missing%s", dump(rs))
	}
}

// The egress check on its own flags a ClusterIP target under PRIVATE_RANGES_ONLY: 34.118.x goes to
// the internet.
func TestRunVPCEgressFlagsServicesRangeUnderPrivateRangesOnly(t *testing.T) {
	w := newReachWorld(t)
	w.deleteService("default", "development-agent-ilb")
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "" })
	rs := w.run(nil)
	e := rs["run-vpc-egress"]
	if e.Status != Fail || e.Cause != "egress-private-ranges-only" || !strings.Contains(e.Summary, "34.118.231.33") {
		t.Fatalf("%s", dump(rs))
	}
	if !hasStep(e, "egress setting", Fail, "PRIVATE_RANGES_ONLY (the default)") {
		t.Fatalf("the default egress is not explained%s", dump(rs))
	}
	// The primary reports the first cause in order: the ClusterIP.
	if rs["clusterip-unreachable"].Cause != "target-is-clusterip" {
		t.Fatalf("%s", dump(rs))
	}
}

func TestReachNetworkMismatch(t *testing.T) {
	w := newReachWorld(t)
	w.srv.AddNetwork(wProject, &compute.Network{Name: "other"})
	w.srv.AddConnector(wProject, wRegion, &vpcaccess.Connector{Name: wConnector, Network: "other", IpCidrRange: wConnRange, State: "READY"})
	rs := w.run(nil)
	r := rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "no-vpc-access" || !strings.Contains(r.Summary, "not to the cluster's network") {
		t.Fatalf("%s", dump(rs))
	}
	// Peering the networks makes it pass.
	w.srv.AddNetwork(wProject, &compute.Network{Name: "default", Peerings: []*compute.NetworkPeering{{Name: "to-other", Network: "projects/dev-orchestra/global/networks/other"}}})
	w.srv.AddNetwork(wProject, &compute.Network{Name: "other", Peerings: []*compute.NetworkPeering{{Name: "to-default", Network: "projects/dev-orchestra/global/networks/default"}}})
	rs = w.run(nil)
	if rs["run-vpc-egress"].Status != Pass {
		t.Fatalf("peered networks: %s", dump(rs))
	}
}

// A 403 on any API the checks read makes the checks that depend on it skip, naming the permission;
// none of them passes.
func TestReachPermissionDeniedSkipsNamingThePermission(t *testing.T) {
	cases := []struct {
		name  string
		fault fakegcp.Fault
		setup func(w *reachWorld)
		perm  string
		skip  []string // checks that must skip naming perm
		noPas []string // checks that must not pass
	}{
		{name: "Cloud Run get", fault: fakegcp.Fault{Method: "GET", PathContains: "/services/" + wRun, Permission: "run.services.get"},
			setup: func(w *reachWorld) { w.targets.CloudRunService = wRun },
			perm:  "run.services.get", skip: reachIDs},
		{name: "Cloud Run list", fault: fakegcp.Fault{Method: "GET", PathRegexp: regexpMust(`/services$`), Permission: "run.services.list"},
			perm: "run.services.list", skip: reachIDs},
		{name: "connector get", fault: fakegcp.Fault{Method: "GET", PathContains: "/connectors/", Permission: "vpcaccess.connectors.get"},
			perm: "vpcaccess.connectors.get", skip: []string{"vpc-connector-ready", "run-vpc-egress", "firewall-serverless-to-nodes", "clusterip-unreachable"}},
		// The firewall is read once, as the VPC enforces it (VPC rules and policies): no separate list.
		{name: "effective firewalls get", fault: fakegcp.Fault{Method: "GET", PathContains: "/networks/default/getEffectiveFirewalls", Permission: "compute.networks.getEffectiveFirewalls"},
			perm: "compute.networks.getEffectiveFirewalls", skip: []string{"firewall-serverless-to-nodes", "clusterip-unreachable"}},
		{name: "regional effective firewalls get", fault: fakegcp.Fault{Method: "GET", PathContains: "/firewallPolicies/getEffectiveFirewalls", Permission: "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls"},
			perm: "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls", skip: []string{"firewall-serverless-to-nodes", "clusterip-unreachable"}},
		{name: "cluster get", fault: fakegcp.Fault{Method: "GET", PathContains: "/clusters/", Permission: "container.clusters.get"},
			perm: "container.clusters.get", skip: []string{"firewall-serverless-to-nodes", "run-vpc-egress", "clusterip-unreachable"}},
		{name: "forwarding rules list (client in another region)", fault: fakegcp.Fault{Method: "GET", PathContains: "/forwardingRules", Permission: "compute.forwardingRules.list"},
			setup: func(w *reachWorld) {
				w.srv.AddConnector(wProject, "us-central1", &vpcaccess.Connector{Name: wConnector, Network: "default", IpCidrRange: wConnRange, State: "READY"})
				w.srv.AddRunService(wProject, "us-central1", runService("us-central1", "ALL_TRAFFIC"))
				w.targets.CloudRunService = "us-central1/" + wRun
			},
			perm: "compute.forwardingRules.list", skip: []string{"ilb-provisioned", "clusterip-unreachable"}},
		{name: "subnetwork get (Direct VPC)", fault: fakegcp.Fault{Method: "GET", PathContains: "/subnetworks/", Permission: "compute.subnetworks.get"},
			setup: func(w *reachWorld) {
				w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) {
					s.Template.VpcAccess = &run.GoogleCloudRunV2VpcAccess{Egress: "ALL_TRAFFIC", NetworkInterfaces: []*run.GoogleCloudRunV2NetworkInterface{{Network: "default", Subnetwork: "default"}}}
				})
			},
			perm: "compute.subnetworks.get", skip: []string{"firewall-serverless-to-nodes", "clusterip-unreachable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newReachWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			w.srv.InjectFault(tc.fault)
			rs := w.run(nil)
			for _, id := range tc.skip {
				r := rs[id]
				if r.Status != Skip || !strings.Contains(r.Summary, tc.perm) {
					t.Errorf("%s: %s %q, want skip naming %s", id, r.Status, r.Summary, tc.perm)
				}
			}
			if t.Failed() {
				t.Log(dump(rs))
			}
		})
	}
}

// RBAC forbidding the Services list makes the Kubernetes-side checks skip naming the RBAC permission.
func TestReachRBACForbiddenSkips(t *testing.T) {
	w := newReachWorld(t)
	kc := w.kube.(*kfake.Clientset)
	kc.PrependReactor("list", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.NewForbidden(schema.GroupResource{Resource: "services"}, "",
			errorString(`User "oncall@example.com" cannot list resource "services" in API group "" at the cluster scope`))
	})
	rs := w.run(nil)
	for _, id := range []string{"clusterip-unreachable", "ilb-provisioned"} {
		if r := rs[id]; r.Status != Skip || !strings.Contains(r.Summary, "RBAC list services") {
			t.Errorf("%s: %s %q%s", id, r.Status, r.Summary, dump(rs))
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestReachNotApplicable(t *testing.T) {
	w := newReachWorld(t)
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.Containers[0].Env = nil })
	rs := w.run(nil)
	for _, id := range []string{"clusterip-unreachable", "ilb-provisioned", "firewall-serverless-to-nodes"} {
		if r := rs[id]; r.Status != Skip || !strings.Contains(r.Summary, "not applicable") {
			t.Errorf("%s: %s %q", id, r.Status, r.Summary)
		}
	}
	// The source's own configuration is still checked.
	if rs["run-vpc-egress"].Status != Pass || rs["vpc-connector-ready"].Status != Pass {
		t.Fatalf("%s", dump(rs))
	}
	// --service alone, without a client (the only Cloud Run service has no VPC access and is not
	// named): the ILB is checked, the path from a client is not.
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess = nil })
	w.targets.Services = []NamespacedName{{Namespace: "default", Name: "development-agent"}}
	rs = w.run(nil)
	r := rs["clusterip-unreachable"]
	if r.Status != Pass || !strings.Contains(r.Summary, "no VPC client was named") {
		t.Fatalf("%s", dump(rs))
	}
	for _, id := range []string{"run-vpc-egress", "vpc-connector-ready", "firewall-serverless-to-nodes"} {
		if r := rs[id]; r.Status != Skip || !strings.Contains(r.Summary, "not applicable") {
			t.Errorf("%s without a source: %s %q", id, r.Status, r.Summary)
		}
	}
	_ = corev1.ServiceTypeClusterIP
}

// Rules may target the nodes by service account instead of tag: the node pools' "default" account
// is the project's Compute Engine default service account.
func TestFirewallMatchesNodesByServiceAccount(t *testing.T) {
	w := newReachWorld(t)
	deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
	w.srv.AddFirewall(wProject, &compute.Firewall{Name: "allow-connector-to-nodes-by-sa", Network: "default", Priority: 1000, SourceRanges: []string{wConnRange},
		TargetServiceAccounts: []string{"123456789012-compute@developer.gserviceaccount.com"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "443"}}}})
	rs := w.run(nil)
	if r := rs["firewall-serverless-to-nodes"]; r.Status != Pass || !hasStep(r, "firewall tcp:80", Pass, "allowed by allow-connector-to-nodes-by-sa") {
		t.Fatalf("%s", dump(rs))
	}
}
