package checks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

func knRun(t *testing.T, ctx context.Context, s *app.Session) checks.Result {
	t.Helper()
	c, _ := checks.Lookup("knative-gateway-address")
	s.Inv.Invalidate()
	return (&checks.Engine{Timeout: time.Minute}).Run(ctx, s.Env, []checks.Check{c}, nil)[0]
}

func knDump(r checks.Result) string {
	var b strings.Builder
	b.WriteString("\n" + string(r.Status) + " " + r.Cause + ": " + r.Summary)
	for _, e := range r.Evidence {
		b.WriteString("\n  " + string(e.Status) + " " + e.Step + ": " + strings.ReplaceAll(e.Detail, "\n", " | "))
	}
	for _, p := range r.Fixes {
		b.WriteString("\n  fix " + p.ID)
	}
	return b.String()
}

var gvrDemoDomainMapping = schema.GroupVersionResource{Group: "domains.cloudrun.com", Version: "v1alpha1", Resource: "domainmappings"}

func demoReady(w *sim.World) (string, string) {
	u, ok := w.CustomObject(gvrDemoDomainMapping, "default", sim.DomainMappingName)
	if !ok {
		return "absent", ""
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	ready := ""
	for _, c := range conds {
		if m := c.(map[string]any); m["type"] == "Ready" {
			ready, _ = m["status"].(string)
		}
	}
	recs, _, _ := unstructured.NestedSlice(u.Object, "status", "resourceRecords")
	addr := ""
	if len(recs) > 0 {
		addr, _ = recs[0].(map[string]any)["rrdata"].(string)
	}
	return ready, addr
}

// Seed 002 in the demo world, through the product's session: a read-only audit fails with the seed's
// cause ("Waiting for Gateway IP" on the domains.cloudrun.com DomainMapping, the NodePort gateway) and
// writes nothing, on either the typed or the custom-resource side; the fix makes the gateway a
// LoadBalancer, the simulated service controller gives it an address, the simulated Knative
// controller publishes it and the DomainMapping turns Ready, and the check passes; undo puts the
// gateway back to NodePort with its nodePorts, and the DomainMapping waits again.
func TestKnativeGatewayDemoWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo world")
	}
	s, w, ctx := demoSession(t, func(o *app.Options) { o.ReadOnly = true })
	r := knRun(t, ctx, s)
	if r.Status != checks.Fail || r.Cause != "gateway-not-loadbalancer" || !strings.Contains(r.Summary, "Waiting for Gateway IP") ||
		!strings.Contains(r.Summary, sim.GatewayNamespace+"/"+sim.GatewayService+" is type NodePort") {
		t.Fatalf("the seed:%s", knDump(r))
	}
	if len(r.Fixes) != 2 || r.Fixes[0].ID != "gateway-loadbalancer/gke-system/istio-ingress" || r.Fixes[1].ID != "gateway-internal-loadbalancer/gke-system/istio-ingress" {
		t.Fatalf("fixes:%s", knDump(r))
	}
	if got := w.CRWrites(); len(got) != 0 {
		t.Errorf("the read-only run wrote custom resources: %v", got)
	}
	for _, a := range w.KubeClient(true).(interface{ Actions() []clienttesting.Action }).Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
			t.Errorf("the read-only run did %s %s", v, a.GetResource().Resource)
		}
	}
	if _, err := s.Applier.Apply(ctx, r.Fixes[0], nil); err == nil {
		t.Fatal("a read-only session applied a fix")
	}
	if u, _ := w.KubeDynamic(true).Resource(gvrDemoDomainMapping).Namespace("default").Get(ctx, sim.DomainMappingName, metav1.GetOptions{}); u == nil {
		t.Fatal("the read-only dynamic client cannot read")
	}
	if err := w.KubeDynamic(true).Resource(gvrDemoDomainMapping).Namespace("default").Delete(ctx, sim.DomainMappingName, metav1.DeleteOptions{}); err == nil {
		t.Fatal("the read-only dynamic client deleted")
	}
	if _, err := w.KubeDynamic(false).Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1beta1", Resource: "domainmappings"}).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("an API the demo cluster does not serve: %v", err)
	}

	for _, internal := range []bool{false, true} {
		s, w, ctx := demoSession(t, func(o *app.Options) { o.InternalGateway = internal })
		r := knRun(t, ctx, s)
		p := r.Fixes[0]
		wantID := map[bool]string{false: "gateway-loadbalancer/", true: "gateway-internal-loadbalancer/"}[internal]
		if !strings.HasPrefix(p.ID, wantID) || p.Alternative {
			t.Fatalf("internal=%v: recommended fix:%s", internal, knDump(r))
		}
		before, err := w.Kube().CoreV1().Services(sim.GatewayNamespace).Get(ctx, sim.GatewayService, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Applier.Apply(ctx, p, nil)
		if err != nil {
			t.Fatalf("internal=%v: apply: %v", internal, err)
		}
		ready, addr := demoReady(w)
		if ready != "True" || addr == "" || !strings.Contains(res.Waited, addr) {
			t.Fatalf("internal=%v: after the fix the DomainMapping is Ready=%s with address %q (waited: %s)", internal, ready, addr, res.Waited)
		}
		if internal != strings.HasPrefix(addr, "10.132.0.") {
			t.Errorf("internal=%v: the gateway got %s", internal, addr)
		}
		if r := knRun(t, ctx, s); r.Status != checks.Pass || !strings.Contains(r.Summary, addr) {
			t.Fatalf("internal=%v: after the fix:%s", internal, knDump(r))
		}
		if err := s.Applier.Undo(ctx, res.Entry); err != nil {
			t.Fatalf("internal=%v: undo: %v", internal, err)
		}
		back, _ := w.Kube().CoreV1().Services(sim.GatewayNamespace).Get(ctx, sim.GatewayService, metav1.GetOptions{})
		if back.Spec.Type != corev1.ServiceTypeNodePort || len(back.Spec.Ports) != len(before.Spec.Ports) || len(back.Annotations) != len(before.Annotations) {
			t.Fatalf("internal=%v: undo left %s %v %v", internal, back.Spec.Type, back.Spec.Ports, back.Annotations)
		}
		for i := range before.Spec.Ports {
			if back.Spec.Ports[i].NodePort != before.Spec.Ports[i].NodePort {
				t.Errorf("internal=%v: nodePort of %d is %d, was %d", internal, before.Spec.Ports[i].Port, back.Spec.Ports[i].NodePort, before.Spec.Ports[i].NodePort)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := knRun(t, ctx, s)
			if r.Cause == "gateway-not-loadbalancer" && strings.Contains(r.Summary, "Waiting for Gateway IP") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("internal=%v: after undo the check did not fail again:%s", internal, knDump(r))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
