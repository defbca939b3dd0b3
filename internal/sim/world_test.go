package sim

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	clouddns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// ilbService is the fix of seed 000: a new internal LoadBalancer Service beside the ClusterIP one.
func ilbService(app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: app + "-ilb", Namespace: "default",
			Annotations: map[string]string{"networking.gke.io/load-balancer-type": "Internal"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
}

// createILB creates the internal LB Service and waits for its address.
func createILB(t *testing.T, w *World, app string) string {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	svcs := w.Kube().CoreV1().Services("default")
	if _, err := svcs.Create(ctx, ilbService(app), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s-ilb: %v", app, err)
	}
	var ip string
	eventually(t, 5*time.Second, app+"-ilb gets an ingress IP", func() error {
		s, err := svcs.Get(ctx, app+"-ilb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return errors.New("EXTERNAL-IP <pending>")
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	return ip
}

func TestSeedResolverAnswersSERVFAILForTheClusterName(t *testing.T) {
	w := start(t, Options{})
	res := probe.DNS(ctxT(t, 5*time.Second), w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA)
	if res.Outcome != probe.OutcomeServFail {
		t.Fatalf("outcome = %v (%s), want servfail", res.Outcome, res.RcodeName)
	}
	if got := res.Symptom(); !strings.Contains(got, "Temporary failure in name resolution") {
		t.Errorf("symptom = %q", got)
	}
	r := w.ResolveFromVPC("development-agent.default.svc.cluster.local", dns.TypeA)
	if r.Zone != ForwardingZone || !strings.Contains(r.Reason, "ClusterIP of kube-system/kube-dns") {
		t.Errorf("resolution = zone %q, reason %q; want the forwarding zone to the kube-dns ClusterIP", r.Zone, r.Reason)
	}
	// Pods see the GKE-managed zone, which holds the ClusterIP.
	pod := probe.DNS(ctxT(t, 5*time.Second), w.ClusterDNS().Addr, "development-agent.default.svc.cluster.local", dns.TypeA)
	if pod.Outcome != probe.OutcomeAnswer || len(pod.IPs()) != 1 || pod.IPs()[0].String() != DevAgentIP {
		t.Errorf("from a pod: %v %v, want %s", pod.Outcome, pod.IPs(), DevAgentIP)
	}
}

func TestSeedResolverWithoutTheForwardingZone(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	// The zone holds only its SOA and NS, so it can be deleted; then the GKE zone, bound to the
	// cluster only, is all that covers cluster.local: NXDOMAIN from the VPC ("Name or service not known").
	if err := c.DNS.ManagedZones.Delete(Project, ForwardingZone).Context(ctx).Do(); err != nil {
		t.Fatalf("delete the forwarding zone: %v", err)
	}
	res := probe.DNS(ctx, w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA)
	if res.Outcome != probe.OutcomeNXDomain {
		t.Fatalf("outcome = %v, want nxdomain", res.Outcome)
	}
	if r := w.ResolveFromVPC("development-agent.default.svc.cluster.local", dns.TypeA); !strings.Contains(r.Reason, "cluster scope") {
		t.Errorf("reason = %q, want the cluster-scope explanation", r.Reason)
	}
	// Names nobody serves: NXDOMAIN (no public DNS in the demo); Compute Engine internal DNS works.
	if res := probe.DNS(ctx, w.Resolver(), "example.com", dns.TypeA); res.Outcome != probe.OutcomeNXDomain {
		t.Errorf("example.com: %v, want nxdomain", res.Outcome)
	}
	if res := probe.DNS(ctx, w.Resolver(), node1+".europe-west1-c.c."+Project+".internal", dns.TypeA); res.Outcome != probe.OutcomeAnswer || res.IPs()[0].String() != "10.132.0.4" {
		t.Errorf("node internal name: %v %v", res.Outcome, res.IPs())
	}
	// Seed 001's wildcard in the mesh zone.
	if res := probe.DNS(ctx, w.Resolver(), "ads.mesh.private", dns.TypeA); res.Outcome != probe.OutcomeAnswer || res.IPs()[0].String() != "10.0.0.1" {
		t.Errorf("ads.mesh.private: %v %v, want 10.0.0.1", res.Outcome, res.IPs())
	}
}

func TestSeedClusterIPDialFromCloudRunTimesOut(t *testing.T) {
	w := start(t, Options{})
	start := time.Now()
	res := dial(t, w.Dialer(), DevAgentIP+":80", 300*time.Millisecond)
	if res.Outcome != probe.TCPTimeout {
		t.Fatalf("dial %s:80: %v (%v), want timeout", DevAgentIP, res.Outcome, res.Err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the dial gave up after %v, before its deadline: a dropped SYN waits", d)
	}
	if r := w.Reach(SourceCloudRun, DevAgentIP+":80"); !strings.Contains(r.Reason, "ClusterIP") {
		t.Errorf("reason = %q", r.Reason)
	}
	// By name: the VPC resolver fails first, as in the seed.
	_, err := w.Dialer().DialContext(ctxT(t, time.Second), "tcp", "development-agent.default.svc.cluster.local:80")
	if err == nil || !strings.Contains(err.Error(), "server misbehaving") {
		t.Errorf("dial by name: %v, want a temporary DNS failure", err)
	}
}

func TestInternalLBProvisioningAndTheDialFromCloudRun(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, true)
	ctx := ctxT(t, 10*time.Second)

	if ip := createILB(t, w, "development-agent"); ip != FirstILBIP {
		t.Fatalf("first internal LB got %s, want %s", ip, FirstILBIP)
	}
	if ip := createILB(t, w, "environment-manager"); ip != SecondILBIP {
		t.Fatalf("second internal LB got %s, want %s", ip, SecondILBIP)
	}

	body, err := get(t, w.Dialer(), FirstILBIP+":80")
	if err != nil || body != "development-agent: ok\n" {
		t.Fatalf("GET http://%s/ from Cloud Run: %q, %v", FirstILBIP, body, err)
	}
	if body, err := get(t, w.Dialer(), SecondILBIP+":80"); err != nil || body != "environment-manager: ok\n" {
		t.Fatalf("GET http://%s/ from Cloud Run: %q, %v", SecondILBIP, body, err)
	}
	if res := dial(t, w.Dialer(), FirstILBIP+":8080", 200*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("a port the forwarding rule does not carry: %v, want timeout", res.Outcome)
	}

	// What GKE created, seen through the real compute client.
	frs, err := c.Compute.ForwardingRules.List(Project, Region).Filter(`IPAddress="` + FirstILBIP + `"`).Context(ctx).Do()
	if err != nil || len(frs.Items) != 1 {
		t.Fatalf("forwarding rules for %s: %v, %v", FirstILBIP, frs, err)
	}
	fr := frs.Items[0]
	if fr.LoadBalancingScheme != "INTERNAL" || fr.AllowGlobalAccess || !strings.HasSuffix(fr.Network, "/global/networks/default") ||
		len(fr.Ports) != 1 || fr.Ports[0] != "80" || !strings.Contains(fr.Description, `"default/development-agent-ilb"`) {
		t.Errorf("forwarding rule = %+v", fr)
	}
	fw, err := c.Compute.Firewalls.Get(Project, "k8s-fw-"+fr.Name).Context(ctx).Do()
	if err != nil {
		t.Fatalf("k8s-fw rule: %v", err)
	}
	if fw.SourceRanges[0] != "0.0.0.0/0" || fw.TargetTags[0] != NodeTag || fw.Allowed[0].Ports[0] != "80" {
		t.Errorf("k8s-fw rule = %+v", fw)
	}
	evs, err := w.Kube().CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Service,involvedObject.name=development-agent-ilb"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range evs.Items {
		reasons = append(reasons, e.Reason)
	}
	if strings.Join(reasons, ",") != "EnsuringLoadBalancer,EnsuredLoadBalancer" {
		t.Errorf("events = %v", reasons)
	}

	// Deleting the Service tears the load balancer down and frees its address.
	if err := w.Kube().CoreV1().Services("default").Delete(ctx, "development-agent-ilb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "forwarding rule and firewall removed", func() error {
		if n := len(w.GCP().ForwardingRules(Project, Region)); n != 1 {
			return errf("%d forwarding rules", n)
		}
		for _, f := range w.GCP().Firewalls(Project) {
			if f.Name == "k8s-fw-"+fr.Name {
				return errf("%s still there", f.Name)
			}
		}
		return nil
	})
	if res := dial(t, w.Dialer(), FirstILBIP+":80", 200*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("after deletion: %v, want timeout", res.Outcome)
	}
	if ip := createILB(t, w, "development-agent"); ip != FirstILBIP {
		t.Errorf("re-created internal LB got %s, want the freed %s", ip, FirstILBIP)
	}
}

func TestExternalLBGetsNothingInternal(t *testing.T) {
	w := start(t, Options{})
	ctx := ctxT(t, 10*time.Second)
	svc := ilbService("development-agent")
	svc.Name, svc.Annotations = "development-agent-lb", nil
	if _, err := w.Kube().CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, 5*time.Second, "external IP", func() error {
		s, err := w.Kube().CoreV1().Services("default").Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return errf("pending (%v)", err)
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	if strings.HasPrefix(ip, "10.") {
		t.Fatalf("external LB got the internal address %s", ip)
	}
	for _, fr := range w.GCP().ForwardingRules(Project, Region) {
		if fr.LoadBalancingScheme == "INTERNAL" {
			t.Errorf("an external LB created internal forwarding rule %s", fr.Name)
		}
	}
	if res := dial(t, w.Dialer(), ip+":80", 200*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("external LB from the VPC: %v, want timeout (no internet in the demo)", res.Outcome)
	}
}

func TestHandEditOfTheGKEZoneIsReverted(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	name := "development-agent.default.svc.cluster.local."
	got, err := c.DNS.ResourceRecordSets.Patch(Project, ClusterZone, name, "A",
		&clouddns.ResourceRecordSet{Name: name, Type: "A", Ttl: 30, Rrdatas: []string{FirstILBIP}}).Context(ctx).Do()
	if err != nil {
		t.Fatalf("patch the A record: %v", err)
	}
	if got.Rrdatas[0] != FirstILBIP {
		t.Fatalf("patch answered %v", got.Rrdatas)
	}
	eventually(t, 5*time.Second, "the controller reverts the hand edit", func() error {
		rr, err := c.DNS.ResourceRecordSets.Get(Project, ClusterZone, name, "A").Context(ctx).Do()
		if err != nil {
			return err
		}
		if len(rr.Rrdatas) != 1 || rr.Rrdatas[0] != DevAgentIP {
			return errf("record = %v", rr.Rrdatas)
		}
		return nil
	})
	// Records follow the Services: a new Service gets its A record, a deleted one loses it.
	if _, err := w.Kube().CoreV1().Services("default").Create(ctx, ilbService("development-agent"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ilbClusterIP string
	eventually(t, 5*time.Second, "record for the new Service", func() error {
		s, err := w.Kube().CoreV1().Services("default").Get(ctx, "development-agent-ilb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ilbClusterIP = s.Spec.ClusterIP
		rr, err := c.DNS.ResourceRecordSets.Get(Project, ClusterZone, "development-agent-ilb.default.svc.cluster.local.", "A").Context(ctx).Do()
		if err != nil {
			return err
		}
		if rr.Rrdatas[0] != ilbClusterIP {
			return errf("record %v, ClusterIP %s", rr.Rrdatas, ilbClusterIP)
		}
		return nil
	})
	if !mustPrefix(ServicesCIDR).Contains(mustAddr(t, ilbClusterIP)) {
		t.Errorf("allocated ClusterIP %s is outside %s", ilbClusterIP, ServicesCIDR)
	}
	if err := w.Kube().CoreV1().Services("default").Delete(ctx, "development-agent-ilb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "record removed", func() error {
		_, err := c.DNS.ResourceRecordSets.Get(Project, ClusterZone, "development-agent-ilb.default.svc.cluster.local.", "A").Context(ctx).Do()
		if err == nil {
			return errors.New("still there")
		}
		return nil
	})
}

func TestOwnedZoneAnswersTheILBAddress(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	_, err := c.DNS.ManagedZones.Create(Project, &clouddns.ManagedZone{Name: "svc-internal", DnsName: "svc.internal.example.com.",
		Visibility: "private", Description: "managed by gkedoctor",
		PrivateVisibilityConfig: &clouddns.ManagedZonePrivateVisibilityConfig{Networks: []*clouddns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"}}}}).Context(ctx).Do()
	if err != nil {
		t.Fatalf("create zone: %v", err)
	}
	name := "development-agent.svc.internal.example.com."
	if _, err := c.DNS.ResourceRecordSets.Create(Project, "svc-internal",
		&clouddns.ResourceRecordSet{Name: name, Type: "A", Ttl: 60, Rrdatas: []string{FirstILBIP}}).Context(ctx).Do(); err != nil {
		t.Fatalf("create record: %v", err)
	}
	res := probe.DNS(ctx, w.Resolver(), name, dns.TypeA)
	if res.Outcome != probe.OutcomeAnswer || len(res.IPs()) != 1 || res.IPs()[0].String() != FirstILBIP {
		t.Fatalf("resolve %s: %v %v, want %s", name, res.Outcome, res.IPs(), FirstILBIP)
	}
	if res := probe.DNS(ctx, w.Resolver(), name, dns.TypeAAAA); res.Outcome != probe.OutcomeNoData {
		t.Errorf("AAAA: %v, want nodata", res.Outcome)
	}
	if res := probe.DNS(ctx, w.Resolver(), "nobody.svc.internal.example.com", dns.TypeA); res.Outcome != probe.OutcomeNXDomain {
		t.Errorf("missing name: %v, want nxdomain", res.Outcome)
	}
	// With the ILB in place, the name leads the Cloud Run client to the backend.
	createILB(t, w, "development-agent")
	if body, err := get(t, w.Dialer(), "development-agent.svc.internal.example.com:80"); err != nil || body != "development-agent: ok\n" {
		t.Errorf("GET by the owned name: %q, %v", body, err)
	}
}

func TestDialerFollowsTheState(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 20*time.Second)
	createILB(t, w, "development-agent")
	reachable := func(want bool, when string) {
		t.Helper()
		res := dial(t, w.Dialer(), FirstILBIP+":80", 200*time.Millisecond)
		if res.OK != want {
			t.Fatalf("%s: dial %s:80 = %v (%v); reach says %q", when, FirstILBIP, res.Outcome, res.Err, w.Reach(SourceCloudRun, FirstILBIP+":80").Reason)
		}
		if !want && res.Outcome != probe.TCPTimeout {
			t.Fatalf("%s: %v, want a timeout, not a refusal", when, res.Outcome)
		}
	}
	reachable(true, "with the internal LB")

	t.Run("egress_private_ranges_only", func(t *testing.T) {
		patchRun(t, c, CloudRunService, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "PRIVATE_RANGES_ONLY" })
		reachable(true, "private-ranges-only, to an RFC 1918 ILB address")
		if r := w.Reach(SourceCloudRun, DevAgentIP+":80"); r.Outcome != Timeout || !strings.Contains(r.Reason, "PRIVATE_RANGES_ONLY") {
			t.Errorf("34.118.x with private-ranges-only: %+v, want a timeout through the internet", r)
		}
		patchRun(t, c, CloudRunService, func(s *run.GoogleCloudRunV2Service) { s.Template.VpcAccess.Egress = "ALL_TRAFFIC" })
		if r := w.Reach(SourceCloudRun, DevAgentIP+":80"); !strings.Contains(r.Reason, "ClusterIP") {
			t.Errorf("34.118.x with all-traffic: %+v, want the ClusterIP verdict", r)
		}
	})
	t.Run("revision_serves_only_when_the_operation_completes", func(t *testing.T) {
		w.GCP().SetOperationDelay(300 * time.Millisecond)
		defer w.GCP().SetOperationDelay(0)
		full := "projects/" + Project + "/locations/" + Region + "/services/" + CloudRunService
		svc, err := c.Run.Projects.Locations.Services.Get(full).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		svc.Template.VpcAccess = nil
		op, err := c.Run.Projects.Locations.Services.Patch(full, svc).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if !op.Done {
			reachable(true, "while the new revision rolls out")
		}
		eventually(t, 5*time.Second, "the revision without VPC access serves", func() error {
			if w.Reach(SourceCloudRun, FirstILBIP+":80").Outcome != Timeout {
				return errors.New("still reachable")
			}
			return nil
		})
		reachable(false, "without VPC access")
		patchRun(t, c, CloudRunService, func(s *run.GoogleCloudRunV2Service) {
			s.Template.VpcAccess = &run.GoogleCloudRunV2VpcAccess{Connector: connectorName(), Egress: "ALL_TRAFFIC"}
		})
		eventually(t, 5*time.Second, "back", func() error {
			if w.Reach(SourceCloudRun, FirstILBIP+":80").Outcome != Connected {
				return errors.New("not yet")
			}
			return nil
		})
	})
	t.Run("connector_error", func(t *testing.T) {
		if err := w.GCP().SetConnectorState(Project, Region, Connector, "ERROR"); err != nil {
			t.Fatal(err)
		}
		reachable(false, "connector ERROR")
		if err := w.GCP().SetConnectorState(Project, Region, Connector, "READY"); err != nil {
			t.Fatal(err)
		}
		reachable(true, "connector READY again")
	})
	t.Run("firewall_deny", func(t *testing.T) {
		op, err := c.Compute.Firewalls.Insert(Project, &compute.Firewall{Name: "deny-connector-to-nodes", Network: "global/networks/default",
			Priority: 900, SourceRanges: []string{ConnectorRange}, TargetTags: []string{NodeTag},
			Denied: []*compute.FirewallDenied{{IPProtocol: "tcp", Ports: []string{"80"}}}}).Context(ctx).Do()
		if err != nil || op.Status != "DONE" {
			t.Fatalf("insert deny rule: %v %v", op, err)
		}
		reachable(false, "a higher-priority deny")
		if !strings.Contains(w.Reach(SourceCloudRun, FirstILBIP+":80").Reason, "deny-connector-to-nodes") {
			t.Errorf("reason does not name the rule: %q", w.Reach(SourceCloudRun, FirstILBIP+":80").Reason)
		}
		if _, err := c.Compute.Firewalls.Delete(Project, "deny-connector-to-nodes").Context(ctx).Do(); err != nil {
			t.Fatal(err)
		}
		reachable(true, "deny rule deleted")
	})
	t.Run("firewall_policies", func(t *testing.T) {
		l4 := []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"80"}}}
		// A hierarchical policy's deny comes before every VPC rule.
		w.GCP().AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4711", ShortName: "org-guardrails",
			Rules: []*compute.FirewallPolicyRule{{Priority: 1000, Action: "deny", Direction: "INGRESS",
				Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{ConnectorRange}, Layer4Configs: l4}}}})
		reachable(false, "a hierarchical deny")
		if r := w.Reach(SourceCloudRun, FirstILBIP+":80").Reason; !strings.Contains(r, `hierarchical firewall policy "org-guardrails" rule 1000`) {
			t.Errorf("reason does not name the policy rule: %q", r)
		}
		w.GCP().RemoveFirewallPolicy("4711")
		reachable(true, "hierarchical policy removed")
		// A global network policy's deny comes after the VPC rules (which allow), unless the network
		// says BEFORE_CLASSIC_FIREWALL.
		w.GCP().AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK", Name: "net-fw", Project: Project, Networks: []string{Network},
			Rules: []*compute.FirewallPolicyRule{{Priority: 10, Action: "deny", Direction: "INGRESS",
				Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: l4}}}})
		reachable(true, "a network policy deny after the classic rules")
		w.GCP().SetNetworkFirewallPolicyEnforcementOrder(Project, Network, "BEFORE_CLASSIC_FIREWALL")
		reachable(false, "a network policy deny before the classic rules")
		w.GCP().SetNetworkFirewallPolicyEnforcementOrder(Project, Network, "")
		w.GCP().RemoveFirewallPolicy("net-fw")
		// Egress on the source side: a deny-all egress on the connector's network.
		w.GCP().AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "4712", ShortName: "egress-lockdown",
			Rules: []*compute.FirewallPolicyRule{{Priority: 100, Action: "deny", Direction: "EGRESS",
				Match: &compute.FirewallPolicyRuleMatcher{DestIpRanges: []string{"0.0.0.0/0"}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}}}})
		reachable(false, "an egress deny on the source side")
		w.GCP().RemoveFirewallPolicy("4712")
		reachable(true, "egress policy removed")
	})
	t.Run("k8s_fw_rule_missing", func(t *testing.T) {
		var name string
		for _, f := range w.GCP().Firewalls(Project) {
			if strings.HasPrefix(f.Name, "k8s-fw-") {
				name = f.Name
			}
		}
		if _, err := c.Compute.Firewalls.Delete(Project, name).Context(ctx).Do(); err != nil {
			t.Fatal(err)
		}
		// GKE puts its rule back at the next resync (at once at latency 0); until then nothing allows it.
		eventually(t, 5*time.Second, "the service controller restores "+name, func() error {
			for _, f := range w.GCP().Firewalls(Project) {
				if f.Name == name {
					return nil
				}
			}
			return errors.New("missing")
		})
		reachable(true, "rule restored")
	})
	t.Run("no_ready_endpoints", func(t *testing.T) {
		pods := w.Kube().CoreV1().Pods("default")
		p, err := pods.Get(ctx, devAgentPod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodReady {
				p.Status.Conditions[i].Status = corev1.ConditionFalse
			}
		}
		if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "the LB has no healthy backend", func() error {
			if w.Reach(SourceCloudRun, FirstILBIP+":80").Outcome != Timeout {
				return errors.New("still connects")
			}
			return nil
		})
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodReady {
				p.Status.Conditions[i].Status = corev1.ConditionTrue
			}
		}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "healthy again", func() error {
			if w.Reach(SourceCloudRun, FirstILBIP+":80").Outcome != Connected {
				return errors.New("not yet")
			}
			return nil
		})
	})
	t.Run("pod_ip_over_the_node_route", func(t *testing.T) {
		// Routes-based: the VPC routes the pod range to the nodes, but nothing lets the connector in.
		if r := w.Reach(SourceCloudRun, "172.16.0.12:8080"); r.Outcome != Timeout || !strings.Contains(r.Reason, "implied deny") {
			t.Errorf("pod IP from Cloud Run: %+v", r)
		}
	})
}

func TestPodToPeeredProject(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	pod, node := w.DialerFrom(SourcePod), w.DialerFrom(SourceNode)
	target := PeerHost + ":443"
	if res := dial(t, pod, target, 200*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Fatalf("pod → %s: %v, want timeout", target, res.Outcome)
	}
	if r := w.Reach(SourcePod, target); !strings.Contains(r.Reason, "not exchanged") {
		t.Errorf("reason = %q", r.Reason)
	}
	if res := dial(t, node, target, time.Second); !res.OK {
		t.Fatalf("node → %s: %v, want connected (seed 004: nodes can)", target, res.Err)
	}
	// Routes exchanged over the peering: export on default, import on partner-vpc. One side is not enough.
	update := func(project, network, peering, field string) {
		t.Helper()
		np := &compute.NetworkPeering{Name: peering}
		switch field {
		case "export":
			np.ExportCustomRoutes = true
		case "import":
			np.ImportCustomRoutes = true
		}
		if _, err := c.Compute.Networks.UpdatePeering(project, network, &compute.NetworksUpdatePeeringRequest{NetworkPeering: np}).Context(ctx).Do(); err != nil {
			t.Fatalf("updatePeering %s/%s: %v", project, peering, err)
		}
	}
	update(Project, Network, PeeringName, "export")
	if res := dial(t, pod, target, 200*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Fatalf("export only: %v, want timeout", res.Outcome)
	}
	update(PeerProject, PeerNetwork, PeerBackName, "import")
	if body, err := get(t, pod, target); err != nil || body != "partner-api: ok\n" {
		t.Fatalf("pod → %s after export/import: %q, %v", target, body, err)
	}
	routes, err := c.Compute.Networks.ListPeeringRoutes(PeerProject, PeerNetwork).PeeringName(PeerBackName).Direction("INCOMING").Region(Region).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range routes.Items {
		if r.DestRange == "172.16.1.0/24" {
			found = true
		}
	}
	if !found {
		t.Errorf("listPeeringRoutes on the partner side does not show the pod route: %+v", routes.Items)
	}
}

func TestIPMasqAgentConfigMapAfterResync(t *testing.T) {
	// A small latency makes the resync interval visible: 60s × 100ms / 10s = 600ms.
	w := start(t, Options{Latency: 100 * time.Millisecond})
	ctx := ctxT(t, 10*time.Second)
	pod := w.DialerFrom(SourcePod)
	target := PeerHost + ":443"
	if res := dial(t, pod, target, 100*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Fatalf("before: %v, want timeout", res.Outcome)
	}
	cms := w.Kube().CoreV1().ConfigMaps("kube-system")
	// The seed's trap first: a key other than "config" is not the agent's file.
	wrong := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ip-masq-agent", Namespace: "kube-system"},
		Data: map[string]string{"ip-masq-agent.yaml": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.132.0.0/20\n"}}
	cm, err := cms.Create(ctx, wrong, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	if st := w.IPMasq(); st.Custom || !st.Running {
		t.Fatalf("a ConfigMap without the config key was applied: %+v", st)
	}
	cm.Data = map[string]string{"config": "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.132.0.0/20\nmasqLinkLocal: false\nresyncInterval: 60s\n"}
	changed := time.Now()
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := dial(t, pod, target, 100*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("right after the change (before the resync): %v, want timeout", res.Outcome)
	}
	eventually(t, 5*time.Second, "the agent picks up the ConfigMap", func() error {
		if !w.IPMasq().Custom {
			return errors.New("defaults still")
		}
		return nil
	})
	if d := time.Since(changed); d < 500*time.Millisecond {
		t.Errorf("picked up after %v, before the scaled resync interval (600ms)", d)
	}
	if body, err := get(t, pod, target); err != nil || body != "partner-api: ok\n" {
		t.Fatalf("pod → %s with SNAT to the node: %q, %v", target, body, err)
	}
	if r := w.Reach(SourcePod, target); !strings.Contains(r.Reason, "subnet route") {
		t.Errorf("reason = %q", r.Reason)
	}
	// A broken file: the agent keeps its last good configuration.
	cm, _ = cms.Get(ctx, "ip-masq-agent", metav1.GetOptions{})
	cm.Data["config"] = "nonMasqueradeCIDRs: [not-a-cidr]\n"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the bad config is rejected", func() error {
		if w.IPMasq().LastError == "" {
			return errors.New("not read yet")
		}
		return nil
	})
	if st := w.IPMasq(); !st.Custom || len(st.NonMasqueradeCIDRs) != 2 {
		t.Errorf("after a bad config: %+v, want the last good one", st)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	w, err := Start(ctx, Options{Latency: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Leave things running: a watch nobody reads, a load balancer being provisioned, a DNS query.
	if _, err := w.Kube().CoreV1().Services("").Watch(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Kube().CoreV1().Services("default").Create(ctx, ilbService("development-agent"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = probe.DNS(ctxT(t, time.Second), w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA)
	done := make(chan error, 1)
	go func() {
		_, err := w.Dialer().DialContext(context.Background(), "tcp", DevAgentIP+":80") // no deadline: blocks
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("a dial to a ClusterIP connected")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked dial outlived Close")
	}
	w.Close() // twice is fine
	eventually(t, 5*time.Second, "every goroutine of the world ends", func() error {
		if n := runtime.NumGoroutine(); n > before {
			return errf("%d goroutines, %d before Start", n, before)
		}
		return nil
	})
}

func TestForwardingZoneToAnILBInFrontOfKubeDNS(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	// The known pattern: kube-dns exposed on an internal LB, the forwarding zone re-pointed at it.
	dnsILB := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-ilb", Namespace: "kube-system",
			Annotations: map[string]string{"networking.gke.io/load-balancer-type": "Internal"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}, {Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53}}},
	}
	if _, err := w.Kube().CoreV1().Services("kube-system").Create(ctx, dnsILB, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, 5*time.Second, "kube-dns-ilb address", func() error {
		s, err := w.Kube().CoreV1().Services("kube-system").Get(ctx, "kube-dns-ilb", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return errors.New("pending")
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	if err := c.DNS.ManagedZones.Delete(Project, ForwardingZone).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DNS.ManagedZones.Create(Project, &clouddns.ManagedZone{Name: ForwardingZone, DnsName: "cluster.local.", Visibility: "private",
		PrivateVisibilityConfig: &clouddns.ManagedZonePrivateVisibilityConfig{Networks: []*clouddns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: "projects/dev-orchestra/global/networks/default"}}},
		ForwardingConfig: &clouddns.ManagedZoneForwardingConfig{TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: ip}}},
	}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	res := probe.DNS(ctx, w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA)
	if res.Outcome != probe.OutcomeAnswer || res.IPs()[0].String() != DevAgentIP {
		t.Fatalf("through kube-dns's internal LB: %v %v, want the ClusterIP %s", res.Outcome, res.IPs(), DevAgentIP)
	}
	// It answers, but with the ClusterIP: the name still leads nowhere from Cloud Run.
	if r := dial(t, w.Dialer(), DevAgentIP+":80", 100*time.Millisecond); r.Outcome != probe.TCPTimeout {
		t.Errorf("the answer's address from Cloud Run: %v, want timeout", r.Outcome)
	}
	if res := probe.DNS(ctx, w.Resolver(), "nobody.default.svc.cluster.local", dns.TypeA); res.Outcome != probe.OutcomeNXDomain {
		t.Errorf("a missing Service: %v, want nxdomain", res.Outcome)
	}
	// Without the firewall rule for Cloud DNS's forwarders (and with the LB's own rule limited to the
	// VPC), the forwarder cannot reach the target: SERVFAIL again.
	if _, err := c.Compute.Firewalls.Delete(Project, "allow-cloud-dns-forwarding").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	svc, err := w.Kube().CoreV1().Services("kube-system").Get(ctx, "kube-dns-ilb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.LoadBalancerSourceRanges = []string{AutoModeCIDR}
	if _, err := w.Kube().CoreV1().Services("kube-system").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "SERVFAIL once 35.199.192.0/19 is shut out", func() error {
		if res := probe.DNS(ctx, w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA); res.Outcome != probe.OutcomeServFail {
			return errf("%v", res.Outcome)
		}
		return nil
	})
	if r := w.ResolveFromVPC("development-agent.default.svc.cluster.local", dns.TypeA); !strings.Contains(r.Reason, DNSForwarders) {
		t.Errorf("reason = %q, want the forwarders' range named", r.Reason)
	}
}

func TestPodsReachClusterIPs(t *testing.T) {
	w := start(t, Options{})
	pod := w.DialerFrom(SourcePod)
	if body, err := get(t, pod, DevAgentIP+":80"); err != nil || body != "development-agent: ok\n" {
		t.Fatalf("pod → ClusterIP: %q, %v", body, err)
	}
	if body, err := get(t, pod, "development-agent.default.svc.cluster.local:80"); err != nil || body != "development-agent: ok\n" {
		t.Fatalf("pod → cluster name: %q, %v", body, err)
	}
	if res := dial(t, pod, DevAgentIP+":81", 100*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("a port the Service does not have: %v, want timeout", res.Outcome)
	}
	if res := dial(t, pod, "172.16.0.12:9999", 100*time.Millisecond); res.Outcome != probe.TCPRefused {
		t.Errorf("a pod port nothing listens on: %v, want refused", res.Outcome)
	}
	if res := dial(t, w.DialerFrom("cloud-run/"+MeshService), FirstILBIP+":80", 100*time.Millisecond); res.Outcome != probe.TCPTimeout {
		t.Errorf("mesh-svc → an address with no LB yet: %v", res.Outcome)
	}
}

func TestAdditiveVPCScopeFollowsTheCluster(t *testing.T) {
	w := start(t, Options{})
	c := clients(t, w, false)
	ctx := ctxT(t, 10*time.Second)
	name := "projects/" + Project + "/locations/" + Region + "/clusters/" + Cluster
	update := func(additive string) {
		t.Helper()
		op, err := c.Container.Projects.Locations.Clusters.Update(name, &container.UpdateClusterRequest{Update: &container.ClusterUpdate{
			DesiredDnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE", AdditiveVpcScopeDnsDomain: additive}}}).Context(ctx).Do()
		if err != nil || op.Status != "DONE" {
			t.Fatalf("update the cluster's DNS config: %v, %v", op, err)
		}
	}
	update("dev-orchestra.internal")
	host := "development-agent.default.svc.dev-orchestra.internal"
	eventually(t, 5*time.Second, "the additive zone answers", func() error {
		res := probe.DNS(ctx, w.Resolver(), host, dns.TypeA)
		if res.Outcome != probe.OutcomeAnswer || res.IPs()[0].String() != DevAgentIP {
			return errf("%v %v", res.Outcome, res.IPs())
		}
		return nil
	})
	// cluster.local is unchanged from the VPC: still the forwarding zone.
	if res := probe.DNS(ctx, w.Resolver(), "development-agent.default.svc.cluster.local", dns.TypeA); res.Outcome != probe.OutcomeServFail {
		t.Errorf("cluster.local: %v, want servfail", res.Outcome)
	}
	update("")
	eventually(t, 5*time.Second, "the additive zone is gone", func() error {
		if res := probe.DNS(ctx, w.Resolver(), host, dns.TypeA); res.Outcome != probe.OutcomeNXDomain {
			return errf("%v", res.Outcome)
		}
		return nil
	})
}
