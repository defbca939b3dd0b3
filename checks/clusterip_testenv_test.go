package checks

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// kubeEnv is a run against the real kube-apiserver, with no Google APIs (the checks fall back to the
// Services and the API server's version), targeting the Service with --service.
func kubeEnv(t *testing.T, srv *testenv.APIServer, ns, userAgent string, readOnly bool) (*Env, kubernetes.Interface) {
	t.Helper()
	cfg := srv.RESTConfig()
	cfg.UserAgent = userAgent
	c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: ns}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{}, c.Clientset, nil, nil, nil)
	return &Env{Targets: Targets{Services: []NamespacedName{{Namespace: ns, Name: "development-agent"}}}, Inv: inv, Where: Laptop,
		ReadOnly: readOnly, Now: time.Now, FixDeps: &fixes.Deps{Kube: c.Clientset}}, c.Clientset
}

func runPrimary(t *testing.T, env *Env) Result {
	t.Helper()
	c, _ := Lookup("clusterip-unreachable")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs := (&Engine{Timeout: 20 * time.Second}).Run(ctx, env, []Check{c}, nil)
	return rs[0]
}

func TestClusterIPUnreachableAgainstKubeAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	orig := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "development-agent"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	orig, err := admin.CoreV1().Services(ns).Create(ctx, orig, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prevWait, prevPoll := ILBWaitTimeout, ILBPollInterval
	ILBWaitTimeout, ILBPollInterval = 2*time.Second, 100*time.Millisecond
	t.Cleanup(func() { ILBWaitTimeout, ILBPollInterval = prevWait, prevPoll })

	// 1. A read-only run: fails with the ClusterIP cause and offers the ILB fix; writes nothing.
	roUA := "gkedoctor-test-readonly-" + ns
	env, _ := kubeEnv(t, srv, ns, roUA, true)
	r := runPrimary(t, env)
	if r.Status != Fail || r.Cause != "target-is-clusterip" {
		t.Fatalf("read-only run: %s [%s] %s%s", r.Status, r.Cause, r.Summary, dump(map[string]Result{r.ID: r}))
	}
	if !strings.Contains(r.Summary, orig.Spec.ClusterIP) {
		t.Fatalf("summary does not name the ClusterIP %s: %s", orig.Spec.ClusterIP, r.Summary)
	}
	plan := planByID(t, r, "create-internal-lb/"+ns+"/development-agent")
	if plan.Advice || !plan.Reversible || plan.Destructive || !strings.Contains(plan.Diff, "+ ") || len(plan.Commands) == 0 {
		t.Fatalf("plan %+v", plan)
	}
	// Applying it with the read-only client is refused below the UI, and nothing reaches the server.
	roApplier := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps}
	if _, err := roApplier.Apply(ctx, plan, nil); apierr.KindOf(err) != apierr.ReadOnly {
		t.Fatalf("apply through the read-only client: %v", err)
	}
	events, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range events {
		if e.UserAgent != roUA {
			continue
		}
		switch e.Verb {
		case "get", "list", "watch":
			reads++
		default:
			t.Errorf("the read-only run sent %s %s", e.Verb, e.RequestURI)
		}
	}
	if reads == 0 {
		t.Fatal("the audit log has no request of the read-only run: the assertion would prove nothing")
	}

	// 2. A read-write run applies the fix through the Applier: NAME-ilb is created and journaled.
	rwUA := "gkedoctor-test-rw-" + ns
	env, rw := kubeEnv(t, srv, ns, rwUA, false)
	r = runPrimary(t, env)
	plan = planByID(t, r, "create-internal-lb/"+ns+"/development-agent")
	if plan.WaitTimeout != 2*time.Second {
		t.Fatalf("wait timeout %s", plan.WaitTimeout)
	}
	// What a load-balancer controller would say first; there is none, so the IP never comes.
	_, err = admin.CoreV1().Events(ns).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "development-agent-ilb.ensuring", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Service", Namespace: ns, Name: "development-agent-ilb", APIVersion: "v1"},
		Reason:         "EnsuringLoadBalancer", Message: "Ensuring load balancer", Type: corev1.EventTypeNormal,
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1, Source: corev1.EventSource{Component: "service-controller"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: env.FixDeps, Target: fixes.Target{Context: testenv.KubeconfigContext}}
	var progress []string
	start := time.Now()
	res, err := ap.Apply(ctx, plan, func(s string) { progress = append(progress, s) })
	if !fixes.IsWaitError(err) {
		t.Fatalf("with no LB controller the fix must end as applied-but-not-effective, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the wait ignored its 2s deadline (%s)", d)
	}
	if !strings.Contains(err.Error(), "still has no IP") || !strings.Contains(err.Error(), "EnsuringLoadBalancer: Ensuring load balancer") {
		t.Fatalf("the pending message does not show the events: %v", err)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "deadline 2s") {
		t.Fatalf("no visible deadline in %q", progress)
	}
	ilb, err := admin.CoreV1().Services(ns).Get(ctx, "development-agent-ilb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ilb.Spec.Type != corev1.ServiceTypeLoadBalancer || ilb.Annotations[model.AnnotationLBType] != "Internal" || ilb.Annotations[model.AnnotationGlobalAccess] != "" {
		t.Fatalf("created %s with annotations %v", ilb.Spec.Type, ilb.Annotations)
	}
	if _, legacy := ilb.Annotations[model.AnnotationLBTypeLegacy]; legacy {
		t.Fatal("the legacy key on a 1.36 API server")
	}
	if !maps.Equal(ilb.Spec.Selector, orig.Spec.Selector) || len(ilb.Spec.Ports) != 1 {
		t.Fatalf("selector %v ports %v", ilb.Spec.Selector, ilb.Spec.Ports)
	}
	if p := ilb.Spec.Ports[0]; p.Name != "http" || p.Port != 80 || p.TargetPort != intstr.FromInt32(8080) || p.Protocol != corev1.ProtocolTCP {
		t.Fatalf("port %+v", p)
	}
	// The original is untouched.
	now, _ := admin.CoreV1().Services(ns).Get(ctx, "development-agent", metav1.GetOptions{})
	if now.ResourceVersion != orig.ResourceVersion {
		t.Fatal("the original Service was changed")
	}
	// The journal (read back as another process would) holds what was created and how to undo it.
	e, err := fixes.OpenJournal(dir).Get(res.Entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != fixes.StateApplied || len(e.Prior) != 1 || !e.Prior[0].Absent || len(e.Created) != 1 || e.Created[0].Name != ns+"/development-agent-ilb" ||
		len(e.Undo) != 1 || !strings.Contains(string(e.Undo[0].Params), string(ilb.UID)) {
		t.Fatalf("journal entry %+v", e)
	}

	// 3. The re-check says honestly that the ILB is pending, with its events; never success.
	env, _ = kubeEnv(t, srv, ns, rwUA, true)
	r = runPrimary(t, env)
	if r.Status != Warn || r.Cause != "ilb-pending" || !hasStep(r, "[ilb-provisioned] ingress IP of "+ns+"/development-agent-ilb", Warn, "EnsuringLoadBalancer") {
		t.Fatalf("re-check: %s%s", r.Status, dump(map[string]Result{r.ID: r}))
	}

	// 4. Undo, from the journal on disk with a new applier, removes it.
	ap2 := &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: &fixes.Deps{Kube: rw}, Target: fixes.Target{Context: testenv.KubeconfigContext}}
	if err := ap2.Undo(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services(ns).Get(ctx, "development-agent-ilb", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after undo: %v", err)
	}
	if e, _ := fixes.OpenJournal(dir).Get(res.Entry.ID); e.State != fixes.StateUndone {
		t.Fatalf("entry state %s", e.State)
	}
	env, _ = kubeEnv(t, srv, ns, rwUA, true)
	if r = runPrimary(t, env); r.Cause != "target-is-clusterip" {
		t.Fatalf("after undo: %s [%s]", r.Status, r.Cause)
	}
}

// The fix never touches an existing NAME-ilb, and undo never deletes a re-created one.
func TestInternalLBFixConflictsAgainstKubeAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx := context.Background()
	admin := srv.Clientset()
	for _, name := range []string{"development-agent", "development-agent-ilb"} {
		_, err := admin.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	env, rw := kubeEnv(t, srv, ns, "gkedoctor-test-conflict-"+ns, false)
	r := runPrimary(t, env)
	plan := planByID(t, r, "create-internal-lb/"+ns+"/development-agent")
	dir := t.TempDir()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: env.FixDeps}
	_, err := ap.Apply(ctx, plan, nil)
	if apierr.KindOf(err) != apierr.Conflict || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("want a conflict, got %v", err)
	}
	if entries, _ := fixes.OpenJournal(dir).List(); len(entries) != 0 {
		t.Fatalf("a stopped fix left journal entries: %v", entries)
	}
	got, _ := admin.CoreV1().Services(ns).Get(ctx, "development-agent-ilb", metav1.GetOptions{})
	if got.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Fatal("the existing NAME-ilb was changed")
	}
	// Undo of a fix whose Service was deleted and re-created by someone else refuses (UID guard).
	if err := admin.CoreV1().Services(ns).Delete(ctx, "development-agent-ilb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	prev := ILBWaitTimeout
	ILBWaitTimeout = 200 * time.Millisecond
	defer func() { ILBWaitTimeout = prev }()
	plan = planByID(t, runPrimary(t, env), "create-internal-lb/"+ns+"/development-agent")
	res, err := ap.Apply(ctx, plan, nil)
	if err != nil && !fixes.IsWaitError(err) {
		t.Fatal(err)
	}
	if err := rw.CoreV1().Services(ns).Delete(ctx, "development-agent-ilb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.CoreV1().Services(ns).Create(ctx, fixes.InternalLBService(fixes.InternalLB{Original: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "development-agent", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = ap.Undo(ctx, res.Entry)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Kind != apierr.Conflict || !strings.Contains(err.Error(), "re-created since the fix") {
		t.Fatalf("undo of a re-created Service: %v", err)
	}
	if _, err := admin.CoreV1().Services(ns).Get(ctx, "development-agent-ilb", metav1.GetOptions{}); err != nil {
		t.Fatalf("undo deleted someone else's Service: %v", err)
	}
}
