package checks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// TestILBEventsOfManyLoadBalancersAgainstKubeAPIServer: with more internal load balancers than
// ilbConcurrency, ilb-provisioned reads every Service's events in one list and still gives each load
// balancer its own events (a failure, GKE's manual firewall change, none); a user who may list events
// only in the namespace gets the same answers through one request per Service.
func TestILBEventsOfManyLoadBalancersAgainstKubeAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := srv.Clientset()
	const n = ilbConcurrency + 4
	var targets []NamespacedName
	for k := 0; k < n; k++ {
		name := fmt.Sprintf("api-%02d", k)
		sel := map[string]string{"app": name}
		ports := []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}
		for _, s := range []*corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Selector: sel, Ports: ports}},
			{ObjectMeta: metav1.ObjectMeta{Name: name + "-ilb", Namespace: ns, Annotations: map[string]string{model.AnnotationLBType: "Internal"}},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: sel, Ports: ports}},
		} {
			if _, err := admin.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		targets = append(targets, NamespacedName{Namespace: ns, Name: name})
	}
	event := func(name, kind, obj, reason, msg string) {
		t.Helper()
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: obj, APIVersion: "v1"},
			Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Source: corev1.EventSource{Component: "service-controller"},
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1}
		if _, err := admin.CoreV1().Events(ns).Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	event("e1", "Service", "api-03-ilb", "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: quota exceeded")
	event("e2", "Service", "api-07-ilb", "LoadBalancerManualChange", "Firewall change required by security admin: `gcloud compute firewall-rules create k8s-fw-a7 --network shared --allow tcp:80`")
	event("e3", "Pod", "api-05-ilb", "SyncLoadBalancerFailed", "a Pod of the same name: not the Service's event")

	run := func(t *testing.T, cfg *rest.Config) (map[string]*ilbFinding, *inventory.Inventory) {
		t.Helper()
		c, err := kube.FromConfig(cfg, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: ns}, true)
		if err != nil {
			t.Fatal(err)
		}
		inv := inventory.New(inventory.Scope{}, c.Clientset, nil, nil, nil)
		env := &Env{Targets: Targets{Services: targets}, Inv: inv, Where: Laptop, ReadOnly: true, Now: time.Now, FixDeps: &fixes.Deps{Kube: c.Clientset}}
		a, err := analyseILB(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*ilbFinding{}
		for _, f := range a.Findings {
			out[f.T.Svc.Name] = f
		}
		return out, inv
	}
	// ours counts the events this test wrote: the kube-apiserver's own ipallocator repair controller
	// may also report ClusterIPNotAllocated on Services created a moment before its pass.
	ours := func(evs []corev1.Event) (n int) {
		for _, e := range evs {
			if e.Source.Component == "service-controller" {
				n++
			}
		}
		return n
	}
	check := func(t *testing.T, got map[string]*ilbFinding) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%d findings, want %d", len(got), n)
		}
		for name, f := range got {
			switch name {
			case "api-03":
				if f.Status != Fail || f.Cause != "ilb-pending" || ours(f.Events) != 1 || !strings.Contains(f.Summary, "events report a failure") {
					t.Errorf("%s: %s [%s] %s, %d events", name, f.Status, f.Cause, f.Summary, len(f.Events))
				}
			case "api-07":
				if f.Status != Fail || !strings.Contains(f.Summary, "gcloud compute firewall-rules create k8s-fw-a7") || ours(f.Events) != 1 {
					t.Errorf("%s: %s [%s] %s, %d events", name, f.Status, f.Cause, f.Summary, len(f.Events))
				}
			default: // api-05's only event is about a Pod
				if f.Status != Warn || f.Cause != "ilb-pending" || ours(f.Events) != 0 {
					t.Errorf("%s: %s [%s] %s, events %+v", name, f.Status, f.Cause, f.Summary, f.Events)
				}
			}
		}
	}

	t.Run("one list of every Service's events", func(t *testing.T) {
		got, inv := run(t, srv.RESTConfig())
		check(t, got)
		if c := inv.Fetches(inventory.KeyEvents + "*/Service"); c != 1 {
			t.Errorf("listed every Service's events %d times, want 1", c)
		}
		if c := inv.Fetches(inventory.KeyEvents + ns + "/Service/api-03-ilb"); c != 0 {
			t.Errorf("also asked for one Service's events %d times", c)
		}
	})

	t.Run("events listable only in the namespace", func(t *testing.T) {
		user := "ilb-events-" + ns
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "pods", "nodes", "namespaces"}, Verbs: []string{"get", "list"}}}}
		if _, err := admin.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.RbacV1().ClusterRoles().Delete(context.Background(), user, metav1.DeleteOptions{}) })
		subj := []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}}
		if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user}, Subjects: subj}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), user, metav1.DeleteOptions{})
		})
		if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: user}, Subjects: subj}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg := srv.RESTConfig()
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		// RBAC takes a moment to see new bindings.
		var got map[string]*ilbFinding
		var inv *inventory.Inventory
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			got, inv = run(t, cfg)
			if f := got["api-03"]; (f != nil && ours(f.Events) == 1) || time.Now().After(deadline) {
				break
			}
		}
		check(t, got)
		if c := inv.Fetches(inventory.KeyEvents + ns + "/Service/api-03-ilb"); c != 1 {
			t.Errorf("after the refused cluster-wide list, api-03-ilb's events were read %d times, want 1", c)
		}
	})
}
