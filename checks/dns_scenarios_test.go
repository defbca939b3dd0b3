package checks

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	clouddns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// The seed's project, as the DNS scenarios set it up: the real Google API clients talk to the fake
// Google API server, client-go to a real kube-apiserver (one namespace per test).
const (
	dwProject   = "dev-orchestra"
	dwRegion    = "europe-west1"
	dwCluster   = "dev-orchestra-cluster"
	dwNetURL    = "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"
	dwOtherURL  = "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/other"
	dwGKEZone   = "gke-dev-orchestra-cluster-f5e836d0-dns"
	dwFwdZone   = "gke-cluster-dns-forwarding"
	dwKubeDNSIP = "34.118.224.10"
	dwRun       = "gke-connectivity-tester4"
	dwILBIP     = "10.132.0.6"
)

type dnsWorld struct {
	t    *testing.T
	fake *fakegcp.Server
	g    *gcp.Clients
	kube kubernetes.Interface
	ns   string
	// dnsConfig of the cluster (nil: kube-dns).
	dnsConfig *container.DNSConfig
	connNet   string // the connector's network ("default")
	resolver  string
}

func newDNSWorld(t *testing.T) *dnsWorld {
	t.Helper()
	srv := testenv.Shared(t)
	w := &dnsWorld{t: t, fake: fakegcp.New(), kube: srv.Clientset(), connNet: "default"}
	t.Cleanup(w.fake.Close)
	w.ns = srv.NewNamespace(t)
	var err error
	w.g, err = gcp.New(context.Background(), gcp.Options{Endpoint: w.fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	w.fake.AddNetwork(dwProject, &compute.Network{Name: "default"})
	w.fake.AddSubnetwork(dwProject, dwRegion, &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: "10.132.0.0/20"})
	w.ensureKubeDNS()
	w.putService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: w.ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}})
	return w
}

func (w *dnsWorld) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	w.t.Cleanup(cancel)
	return ctx
}

// ensureKubeDNS creates kube-system/kube-dns at GKE's usual ClusterIP, once per server.
var dwKubeDNSMu sync.Mutex

func (w *dnsWorld) ensureKubeDNS() {
	dwKubeDNSMu.Lock()
	defer dwKubeDNSMu.Unlock()
	if _, err := w.kube.CoreV1().Services("kube-system").Get(w.ctx(), "kube-dns", metav1.GetOptions{}); err == nil {
		return
	}
	_, err := w.kube.CoreV1().Services("kube-system").Create(w.ctx(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{ClusterIP: dwKubeDNSIP, Selector: map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		w.t.Fatal(err)
	}
}

func (w *dnsWorld) putService(s *corev1.Service) *corev1.Service {
	w.t.Helper()
	out, err := w.kube.CoreV1().Services(s.Namespace).Create(w.ctx(), s, metav1.CreateOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	if len(s.Status.LoadBalancer.Ingress) > 0 {
		out.Status = s.Status
		if out, err = w.kube.CoreV1().Services(s.Namespace).UpdateStatus(w.ctx(), out, metav1.UpdateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}
	return out
}

func (w *dnsWorld) service(name string) *corev1.Service {
	s, err := w.kube.CoreV1().Services(w.ns).Get(w.ctx(), name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// addILB creates NAME-ilb, the internal LB the reachability fix creates, with its IP and forwarding
// rule (what GKE's service controller does).
func (w *dnsWorld) addILB(ip string) {
	w.putService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent-ilb", Namespace: w.ns,
		Annotations: map[string]string{"networking.gke.io/load-balancer-type": "Internal"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: ip}}}}})
	w.fake.AddForwardingRule(dwProject, dwRegion, &compute.ForwardingRule{Name: "a" + strings.ReplaceAll(ip, ".", ""), IPAddress: ip,
		LoadBalancingScheme: "INTERNAL", Network: dwNetURL})
}

func (w *dnsWorld) devName() string { return "development-agent." + w.ns + ".svc.cluster.local." }

func (w *dnsWorld) clusterIP() string { return w.service("development-agent").Spec.ClusterIP }

// seedGCP writes the project: cluster, connector, Cloud Run client with its URL.
func (w *dnsWorld) seedGCP(envURL string) {
	nc := &container.NetworkConfig{Network: "projects/dev-orchestra/global/networks/default", DnsConfig: w.dnsConfig}
	w.fake.AddCluster(dwProject, dwRegion, &container.Cluster{Name: dwCluster, Network: "default", NetworkConfig: nc,
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "172.16.0.0/16"})
	w.fake.AddConnector(dwProject, dwRegion, &vpcaccess.Connector{Name: "my-vpc-connector", Network: w.connNet, IpCidrRange: "192.168.99.0/28"})
	if envURL == "" {
		envURL = "http://" + strings.TrimSuffix(w.devName(), ".") + ":80"
	}
	w.fake.AddRunService(dwProject, dwRegion, &run.GoogleCloudRunV2Service{Name: dwRun, Template: &run.GoogleCloudRunV2RevisionTemplate{
		VpcAccess: &run.GoogleCloudRunV2VpcAccess{Connector: "projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector", Egress: "ALL_TRAFFIC"},
		Containers: []*run.GoogleCloudRunV2Container{{Image: "europe-docker.pkg.dev/dev-orchestra/app/tester:1",
			Env: []*run.GoogleCloudRunV2EnvVar{{Name: "DEV_AGENT_URL", Value: envURL}, {Name: "LOG_LEVEL", Value: "debug"}}}}}})
}

func dwZone(name, dnsName string, networks ...string) *clouddns.ManagedZone {
	z := &clouddns.ManagedZone{Name: name, DnsName: dnsName, Visibility: "private", PrivateVisibilityConfig: &clouddns.ManagedZonePrivateVisibilityConfig{}}
	for _, n := range networks {
		z.PrivateVisibilityConfig.Networks = append(z.PrivateVisibilityConfig.Networks, &clouddns.ManagedZonePrivateVisibilityConfigNetwork{NetworkUrl: n})
	}
	return z
}

func (w *dnsWorld) addGKEZone(vpcScope bool, records map[string]string) {
	z := dwZone(dwGKEZone, "cluster.local.")
	z.Description = `Private zone for GKE cluster "dev-orchestra-cluster" with cluster suffix "cluster.local."`
	if vpcScope {
		z.PrivateVisibilityConfig.Networks = []*clouddns.ManagedZonePrivateVisibilityConfigNetwork{{NetworkUrl: dwNetURL}}
	} else {
		z.PrivateVisibilityConfig.GkeClusters = []*clouddns.ManagedZonePrivateVisibilityConfigGKECluster{{GkeClusterName: "projects/dev-orchestra/locations/europe-west1/clusters/" + dwCluster}}
	}
	w.fake.AddManagedZone(dwProject, z)
	w.addRecords(dwGKEZone, records)
}

func (w *dnsWorld) addRecords(zone string, records map[string]string) {
	for name, ip := range records {
		if err := w.fake.AddRRSet(dwProject, zone, &clouddns.ResourceRecordSet{Name: name, Type: "A", Ttl: 30, Rrdatas: []string{ip}}); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *dnsWorld) addForwardingZone(target string) {
	z := dwZone(dwFwdZone, "cluster.local.", dwNetURL)
	z.ForwardingConfig = &clouddns.ManagedZoneForwardingConfig{TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: target}}}
	w.fake.AddManagedZone(dwProject, z)
}

func (w *dnsWorld) addOwnedZone(network string, records map[string]string) {
	z := dwZone(fixes.DefaultOwnedZoneName, fixes.DefaultOwnedDomain, network)
	z.Labels = map[string]string{fixes.OwnedLabelKey: fixes.OwnedLabelValue}
	w.fake.AddManagedZone(dwProject, z)
	w.addRecords(fixes.DefaultOwnedZoneName, records)
}

func (w *dnsWorld) ownedName() string { return "development-agent." + w.ns + ".gkedoctor.internal." }

func (w *dnsWorld) env() *Env {
	inv := inventory.New(inventory.Scope{Project: dwProject, Location: dwRegion, Cluster: dwCluster}, w.kube, nil, w.g, nil)
	e := &Env{Target: Target{Project: dwProject, Location: dwRegion, Cluster: dwCluster}, Targets: Targets{CloudRunService: dwRun},
		Inv: inv, Where: Laptop, Now: time.Now, FixDeps: &fixes.Deps{Kube: w.kube, GCP: w.g}}
	if w.resolver != "" {
		e.Resolver, e.ResolverWhy, e.ResolverSeesVPC = w.resolver, "from --resolver", true
	} else {
		e.ResolverWhy = "no DNS resolver found"
	}
	return e
}

func (w *dnsWorld) run(id string) Result {
	w.t.Helper()
	return dnsRun(w.t, w.env(), id)
}

// dnsMutations lists the mutating Cloud DNS requests the fake received.
func (w *dnsWorld) dnsMutations() []string {
	var out []string
	for _, r := range w.fake.Requests() {
		if strings.HasPrefix(r.Path, "/dns/") && r.Method != "GET" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func fixByID(r Result, id string) *fixes.Plan {
	for _, p := range r.Fixes {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func dnsFixIDs(r Result) []string {
	var ids []string
	for _, p := range r.Fixes {
		ids = append(ids, p.ID)
	}
	return ids
}

// Each cause of FAILURE-MODES §2, produced by a scenario through the real clients, is recognised by
// dns-servfail; each of §3 by dns-stale-record.
func TestDNSCauses(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(w *dnsWorld)
		check   string
		status  Status
		cause   string
		summary string // substring; {ns} is replaced by the test's namespace
		fix     string // a fix id offered
		noFix   string // a fix id that must not be offered
	}{
		{
			name: "kube_dns_only", check: "dns-servfail", status: Fail, cause: "cluster-scope",
			setup:   func(w *dnsWorld) { w.addILB(dwILBIP) },
			summary: "runs kube-dns", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName),
		},
		{
			name: "cloud_dns_cluster_scope", check: "dns-servfail", status: Fail, cause: "cluster-scope",
			setup: func(w *dnsWorld) {
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE"}
				w.addGKEZone(false, map[string]string{w.devName(): w.clusterIP()})
			},
			summary: "bound only to GKE cluster dev-orchestra-cluster", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName),
		},
		{
			name: "forwarding_zone_to_kube_dns", check: "dns-servfail", status: Fail, cause: "forwarding-to-clusterip",
			setup:   func(w *dnsWorld) { w.addForwardingZone(dwKubeDNSIP) },
			summary: "the ClusterIP of Service kube-system/kube-dns", fix: "delete-forwarding-zone/" + dwFwdZone,
		},
		{
			// A resolver VM in the VPC the firewall closes: the zone is right, so the fix is a firewall
			// rule (advice), never the zone's deletion (issue 12).
			name: "forwarding_zone_to_a_vm_the_firewall_closes", check: "dns-servfail", status: Fail, cause: "forwarding-target-closed",
			setup: func(w *dnsWorld) {
				w.addForwardingZone("10.132.0.40")
				w.fake.AddFirewall(dwProject, &compute.Firewall{Name: "allow-ssh", Network: dwNetURL, Direction: "INGRESS", Priority: 1000,
					SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"22"}}}})
			},
			summary: "implied deny-ingress", fix: "allow-dns-forwarder/" + dwFwdZone, noFix: "delete-forwarding-zone/" + dwFwdZone,
		},
		{
			// An on-premises resolver over Cloud VPN (outside every subnet of the network): the firewall
			// does not decide, configuration cannot tell, and without a live query the verdict is warn
			// ("a live query decides") — never SERVFAIL predicted, never a delete offered (issue 12).
			name: "forwarding_zone_to_on_prem_is_not_judged_from_configuration", check: "dns-servfail", status: Warn, cause: "forwarding-unverified",
			setup: func(w *dnsWorld) {
				w.addForwardingZone("192.168.50.10")
			},
			summary: "in no subnet of network default", noFix: "delete-forwarding-zone/" + dwFwdZone,
		},
		{
			name: "forwarding_zone_to_a_vm_a_hierarchical_policy_denies", check: "dns-servfail", status: Fail, cause: "forwarding-target-closed",
			setup: func(w *dnsWorld) {
				w.addForwardingZone("10.132.0.40")
				w.fake.AddFirewall(dwProject, &compute.Firewall{Name: "allow-dns-forwarder", Network: dwNetURL, Direction: "INGRESS", Priority: 1000,
					SourceRanges: []string{"35.199.192.0/19"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "udp", Ports: []string{"53"}}, {IPProtocol: "tcp", Ports: []string{"53"}}}})
				w.fake.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", ShortName: "org-guardrails", Depth: 0, Rules: []*compute.FirewallPolicyRule{{
					Priority: 500, Direction: "INGRESS", Action: "deny",
					Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"35.199.192.0/19"}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}}}})
			},
			summary: `hierarchical firewall policy "org-guardrails" rule 500 deny`,
		},
		{
			name: "vpc_scope_custom_domain_asked_cluster_local", check: "dns-servfail", status: Fail, cause: "wrong-domain",
			setup: func(w *dnsWorld) {
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE", ClusterDnsDomain: "orchestra.example"}
				w.fake.AddManagedZone(dwProject, dwZone("gke-dev-orchestra-cluster-f5e836d0-dns", "orchestra.example.", dwNetURL))
			},
			summary: "under orchestra.example.",
		},
		{
			name: "vpc_scope_answers_with_the_clusterip", check: "dns-servfail", status: Fail, cause: "answer-is-clusterip",
			setup: func(w *dnsWorld) {
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}
				w.addGKEZone(true, map[string]string{w.devName(): w.clusterIP()})
			},
			summary: "the ClusterIP of Service {ns}/development-agent", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName),
		},
		{
			name: "headless_service_without_ready_endpoints", check: "dns-servfail", status: Fail, cause: "headless-no-endpoints",
			setup: func(w *dnsWorld) {
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}
				w.putService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "agents", Namespace: w.ns},
					Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "agent"}, Ports: []corev1.ServicePort{{Port: 80}}}})
				w.addGKEZone(true, map[string]string{w.devName(): w.clusterIP()})
				w.seedGCP("http://agents." + w.ns + ".svc.cluster.local:80")
			},
			summary: "headless Service", fix: "ready-endpoints/{ns}/agents",
		},
		{
			name: "connector_on_another_network", check: "dns-servfail", status: Fail, cause: "zone-other-network",
			setup: func(w *dnsWorld) {
				w.connNet = "other"
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}
				w.addGKEZone(true, map[string]string{w.devName(): w.clusterIP()})
			},
			summary: "is bound to network projects/dev-orchestra/global/networks/default, not to projects/dev-orchestra/global/networks/other",
			fix:     "bind-zone/" + dwGKEZone,
		},
		{
			name: "owned_zone_with_the_ilb_ip_passes", check: "dns-servfail", status: Pass,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "resolves to 10.132.0.6 from the VPC (predicted from configuration",
		},
		{
			name: "gke_zone_record_is_a_clusterip", check: "dns-stale-record", status: Fail, cause: "record-is-clusterip",
			setup: func(w *dnsWorld) {
				// The demo's state: the forwarding zone answers the client, GKE's cluster-scope zone
				// holds the ClusterIP.
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE"}
				w.addForwardingZone(dwKubeDNSIP)
				w.addGKEZone(false, map[string]string{w.devName(): w.clusterIP()})
				w.addILB(dwILBIP)
			},
			summary: "in GKE-managed zone " + dwGKEZone, fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName),
		},
		{
			name: "owned_record_holds_an_old_lb_ip", check: "dns-stale-record", status: Fail, cause: "record-old-lb-ip",
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): "10.132.0.7"})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "which no forwarding rule holds any more", fix: "update-record/gkedoctor-internal/development-agent.{ns}.gkedoctor.internal",
		},
		{
			name: "hand_edit_in_gke_zone", check: "dns-stale-record", status: Fail, cause: "hand-edit-in-managed-zone",
			setup: func(w *dnsWorld) {
				w.dnsConfig = &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}
				w.addILB(dwILBIP)
				w.addGKEZone(true, map[string]string{w.devName(): dwILBIP}) // the seed's hand patch
			},
			summary: "a hand edit, which the controller overwrites", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName),
			noFix: "update-record/" + dwGKEZone + "/development-agent.{ns}.svc.cluster.local",
		},
		{
			name: "owned_record_with_the_ilb_ip_passes", check: "dns-stale-record", status: Pass,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "points at 10.132.0.6, the internal load balancer of {ns}/development-agent",
		},
		{
			name: "no_record_anywhere_is_a_skip", check: "dns-stale-record", status: Skip, cause: "no-records",
			setup:   func(w *dnsWorld) { w.addForwardingZone(dwKubeDNSIP) },
			summary: "no A record in Cloud DNS holds the names the client uses",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newDNSWorld(t)
			tc.setup(w)
			if !w.seeded() {
				w.seedGCP("")
			}
			before := w.dnsMutations()
			res := w.run(tc.check)
			sub := strings.ReplaceAll(tc.summary, "{ns}", w.ns)
			if res.Status != tc.status || res.Cause != tc.cause || !strings.Contains(res.Summary, sub) {
				t.Fatalf("want %s/%s with %q%s", tc.status, tc.cause, sub, dnsDump(res))
			}
			if tc.fix != "" && fixByID(res, strings.ReplaceAll(tc.fix, "{ns}", w.ns)) == nil {
				t.Errorf("fix %s not offered: %v", tc.fix, dnsFixIDs(res))
			}
			if tc.noFix != "" && fixByID(res, strings.ReplaceAll(tc.noFix, "{ns}", w.ns)) != nil {
				t.Errorf("fix %s offered", tc.noFix)
			}
			if tc.status == Pass && len(res.Fixes) != 0 {
				t.Errorf("a passing check offers fixes: %v", dnsFixIDs(res))
			}
			if got := w.dnsMutations(); len(got) != len(before) {
				t.Errorf("a check wrote to Cloud DNS: %v", got)
			}
		})
	}
}

// seeded reports whether the scenario already seeded the Cloud Run client.
func (w *dnsWorld) seeded() bool {
	_, ok := w.fake.RunService(dwProject, dwRegion, dwRun)
	return ok
}

// Prediction and live observation side by side: agreeing, and disagreeing (said so).
func TestDNSPredictionBesideObservation(t *testing.T) {
	t.Parallel()
	up, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	t.Run("agree", func(t *testing.T) {
		w := newDNSWorld(t)
		w.addForwardingZone(dwKubeDNSIP)
		w.seedGCP("")
		up.Set(w.devName(), dns.TypeA, fakedns.Answer{Rcode: dns.RcodeServerFailure})
		w.resolver = up.Addr
		res := w.run("dns-servfail")
		if res.Status != Fail || res.Cause != "forwarding-to-clusterip" || !strings.Contains(res.Summary, "observed live: SERVFAIL") ||
			!strings.Contains(res.Summary, "Temporary failure in name resolution") {
			t.Fatalf("want the configured cause confirmed by the observation%s", dnsDump(res))
		}
		if !hasStep(res, "predict "+w.devName(), Fail, "from configuration: SERVFAIL") || !hasStep(res, "query "+w.devName(), Fail, "SERVFAIL") ||
			!hasStep(res, "compare "+w.devName(), Pass, "agree") {
			t.Fatalf("prediction and observation are not side by side%s", dnsDump(res))
		}
	})
	t.Run("differ", func(t *testing.T) {
		w := newDNSWorld(t)
		w.addForwardingZone(dwKubeDNSIP)
		w.seedGCP("")
		up.Set(w.devName(), dns.TypeA, fakedns.Answer{RRs: []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: w.devName(), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(dwILBIP)}}})
		w.resolver = up.Addr
		res := w.run("dns-servfail")
		if res.Status != Pass || !hasStep(res, "compare "+w.devName(), Warn, "prediction and observation differ") {
			t.Fatalf("a disagreement is not said%s", dnsDump(res))
		}
	})
}

// A 403 on the zone list makes both checks skip naming the permission, never pass.
func TestDNSPermissionDeniedSkips(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.seedGCP("")
	w.fake.InjectFault(fakegcp.Fault{Method: "GET", PathRegexp: regexp.MustCompile(`/managedZones$`), Permission: "dns.managedZones.list"})
	for _, id := range []string{"dns-servfail", "dns-stale-record"} {
		res := w.run(id)
		if res.Status != Skip || !strings.Contains(res.Summary, "dns.managedZones.list") {
			t.Errorf("%s: want a skip naming dns.managedZones.list%s", id, dnsDump(res))
		}
	}
}

// --service NS/NAME alone (no Cloud Run client): its cluster name is checked, from the cluster's
// network.
func TestDNSServiceFlagName(t *testing.T) {
	t.Parallel()
	w := newDNSWorld(t)
	w.addForwardingZone(dwKubeDNSIP)
	w.fake.AddCluster(dwProject, dwRegion, &container.Cluster{Name: dwCluster, Network: "default",
		NetworkConfig: &container.NetworkConfig{Network: "projects/dev-orchestra/global/networks/default"}, ServicesIpv4Cidr: "34.118.224.0/20"})
	env := w.env()
	env.Targets = Targets{Services: []NamespacedName{{Namespace: w.ns, Name: "development-agent"}}}
	res := dnsRun(t, env, "dns-servfail")
	if res.Status != Fail || res.Cause != "forwarding-to-clusterip" || !strings.Contains(res.Summary, strings.TrimSuffix(w.devName(), ".")) ||
		!hasStep(res, "client network", Pass, "assuming a client on the cluster's network default") {
		t.Fatalf("--service name%s", dnsDump(res))
	}
}
