package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	runv2 "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/cli"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// The model benchmark's world (issue 9, item 6): a cluster with 20,000 Services in 200 namespaces
// (services range /16) on a real kube-apiserver, and on the Google side (the fake API server, read
// through the real clients) 5,000 VPC firewall rules, 50 firewall-policy rules, 2,000 DNS records in
// Cloud DNS zones and 200 Cloud Run services, each a client of a Service.
const (
	mProject   = "bench-project"
	mRegion    = "europe-west1"
	mCluster   = "bench-cluster"
	mNetwork   = "bench-vpc"
	mSubnet    = "bench-nodes"
	mConnector = "bench-conn"
	mNodeTag   = "gke-bench-cluster-5f2a9c1e-node"

	mServicesCIDR  = "34.118.0.0/16"
	mPodCIDR       = "10.64.0.0/14"
	mNodeCIDR      = "10.132.0.0/20"
	mConnectorCIDR = "10.8.0.0/28"

	mNamespaces   = 200
	mFirewalls    = 5000
	mPolicyRules  = 50 // 25 in a hierarchical policy, 25 in a global network policy
	mZones        = 10
	mRecords      = 2000 // mRecords/mZones A records per zone
	mRunServices  = 200
	mRunsPerPoint = 3
)

// mSizes are the Service counts measured, in order (the cluster grows from one to the next).
// GKEDOCTOR_BENCH_MODEL_SIZES=200,1000 measures other sizes (a quick look: the full run's set-up,
// creating 20,000 Services, takes most of half an hour on 2 cores).
var mSizes = modelSizes(os.Getenv("GKEDOCTOR_BENCH_MODEL_SIZES"), []int{5000, 20000})

func modelSizes(env string, def []int) []int {
	var out []int
	for _, f := range strings.Split(env, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 && (len(out) == 0 || n > out[len(out)-1]) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// mNames places the i-th Service of the cluster: namespace i%200, index i/200 in it. So every size
// is spread over all 200 namespaces, and the first 5,000 Services are the same at both sizes.
func mNames(i int) (ns string, j int) { return fmt.Sprintf("ns-%03d", i%mNamespaces), i / mNamespaces }

// mClusterIP is the i-th Service's ClusterIP (34.118.1.1 on; 34.118.0.1 is the kubernetes Service's).
func mClusterIP(i int) string { return fmt.Sprintf("34.118.%d.%d", 1+i/250, 1+i%250) }

// mILBIP is the internal load balancer IP of namespace k's svc-000-ilb, in the node subnet.
func mILBIP(k int) string { return fmt.Sprintf("10.132.%d.%d", 4+k/250, 1+k%250) }

// mService is the i-th Service: svc-NNN with one port; in each namespace index 1 is svc-000-ilb, the
// internal load balancer in front of svc-000 (same selector), the sibling the reachability checks
// look for.
func mService(i int) *corev1.Service {
	ns, j := mNames(i)
	name, sel := fmt.Sprintf("svc-%03d", j), fmt.Sprintf("app-%03d", j)
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench", "tier": fmt.Sprintf("t%d", j%4)},
			Annotations: map[string]string{"description": "a Service created by the gkedoctor benchmark to give the list some weight"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": sel}, ClusterIP: mClusterIP(i),
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if j == 1 {
		s.Name, s.Spec.Selector["app"] = "svc-000-ilb", "app-000"
		s.Annotations["networking.gke.io/load-balancer-type"] = "Internal"
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
	}
	return s
}

// parallel runs f(i) for i in [from, to) on 16 workers and returns the first error.
func parallel(from, to int, f func(i int) error) error {
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

// createModelServices creates Services [from, to) (and gives each svc-000-ilb its ingress IP, as the
// service controller would).
func createModelServices(ctx context.Context, cs kubernetes.Interface, from, to int) error {
	return parallel(from, to, func(i int) error {
		s := mService(i)
		got, err := cs.CoreV1().Services(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create Service %s/%s: %w", s.Namespace, s.Name, err)
		}
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			got.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: mILBIP(i % mNamespaces)}}
			if _, err := cs.CoreV1().Services(s.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update status of %s/%s: %w", s.Namespace, s.Name, err)
			}
		}
		return nil
	})
}

// seedModelGCP fills the fake Google API server through its Go API. It returns the A records it
// put in Cloud DNS (name → IP), for the resolver on loopback to answer as the VPC's would.
func seedModelGCP(g *fakegcp.Server) (map[string]string, error) {
	records := map[string]string{}
	netLink := "projects/" + mProject + "/global/networks/" + mNetwork
	g.AddNetwork(mProject, &compute.Network{Name: mNetwork, AutoCreateSubnetworks: false,
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"}})
	g.AddSubnetwork(mProject, mRegion, &compute.Subnetwork{Name: mSubnet, Network: mNetwork, IpCidrRange: mNodeCIDR, PrivateIpGoogleAccess: true,
		SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "pods", IpCidrRange: mPodCIDR}, {RangeName: "services", IpCidrRange: mServicesCIDR}}})
	g.AddRoute(mProject, &compute.Route{Name: "default-route-bench", Network: mNetwork, DestRange: "0.0.0.0/0", Priority: 1000,
		NextHopGateway: "global/gateways/default-internet-gateway"})
	g.AddCluster(mProject, mRegion, &container.Cluster{
		Name: mCluster, Network: mNetwork, Subnetwork: mSubnet,
		ClusterIpv4Cidr: mPodCIDR, ServicesIpv4Cidr: mServicesCIDR, CurrentMasterVersion: "1.33.4-gke.1000000",
		CurrentNodeVersion: "1.33.4-gke.1000000", CurrentNodeCount: 3, Endpoint: "34.76.1.2",
		Locations: []string{mRegion + "-b", mRegion + "-c", mRegion + "-d"},
		NodePools: []*container.NodePool{{Name: "default-pool", Status: "RUNNING", Version: "1.33.4-gke.1000000",
			Config: &container.NodeConfig{MachineType: "e2-standard-4", ServiceAccount: "default", Tags: []string{mNodeTag}}}},
		IpAllocationPolicy: &container.IPAllocationPolicy{UseIpAliases: true, ClusterSecondaryRangeName: "pods", ServicesSecondaryRangeName: "services",
			ClusterIpv4CidrBlock: mPodCIDR, ClusterIpv4Cidr: mPodCIDR, ServicesIpv4CidrBlock: mServicesCIDR, ServicesIpv4Cidr: mServicesCIDR, StackType: "IPV4"},
		NetworkConfig: &container.NetworkConfig{Network: netLink, Subnetwork: "projects/" + mProject + "/regions/" + mRegion + "/subnetworks/" + mSubnet,
			DatapathProvider: "ADVANCED_DATAPATH", DnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE", ClusterDnsDomain: "cluster.local"}},
		PrivateClusterConfig: &container.PrivateClusterConfig{EnablePrivateNodes: true, PrivateEndpoint: "10.132.0.2"},
		Status:               "RUNNING",
	})
	g.AddConnector(mProject, mRegion, &vpcaccess.Connector{Name: mConnector, Network: mNetwork, IpCidrRange: mConnectorCIDR, State: "READY",
		MinThroughput: 200, MaxThroughput: 300, MachineType: "e2-micro", MinInstances: 2, MaxInstances: 3})

	// 5,000 VPC firewall rules on the cluster's network: what a large shared network accumulates
	// (ingress allows per team tag and port, egress denies, a few broad rules), with the rules the
	// audited path needs among them.
	for k := 0; k < mFirewalls; k++ {
		f := &compute.Firewall{Name: fmt.Sprintf("fw-%04d", k), Network: mNetwork, Priority: int64(500 + k%3000),
			Description: "team rule generated by the gkedoctor benchmark"}
		switch {
		case k%10 == 0:
			f.Direction = "EGRESS"
			f.DestinationRanges = []string{fmt.Sprintf("192.168.%d.0/24", k%256)}
			f.TargetTags = []string{fmt.Sprintf("team-%d", k%97)}
			f.Denied = []*compute.FirewallDenied{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(1000 + k%5000)}}}
		case k%7 == 0:
			f.SourceRanges = []string{fmt.Sprintf("172.16.%d.0/24", k%256), fmt.Sprintf("172.17.%d.0/24", k%256)}
			f.TargetServiceAccounts = []string{fmt.Sprintf("team-%d@%s.iam.gserviceaccount.com", k%97, mProject)}
			f.Allowed = []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(8000 + k%1000), "9000-9100"}}}
		default:
			f.SourceRanges = []string{fmt.Sprintf("10.%d.%d.0/24", 16+k%100, k%256)}
			f.TargetTags = []string{fmt.Sprintf("team-%d", k%97), fmt.Sprintf("env-%d", k%5)}
			f.Allowed = []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(8000 + k%1000)}}, {IPProtocol: "udp", Ports: []string{fmt.Sprint(5000 + k%100)}}}
		}
		if k == 4321 { // the rule that lets the connector reach the nodes' load balancers
			*f = compute.Firewall{Name: f.Name, Network: mNetwork, Priority: 1000, Description: "connector to GKE internal LBs",
				SourceRanges: []string{mConnectorCIDR}, TargetTags: []string{mNodeTag},
				Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "8080"}}}}
		}
		g.AddFirewall(mProject, f)
	}
	// 50 firewall-policy rules: an organisation policy (blocklist, then goto_next) and a global
	// network policy (allows for shared services, then goto_next), so evaluation goes through both
	// before the VPC rules.
	var org, nw []*compute.FirewallPolicyRule
	for k := 0; k < mPolicyRules/2; k++ {
		org = append(org, &compute.FirewallPolicyRule{Priority: int64(100 + k), Action: "deny", Direction: "INGRESS",
			Description: "blocklist", Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{fmt.Sprintf("198.51.100.%d/32", k)},
				Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}})
		nw = append(nw, &compute.FirewallPolicyRule{Priority: int64(1000 + k), Action: "allow", Direction: "INGRESS",
			Description: "shared services", Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{fmt.Sprintf("10.200.%d.0/24", k)},
				Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{fmt.Sprint(7000 + k)}}}}})
	}
	org[len(org)-1] = &compute.FirewallPolicyRule{Priority: 1000, Action: "goto_next", Direction: "INGRESS",
		Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}}
	nw[len(nw)-1] = &compute.FirewallPolicyRule{Priority: 2000, Action: "goto_next", Direction: "INGRESS",
		Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}}
	g.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", ShortName: "org-baseline", Projects: []string{mProject}, Rules: org})
	g.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "bench-network-policy", Project: mProject, Networks: []string{mNetwork}, Priority: 1000, Rules: nw})

	// The internal load balancers of the svc-000-ilb Services.
	for k := 0; k < mNamespaces; k++ {
		g.AddForwardingRule(mProject, mRegion, &compute.ForwardingRule{Name: fmt.Sprintf("a%031x", k), IPAddress: mILBIP(k), IPProtocol: "TCP",
			Ports: []string{"80"}, LoadBalancingScheme: "INTERNAL", Network: mNetwork, Subnetwork: mSubnet,
			Description: fmt.Sprintf(`{"kubernetes.io/service-name":"ns-%03d/svc-000-ilb"}`, k)})
	}

	// 2,000 A records in Cloud DNS: the cluster's VPC-scope zone for cluster.local (as Cloud DNS for
	// GKE keeps it) with svc-000 of each namespace at its internal LB, and 9 private zones bound to the
	// network with 200 records each; record r of zone z points at the internal LB of namespace r.
	zones := []*dns.ManagedZone{{Name: "gke-bench-cluster-5f2a9c1e-dns-vpc", DnsName: "cluster.local.", Visibility: "private",
		Description: fmt.Sprintf("Private zone for GKE cluster %q with cluster suffix %q in project %q with scope %q", mCluster, "cluster.local.", mProject, "VPC_SCOPE")}}
	for z := 1; z < mZones; z++ {
		zones = append(zones, &dns.ManagedZone{Name: fmt.Sprintf("zone-%02d", z), DnsName: fmt.Sprintf("zone-%02d.bench.internal.", z), Visibility: "private"})
	}
	for z, zone := range zones {
		zone.PrivateVisibilityConfig = &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: "https://www.googleapis.com/compute/v1/" + netLink}}}
		g.AddManagedZone(mProject, zone)
		for r := 0; r < mRecords/mZones; r++ {
			name := fmt.Sprintf("rec-%03d.%s", r, zone.DnsName)
			if z == 0 {
				name = fmt.Sprintf("svc-000.ns-%03d.svc.cluster.local.", r)
			}
			ip := mILBIP(r % mNamespaces)
			if err := g.AddRRSet(mProject, zone.Name, &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: 300, Rrdatas: []string{ip}}); err != nil {
				return nil, err
			}
			records[name] = ip
		}
	}

	// 200 Cloud Run services behind the connector: even ones call svc-000 of a namespace by its
	// cluster DNS name, odd ones a name in a private zone that points at an internal LB.
	for k := 0; k < mRunServices; k++ {
		url := fmt.Sprintf("http://svc-000.ns-%03d.svc.cluster.local:80", k)
		if k%2 == 1 {
			url = fmt.Sprintf("http://rec-%03d.zone-%02d.bench.internal:80", k%(mRecords/mZones), 1+k%(mZones-1))
		}
		g.AddRunService(mProject, mRegion, &runv2.GoogleCloudRunV2Service{Name: fmt.Sprintf("run-%03d", k), Ingress: "INGRESS_TRAFFIC_ALL",
			Template: &runv2.GoogleCloudRunV2RevisionTemplate{ServiceAccount: fmt.Sprintf("run-%03d@%s.iam.gserviceaccount.com", k, mProject),
				VpcAccess: &runv2.GoogleCloudRunV2VpcAccess{Connector: mConnector, Egress: "ALL_TRAFFIC"},
				Containers: []*runv2.GoogleCloudRunV2Container{{Image: "europe-west1-docker.pkg.dev/bench-project/apps/client:1",
					Env: []*runv2.GoogleCloudRunV2EnvVar{{Name: "BACKEND_URL", Value: url}, {Name: "LOG_LEVEL", Value: "info"}}}}}})
	}
	g.SetIamPolicy(mProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{
		{Role: "roles/container.defaultNodeServiceAccount", Members: []string{"serviceAccount:123456789-compute@developer.gserviceaccount.com"}},
		{Role: "roles/viewer", Members: []string{"user:bench@example.com"}},
	}})
	return records, nil
}

// modelPoint is one size of the cluster, measured.
type modelPoint struct {
	n           int
	gk, kubectl run
}

type modelRun struct {
	points   []modelPoint
	statuses map[string]int // the audit's check results at the largest size, by status
	setup    time.Duration
	printed  bool
}

var (
	modelOnce   sync.Once
	modelResult *modelRun
)

// measureModel builds the world, grows the cluster through mSizes and measures the audit and kubectl
// at each size. Everything it starts is stopped before it returns.
func measureModel(b *testing.B, kubectl string) *modelRun {
	start := time.Now()
	gk := buildGkedoctor(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	srv, err := testenv.Start(ctx, testenv.Options{ExtraAPIServerArgs: []string{"--service-cluster-ip-range=" + mServicesCIDR}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	g := fakegcp.New()
	defer g.Close()
	records, err := seedModelGCP(g)
	if err != nil {
		b.Fatal(err)
	}
	// Live DNS probes go to a resolver on loopback that answers from the zones, never to the system's.
	resolver, err := fakedns.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer resolver.Close()
	for name, ip := range records {
		resolver.Set(name, mdns.TypeA, fakedns.Answer{RRs: []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300},
			A: net.ParseIP(ip)}}})
	}
	b.Setenv(gcp.EndpointEnv, g.URL)

	cs := srv.Clientset()
	if err := parallel(0, mNamespaces, func(k int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%03d", k)}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	args := []string{"audit", "--kubeconfig", srv.KubeconfigPath, "--project", mProject, "--location", mRegion, "--cluster", mCluster,
		"--resolver", resolver.Addr, "-o", "json"}
	r := &modelRun{}
	have := 0
	for _, n := range mSizes {
		t := time.Now()
		if err := createModelServices(ctx, cs, have, n); err != nil {
			b.Fatal(err)
		}
		b.Logf("created Services %d..%d in %s", have, n, time.Since(t).Round(time.Millisecond))
		have = n
		kc := median(b, mRunsPerPoint, kubectl, "--kubeconfig", srv.KubeconfigPath, "get", "svc", "-A", "-o", "json")
		a := median(b, mRunsPerPoint, gk, args...)
		r.points = append(r.points, modelPoint{n: n, gk: a, kubectl: kc})
	}
	r.statuses = auditStatuses(b, gk, args)
	if dir := os.Getenv("GKEDOCTOR_BENCH_PROFILE"); dir != "" {
		profileAudit(b, dir, args)
	}
	r.setup = time.Since(start)
	return r
}

// auditStatuses runs the audit once more and counts its results by status, to show it did the work
// (checks that skip for want of a fact would make a fast audit meaningless).
func auditStatuses(b *testing.B, gk string, args []string) map[string]int {
	cmd := exec.Command(gk, args...)
	// The GC trace tells the live heap (what the audit keeps) from the rest of its peak RSS.
	var trace strings.Builder
	cmd.Env, cmd.Stderr = append(os.Environ(), "GODEBUG=gctrace=1"), &trace
	out, err := cmd.Output()
	if lines := strings.Split(strings.TrimSpace(trace.String()), "\n"); len(lines) > 0 {
		var gcs []string
		for _, l := range lines {
			if strings.HasPrefix(l, "gc ") {
				gcs = append(gcs, l)
			}
		}
		b.Logf("audit GC trace: %d collections; largest heaps:", len(gcs))
		sort.Slice(gcs, func(i, j int) bool { return gcHeap(gcs[i]) > gcHeap(gcs[j]) })
		for _, l := range gcs[:min(3, len(gcs))] {
			b.Logf("  %s", l)
		}
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			b.Fatalf("audit: %v\n%s", err, out)
		}
	}
	var rep struct {
		Results []struct {
			ID, Status, Summary string
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		b.Fatalf("audit -o json: %v", err)
	}
	counts := map[string]int{}
	for _, c := range rep.Results {
		counts[c.Status]++
		b.Logf("%s %s: %s", c.Status, c.ID, c.Summary)
	}
	return counts
}

// gcHeap is the heap size at the start of a collection in a gctrace line ("… 12->14->7 MB …").
func gcHeap(line string) int {
	for _, f := range strings.Fields(line) {
		if a, _, ok := strings.Cut(f, "->"); ok {
			var n int
			fmt.Sscanf(a, "%d", &n)
			return n
		}
	}
	return 0
}

// profileAudit runs the same audit in this process under the CPU profiler and writes cpu.pprof and
// heap.pprof (after the run, before the inventory is dropped) to dir. Set GKEDOCTOR_BENCH_PROFILE=dir.
func profileAudit(b *testing.B, dir string, args []string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	t := time.Now()
	code := cli.Execute(context.Background(), ios, args)
	pprof.StopCPUProfile()
	b.Logf("in-process audit: exit %d in %s; profiles in %s", code, time.Since(t).Round(time.Millisecond), dir)
	h, err := os.Create(filepath.Join(dir, "allocs.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if err := pprof.Lookup("allocs").WriteTo(h, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkModelAuditVsKubectl is issue 9's performance target for the model: `gkedoctor audit` of a
// cluster with 20,000 Services in 200 namespaces (services range /16) and a Google side with 5,000
// firewall rules, 50 firewall-policy rules, 2,000 DNS records and 200 Cloud Run services, side by side
// with `kubectl get svc -A -o json` on the same kube-apiserver in the same run, at 5,000 and 20,000
// Services. Targets: audit wall ≤ 0.2× kubectl's, peak RSS ≤ 80 MiB, per-Service cost flat from 5k to
// 20k (linear growth).
func BenchmarkModelAuditVsKubectl(b *testing.B) {
	kubectl := os.Getenv("GKEDOCTOR_KUBECTL")
	if kubectl == "" {
		b.Skip("GKEDOCTOR_KUBECTL is not set: run `make bench` (it builds kubectl with hack/testbin/build-kubectl.sh)")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(testenv.BinDir(), bin)); err != nil {
			b.Skipf("kube-apiserver/etcd test binaries not built (%v): run `make bench`", err)
		}
	}
	// The benchmark function runs more than once (b.N = 1, then the requested count): the world is
	// built and measured once; its measurements are the benchmark.
	modelOnce.Do(func() { modelResult = measureModel(b, kubectl) })
	if modelResult == nil {
		b.Fatal("the measurement failed in an earlier run")
	}
	r := modelResult
	first, last := r.points[0], r.points[len(r.points)-1]
	perObj := func(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }
	growth := perObj(last.gk.wall, last.n) / perObj(first.gk.wall, first.n)
	b.ReportMetric(last.gk.wall.Seconds()/last.kubectl.wall.Seconds(), "audit/kubectl")
	b.ReportMetric(float64(last.gk.rssKB)/1024, "audit-RSS-MiB")
	b.ReportMetric(perObj(last.gk.wall, last.n), "µs/Service")
	b.ReportMetric(growth, "growth")
	if r.printed {
		return
	}
	r.printed = true
	fmt.Printf("\nmodel benchmark: %d namespaces, services range %s; Google side: %d firewall rules, %d policy rules, %d DNS records, %d Cloud Run services (set-up %s)\n",
		mNamespaces, mServicesCIDR, mFirewalls, mPolicyRules, mRecords, mRunServices, r.setup.Round(time.Second))
	fmt.Printf("%-9s %11s %11s %7s %11s %11s %14s %14s\n", "services", "audit", "kubectl", "ratio", "audit RSS", "kubectl RSS", "audit/Service", "kubectl/Service")
	for _, p := range r.points {
		fmt.Printf("%-9d %11s %11s %7.2f %7.1f MiB %7.1f MiB %11.1f µs %12.1f µs\n", p.n, p.gk.wall.Round(time.Millisecond), p.kubectl.wall.Round(time.Millisecond),
			p.gk.wall.Seconds()/p.kubectl.wall.Seconds(), float64(p.gk.rssKB)/1024, float64(p.kubectl.rssKB)/1024,
			perObj(p.gk.wall, p.n), perObj(p.kubectl.wall, p.n))
	}
	var st []string
	for k, v := range r.statuses {
		st = append(st, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(st)
	fmt.Printf("audit results at %d Services: %v\n", last.n, st)
	ok := func(b bool) string {
		if b {
			return "met"
		}
		return "MISSED"
	}
	ratio, rss := last.gk.wall.Seconds()/last.kubectl.wall.Seconds(), float64(last.gk.rssKB)/1024
	fmt.Printf("targets at %d: ratio %.2f ≤ 0.20 %s; RSS %.1f MiB ≤ 80 MiB %s; per-Service time %d vs %d: %.2fx (≤ 1 is linear or better)\n",
		last.n, ratio, ok(ratio <= 0.2), rss, ok(rss <= 80), last.n, first.n, growth)
}
