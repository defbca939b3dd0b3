package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

func applier(t *testing.T, env *Env) (*fixes.Applier, string) {
	dir := t.TempDir()
	return &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: env.FixDeps, Target: fixes.Target{Project: wProject, Cluster: wCluster}}, dir
}

// The firewall fix through the real compute client: the rule is created scoped to the connector
// range, the node tag and the port; the re-check passes; undo (from the journal) deletes it.
func TestFirewallFixAppliesAndUndoes(t *testing.T) {
	w := newReachWorld(t)
	deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
	env := w.env(false)
	r := w.run(env)["clusterip-unreachable"]
	p := planByID(t, r, "create-firewall/dev-orchestra/allow-serverless-to-dev-orchestra-cluster-80-f29b49")
	if !strings.Contains(p.Commands[0], "gcloud compute firewall-rules create allow-serverless-to-dev-orchestra-cluster-80-f29b49 --project dev-orchestra --network default --direction INGRESS --priority 1000 --source-ranges 192.168.99.0/28 --target-tags "+wNodeTag+" --allow tcp:80") {
		t.Fatalf("command %q", p.Commands[0])
	}
	ap, dir := applier(t, env)
	res, err := ap.Apply(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got *compute.Firewall
	for _, f := range w.srv.Firewalls(wProject) {
		if f.Name == "allow-serverless-to-dev-orchestra-cluster-80-f29b49" {
			got = f
		}
	}
	if got == nil || got.Direction != "INGRESS" || got.Priority != 1000 || strings.Join(got.SourceRanges, ",") != wConnRange ||
		strings.Join(got.TargetTags, ",") != wNodeTag || got.Allowed[0].IPProtocol != "tcp" || got.Allowed[0].Ports[0] != "80" ||
		!strings.HasSuffix(got.Network, "/projects/dev-orchestra/global/networks/default") {
		t.Fatalf("created %+v", got)
	}
	if rs := w.run(nil); !reachable(rs["clusterip-unreachable"]) || rs["firewall-serverless-to-nodes"].Status != Pass {
		t.Fatalf("re-check after the fix%s", dump(rs))
	}
	e, err := fixes.OpenJournal(dir).Get(res.Entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: w.env(false).FixDeps, Target: ap.Target}).Undo(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for _, f := range w.srv.Firewalls(wProject) {
		if f.Name == got.Name {
			t.Fatal("undo left the rule")
		}
	}
	if rs := w.run(nil); rs["clusterip-unreachable"].Cause != "firewall-blocks-serverless" {
		t.Fatalf("after undo%s", dump(rs))
	}
}

// On Shared VPC the rule belongs in the host project; without permission there the plan turns into
// advice carrying the gcloud command (GKE's own from LoadBalancerManualChange first), nothing is
// created and nothing is left to undo.
func TestFirewallFixSharedVPCWithoutPermissionBecomesAdvice(t *testing.T) {
	w := newReachWorld(t)
	const host = "net-host"
	w.srv.AddNetwork(host, &compute.Network{Name: "shared"})
	w.srv.AddSubnetwork(host, wRegion, &compute.Subnetwork{Name: "gke", Network: "shared", IpCidrRange: "10.132.0.0/20"})
	w.srv.AddFirewall(host, &compute.Firewall{Name: "gke-dev-orchestra-cluster-f5e836d0-vms", Network: "shared", SourceRanges: []string{"10.132.0.0/20"}, TargetTags: []string{wNodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}})
	w.srv.AddFirewall(host, &compute.Firewall{Name: "allow-health-checks", Network: "shared", SourceRanges: []string{"35.191.0.0/16", "130.211.0.0/22"}, TargetTags: []string{wNodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}})
	w.srv.AddFirewall(host, &compute.Firewall{Name: "allow-vpc-connectors", Network: "shared", SourceRanges: []string{"35.199.224.0/19"}, TargetTags: []string{"vpc-connector"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"667"}}}})
	// testIamPermissions on the host grants compute.firewalls.create, so the fix is offered; the
	// create itself then answers 403 (a deny condition testIamPermissions cannot see).
	w.srv.SetIamPolicy(host, nil)
	c, _ := w.srv.Cluster(wProject, wRegion, wCluster)
	c.NetworkConfig = &container.NetworkConfig{Network: "projects/" + host + "/global/networks/shared", Subnetwork: "projects/" + host + "/regions/" + wRegion + "/subnetworks/gke"}
	w.srv.AddCluster(wProject, wRegion, c)
	w.srv.AddConnector(wProject, wRegion, &vpcaccess.Connector{Name: wConnector, Network: "shared", IpCidrRange: wConnRange, State: "READY",
		Subnet: &vpcaccess.Subnet{ProjectId: host}})
	// GKE could not open the firewall itself and said so.
	ev := eventFor("development-agent-ilb", "LoadBalancerManualChange",
		"Firewall change required by security admin: `gcloud compute firewall-rules create k8s-fw-a8d3 --network shared --description \"{}\" --allow tcp:80 --source-ranges 0.0.0.0/0 --target-tags "+wNodeTag+" --project net-host`")
	if _, err := w.kube.CoreV1().Events("default").Create(context.Background(), ev, metaCreate); err != nil {
		t.Fatal(err)
	}
	env := w.env(false)
	rs := w.run(env)
	r := rs["clusterip-unreachable"]
	if r.Cause != "firewall-blocks-serverless" {
		t.Fatalf("%s", dump(rs))
	}
	p := planByID(t, r, "create-firewall/net-host/allow-serverless-to-dev-orchestra-cluster-80-f29b49")
	if !strings.Contains(p.Description, "Shared VPC host project net-host") {
		t.Fatalf("description %q", p.Description)
	}
	w.srv.InjectFault(fakegcp.Fault{Method: "POST", PathContains: "/projects/net-host/global/firewalls", Permission: "compute.firewalls.create"})
	ap, dir := applier(t, env)
	res, err := ap.Apply(context.Background(), p, nil)
	if apierr.KindOf(err) != apierr.Permission || !strings.Contains(err.Error(), "compute.firewalls.create") ||
		!strings.Contains(err.Error(), "gcloud compute firewall-rules create allow-serverless-to-dev-orchestra-cluster-80-f29b49 --project net-host --network shared") {
		t.Fatalf("apply: %v", err)
	}
	if !p.Advice || len(p.Commands) != 2 || !strings.Contains(p.Commands[0], "k8s-fw-a8d3") {
		t.Fatalf("the plan did not become advice with GKE's command first: %v %q", p.Advice, p.Commands)
	}
	if len(w.srv.Firewalls(host)) != 3 {
		t.Fatal("a rule was created")
	}
	e, _ := fixes.OpenJournal(dir).Get(res.Entry.ID)
	if e.State != fixes.StateFailed || len(e.Undo) != 0 {
		t.Fatalf("journal %+v", e)
	}
}

// The Cloud Run egress fix: read, save the template, PATCH with the etag, follow the operation to the
// new revision; undo restores the template, and refuses once the service changed again.
func TestRunEgressFixAppliesAndUndoes(t *testing.T) {
	w := newReachWorld(t)
	w.putService(agentILB("34.118.16.5"))
	w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "34.118.16.5", LoadBalancingScheme: "INTERNAL"})
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) {
		s.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY"
		s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &run.GoogleCloudRunV2EnvVar{Name: "DB_PASSWORD", Value: "hunter2-not-for-the-journal"})
	})
	w.srv.SetOperationDelay(300 * time.Millisecond)
	prev := RunOpPollInterval
	RunOpPollInterval = 50 * time.Millisecond
	t.Cleanup(func() { RunOpPollInterval = prev })
	env := w.env(false)
	r := w.run(env)["clusterip-unreachable"]
	p := planByID(t, r, "run-egress-all-traffic/europe-west1/gke-connectivity-tester4")
	if p.Commands[0] != "gcloud run services update gke-connectivity-tester4 --region europe-west1 --project dev-orchestra --vpc-egress=all-traffic" || p.Affects == "" {
		t.Fatalf("plan %+v", p)
	}
	before, _ := w.srv.RunService(wProject, wRegion, wRun)
	ap, dir := applier(t, env)
	res, err := ap.Apply(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := w.srv.RunService(wProject, wRegion, wRun)
	if after.Template.VpcAccess.Egress != "ALL_TRAFFIC" || after.Generation != before.Generation+1 || after.Template.VpcAccess.Connector != before.Template.VpcAccess.Connector ||
		after.Template.Containers[0].Env[0].Value != before.Template.Containers[0].Env[0].Value {
		t.Fatalf("after the fix: %+v", after.Template.VpcAccess)
	}
	if !strings.Contains(res.Waited, after.LatestReadyRevision) || after.LatestReadyRevision == before.LatestReadyRevision {
		t.Fatalf("waited %q, latest ready %s (before %s)", res.Waited, after.LatestReadyRevision, before.LatestReadyRevision)
	}
	e, _ := fixes.OpenJournal(dir).Get(res.Entry.ID)
	if e.Prior[0].Version != before.Etag || !strings.Contains(string(e.Prior[0].Contents), "PRIVATE_RANGES_ONLY") {
		t.Fatalf("journal prior %+v", e.Prior)
	}
	// The journal keeps what the fix changed, not the container's environment (secrets live there).
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) == 0 {
		t.Fatal("no journal file")
	} else {
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "hunter2") {
				t.Fatalf("journal %s holds an environment value", f)
			}
		}
	}
	if rs := w.run(nil); !reachable(rs["clusterip-unreachable"]) {
		t.Fatalf("re-check%s", dump(rs))
	}
	if err := (&fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: w.env(false).FixDeps, Target: ap.Target}).Undo(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	undone, _ := w.srv.RunService(wProject, wRegion, wRun)
	if undone.Template.VpcAccess.Egress != "PRIVATE_RANGES_ONLY" {
		t.Fatalf("undo left egress %q", undone.Template.VpcAccess.Egress)
	}

	// Apply again, then someone changes the service: undo refuses to overwrite it.
	r = w.run(w.env(false))["clusterip-unreachable"]
	res, err = ap.Apply(context.Background(), planByID(t, r, p.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := w.env(false).Inv.GCP()
	cur, _ := g.Run.Projects.Locations.Services.Get(after.Name).Do()
	cur.Labels = map[string]string{"changed": "by-someone"}
	if _, err := g.Run.Projects.Locations.Services.Patch(cur.Name, cur).Do(); err != nil {
		t.Fatal(err)
	}
	err = ap.Undo(context.Background(), res.Entry)
	if err == nil || !strings.Contains(err.Error(), "changed since the fix") {
		t.Fatalf("undo over a later change: %v", err)
	}
	if s, _ := w.srv.RunService(wProject, wRegion, wRun); s.Template.VpcAccess.Egress != "ALL_TRAFFIC" || s.Labels["changed"] != "by-someone" {
		t.Fatal("undo overwrote a later change")
	}
}

// A concurrent change between the snapshot and the PATCH stops the fix: the etag guard answers 409,
// nothing is written, the entry is aborted.
func TestRunEgressFixStopsOnConcurrentChange(t *testing.T) {
	w := newReachWorld(t)
	w.putService(agentILB("34.118.16.5"))
	w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY" })
	env := w.env(false)
	p := planByID(t, w.run(env)["clusterip-unreachable"], "run-egress-all-traffic/europe-west1/gke-connectivity-tester4")
	ap, _ := applier(t, env)
	g, _ := env.Inv.GCP()
	res, err := ap.Apply(context.Background(), p, func(line string) {
		if strings.HasPrefix(line, "journaled as") {
			cur, _ := g.Run.Projects.Locations.Services.Get("projects/dev-orchestra/locations/europe-west1/services/" + wRun).Do()
			cur.Labels = map[string]string{"x": "y"}
			if _, err := g.Run.Projects.Locations.Services.Patch(cur.Name, cur).Do(); err != nil {
				t.Error(err)
			}
		}
	})
	if apierr.KindOf(err) != apierr.Conflict || res.Entry.State != fixes.StateAborted {
		t.Fatalf("got %v (%+v)", err, res)
	}
	if s, _ := w.srv.RunService(wProject, wRegion, wRun); s.Template.VpcAccess.Egress != "PRIVATE_RANGES_ONLY" {
		t.Fatal("the fix wrote despite the concurrent change")
	}
}

// Plans adapt to the cluster: the legacy annotation key before GKE 1.17, global access when the
// client is in another region.
func TestInternalLBPlanAdaptsToVersionAndRegion(t *testing.T) {
	w := newReachWorld(t)
	w.deleteService("default", "development-agent-ilb")
	c, _ := w.srv.Cluster(wProject, wRegion, wCluster)
	c.CurrentMasterVersion = "1.16.15-gke.7800"
	w.srv.AddCluster(wProject, wRegion, c)
	w.srv.AddConnector(wProject, "us-central1", &vpcaccess.Connector{Name: wConnector, Network: "default", IpCidrRange: wConnRange, State: "READY"})
	w.srv.AddRunService(wProject, "us-central1", runService("us-central1", "ALL_TRAFFIC"))
	w.targets.CloudRunService = "us-central1/" + wRun
	r := w.run(nil)["clusterip-unreachable"]
	p := planByID(t, r, "create-internal-lb/default/development-agent")
	for _, want := range []string{"+     cloud.google.com/load-balancer-type: Internal", "+     networking.gke.io/internal-load-balancer-allow-global-access: \"true\""} {
		if !strings.Contains(p.Diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, p.Diff)
		}
	}
	if strings.Contains(p.Diff, "networking.gke.io/load-balancer-type") || !strings.Contains(p.Description, "1.16.15-gke.7800") || !strings.Contains(p.Description, "us-central1") {
		t.Fatalf("plan %s\n%s", p.Description, p.Diff)
	}
}

// The egress fix is judged against what else uses the service's egress (issue 12): with Cloud NAT on
// the connector's network and region it is an ordinary fix; without it, ALL_TRAFFIC would cut the
// service's internet (and, without Private Google Access, Google APIs), so it is destructive and says
// so; when Cloud NAT cannot be read the change is not offered at all, only advice naming the permission.
func TestRunEgressFixJudgedAgainstCloudNAT(t *testing.T) {
	setup := func(t *testing.T) *reachWorld {
		w := newReachWorld(t)
		w.putService(agentILB("34.118.16.5"))
		w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "34.118.16.5", LoadBalancingScheme: "INTERNAL"})
		w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY" })
		return w
	}
	const id = "run-egress-all-traffic/europe-west1/gke-connectivity-tester4"

	t.Run("no_nat_is_destructive", func(t *testing.T) {
		w := setup(t)
		p := planByID(t, w.run(w.env(false))["clusterip-unreachable"], id)
		if !p.Destructive || p.Advice || !p.NeedsConfirmation() || !strings.Contains(p.Affects, "no Cloud NAT on network default") || !strings.Contains(p.Affects, "the internet") {
			t.Fatalf("plan without NAT: destructive=%v advice=%v affects %q", p.Destructive, p.Advice, p.Affects)
		}
	})
	t.Run("nat_for_all_subnets_is_an_ordinary_fix", func(t *testing.T) {
		w := setup(t)
		w.srv.AddRouter(wProject, wRegion, &compute.Router{Name: "nat-router", Network: "default",
			Nats: []*compute.RouterNat{{Name: "nat", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES", NatIpAllocateOption: "AUTO_ONLY"}}})
		p := planByID(t, w.run(w.env(false))["clusterip-unreachable"], id)
		if p.Destructive || p.Advice || !strings.Contains(p.Affects, "Cloud NAT nat-router/nat translates every subnet") {
			t.Fatalf("plan with NAT: destructive=%v advice=%v affects %q", p.Destructive, p.Advice, p.Affects)
		}
	})
	t.Run("nat_for_other_subnets_only_is_destructive", func(t *testing.T) {
		w := setup(t)
		w.srv.AddRouter(wProject, wRegion, &compute.Router{Name: "nat-router", Network: "default",
			Nats: []*compute.RouterNat{{Name: "nat", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
				Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "default", SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}}}}})
		p := planByID(t, w.run(w.env(false))["clusterip-unreachable"], id)
		if !p.Destructive || !strings.Contains(p.Affects, "does not translate the source's range: nat-router/nat (only default)") {
			t.Fatalf("plan with a NAT for other subnets: destructive=%v affects %q", p.Destructive, p.Affects)
		}
	})
	t.Run("nat_unreadable_is_advice_naming_the_permission", func(t *testing.T) {
		w := setup(t)
		w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/routers", Permission: "compute.routers.list"})
		p := planByID(t, w.run(w.env(false))["clusterip-unreachable"], id)
		if !p.Advice || p.Apply != nil || !strings.Contains(p.Title, "compute.routers.list") || len(p.Commands) != 2 {
			t.Fatalf("plan when Cloud NAT is unreadable: %+v", p)
		}
	})
}

// Replacing a connector is advised only when it is in ERROR; one being created or updated is waited
// for (issue 12).
func TestConnectorReplacementOnlyForError(t *testing.T) {
	for _, tc := range []struct{ state, want, not string }{
		{"CREATING", "wait-connector/europe-west1/my-vpc-connector", "replace-connector/europe-west1/my-vpc-connector"},
		{"UPDATING", "wait-connector/europe-west1/my-vpc-connector", "replace-connector/europe-west1/my-vpc-connector"},
		{"ERROR", "replace-connector/europe-west1/my-vpc-connector", "wait-connector/europe-west1/my-vpc-connector"},
	} {
		t.Run(tc.state, func(t *testing.T) {
			w := newReachWorld(t)
			if err := w.srv.SetConnectorState(wProject, wRegion, wConnector, tc.state); err != nil {
				t.Fatal(err)
			}
			rs := w.run(w.env(true))
			for _, id := range []string{"vpc-connector-ready", "clusterip-unreachable"} {
				r := rs[id]
				if fixByID(r, tc.want) == nil || fixByID(r, tc.not) != nil {
					var ids []string
					for _, p := range r.Fixes {
						ids = append(ids, p.ID)
					}
					t.Errorf("%s (%s %s): fixes %v, want %s and not %s", id, r.Status, r.Cause, ids, tc.want, tc.not)
				}
			}
		})
	}
}
