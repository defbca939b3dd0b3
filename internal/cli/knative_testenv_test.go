package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// `gkedoctor audit knative-gateway-address` (and `fix knative-gateway-address --dry-run`) against a
// real kube-apiserver with the Knative CRDs and seed 002's objects writes nothing: the server's own
// audit log shows only reads from gkedoctor - discovery, the DomainMapping list, the gateway Service -
// while the report says the gateway is NodePort and offers the fix.
func TestAuditKnativeGatewayMakesZeroWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	if err := srv.InstallCRDs(ctx, testenv.KnativeCRDs); err != nil {
		t.Fatal(err)
	}
	admin := srv.Clientset()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gke-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gw := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istio-ingress", Namespace: "gke-system"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "istio-ingress"},
			Ports: []corev1.ServicePort{{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := admin.CoreV1().Services("gke-system").Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := srv.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "domains.cloudrun.com", Version: "v1alpha1", Resource: "domainmappings"}
	dm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "domains.cloudrun.com/v1alpha1", "kind": "DomainMapping",
		"metadata": map[string]any{"name": "my-service.example.com", "namespace": "default"}, "spec": map[string]any{"routeName": "my-service"}}}
	got, err := d.Resource(gvr).Namespace("default").Create(ctx, dm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Object["status"] = map[string]any{"conditions": []any{
		map[string]any{"type": "GatewayReady", "status": "Unknown", "reason": "GatewayNotReady", "message": "Waiting for Gateway IP"},
		map[string]any{"type": "Ready", "status": "Unknown", "reason": "GatewayNotReady", "message": "Waiting for Gateway IP"}}}
	if _, err := d.Resource(gvr).Namespace("default").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, "audit", "knative-gateway-address", "--kubeconfig", srv.KubeconfigPath, "--no-gcp", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a failure): %s\n%s", code, stderr, out)
	}
	var rep struct {
		Results []struct {
			ID, Status, Cause, Summary string
			Fixes                      []struct{ ID string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Results) != 1 || rep.Results[0].Status != "fail" || rep.Results[0].Cause != "gateway-not-loadbalancer" ||
		!strings.Contains(rep.Results[0].Summary, "Waiting for Gateway IP") || len(rep.Results[0].Fixes) != 2 {
		t.Fatalf("results: %+v", rep.Results)
	}
	code, out, stderr = run(t, "fix", "knative-gateway-address", "--dry-run", "--kubeconfig", srv.KubeconfigPath, "--no-gcp", "--internal")
	// The plan list names the internal variant only (the report below it lists both).
	if code != 0 || !strings.Contains(out, "1 fix(es) planned:") || !strings.Contains(out, "\n  id: gateway-internal-loadbalancer/gke-system/istio-ingress\n") ||
		strings.Contains(out, "\n  id: gateway-loadbalancer/") {
		t.Fatalf("fix --dry-run --internal: exit %d: %s\n%s", code, stderr, out)
	}

	events, seen := gkedoctorRequests(t, srv, len(before))
	for _, e := range events {
		if !isRead(e) {
			t.Errorf("a write: %s %s", e.Verb, e.RequestURI)
		}
	}
	for _, want := range []string{"list domainmappings", "get services"} {
		if seen[want] < 2 {
			t.Errorf("%q not in the audit log for both runs (the check did not look): %v", want, seen)
		}
	}
	if s, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{}); s.Spec.Type != corev1.ServiceTypeNodePort {
		t.Fatalf("the gateway changed: %s", s.Spec.Type)
	}
}
