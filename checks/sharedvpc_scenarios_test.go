package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The Shared VPC layout of issue 12, served by the fake Google API server through the real clients:
// the cluster in a platform project on a host project's network and subnet, the Cloud Run client in an
// app project and another region, on Direct VPC egress given by a shared subnet only, with network
// tags. Firewall rules, subnets and policies live in the host; forwarding rules in the platform
// project (where GKE creates them).
const (
	xHost     = "acme-net-host"
	xPlatform = "acme-platform"
	xApp      = "acme-app-dev"
	xNet      = "shared-net"
	xRegion   = "europe-west1"
	xRunReg   = "europe-west4"
	xRunNet   = "10.140.0.0/26"
	xRunTag   = "run-clients"
	xNodeTag  = "gke-platform-cluster-1a2b3c4d-node"
	xCluster  = "platform-cluster"
)

type xprojWorld struct {
	reachWorld
	scope inventory.Scope
}

func xRunService(tweak func(*run.GoogleCloudRunV2Service)) *run.GoogleCloudRunV2Service {
	s := &run.GoogleCloudRunV2Service{Name: wRun, Template: &run.GoogleCloudRunV2RevisionTemplate{
		VpcAccess: &run.GoogleCloudRunV2VpcAccess{Egress: "ALL_TRAFFIC", NetworkInterfaces: []*run.GoogleCloudRunV2NetworkInterface{{
			Subnetwork: "projects/" + xHost + "/regions/" + xRunReg + "/subnetworks/run-ew4", Tags: []string{xRunTag}}}},
		Containers: []*run.GoogleCloudRunV2Container{{Image: "x",
			Env: []*run.GoogleCloudRunV2EnvVar{{Name: "DEV_AGENT_URL", Value: "http://development-agent.default.svc.cluster.local:80"}}}}}}
	if tweak != nil {
		tweak(s)
	}
	return s
}

func newXprojWorld(t *testing.T) *xprojWorld {
	t.Helper()
	return newXprojWorldWith(t, true)
}

// newXprojWorldWith builds the layout; denyHostFirewalls makes testIamPermissions on the host leave
// out compute.firewalls.create (the platform project's cluster admin holds nothing there).
func newXprojWorldWith(t *testing.T, denyHostFirewalls bool) *xprojWorld {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	hostNet := "projects/" + xHost + "/global/networks/" + xNet
	s.AddNetwork(xHost, &compute.Network{Name: xNet})
	s.AddSubnetwork(xHost, xRegion, &compute.Subnetwork{Name: "gke-nodes", Network: xNet, IpCidrRange: "10.132.0.0/20"})
	s.AddSubnetwork(xHost, xRunReg, &compute.Subnetwork{Name: "run-ew4", Network: xNet, IpCidrRange: xRunNet})
	s.AddCluster(xPlatform, xRegion, &container.Cluster{Name: xCluster, Network: xNet, Subnetwork: "gke-nodes",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "10.4.0.0/14", CurrentMasterVersion: "1.33.5-gke.1308000",
		IpAllocationPolicy: &container.IPAllocationPolicy{UseIpAliases: true},
		NetworkConfig:      &container.NetworkConfig{Network: hostNet, Subnetwork: "projects/" + xHost + "/regions/" + xRegion + "/subnetworks/gke-nodes"},
		NodePools:          []*container.NodePool{{Name: "default-pool", Config: &container.NodeConfig{ServiceAccount: "nodes@acme-platform.iam.gserviceaccount.com", Tags: []string{xNodeTag}}}}})
	for _, f := range []*compute.Firewall{
		{Name: "gke-platform-cluster-1a2b3c4d-vms", Priority: 1000, SourceRanges: []string{"10.132.0.0/20"}, TargetTags: []string{xNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"1-65535"}}}},
		{Name: "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"not-the-nodes"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}},
		{Name: "allow-health-checks", Priority: 1000, SourceRanges: []string{"35.191.0.0/16", "130.211.0.0/22"}, TargetTags: []string{xNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}},
	} {
		f.Network = xNet
		s.AddFirewall(xHost, f)
	}
	s.AddRunService(xApp, xRunReg, xRunService(nil))
	s.AddForwardingRule(xPlatform, xRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: wILBIP, LoadBalancingScheme: "INTERNAL",
		IPProtocol: "TCP", Network: hostNet, Ports: []string{"80"}, AllowGlobalAccess: true})
	s.SetIamPolicy(xPlatform, nil)
	s.SetIamPolicy(xApp, nil)
	s.SetIamPolicy(xHost, nil)
	if denyHostFirewalls {
		s.DenyPermissions(xHost, fixes.FirewallCreatePermission)
	}
	ilb := agentILB(wILBIP)
	ilb.Annotations["networking.gke.io/internal-load-balancer-allow-global-access"] = "true"
	kc := kfake.NewSimpleClientset(agentService(), ilb)
	w := &xprojWorld{reachWorld: reachWorld{t: t, srv: s, kube: kc, where: Laptop}, scope: inventory.Scope{Project: xPlatform, Location: xRegion, Cluster: xCluster}}
	w.targets.SourceProjects = []string{xApp}
	return w
}

func (w *xprojWorld) runAll() map[string]Result {
	w.t.Helper()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.srv.URL, ReadOnly: true, MaxRetries: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	inv := inventory.New(w.scope, w.kube, nil, g, nil)
	env := &Env{Target: Target{Project: xPlatform, Location: xRegion, Cluster: xCluster}, Targets: w.targets, Inv: inv,
		Where: w.where, ReadOnly: true, Now: time.Now, FixDeps: &fixes.Deps{Kube: w.kube, GCP: g}}
	return w.run(env)
}

func (w *xprojWorld) allowRunToNodes() {
	w.srv.AddFirewall(xHost, &compute.Firewall{Name: "allow-run-clients-to-nodes", Network: xNet, Priority: 1000,
		SourceRanges: []string{xRunNet}, TargetTags: []string{xNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
}

// The client is found without naming it: in the app project (--source-project) and another region
// (locations/-). Direct VPC egress given by a shared subnet only lands in the host's network, read
// from the subnetwork; the firewall is the host's; with the rule in place everything passes.
func TestSharedVPCDiscoversTheAppProjectsClientAndPasses(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	rs := w.runAll()
	for _, id := range reachIDs {
		if id == "vpc-connector-ready" {
			continue // Direct VPC egress: not applicable
		}
		if !reachable(rs[id]) {
			t.Fatalf("%s: %s %s%s", id, rs[id].Status, rs[id].Summary, dump(rs))
		}
	}
	eg := rs["run-vpc-egress"]
	if !strings.Contains(dump(rs), "projects/"+xHost+"/global/networks/"+xNet+", the cluster's network") {
		t.Fatalf("run-vpc-egress did not compare against the host's network: %s", dump(map[string]Result{"run-vpc-egress": eg}))
	}
	fw := rs["firewall-serverless-to-nodes"]
	if !strings.Contains(dump(rs), "allowed by allow-run-clients-to-nodes") || !strings.Contains(dump(rs), "Shared VPC host project "+xHost) ||
		!strings.Contains(dump(rs), "tags "+xRunTag) {
		t.Fatalf("firewall: %s%s", fw.Summary, dump(rs))
	}
	if !strings.Contains(dump(rs), "Cloud Run "+wRun+" ("+xRunReg+")") {
		t.Fatalf("the client in %s was not found: %s", xRunReg, dump(rs))
	}
}

// Without --source-project the app project's client is not discovered: nothing is judged as a pass
// on a client it never saw.
func TestSharedVPCWithoutSourceProjectFindsNoClient(t *testing.T) {
	w := newXprojWorld(t)
	w.targets.SourceProjects = nil
	rs := w.runAll()
	if r := rs["run-vpc-egress"]; r.Status != Skip || !strings.Contains(r.Summary, "no Cloud Run or App Engine source") {
		t.Fatalf("run-vpc-egress %s: %s", r.Status, r.Summary)
	}
}

// The named forms of --cloud-run-service reach the app project's service without --source-project.
func TestSharedVPCNamedCloudRunServiceInAnotherProject(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	w.targets.SourceProjects = nil
	w.targets.CloudRunService = "projects/" + xApp + "/locations/" + xRunReg + "/services/" + wRun
	rs := w.runAll()
	if r := rs["clusterip-unreachable"]; !reachable(r) {
		t.Fatalf("clusterip-unreachable %s: %s%s", r.Status, r.Summary, dump(rs))
	}
}

// The rule to the nodes is missing in the host project, where the caller may not create rules: the
// fix is advice for the host's network team with the exact command (--project HOST) and the role.
// When testIamPermissions says the caller may, the same rule is an applicable fix in the host.
func TestSharedVPCFirewallFixInTheHostIsAdviceUnlessAllowed(t *testing.T) {
	w := newXprojWorld(t)
	rs := w.runAll()
	r := rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "firewall-blocks-serverless" {
		t.Fatalf("clusterip-unreachable %s %s: %s%s", r.Status, r.Cause, r.Summary, dump(rs))
	}
	name := fixes.FirewallRuleName(xCluster, xRunNet, 80)
	p := planByID(t, r, "request-firewall/"+xHost+"/"+name)
	if !p.Advice || len(p.Commands) == 0 || !strings.Contains(p.Commands[len(p.Commands)-1], "--project "+xHost) ||
		!strings.Contains(p.Commands[len(p.Commands)-1], "--source-ranges "+xRunNet) || !strings.Contains(p.Commands[len(p.Commands)-1], "--target-tags "+xNodeTag) {
		t.Fatalf("plan %+v", p)
	}
	if !strings.Contains(p.Description, fixes.FirewallAdminRole+" on project "+xHost) || !strings.Contains(p.Description, "testIamPermissions") {
		t.Fatalf("plan does not name the role and how it was decided: %s", p.Description)
	}

	w2 := newXprojWorldWith(t, false)
	r = w2.runAll()["clusterip-unreachable"]
	p = planByID(t, r, "create-firewall/"+xHost+"/"+name)
	if p.Advice || p.Apply == nil {
		t.Fatalf("with compute.firewalls.create on the host the fix is applicable: %+v", p)
	}
}

// A host project the caller cannot read: the firewall steps skip naming the permission and the host
// project, and the primary never passes on them.
func TestSharedVPCUnreadableHostSkipsNamingProject(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/projects/" + xHost + "/global/networks/" + xNet + "/getEffectiveFirewalls", Permission: "compute.networks.getEffectiveFirewalls"})
	rs := w.runAll()
	fw := rs["firewall-serverless-to-nodes"]
	if fw.Status != Skip || fw.Cause != "missing-permission" || !strings.Contains(fw.Summary, "compute.networks.getEffectiveFirewalls on project "+xHost) {
		t.Fatalf("firewall %s %s: %s", fw.Status, fw.Cause, fw.Summary)
	}
	if r := rs["clusterip-unreachable"]; r.Status == Pass {
		t.Fatalf("clusterip-unreachable passes on an unread host firewall: %s", r.Summary)
	}
}

// An app project whose services cannot be listed: run-vpc-egress does not pass, and names it.
func TestSharedVPCUnlistableSourceProjectIsNoPass(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	w.targets.SourceProjects = []string{xApp, "acme-app-prod"}
	w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/projects/acme-app-prod/locations/-/services", Permission: "run.services.list"})
	rs := w.runAll()
	r := rs["run-vpc-egress"]
	if r.Status != Skip || !strings.Contains(r.Summary, "run.services.list on project acme-app-prod") {
		t.Fatalf("run-vpc-egress %s: %s", r.Status, r.Summary)
	}
}

// Direct VPC egress by subnet only, on a subnet of another network than the cluster's: the network is
// read from the subnetwork and the mismatch is found (it used to be assumed "default" and skipped).
func TestSharedVPCSubnetOnlyDirectVPCInAnotherNetwork(t *testing.T) {
	w := newXprojWorld(t)
	w.srv.AddNetwork(xApp, &compute.Network{Name: "app-net"})
	w.srv.AddSubnetwork(xApp, xRunReg, &compute.Subnetwork{Name: "app-subnet", Network: "app-net", IpCidrRange: "10.200.0.0/24"})
	w.srv.AddRunService(xApp, xRunReg, xRunService(func(s *run.GoogleCloudRunV2Service) {
		s.Template.VpcAccess.NetworkInterfaces[0].Subnetwork = "app-subnet"
	}))
	rs := w.runAll()
	r := rs["run-vpc-egress"]
	if r.Status != Fail || r.Cause != "no-vpc-access" || !strings.Contains(r.Summary, "projects/"+xApp+"/global/networks/app-net") {
		t.Fatalf("run-vpc-egress %s %s: %s", r.Status, r.Cause, r.Summary)
	}
}

// A connector in the host project (Shared VPC connectors live there) is read from its own project.
func TestSharedVPCConnectorInTheHost(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	w.srv.AddConnector(xHost, xRunReg, &vpcaccess.Connector{Name: "host-connector", Network: xNet, IpCidrRange: "10.8.0.0/28", State: "READY"})
	w.srv.AddFirewall(xHost, &compute.Firewall{Name: "allow-connector-to-nodes", Network: xNet, Priority: 1000,
		SourceRanges: []string{"10.8.0.0/28"}, TargetTags: []string{xNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
	w.srv.AddRunService(xApp, xRunReg, xRunService(func(s *run.GoogleCloudRunV2Service) {
		s.Template.VpcAccess = &run.GoogleCloudRunV2VpcAccess{Egress: "ALL_TRAFFIC", Connector: "projects/" + xHost + "/locations/" + xRunReg + "/connectors/host-connector"}
	}))
	// In a host project nobody created Serverless VPC Access's own rule: the READY connector carries
	// nothing; the fix is advice for the host's network team.
	rs := w.runAll()
	r := rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "connector-firewall-missing" || rs["vpc-connector-ready"].Cause != "connector-firewall-missing" {
		t.Fatalf("clusterip-unreachable %s %s: %s%s", r.Status, r.Cause, r.Summary, dump(rs))
	}
	p := planByID(t, r, "request-firewall/"+xHost+"/allow-vpc-connector-europe-west4-host-connector-ingress")
	if !p.Advice || !strings.Contains(p.Commands[0], "--source-ranges 35.199.224.0/19 --target-tags vpc-connector-europe-west4-host-connector --allow icmp,tcp:667,udp:665-666") ||
		!strings.Contains(p.Commands[0], "--project "+xHost) {
		t.Fatalf("plan %+v", p)
	}
	w.srv.AddFirewall(xHost, &compute.Firewall{Name: "allow-serverless-vpc-access", Network: xNet, Priority: 1000,
		SourceRanges: []string{"35.199.224.0/19"}, TargetTags: []string{"vpc-connector"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"667"}}}})
	rs = w.runAll()
	for _, id := range []string{"run-vpc-egress", "vpc-connector-ready", "firewall-serverless-to-nodes", "clusterip-unreachable"} {
		if !reachable(rs[id]) {
			t.Fatalf("%s %s: %s%s", id, rs[id].Status, rs[id].Summary, dump(rs))
		}
	}
}

// Google's health checks cannot reach the nodes (GKE could not create its rule in the host): the
// internal load balancer has no healthy backend, whatever the client's rule; the fix is advice for the
// host with GKE's health port.
func TestSharedVPCHealthChecksBlocked(t *testing.T) {
	w := newXprojWorld(t)
	w.allowRunToNodes()
	w.srv.DeleteFirewall(xHost, "allow-health-checks")
	rs := w.runAll()
	r := rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "health-check-blocked" || rs["ilb-provisioned"].Cause != "health-check-blocked" ||
		!strings.Contains(r.Summary, "tcp:10256") {
		t.Fatalf("clusterip-unreachable %s %s: %s%s", r.Status, r.Cause, r.Summary, dump(rs))
	}
	p := planByID(t, r, "request-firewall/"+xHost+"/allow-lb-health-checks-"+xCluster+"-10256")
	if !p.Advice || !strings.Contains(p.Commands[0], "--source-ranges 35.191.0.0/16,130.211.0.0/22 --target-tags "+xNodeTag+" --allow tcp:10256") {
		t.Fatalf("plan %+v", p)
	}
}
