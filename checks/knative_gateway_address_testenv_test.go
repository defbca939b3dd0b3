package checks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

var (
	gvrCRfADomainMapping = schema.GroupVersionResource{Group: "domains.cloudrun.com", Version: "v1alpha1", Resource: "domainmappings"}
	gvrKnDomainMapping   = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1beta1", Resource: "domainmappings"}
	gvrKnIngress         = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses"}
)

// ownAPIServer starts a kube-apiserver of the test's own (CRDs are cluster-wide: the shared one must
// not get them).
func ownAPIServer(t *testing.T) *testenv.APIServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testenv.Start(ctx, testenv.Options{})
	if errors.Is(err, testenv.ErrNoBinaries) {
		if os.Getenv(testenv.EnvRequireTestBin) == "1" {
			t.Fatal(err)
		}
		t.Skipf("kube-apiserver/etcd test binaries not built: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// knEnv is a run against the real server with cfg's credentials, the dynamic client beside the typed
// one as the session builds them.
func knEnv(t *testing.T, cfg *rest.Config, readOnly, internal bool) *Env {
	t.Helper()
	c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: "default"}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{}, c.Clientset, nil, nil, nil)
	inv.SetDynamic(d)
	return &Env{Targets: Targets{InternalGateway: internal}, Inv: inv, Where: Laptop, ReadOnly: readOnly, Now: time.Now,
		FixDeps: &fixes.Deps{Kube: c.Clientset}, Waits: Waits{ILB: 5 * time.Second, Poll: 50 * time.Millisecond}}
}

func knObject(gvr schema.GroupVersionResource, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}}
	return u
}

func cond(typ, status, reason, msg string) map[string]any {
	c := map[string]any{"type": typ, "status": status, "lastTransitionTime": "2020-08-29T06:52:45Z"}
	if reason != "" {
		c["reason"] = reason
	}
	if msg != "" {
		c["message"] = msg
	}
	return c
}

// knStatus is what the Knative controllers write, waiting or ready, per kind (seed 002 for Cloud Run
// for Anthos's DomainMapping; knative/serving for the others).
func knStatus(gvr schema.GroupVersionResource, addr string) map[string]any {
	switch {
	case gvr == gvrCRfADomainMapping && addr == "":
		return map[string]any{"conditions": []any{
			cond("CertificateProvisioned", "True", "NotNeeded", "Certificate is not needed as TLS is not enabled."),
			cond("GatewayReady", "Unknown", "GatewayNotReady", "Waiting for Gateway IP"),
			cond("Ready", "Unknown", "GatewayNotReady", "Waiting for Gateway IP"),
			cond("RouteReady", "True", "", "")}, "mappedRouteName": "my-service"}
	case gvr == gvrCRfADomainMapping:
		return map[string]any{"conditions": []any{cond("CertificateProvisioned", "True", "NotNeeded", ""), cond("GatewayReady", "True", "", ""),
			cond("Ready", "True", "", ""), cond("RouteReady", "True", "", "")}, "mappedRouteName": "my-service",
			"resourceRecords": []any{map[string]any{"name": "my-service.default", "rrdata": addr, "type": "A"}}}
	case gvr == gvrKnIngress && addr == "":
		return map[string]any{"conditions": []any{cond("LoadBalancerReady", "Unknown", "Uninitialized", "Waiting for load balancer to be ready"),
			cond("NetworkConfigured", "True", "", ""), cond("Ready", "Unknown", "Uninitialized", "Waiting for load balancer to be ready")}}
	case gvr == gvrKnIngress:
		return map[string]any{"conditions": []any{cond("LoadBalancerReady", "True", "", ""), cond("NetworkConfigured", "True", "", ""), cond("Ready", "True", "", "")},
			"publicLoadBalancer": map[string]any{"ingress": []any{map[string]any{"domainInternal": "istio-ingress.gke-system.svc.cluster.local"}}}}
	case addr == "":
		return map[string]any{"conditions": []any{cond("DomainClaimed", "True", "", ""), cond("IngressReady", "Unknown", "Uninitialized", "Waiting for load balancer to be ready"),
			cond("Ready", "Unknown", "Uninitialized", "Waiting for load balancer to be ready"), cond("ReferenceResolved", "True", "", "")}}
	}
	return map[string]any{"conditions": []any{cond("DomainClaimed", "True", "", ""), cond("IngressReady", "True", "", ""), cond("Ready", "True", "", ""), cond("ReferenceResolved", "True", "", "")}}
}

// knWorld creates seed 002's objects: the NodePort gateway with its NEG annotation, and the waiting
// DomainMappings (CRfA's and Knative's) and Ingress.
func knWorld(t *testing.T, srv *testenv.APIServer, d dynamic.Interface) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	admin := srv.Clientset()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gke-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gw := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istio-ingress", Namespace: "gke-system",
		Labels: map[string]string{"app": "istio-ingress"}, Annotations: map[string]string{"cloud.google.com/neg": `{"exposed_ports": {"80":{}}}`}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "istio-ingress"}, Ports: []corev1.ServicePort{
			{Name: "status-port", Port: 15020, TargetPort: intstr.FromInt32(15020), NodePort: 32600},
			{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 32760},
			{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443), NodePort: 32520}}}}
	gw, err := admin.CoreV1().Services("gke-system").Create(ctx, gw, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		gvr        schema.GroupVersionResource
		kind, name string
		spec       map[string]any
	}{
		{gvrCRfADomainMapping, "DomainMapping", "my-service.example.com", map[string]any{"certificateMode": "AUTOMATIC", "routeName": "my-service"}},
		{gvrKnDomainMapping, "DomainMapping", "api.example.com", map[string]any{"ref": map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "api"}}},
		{gvrKnIngress, "Ingress", "my-service", map[string]any{"rules": []any{}}},
	} {
		u := knObject(o.gvr, o.kind, "default", o.name, o.spec)
		if o.gvr == gvrKnIngress {
			u.SetAnnotations(map[string]string{"networking.knative.dev/ingress.class": "istio.ingress.networking.knative.dev"})
		}
		got, err := d.Resource(o.gvr).Namespace("default").Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Object["status"] = knStatus(o.gvr, "")
		if _, err := d.Resource(o.gvr).Namespace("default").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return gw
}

// knControllers play GKE's service controller (an address for a LoadBalancer Service, none
// otherwise) and Knative's (the objects follow the gateway's address) until the test ends.
func knControllers(t *testing.T, admin kubernetes.Interface, d dynamic.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			s, err := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{})
			if err != nil {
				continue
			}
			addr := ""
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				addr = s.Status.LoadBalancer.Ingress[0].IP
			}
			want := ""
			if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
				want = "203.0.113.10" // documentation range: an address in status, never dialled
				if s.Annotations["networking.gke.io/load-balancer-type"] == "Internal" {
					want = "192.0.2.6"
				}
			}
			if addr != want {
				s.Status.LoadBalancer.Ingress = nil
				if want != "" {
					s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: want}}
				}
				if _, err := admin.CoreV1().Services("gke-system").UpdateStatus(ctx, s, metav1.UpdateOptions{}); err != nil {
					continue
				}
				addr = want
			}
			for _, gvr := range []schema.GroupVersionResource{gvrCRfADomainMapping, gvrKnDomainMapping, gvrKnIngress} {
				l, err := d.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{})
				if err != nil {
					continue
				}
				for i := range l.Items {
					u := &l.Items[i]
					st := knStatus(gvr, addr)
					if reflect.DeepEqual(u.Object["status"], st) {
						continue
					}
					u.Object["status"] = st
					_, _ = d.Resource(gvr).Namespace("default").UpdateStatus(ctx, u, metav1.UpdateOptions{})
				}
			}
		}
	}()
}

func knPlan(t *testing.T, r Result, prefix string) *fixes.Plan {
	t.Helper()
	for _, p := range r.Fixes {
		if strings.HasPrefix(p.ID, prefix) {
			return p
		}
	}
	t.Fatalf("no fix %s…\n%s", prefix, resultText(r))
	return nil
}

func comparableSvc(s *corev1.Service) (corev1.ServiceSpec, map[string]string, map[string]string) {
	return s.Spec, s.Annotations, s.Labels
}

// Against a real kube-apiserver: without the CRDs the check skips (Knative is not installed); with
// minimal CRDs and seed 002's objects - a NodePort gateway, DomainMappings and an Ingress waiting -
// it fails with gateway-not-loadbalancer; the fix (external, then internal) goes through the real
// server under its resourceVersion and the check passes; undo puts the Service back exactly; a
// concurrent change stops the fix; a user who may not list DomainMappings gets a skip naming the
// permission.
func TestKnativeGatewayAddress_RealAPIServer(t *testing.T) {
	srv := ownAPIServer(t)
	ctx := context.Background()
	admin := srv.Clientset()

	r := runCheck(t, knEnv(t, srv.RESTConfig(), true, false), "knative-gateway-address")
	wantCause(t, r, Skip, "knative-not-installed")
	if !strings.Contains(r.Summary, "Knative is not installed") {
		t.Fatalf("summary: %s", r.Summary)
	}

	if err := srv.InstallCRDs(ctx, testenv.KnativeCRDs); err != nil {
		t.Fatal(err)
	}
	d, err := srv.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	before := knWorld(t, srv, d)
	knControllers(t, admin, d)

	// A read-only run: the seed's failure, both variants offered (external recommended).
	r = runCheck(t, knEnv(t, srv.RESTConfig(), true, false), "knative-gateway-address")
	wantCause(t, r, Fail, "gateway-not-loadbalancer")
	for _, want := range []string{"gke-system/istio-ingress is type NodePort", "Waiting for Gateway IP", "Waiting for load balancer to be ready"} {
		if !strings.Contains(r.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, r.Summary)
		}
	}
	if e := evidenceWith(r, "Knative APIs"); e == nil || !strings.Contains(e.Detail, "domainmappings.serving.knative.dev/v1beta1") || strings.Contains(e.Detail, "v1alpha1 (Knative Serving)") {
		t.Errorf("APIs evidence (v1beta1 preferred, v1alpha1 not read twice): %+v", e)
	}
	ext, in := knPlan(t, r, "gateway-loadbalancer/gke-system/istio-ingress"), knPlan(t, r, "gateway-internal-loadbalancer/gke-system/istio-ingress")
	if ext.Alternative || !in.Alternative || !ext.Reversible || !ext.NeedsConfirmation() || ext.Advice {
		t.Fatalf("plans: external %+v, internal %+v", ext, in)
	}
	if !strings.Contains(ext.Description, "may put the Service back") || !strings.Contains(ext.Description, "deleted and re-created") || !strings.Contains(ext.Affects, "80:32760") {
		t.Errorf("the plan does not warn as it must: %s / %s", ext.Description, ext.Affects)
	}
	if !strings.Contains(strings.Join(ext.Commands, "\n"), `kubectl patch service istio-ingress -n gke-system --type merge -p '{"spec":{"type":"LoadBalancer"}}'`) {
		t.Errorf("commands: %q", ext.Commands)
	}
	roApplier := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: knEnv(t, srv.RESTConfig(), true, false).FixDeps}
	if _, err := roApplier.Apply(ctx, ext, nil); apierr.KindOf(err) != apierr.ReadOnly {
		t.Fatalf("apply through the read-only client: %v", err)
	}

	// --internal makes the internal variant the recommended one.
	r = runCheck(t, knEnv(t, srv.RESTConfig(), true, true), "knative-gateway-address")
	if p := knPlan(t, r, "gateway-internal-loadbalancer/"); p.Alternative || !knPlan(t, r, "gateway-loadbalancer/").Alternative {
		t.Fatalf("--internal: %s", resultText(r))
	}

	// A concurrent change between the read and the write stops the fix with nothing written.
	env := knEnv(t, srv.RESTConfig(), false, false)
	r = runCheck(t, env, "knative-gateway-address")
	ext = knPlan(t, r, "gateway-loadbalancer/")
	snap, err := ext.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services("gke-system").Patch(ctx, "istio-ingress", types.MergePatchType, []byte(`{"metadata":{"labels":{"touched":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ext.Apply(ctx, snap); apierr.KindOf(err) != apierr.Conflict {
		t.Fatalf("apply after a concurrent change: %v", err)
	}
	if s, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{}); s.Spec.Type != corev1.ServiceTypeNodePort {
		t.Fatalf("the stopped fix changed the type to %s", s.Spec.Type)
	}
	if _, err := admin.CoreV1().Services("gke-system").Patch(ctx, "istio-ingress", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels/touched"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ = admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{})

	for _, variant := range []struct {
		prefix   string
		internal bool
		wantAnn  string
		wantAddr string
	}{
		{"gateway-loadbalancer/", false, "", "203.0.113.10"},
		{"gateway-internal-loadbalancer/", true, "Internal", "192.0.2.6"},
	} {
		env := knEnv(t, srv.RESTConfig(), false, variant.internal)
		r := runCheck(t, env, "knative-gateway-address")
		wantCause(t, r, Fail, "gateway-not-loadbalancer")
		p := knPlan(t, r, variant.prefix)
		cur, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{})
		dir := t.TempDir()
		ap := &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: env.FixDeps, Target: fixes.Target{Context: testenv.KubeconfigContext}}
		var progress []string
		res, err := ap.Apply(ctx, p, func(s string) { progress = append(progress, s) })
		if err != nil {
			t.Fatalf("%s: apply: %v (progress %q)", p.ID, err, progress)
		}
		if !strings.Contains(res.Waited, variant.wantAddr) || !strings.Contains(res.Waited, "no DomainMapping or Ingress waits") {
			t.Errorf("%s: waited: %q", p.ID, res.Waited)
		}
		after, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{})
		if after.Spec.Type != corev1.ServiceTypeLoadBalancer || after.Annotations["networking.gke.io/load-balancer-type"] != variant.wantAnn ||
			after.Annotations["cloud.google.com/neg"] != before.Annotations["cloud.google.com/neg"] {
			t.Fatalf("%s: after the fix: type %s, annotations %v", p.ID, after.Spec.Type, after.Annotations)
		}
		for i, port := range after.Spec.Ports {
			if port.NodePort != before.Spec.Ports[i].NodePort {
				t.Errorf("%s: port %d nodePort %d, was %d", p.ID, port.Port, port.NodePort, before.Spec.Ports[i].NodePort)
			}
		}
		// The journal holds the Service as it was, with its resourceVersion.
		e := res.Entry
		if len(e.Prior) != 1 || e.Prior[0].Version != cur.ResourceVersion || e.State != fixes.StateApplied {
			t.Fatalf("%s: journal entry %+v", p.ID, e)
		}
		var prior corev1.Service
		if err := json.Unmarshal(e.Prior[0].Contents, &prior); err != nil || prior.Spec.Type != corev1.ServiceTypeNodePort || prior.Spec.Ports[1].NodePort != 32760 {
			t.Fatalf("%s: journaled prior %v %+v", p.ID, err, prior.Spec)
		}
		// The re-check passes on fresh facts.
		r = runCheck(t, knEnv(t, srv.RESTConfig(), true, false), "knative-gateway-address")
		if r.Status != Pass || !strings.Contains(r.Summary, variant.wantAddr) {
			t.Fatalf("%s: after the fix: %s", p.ID, resultText(r))
		}
		// Undo patches it back exactly: type, ports with their nodePorts, annotations.
		if err := ap.Undo(ctx, e); err != nil {
			t.Fatalf("%s: undo: %v", p.ID, err)
		}
		back, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{})
		bs, ba, bl := comparableSvc(before)
		as, aa, al := comparableSvc(back)
		if !reflect.DeepEqual(bs, as) || !reflect.DeepEqual(ba, aa) || !reflect.DeepEqual(bl, al) {
			t.Fatalf("%s: undo did not restore the Service:\nbefore %+v %v %v\nafter  %+v %v %v", p.ID, bs, ba, bl, as, aa, al)
		}
		// Undoing again is a no-op error, not a second write.
		if err := ap.Undo(ctx, e); err == nil {
			t.Fatalf("%s: a second undo of the same entry succeeded", p.ID)
		}
		waitFor(t, func() bool {
			r = runCheck(t, knEnv(t, srv.RESTConfig(), true, false), "knative-gateway-address")
			return r.Cause == "gateway-not-loadbalancer"
		})
	}

	// Undo refuses to overwrite a change made after the fix.
	env = knEnv(t, srv.RESTConfig(), false, false)
	r = runCheck(t, env, "knative-gateway-address")
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
	res, err := ap.Apply(ctx, knPlan(t, r, "gateway-loadbalancer/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services("gke-system").Patch(ctx, "istio-ingress", types.MergePatchType, []byte(`{"metadata":{"annotations":{"networking.gke.io/load-balancer-type":"Internal"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ap.Undo(ctx, res.Entry); err != nil {
		t.Fatalf("undo after an unrelated annotation change: %v", err)
	}
	if s, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{}); s.Spec.Type != corev1.ServiceTypeNodePort ||
		s.Annotations["networking.gke.io/load-balancer-type"] != "Internal" {
		t.Fatalf("undo must restore the type and keep an annotation it did not set: %s %v", s.Spec.Type, s.Annotations)
	}
	res, err = ap.Apply(ctx, knPlan(t, runCheck(t, env, "knative-gateway-address"), "gateway-internal-loadbalancer/"), nil)
	if err == nil {
		if _, err := admin.CoreV1().Services("gke-system").Patch(ctx, "istio-ingress", types.MergePatchType, []byte(`{"spec":{"type":"ClusterIP"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := ap.Undo(ctx, res.Entry); err == nil || !strings.Contains(err.Error(), "changed since the fix") && !strings.Contains(err.Error(), "someone changed it") {
			t.Fatalf("undo over a later type change: %v", err)
		}
	} else {
		t.Fatalf("apply: %v", err)
	}
	// …nor a port added since: the ports are written back whole only when nobody changed them.
	res, err = ap.Apply(ctx, knPlan(t, runCheck(t, env, "knative-gateway-address"), "gateway-internal-loadbalancer/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services("gke-system").Patch(ctx, "istio-ingress", types.JSONPatchType,
		[]byte(`[{"op":"add","path":"/spec/ports/-","value":{"name":"tcp-extra","port":8081,"targetPort":8081,"protocol":"TCP"}}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ap.Undo(ctx, res.Entry); err == nil || !strings.Contains(err.Error(), "ports changed since the fix") {
		t.Fatalf("undo over a port added since: %v", err)
	}
	if s, _ := admin.CoreV1().Services("gke-system").Get(ctx, "istio-ingress", metav1.GetOptions{}); s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Spec.Ports) != 4 {
		t.Fatalf("the refused undo changed the Service: %s %d ports", s.Spec.Type, len(s.Spec.Ports))
	}

	// A user who may read Services but not list DomainMappings: skip naming the RBAC permission.
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "svc-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services", "configmaps", "events"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer-svc-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "svc-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "default", Name: "viewer"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.ServiceAccountToken(ctx, "default", "viewer", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cfg := srv.ClientForToken(tok)
	r = runCheck(t, knEnv(t, cfg, true, false), "knative-gateway-address")
	wantCause(t, r, Skip, "missing-permission")
	if !strings.Contains(r.Summary, "RBAC list domainmappings.serving.knative.dev") {
		t.Fatalf("the skip does not name the permission: %s", r.Summary)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
