package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// recorder is an API server stand-in that records what reached it and answers an empty object.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(req.URL.Path, "/services") && req.Method == http.MethodGet:
		w.Write([]byte(`{"kind":"ServiceList","apiVersion":"v1","metadata":{},"items":[]}`))
	default:
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Success"}`))
	}
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func newGuarded(t *testing.T, readOnly bool) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := FromConfig(&rest.Config{Host: srv.URL}, Resolved{Context: "test", Namespace: "default"}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	// The recorder speaks JSON only.
	c.Config.ContentType = "application/json"
	c2, err := FromConfig(c.Config, Resolved{Context: "test"}, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	return c2, rec
}

func TestReadOnlyGuardRefusesEveryWrite(t *testing.T) {
	c, rec := newGuarded(t, true)
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	writes := map[string]func() error{
		"create": func() error {
			_, err := c.Clientset.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
			return err
		},
		"update": func() error {
			_, err := c.Clientset.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{})
			return err
		},
		"patch": func() error {
			_, err := c.Clientset.CoreV1().Services("default").Patch(ctx, "x", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
			return err
		},
		"delete": func() error { return c.Clientset.CoreV1().Services("default").Delete(ctx, "x", metav1.DeleteOptions{}) },
		"deletecollection": func() error {
			return c.Clientset.CoreV1().ConfigMaps("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		},
		"create token": func() error {
			_, err := c.Clientset.CoreV1().ServiceAccounts("default").CreateToken(ctx, "sa", &authnv1.TokenRequest{}, metav1.CreateOptions{})
			return err
		},
		"exec GET": func() error {
			return c.Clientset.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("p").SubResource("exec").Do(ctx).Error()
		},
	}
	for name, w := range writes {
		err := w()
		if apierr.KindOf(err) != apierr.ReadOnly {
			t.Errorf("%s: got %v, want a read-only refusal", name, err)
		}
	}
	if got := rec.requests(); len(got) != 0 {
		t.Fatalf("writes reached the server: %v", got)
	}
}

func TestReadOnlyGuardAllowsReadsAndReviews(t *testing.T) {
	c, rec := newGuarded(t, true)
	ctx := context.Background()
	if _, err := c.Clientset.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list: %v", err)
	}
	if _, err := c.Clientset.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("selfsubjectreview: %v", err)
	}
	if _, err := c.Clientset.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("tokenreview: %v", err)
	}
	if _, err := c.Clientset.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("selfsubjectaccessreview: %v", err)
	}
	// SubjectAccessReview persists nothing either (sa-token-401 and websocket-handshake ask RBAC as the
	// workload's ServiceAccount with it, to tell 401 from 403).
	if _, err := c.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("subjectaccessreview: %v", err)
	}
	want := []string{
		"GET /api/v1/services",
		"POST /apis/authentication.k8s.io/v1/selfsubjectreviews",
		"POST /apis/authentication.k8s.io/v1/tokenreviews",
		"POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
		"POST /apis/authorization.k8s.io/v1/subjectaccessreviews",
	}
	got := rec.requests()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("server saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Other authorization writes stay refused.
	if Allowed(http.MethodPost, "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews/x") {
		t.Fatal("a path under a review API must not be allowed")
	}
}

func TestWritableClientSendsWrites(t *testing.T) {
	c, rec := newGuarded(t, false)
	if err := c.Clientset.CoreV1().Services("default").Delete(context.Background(), "x", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := rec.requests(); len(got) != 1 || got[0] != "DELETE /api/v1/namespaces/default/services/x" {
		t.Fatalf("server saw %v", got)
	}
}

func TestRBACPermission(t *testing.T) {
	msg := `services is forbidden: User "system:serviceaccount:default:x" cannot list resource "services" in API group "" in the namespace "default"`
	if got := RBACPermission(msg); got != "RBAC list services" {
		t.Fatalf("got %q", got)
	}
	msg = `deployments.apps is forbidden: User "u" cannot get resource "deployments" in API group "apps" in the namespace "x"`
	if got := RBACPermission(msg); got != "RBAC get deployments.apps" {
		t.Fatalf("got %q", got)
	}
}
