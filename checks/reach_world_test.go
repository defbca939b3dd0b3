package checks

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The reachability world of the tests: seed 000's facts, served by the fake Google API server through
// the real clients, with a working internal LB in front of development-agent. Each scenario breaks
// one thing.
const (
	wProject   = "dev-orchestra"
	wRegion    = "europe-west1"
	wCluster   = "dev-orchestra-cluster"
	wNodeTag   = "gke-dev-orchestra-cluster-f5e836d0-node"
	wRun       = "gke-connectivity-tester4"
	wConnector = "my-vpc-connector"
	wConnRange = "192.168.99.0/28"
	wILBIP     = "10.132.0.6"
)

type reachWorld struct {
	t    *testing.T
	srv  *fakegcp.Server
	kube kubernetes.Interface
	// Targets of the runs (default: none named, discovery from the Cloud Run service's environment).
	targets Targets
	where   Where
	dialer  Dialer
}

func connectorName(region string) string {
	return "projects/" + wProject + "/locations/" + region + "/connectors/" + wConnector
}

func agentService() *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "development-agent", Labels: map[string]string{"app": "development-agent"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "34.118.231.33", Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
}

func agentILB(ip string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "development-agent-ilb", Annotations: map[string]string{model.AnnotationLBType: "Internal"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "34.118.230.1", Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 31380}}}}
	if ip != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	}
	return s
}

func runService(region string, egress string) *run.GoogleCloudRunV2Service {
	return &run.GoogleCloudRunV2Service{Name: wRun, Template: &run.GoogleCloudRunV2RevisionTemplate{
		ServiceAccount: "gke-connectivity-tester@dev-orchestra.iam.gserviceaccount.com",
		VpcAccess:      &run.GoogleCloudRunV2VpcAccess{Connector: connectorName(region), Egress: egress},
		Containers: []*run.GoogleCloudRunV2Container{{Image: "europe-west1-docker.pkg.dev/dev-orchestra/x/tester:1",
			Env: []*run.GoogleCloudRunV2EnvVar{{Name: "DEV_AGENT_URL", Value: "http://development-agent.default.svc.cluster.local:80"}}}}}}
}

func newReachWorld(t *testing.T) *reachWorld {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	s.AddNetwork(wProject, &compute.Network{Name: "default", AutoCreateSubnetworks: true})
	s.AddSubnetwork(wProject, wRegion, &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: "10.132.0.0/20"})
	s.AddCluster(wProject, wRegion, &container.Cluster{Name: wCluster, Network: "default", Subnetwork: "default",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "172.16.0.0/16", CurrentMasterVersion: "1.33.5-gke.1308000",
		NetworkConfig: &container.NetworkConfig{Network: "projects/" + wProject + "/global/networks/default", Subnetwork: "projects/" + wProject + "/regions/" + wRegion + "/subnetworks/default"},
		NodePools:     []*container.NodePool{{Name: "default-pool", Config: &container.NodeConfig{ServiceAccount: "default", Tags: []string{wNodeTag}}}}})
	for _, f := range []*compute.Firewall{
		{Name: "default-allow-internal", Priority: 65534, SourceRanges: []string{"10.128.0.0/9"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"0-65535"}}}},
		{Name: "gke-dev-orchestra-cluster-f5e836d0-vms", Priority: 1000, SourceRanges: []string{"10.128.0.0/9"}, TargetTags: []string{wNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"1-65535"}}}},
		// What GKE's service controller adds for the internal LB: its ports from 0.0.0.0/0.
		{Name: "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{wNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}},
		// GKE's health-check rule and Serverless VPC Access's own rule to its connector.
		{Name: "k8s-f5e836d09b2c4e6a-node-http-hc", Priority: 1000, SourceRanges: []string{"130.211.0.0/22", "35.191.0.0/16"}, TargetTags: []string{wNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"10256"}}}},
		{Name: "aet-europe--west1-my--vpc--connector-earfw", Priority: 1000, SourceRanges: []string{"35.199.224.0/19"}, TargetTags: []string{"vpc-connector-europe-west1-" + wConnector, "vpc-connector-us-central1-" + wConnector},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "icmp"}, {IPProtocol: "tcp", Ports: []string{"667"}}, {IPProtocol: "udp", Ports: []string{"665-666"}}}},
	} {
		f.Network = "default"
		s.AddFirewall(wProject, f)
	}
	s.AddConnector(wProject, wRegion, &vpcaccess.Connector{Name: wConnector, Network: "default", IpCidrRange: wConnRange, State: "READY"})
	s.AddRunService(wProject, wRegion, runService(wRegion, "ALL_TRAFFIC"))
	s.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: wILBIP, LoadBalancingScheme: "INTERNAL", IPProtocol: "TCP", Network: "default", Ports: []string{"80"}})
	kc := kfake.NewSimpleClientset(agentService(), agentILB(wILBIP))
	return &reachWorld{t: t, srv: s, kube: kc, where: Laptop}
}

// env builds a fresh run's Env (new inventory) with the real Google clients pointed at the fake.
func (w *reachWorld) env(readOnly bool) *Env {
	w.t.Helper()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.srv.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{Project: wProject, Location: wRegion, Cluster: wCluster}, w.kube, nil, g, nil)
	return &Env{Target: Target{Project: wProject, Location: wRegion, Cluster: wCluster}, Targets: w.targets, Inv: inv,
		Where: w.where, Dialer: w.dialer, ReadOnly: readOnly, Now: time.Now, FixDeps: &fixes.Deps{Kube: w.kube, GCP: g}}
}

// run runs the reachability checks on a fresh env and returns their results by id.
func (w *reachWorld) run(env *Env) map[string]Result {
	w.t.Helper()
	if env == nil {
		env = w.env(true)
	}
	var list []Check
	for _, id := range reachIDs {
		c, ok := Lookup(id)
		if !ok {
			w.t.Fatalf("%s is not registered", id)
		}
		list = append(list, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs := (&Engine{Concurrency: 5, Timeout: 20 * time.Second}).Run(ctx, env, list, nil)
	out := map[string]Result{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

var reachIDs = []string{"clusterip-unreachable", "ilb-provisioned", "firewall-serverless-to-nodes", "run-vpc-egress", "vpc-connector-ready"}

// setRun replaces the Cloud Run service's template through the seeding API.
func (w *reachWorld) setRun(region string, mutate func(*run.GoogleCloudRunV2Service)) {
	svc := runService(region, "ALL_TRAFFIC")
	mutate(svc)
	w.srv.AddRunService(wProject, region, svc)
}

func (w *reachWorld) deleteService(ns, name string) {
	w.t.Helper()
	if err := w.kube.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *reachWorld) putService(s *corev1.Service) {
	w.t.Helper()
	ctx := context.Background()
	_ = w.kube.CoreV1().Services(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
	if _, err := w.kube.CoreV1().Services(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// dump renders results for failure messages.
func dump(rs map[string]Result) string {
	var b strings.Builder
	for _, id := range reachIDs {
		r, ok := rs[id]
		if !ok {
			continue
		}
		b.WriteString("\n" + id + ": " + string(r.Status) + " [" + r.Cause + "] " + r.Summary)
		for _, e := range r.Evidence {
			b.WriteString("\n    - " + e.Step + " (" + string(e.Status) + "): " + strings.ReplaceAll(e.Detail, "\n", " | "))
		}
		for _, p := range r.Fixes {
			b.WriteString("\n    fix " + p.ID)
		}
	}
	return b.String()
}

func fixIDs(r Result) []string {
	var ids []string
	for _, p := range r.Fixes {
		ids = append(ids, p.ID)
	}
	return ids
}

func planByID(t *testing.T, r Result, id string) *fixes.Plan {
	t.Helper()
	for _, p := range r.Fixes {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no fix %s among %v", id, fixIDs(r))
	return nil
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

var metaCreate = metav1.CreateOptions{}

func eventFor(svc, reason, msg string) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: svc + "." + strings.ToLower(reason), Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Service", Namespace: "default", Name: svc, APIVersion: "v1"},
		Reason:         reason, Message: msg, Type: corev1.EventTypeNormal, Count: 1}
}

// reachable is the verdict of a path that is open: pass, or warn because the client still calls the
// cluster name although the Service is reachable at its load balancer (the world's Cloud Run client
// calls development-agent.default.svc.cluster.local).
func reachable(r Result) bool {
	return r.Status == Pass || r.Status == Warn && r.Cause == "client-calls-cluster-name"
}
