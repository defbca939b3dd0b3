package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// Exposure and policy inside the cluster (issue 12) against the real kube-apiserver, with the Google
// side of the reachability world served by the fake Google API server through the real clients: the
// Cloud Run client calls development-agent.NS.svc.cluster.local, and each scenario changes the
// cluster (a headless Service, a Gateway, loadBalancerSourceRanges, a NetworkPolicy) or the VPC.

type exposeBed struct {
	t     *testing.T
	srv   *testenv.APIServer
	admin kubernetes.Interface
	ns    string
	w     *reachWorld // the Google side (its kube is not used)
	cfg   *rest.Config
	ip    string // the internal LB's IP: one per bed, since the shared server holds every bed's Services
}

var bedIPs atomic.Int32

func newExposeBed(t *testing.T, srv *testenv.APIServer) *exposeBed {
	t.Helper()
	b := &exposeBed{t: t, srv: srv, admin: srv.Clientset(), ns: srv.NewNamespace(t), w: newReachWorld(t), cfg: srv.RESTConfig(),
		ip: fmt.Sprintf("10.132.1.%d", 10+bedIPs.Add(1))}
	b.setClientURL("http://development-agent." + b.ns + ".svc.cluster.local:80")
	return b
}

func (b *exposeBed) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	b.t.Cleanup(cancel)
	return ctx
}

func (b *exposeBed) setClientURL(u string) {
	b.w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) { s.Template.Containers[0].Env[0].Value = u })
}

// cluster re-seeds the cluster with a change (VPC-native, Dataplane V2, …).
func (b *exposeBed) cluster(mutate func(c *container.Cluster)) {
	c := &container.Cluster{Name: wCluster, Network: "default", Subnetwork: "default",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "172.16.0.0/16", CurrentMasterVersion: "1.33.5-gke.1308000",
		NetworkConfig: &container.NetworkConfig{Network: "projects/" + wProject + "/global/networks/default", Subnetwork: "projects/" + wProject + "/regions/" + wRegion + "/subnetworks/default"},
		NodePools:     []*container.NodePool{{Name: "default-pool", Config: &container.NodeConfig{ServiceAccount: "default", Tags: []string{wNodeTag}}}}}
	mutate(c)
	b.w.srv.AddCluster(wProject, wRegion, c)
}

func (b *exposeBed) service(headless bool) *corev1.Service {
	b.t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: b.ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")}}}}
	if headless {
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.Ports[0].TargetPort = intstr.FromInt32(80)
	}
	s, err := b.admin.CoreV1().Services(b.ns).Create(b.ctx(), s, metav1.CreateOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	// The pod behind it (never scheduled: no controller runs), with the named port.
	_, err = b.admin.CoreV1().Pods(b.ns).Create(b.ctx(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "development-agent-0", Namespace: b.ns,
		Labels: map[string]string{"app": "development-agent", "tier": "api"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}}}, metav1.CreateOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// ilb creates development-agent-ilb with the given source ranges and gives it the seed's IP, as GKE's
// controller would.
func (b *exposeBed) ilb(sourceRanges ...string) *corev1.Service {
	b.t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent-ilb", Namespace: b.ns, Annotations: map[string]string{model.AnnotationLBType: "Internal"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "development-agent"}, LoadBalancerSourceRanges: sourceRanges,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")}}}}
	s, err := b.admin.CoreV1().Services(b.ns).Create(b.ctx(), s, metav1.CreateOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: b.ip}}
	if s, err = b.admin.CoreV1().Services(b.ns).UpdateStatus(b.ctx(), s, metav1.UpdateOptions{}); err != nil {
		b.t.Fatal(err)
	}
	return s
}

// env is a run with cfg's credentials (the admin's unless changed), typed and dynamic clients as the
// session builds them, and the real Google clients on the fake server.
func (b *exposeBed) env(readOnly bool) *Env {
	b.t.Helper()
	cfg := rest.CopyConfig(b.cfg)
	cfg.UserAgent = "gkedoctor-test-expose-" + b.ns
	c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: b.ns}, readOnly)
	if err != nil {
		b.t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		b.t.Fatal(err)
	}
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: b.w.srv.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		b.t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{Project: wProject, Location: wRegion, Cluster: wCluster}, c.Clientset, nil, g, nil)
	inv.SetDynamic(d)
	return &Env{Target: Target{Project: wProject, Location: wRegion, Cluster: wCluster}, Inv: inv, Where: Laptop, ReadOnly: readOnly, Now: time.Now,
		FixDeps: &fixes.Deps{Kube: c.Clientset, GCP: g}}
}

// run is a run whose plans can be applied (the checks only read; the fixes write through FixDeps).
func (b *exposeBed) run() map[string]Result {
	b.t.Helper()
	return b.w.run(b.env(false))
}

func (b *exposeBed) apply(p *fixes.Plan) *fixes.Applied {
	b.t.Helper()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(b.t.TempDir()), Deps: b.env(false).FixDeps, Target: fixes.Target{Context: testenv.KubeconfigContext}}
	res, err := ap.Apply(b.ctx(), p, nil)
	if err != nil {
		b.t.Fatalf("apply %s: %v", p.ID, err)
	}
	return res
}

func (b *exposeBed) undo(res *fixes.Applied) {
	b.t.Helper()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(b.t.TempDir()), Deps: b.env(false).FixDeps, Target: fixes.Target{Context: testenv.KubeconfigContext}}
	if err := ap.Undo(b.ctx(), res.Entry); err != nil {
		b.t.Fatalf("undo: %v", err)
	}
}

func want(t *testing.T, rs map[string]Result, st Status, cause string, summary ...string) Result {
	t.Helper()
	r := rs["clusterip-unreachable"]
	if r.Status != st || r.Cause != cause {
		t.Fatalf("clusterip-unreachable: %s [%s], want %s [%s]%s", r.Status, r.Cause, st, cause, dump(rs))
	}
	for _, s := range summary {
		if !strings.Contains(r.Summary, s) {
			t.Fatalf("summary %q lacks %q", r.Summary, s)
		}
	}
	return r
}

func noPlan(t *testing.T, r Result, prefix string) {
	t.Helper()
	for _, p := range r.Fixes {
		if strings.HasPrefix(p.ID, prefix) {
			t.Fatalf("fix %s offered: %v", p.ID, fixIDs(r))
		}
	}
}

// Item 5: an internal LB exists, but the client still calls the cluster name: warn, with the client
// fix, which points the Cloud Run variable at the LB (journaled); then pass; undo puts it back.
func TestExposeClientCallsClusterName(t *testing.T) {
	b := newExposeBed(t, testenv.Shared(t))
	b.service(false)
	b.ilb()
	r := want(t, b.run(), Warn, "client-calls-cluster-name", "reachable at "+b.ip+":80 through "+b.ns+"/development-agent-ilb", "still calls the cluster name development-agent."+b.ns+".svc.cluster.local")
	noPlan(t, r, "create-internal-lb/")
	p := planByID(t, r, "point-client-at-ilb/europe-west1/gke-connectivity-tester4/DEV_AGENT_URL")
	if p.Advice || !p.Reversible || !strings.Contains(p.Diff, "+ DEV_AGENT_URL=http://"+b.ip+":80") || !strings.Contains(p.Commands[0], "--update-env-vars DEV_AGENT_URL=http://"+b.ip+":80") {
		t.Fatalf("client fix %+v", p)
	}
	res := b.apply(p)
	svc, _ := b.w.srv.RunService(wProject, wRegion, wRun)
	if got := svc.Template.Containers[0].Env[0].Value; got != "http://"+b.ip+":80" {
		t.Fatalf("env after the fix: %q", got)
	}
	r = want(t, b.run(), Pass, "")
	if !hasStep(r, "verdict for "+b.ns+"/development-agent-ilb", Pass, "reaches "+b.ns+"/development-agent-ilb at "+b.ip+":80") {
		t.Fatalf("the re-check does not judge the LB address%s", dump(map[string]Result{"clusterip-unreachable": r}))
	}
	b.undo(res)
	want(t, b.run(), Warn, "client-calls-cluster-name")
}

// Item 3: loadBalancerSourceRanges that leave out the connector's range are the cause (not the
// firewall); the fix patches the field (resourceVersion-guarded), undo restores the list.
func TestExposeLoadBalancerSourceRanges(t *testing.T) {
	b := newExposeBed(t, testenv.Shared(t))
	b.service(false)
	ilb := b.ilb("10.0.0.0/8")
	r := want(t, b.run(), Fail, "lb-source-ranges-exclude-client", "loadBalancerSourceRanges of the internal load balancer "+b.ns+"/development-agent-ilb admits only 10.0.0.0/8", "192.168.99.0/28")
	noPlan(t, r, "create-firewall/")
	p := planByID(t, r, "lb-source-ranges/"+b.ns+"/development-agent-ilb/192.168.99.0_28")
	if p.Advice || !p.Reversible || !strings.Contains(p.Commands[1], `kubectl patch service development-agent-ilb -n `+b.ns+` --type merge -p '{"spec":{"loadBalancerSourceRanges":["10.0.0.0/8","192.168.99.0/28"]}}'`) {
		t.Fatalf("plan %+v", p)
	}
	// A concurrent change between the check and the fix stops it, writing nothing.
	cur, _ := b.admin.CoreV1().Services(b.ns).Get(b.ctx(), ilb.Name, metav1.GetOptions{})
	cur.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "172.16.0.0/12"}
	if _, err := b.admin.CoreV1().Services(b.ns).Update(b.ctx(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: b.env(false).FixDeps}
	if _, err := ap.Apply(b.ctx(), p, nil); err == nil || !strings.Contains(err.Error(), "changed since the check") {
		t.Fatalf("a concurrent change must stop the fix: %v", err)
	}
	cur, _ = b.admin.CoreV1().Services(b.ns).Get(b.ctx(), ilb.Name, metav1.GetOptions{})
	cur.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
	if _, err := b.admin.CoreV1().Services(b.ns).Update(b.ctx(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = want(t, b.run(), Fail, "lb-source-ranges-exclude-client")
	res := b.apply(planByID(t, r, "lb-source-ranges/"+b.ns+"/development-agent-ilb/192.168.99.0_28"))
	got, _ := b.admin.CoreV1().Services(b.ns).Get(b.ctx(), ilb.Name, metav1.GetOptions{})
	if !slices.Equal(got.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8", "192.168.99.0/28"}) {
		t.Fatalf("after the fix: %v", got.Spec.LoadBalancerSourceRanges)
	}
	want(t, b.run(), Warn, "client-calls-cluster-name")
	b.undo(res)
	got, _ = b.admin.CoreV1().Services(b.ns).Get(b.ctx(), ilb.Name, metav1.GetOptions{})
	if !slices.Equal(got.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8"}) {
		t.Fatalf("after undo: %v", got.Spec.LoadBalancerSourceRanges)
	}
	// With the firewall rule gone too, the firewall fix stays inside the field: the client's range is
	// admitted by it (after the fix), so the new rule is for that range only.
	res = b.apply(planByID(t, want(t, b.run(), Fail, "lb-source-ranges-exclude-client"), "lb-source-ranges/"+b.ns+"/development-agent-ilb/192.168.99.0_28"))
	_ = res
	deleteFirewall(t, b.w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
	r = want(t, b.run(), Fail, "firewall-blocks-serverless")
	fp := planByID(t, r, "create-firewall/dev-orchestra/allow-serverless-to-dev-orchestra-cluster-80-f29b49")
	if !strings.Contains(fp.Commands[0], "--source-ranges 192.168.99.0/28") {
		t.Fatalf("firewall fix %v", fp.Commands)
	}
}

// Item 4: a NetworkPolicy selecting the pods admits only 10.0.0.0/8: with Dataplane V2 it fails naming
// the policy, with the exact ipBlock as advice; once the rule is added it passes on. Without any
// enforcement the policy is inert. A run that may not list NetworkPolicies skips, naming them.
func TestExposeNetworkPolicy(t *testing.T) {
	srv := testenv.Shared(t)
	b := newExposeBed(t, srv)
	b.cluster(func(c *container.Cluster) { c.NetworkConfig.DatapathProvider = "ADVANCED_DATAPATH" })
	b.service(false)
	b.ilb()
	tcp := corev1.ProtocolTCP
	port := intstr.FromString("http")
	_, err := b.admin.NetworkingV1().NetworkPolicies(b.ns).Create(b.ctx(), &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "agent-from-vpc", Namespace: b.ns},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "api"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := want(t, b.run(), Fail, "networkpolicy-blocks-client", "NetworkPolicy "+b.ns+"/agent-from-vpc (enforced by GKE Dataplane V2)", "192.168.99.0/28", "tcp:8080")
	p := planByID(t, r, "networkpolicy-allow/"+b.ns+"/agent-from-vpc/192.168.99.0_28")
	if !p.Advice || !strings.Contains(p.Commands[1], `{"ipBlock":{"cidr":"192.168.99.0/28"}}`) {
		t.Fatalf("advice %+v", p)
	}
	// The advice's own command, carried out against the real server, admits the client.
	patch := p.Commands[1][strings.Index(p.Commands[1], "-p '")+4 : len(p.Commands[1])-1]
	if _, err := b.admin.NetworkingV1().NetworkPolicies(b.ns).Patch(b.ctx(), "agent-from-vpc", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("the advised patch %s: %v", patch, err)
	}
	want(t, b.run(), Warn, "client-calls-cluster-name")
	// A default deny alone (the allow policy gone) blocks; policies are a union, so with the allow
	// policy back it would pass.
	if err := b.admin.NetworkingV1().NetworkPolicies(b.ns).Delete(b.ctx(), "agent-from-vpc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.admin.NetworkingV1().NetworkPolicies(b.ns).Create(b.ctx(), &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-all", Namespace: b.ns},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, b.run(), Fail, "networkpolicy-blocks-client", b.ns+"/deny-all")
	// Without enforcement (no Dataplane V2, no Calico) a policy is inert: not read, not judged.
	b.cluster(func(c *container.Cluster) {})
	want(t, b.run(), Warn, "client-calls-cluster-name")
	// Calico enforces too; a user who may not list NetworkPolicies gets a skip naming them.
	b.cluster(func(c *container.Cluster) {
		c.NetworkPolicy = &container.NetworkPolicy{Enabled: true, Provider: "CALICO"}
	})
	want(t, b.run(), Fail, "networkpolicy-blocks-client", "enforced by Calico")
	b.limitedUser(t, "list networkpolicies")
	r = b.run()["clusterip-unreachable"]
	if r.Status != Skip || r.Cause != "missing-permission" || !strings.Contains(r.Summary, "networkpolicies") {
		t.Fatalf("without list networkpolicies: %s [%s] %s", r.Status, r.Cause, r.Summary)
	}
}

// limitedUser makes the bed's runs impersonate a user who may read everything the check reads
// except what is named (only "list networkpolicies" is understood).
func (b *exposeBed) limitedUser(t *testing.T, _ string) {
	t.Helper()
	user := "limited-" + b.ns
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "pods", "events", "endpoints"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
		{NonResourceURLs: []string{"/version", "/api", "/api/*", "/apis", "/apis/*"}, Verbs: []string{"get"}},
	}}
	if _, err := b.admin.RbacV1().ClusterRoles().Create(b.ctx(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.admin.RbacV1().ClusterRoleBindings().Create(b.ctx(), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), user, metav1.DeleteOptions{})
		_ = b.admin.RbacV1().ClusterRoles().Delete(context.Background(), user, metav1.DeleteOptions{})
	})
	b.cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
}

// Item 1: a headless Service needs no load balancer. VPC-native: its pods are routable, the firewall
// to the nodes on the pods' port decides (pass). Routes-based: fail, and no single ILB is offered.
func TestExposeHeadless(t *testing.T) {
	b := newExposeBed(t, testenv.Shared(t))
	b.service(true)
	r := want(t, b.run(), Fail, "headless-pods-not-routable", "headless Service (clusterIP: None)", "routes-based")
	noPlan(t, r, "create-internal-lb/")
	if p := planByID(t, r, "expose-headless/"+b.ns+"/development-agent"); !p.Advice || !strings.Contains(p.Description, "per-pod identity") {
		t.Fatalf("advice %+v", p)
	}
	if ilb := b.run()["ilb-provisioned"]; ilb.Status != Skip || ilb.Cause != "not-applicable" {
		t.Fatalf("ilb-provisioned on a headless Service: %s [%s]", ilb.Status, ilb.Cause)
	}
	b.cluster(func(c *container.Cluster) {
		c.IpAllocationPolicy = &container.IPAllocationPolicy{UseIpAliases: true, ClusterIpv4CidrBlock: "10.8.0.0/14", ServicesIpv4CidrBlock: "34.118.224.0/20"}
		c.ClusterIpv4Cidr = "10.8.0.0/14"
	})
	want(t, b.run(), Pass, "", "directly at their pod IPs (pod range 10.8.0.0/14, VPC-native)")
	// The firewall to the nodes on the port decides.
	deleteFirewall(t, b.w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
	want(t, b.run(), Fail, "firewall-blocks-serverless")
}

const gatewayCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.gateway.networking.k8s.io, annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}}
spec:
  group: gateway.networking.k8s.io
  scope: Namespaced
  names: {plural: gateways, singular: gateway, kind: Gateway, listKind: GatewayList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: httproutes.gateway.networking.k8s.io, annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}}
spec:
  group: gateway.networking.k8s.io
  scope: Namespaced
  names: {plural: httproutes, singular: httproute, kind: HTTPRoute, listKind: HTTPRouteList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// Item 2: an internal Gateway (gke-l7-rilb) with an HTTPRoute to the Service is a valid exposure: no L4
// ILB is proposed; the proxy-only subnet and its firewall to the pods are judged; the client that
// calls the Gateway's address passes. A gce-internal Ingress (annotation) counts the same way.
func TestExposeGatewayAndIngress(t *testing.T) {
	srv := ownAPIServer(t)
	b := newExposeBed(t, srv)
	b.service(false)
	if err := srv.InstallCRDs(b.ctx(), []byte(gatewayCRDs)); err != nil {
		t.Fatal(err)
	}
	d, err := srv.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	gw := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "internal-http", "namespace": b.ns},
		"spec":     map[string]any{"gatewayClassName": "gke-l7-rilb", "listeners": []any{map[string]any{"name": "http", "protocol": "HTTP", "port": int64(80)}}},
		"status":   map[string]any{"addresses": []any{map[string]any{"type": "IPAddress", "value": "10.132.0.9"}}}}}
	route := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "agent", "namespace": b.ns},
		"spec": map[string]any{"parentRefs": []any{map[string]any{"name": "internal-http"}},
			"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": "development-agent", "port": int64(80)}}}}}}}
	for gvr, o := range map[*unstructured.Unstructured][2]string{gw: {"gateways"}, route: {"httproutes"}} {
		_ = o
		res := model.GatewayGVR
		if gvr.GetKind() == "HTTPRoute" {
			res = model.HTTPRouteGVR
		}
		if _, err := d.Resource(res).Namespace(b.ns).Create(b.ctx(), gvr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No proxy-only subnet in the region.
	r := want(t, b.run(), Fail, "proxy-only-subnet-missing", "Gateway "+b.ns+"/internal-http exposes "+b.ns+"/development-agent")
	noPlan(t, r, "create-internal-lb/")
	planByID(t, r, "proxy-only-subnet/dev-orchestra/europe-west1/default")
	// A proxy-only subnet whose range no rule admits to the pods' port (8080, the named target port).
	b.w.srv.AddSubnetwork(wProject, wRegion, &compute.Subnetwork{Name: "proxy-only-europe-west1", Network: "default", IpCidrRange: "192.168.200.0/23", Purpose: "REGIONAL_MANAGED_PROXY", Role: "ACTIVE"})
	r = want(t, b.run(), Fail, "firewall-blocks-proxy-subnet", "192.168.200.0/23", "tcp:8080")
	if p := planByID(t, r, "allow-proxy-subnet/dev-orchestra/allow-proxies-to-dev-orchestra-cluster-8080-"+fixes.FirewallRuleName("x", "192.168.200.0/23", 8080)[len("allow-serverless-to-x-8080-"):]); !strings.Contains(p.Commands[0], "--source-ranges 192.168.200.0/23 --target-tags "+wNodeTag+" --allow tcp:8080") {
		t.Fatalf("firewall advice %v", p.Commands)
	}
	if ilb := b.run()["ilb-provisioned"]; ilb.Status != Pass || !hasStep(ilb, "internal Application Load Balancer for "+b.ns+"/development-agent", Pass, "Gateway "+b.ns+"/internal-http through HTTPRoute "+b.ns+"/agent, address 10.132.0.9") {
		t.Fatalf("ilb-provisioned: %s %s", ilb.Status, dump(map[string]Result{"ilb-provisioned": ilb}))
	}
	b.w.srv.AddFirewall(wProject, &compute.Firewall{Name: "allow-proxies", Network: "default", Priority: 1000, SourceRanges: []string{"192.168.200.0/23"},
		TargetTags: []string{wNodeTag}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"8080"}}}})
	want(t, b.run(), Warn, "client-calls-cluster-name", "reachable at 10.132.0.9:80 through Gateway "+b.ns+"/internal-http")
	// The client calls the Gateway's address: pass, judged through the Gateway.
	b.setClientURL("http://10.132.0.9/")
	want(t, b.run(), Pass, "", "through Gateway "+b.ns+"/internal-http (internal Application Load Balancer, class gke-l7-rilb)")

	// A gce-internal Ingress (by annotation) in front of another Service counts the same way.
	b2 := &exposeBed{t: t, srv: srv, admin: b.admin, ns: srv.NewNamespace(t), w: b.w, cfg: b.cfg}
	b2.service(false)
	b2.setClientURL("http://development-agent." + b2.ns + ".svc.cluster.local:80")
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: b2.ns, Annotations: map[string]string{model.AnnotationIngressClass: model.IngressClassInternal}},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "development-agent", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
	ing, err = b.admin.NetworkingV1().Ingresses(b2.ns).Create(b.ctx(), ing, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, b2.run(), Warn, "ilb-pending", "Ingress "+b2.ns+"/agent")
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.132.0.10"}}
	if _, err := b.admin.NetworkingV1().Ingresses(b2.ns).UpdateStatus(b.ctx(), ing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = want(t, b2.run(), Warn, "client-calls-cluster-name", "through Ingress "+b2.ns+"/agent")
	noPlan(t, r, "create-internal-lb/")
	if p := planByID(t, r, "point-client-at-ilb/europe-west1/gke-connectivity-tester4/DEV_AGENT_URL"); !strings.Contains(p.Diff, "http://10.132.0.10:80") {
		t.Fatalf("client fix %s", p.Diff)
	}
	// A user who may not list Gateways: whether one exposes the Gateway's Service is unknown, so skip
	// naming them (the Ingress's Service is still judged through its Ingress).
	b2.limitedUser(t, "gateways")
	want(t, b2.run(), Warn, "client-calls-cluster-name")
	b.setClientURL("http://development-agent." + b.ns + ".svc.cluster.local:80")
	r = b.run()["clusterip-unreachable"]
	if r.Status != Skip || !strings.Contains(r.Summary, "gateways") {
		t.Fatalf("without list gateways: %s [%s] %s", r.Status, r.Cause, r.Summary)
	}
	_ = json.Marshal
}
