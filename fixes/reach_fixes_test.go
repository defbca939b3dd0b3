package fixes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestInternalLBService(t *testing.T) {
	orig := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP, NodePort: 30080}}}}
	s := InternalLBService(InternalLB{Original: orig})
	if s.Name != "development-agent-ilb" || s.Spec.Type != corev1.ServiceTypeLoadBalancer || s.Annotations[ilbAnnotationKey] != "Internal" ||
		s.Annotations[ilbGlobalAccess] != "" || s.Labels[LabelManagedBy] != ManagedByValue || s.Spec.Ports[0].NodePort != 0 ||
		s.Spec.Ports[0].TargetPort != intstr.FromString("web") || s.Spec.Selector["app"] != "a" {
		t.Fatalf("%+v", s)
	}
	s.Spec.Selector["app"] = "changed"
	if orig.Spec.Selector["app"] != "a" {
		t.Fatal("the selector is shared with the original")
	}
	s = InternalLBService(InternalLB{Original: orig, Legacy: true, GlobalAccess: true})
	if s.Annotations[ilbAnnotationLegacy] != "Internal" || s.Annotations[ilbAnnotationKey] != "" || s.Annotations[ilbGlobalAccess] != "true" {
		t.Fatalf("%v", s.Annotations)
	}
	if n := InternalLBName(strings.Repeat("a", 63)); len(n) > 63 || !strings.HasSuffix(n, "-ilb") {
		t.Fatalf("%q", n)
	}
	p := NewInternalLBPlan(nil, InternalLB{Original: orig})
	if p.ID != "create-internal-lb/default/development-agent" || p.WaitTimeout != 10*60e9 || !strings.Contains(p.Diff, "+ kind: Service") ||
		!strings.Contains(p.Commands[0], "kubectl apply -f -") {
		t.Fatalf("%+v", p)
	}
}

func TestFirewallRuleName(t *testing.T) {
	if n := FirewallRuleName("dev-orchestra-cluster", "192.168.99.0/28", 80); n != "allow-serverless-to-dev-orchestra-cluster-80-f29b49" {
		t.Fatal(n)
	}
	// Unique per source range and port: two clients' rules never share a name.
	if a, b := FirewallRuleName("c", "192.168.99.0/28", 80), FirewallRuleName("c", "10.8.0.0/28", 80); a == b {
		t.Fatalf("same name %q for two source ranges", a)
	}
	n := FirewallRuleName(strings.Repeat("c", 60)+"-x", "10.8.0.0/28", 8080)
	if len(n) > 63 || !fwNameRE().MatchString(n) || !strings.HasSuffix(n, "-8080-01d314") {
		t.Fatalf("%q", n)
	}
	if n := FirewallRuleName("Bad_Name", "10.8.0.0/28", 80); !fwNameRE().MatchString(n) {
		t.Fatalf("%q", n)
	}
}

func TestFirewallPlanAdvice(t *testing.T) {
	o := FirewallRule{Project: "p", ClusterProject: "p", Network: "projects/p/global/networks/default", Name: "allow-serverless-to-c-80",
		SourceRange: "192.168.99.0/28", TargetTag: "gke-c-1234-node", Port: 80, Deny: "deny-all", DenyPriority: 900}
	p := NewFirewallPlan(nil, o)
	if !p.Advice || p.Apply != nil || !strings.Contains(p.Commands[0], "--priority 899") {
		t.Fatalf("%+v", p)
	}
	o.Deny, o.TargetTag = "", ""
	if p := NewFirewallPlan(nil, o); !p.Advice || !strings.Contains(p.Commands[0], "NODE_NETWORK_TAG") {
		t.Fatalf("%+v", p)
	}
}

func TestConnectorAdvice(t *testing.T) {
	p := NewConnectorAdvice(ConnectorReplacement{Connector: "projects/p/locations/europe-west1/connectors/my-vpc-connector", Network: "default",
		Range: "192.168.99.0/28", Services: []string{"a", "b"}})
	if !p.Advice || len(p.Commands) != 4 || !strings.Contains(p.Commands[0], "connectors create my-vpc-connector-2 --region europe-west1 --project p --network default --range") ||
		!strings.Contains(p.Commands[1], "services update a") || !strings.Contains(p.Commands[3], "connectors delete my-vpc-connector ") {
		t.Fatalf("%q", p.Commands)
	}
}

// Each Cloud Run service is moved in its own project; a connector in another project (a Shared VPC
// host's) is named there by its full path (issue 12).
func TestConnectorAdviceUsesEachServicesProject(t *testing.T) {
	p := NewConnectorAdvice(ConnectorReplacement{Connector: "projects/net-host/locations/europe-west1/connectors/shared-conn", Network: "shared", Range: "10.8.0.0/28",
		Services: []string{"projects/app-one/locations/europe-west1/services/web", "projects/net-host/locations/europe-west1/services/ops", "legacy"}})
	cmds := strings.Join(p.Commands, "\n")
	for _, want := range []string{
		"gcloud run services update web --region europe-west1 --project app-one --vpc-connector projects/net-host/locations/europe-west1/connectors/shared-conn-2",
		"gcloud run services update ops --region europe-west1 --project net-host --vpc-connector shared-conn-2",
		"gcloud run services update legacy --region europe-west1 --project net-host --vpc-connector shared-conn-2",
	} {
		if !strings.Contains(cmds, want) {
			t.Errorf("missing %q in\n%s", want, cmds)
		}
	}
	if !strings.Contains(p.Title, "move web, ops, legacy to it") {
		t.Errorf("title %q", p.Title)
	}
}
