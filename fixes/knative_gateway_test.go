package fixes

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func gatewaySvc(mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "gke-system", Name: "istio-ingress"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "34.118.236.174",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 32760, Protocol: corev1.ProtocolTCP}}}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

// When a patch of the type would not work or not last, the fix is advice; Helm and the Istio operator
// only get a warning (they put the Service back later, not at once).
func TestGatewayLBRefusal(t *testing.T) {
	yes := true
	cases := []struct {
		name     string
		mutate   func(*corev1.Service)
		why      string
		recreate bool
	}{
		{name: "plain_nodeport"},
		{name: "external_name", mutate: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }, why: "ExternalName", recreate: true},
		{name: "headless", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeClusterIP, "None" }, why: "headless", recreate: true},
		{name: "addon_reconcile", mutate: func(s *corev1.Service) { s.Labels = map[string]string{AnnotationAddonManagerMode: "Reconcile"} }, why: "addon manager"},
		{name: "addon_ensure_exists", mutate: func(s *corev1.Service) { s.Labels = map[string]string{AnnotationAddonManagerMode: "EnsureExists"} }},
		{name: "operator_owned", mutate: func(s *corev1.Service) {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "IstioOperator", Name: "installed-state", Controller: &yes}}
		}, why: "controlled by IstioOperator installed-state"},
		{name: "helm", mutate: func(s *corev1.Service) { s.Labels = map[string]string{"app.kubernetes.io/managed-by": "Helm"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := gatewaySvc(c.mutate)
			why, recreate := GatewayLBRefusal(s)
			if (why == "") != (c.why == "") || !strings.Contains(why, c.why) || recreate != c.recreate {
				t.Fatalf("refusal %q recreate=%v, want %q recreate=%v", why, recreate, c.why, c.recreate)
			}
			if why != "" {
				p := NewGatewayLBAdvice(GatewayLB{Service: s}, why, recreate)
				if !p.Advice || p.Apply != nil || len(p.Commands) == 0 || p.Destructive != recreate {
					t.Fatalf("advice %+v", p)
				}
				if _, err := (&Applier{Journal: OpenJournal(t.TempDir())}).Apply(context.Background(), p, nil); err != ErrAdviceOnly {
					t.Fatalf("applying advice: %v", err)
				}
				return
			}
			p := NewGatewayLBPlan(nil, GatewayLB{Service: s})
			if c.name == "helm" && !strings.Contains(p.Description, "helm upgrade") {
				t.Errorf("no Helm warning: %s", p.Description)
			}
			if c.name == "addon_ensure_exists" && !strings.Contains(p.Description, "EnsureExists") {
				t.Errorf("no add-on warning: %s", p.Description)
			}
		})
	}
}

// The plans say what they change and ask once more; the patch carries the resourceVersion read; with
// no Kubernetes client the snapshot says why instead of panicking.
func TestGatewayLBPlanShape(t *testing.T) {
	s := gatewaySvc(nil)
	ext := NewGatewayLBPlan(nil, GatewayLB{Service: s})
	in := NewGatewayLBPlan(nil, GatewayLB{Service: s, Internal: true, Alternative: true})
	if ext.ID != "gateway-loadbalancer/gke-system/istio-ingress" || in.ID != "gateway-internal-loadbalancer/gke-system/istio-ingress" {
		t.Fatalf("ids %s %s", ext.ID, in.ID)
	}
	for _, p := range []*Plan{ext, in} {
		if !p.NeedsConfirmation() || !p.Reversible || p.Destructive || p.Advice || !strings.Contains(p.Diff, "+   type: LoadBalancer") ||
			!strings.Contains(p.Description, "may put the Service back") || !strings.Contains(p.Affects, "80:32760/TCP") {
			t.Errorf("%s: %+v", p.ID, p)
		}
		if _, err := p.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "no Kubernetes client") {
			t.Errorf("%s: snapshot without a client: %v", p.ID, err)
		}
	}
	if !strings.Contains(in.Diff, "+     networking.gke.io/load-balancer-type: Internal") || !strings.Contains(in.Affects, "clients in the VPC") ||
		!strings.Contains(ext.Affects, "any address on the Internet") {
		t.Errorf("variants: %s / %s", in.Diff, ext.Affects)
	}
	var patch map[string]map[string]any
	if err := json.Unmarshal(gatewayPatch(GatewayLB{Service: s, Internal: true}, "42"), &patch); err != nil {
		t.Fatal(err)
	}
	if patch["metadata"]["resourceVersion"] != "42" || patch["spec"]["type"] != "LoadBalancer" ||
		patch["metadata"]["annotations"].(map[string]any)["networking.gke.io/load-balancer-type"] != "Internal" {
		t.Fatalf("patch %v", patch)
	}
	if _, err := ext.Apply(context.Background(), Snapshot{}); err == nil {
		t.Fatal("apply without a snapshot's resourceVersion")
	}
	if err := undoRestoreGatewayFn(context.Background(), &Deps{}, json.RawMessage(`{"namespace":"a"}`)); err == nil || !strings.Contains(err.Error(), "bad undo parameters") {
		t.Fatalf("undo with bad parameters: %v", err)
	}
}
