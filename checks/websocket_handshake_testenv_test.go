package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// pendingPod creates a pod that no scheduler will place (a bare API server has no kubelet).
func pendingPod(t *testing.T, srv *testenv.APIServer, ns, name string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "example.invalid/" + name + ":1"}}}}
	if _, err := srv.Clientset().CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func evidenceWith(r Result, step string) *Evidence {
	for i := range r.Evidence {
		if strings.HasPrefix(r.Evidence[i].Step, step) {
			return &r.Evidence[i]
		}
	}
	return nil
}

// Against the real kube-apiserver: the read-only WebSocket watch answers 101 echoing
// base64.binary.k8s.io, and the plain GET with the same headers answers 200 — the seed's "Handshake
// status 200 OK", reproduced and explained. The pod's ServiceAccount may not exec: exec-forbidden.
// (The exec handshake itself needs a kubelet; it is tested against the demo world's exec endpoint.)
func TestWebSocketHandshake_RealAPIServer(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	pendingPod(t, srv, ns, "agent")

	r := runCheck(t, tokenEnv(t, srv, "", "", true), "websocket-handshake")
	if r.Status != Pass {
		t.Fatalf("no workload: %s", resultText(r))
	}
	env := tokenEnv(t, srv, "pod/"+ns+"/agent", "", true)
	env.Target.Namespace = ns
	r = runCheck(t, env, "websocket-handshake")
	wantCause(t, r, Fail, "exec-forbidden")
	w := evidenceWith(r, "WebSocket watch")
	if w == nil || w.Status != Pass || !strings.Contains(w.Detail, "101 Switching Protocols") || !strings.Contains(w.Detail, "base64.binary.k8s.io") {
		t.Fatalf("watch evidence: %+v\n%s", w, resultText(r))
	}
	p := evidenceWith(r, "upgrade sent to a plain REST path")
	if p == nil || !strings.Contains(p.Detail, "200 OK") || !strings.Contains(p.Detail, "Handshake status 200 OK") {
		t.Fatalf("plain GET evidence: %+v\n%s", p, resultText(r))
	}
	if e := evidenceWith(r, "exec handshake"); e != nil && e.Status != Skip {
		t.Fatalf("exec handshake in read-only mode: %+v", e)
	}
}

// proxyFor starts a loopback reverse proxy to the real server that adds the admin token and lets
// mutate change each request first.
func proxyFor(t *testing.T, srv *testenv.APIServer, mutate func(*http.Request)) *rest.Config {
	t.Helper()
	up, _ := url.Parse(srv.URL)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CAData)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Header.Set("Authorization", "Bearer "+srv.AdminToken)
			mutate(pr.Out)
		},
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false},
		FlushInterval: -1,
	}
	ps := httptest.NewServer(rp)
	t.Cleanup(ps.Close)
	return &rest.Config{Host: ps.URL}
}

// A loopback proxy that strips Connection/Upgrade in front of the real server turns the verdict into
// upgrade-not-carried.
func TestWebSocketHandshake_ProxyStripsUpgrade(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	env := tokenEnv(t, srv, "", "", true)
	env.Target.Namespace = ns
	env.KubeREST = proxyFor(t, srv, func(r *http.Request) {
		r.Header.Del("Upgrade")
		r.Header.Del("Connection")
	})
	r := runCheck(t, env, "websocket-handshake")
	wantCause(t, r, Fail, "upgrade-not-carried")
	if !strings.Contains(r.Summary, "200") && !strings.Contains(r.Summary, "400") {
		t.Fatalf("summary: %s", r.Summary)
	}
	if len(r.Fixes) == 0 || !r.Fixes[0].Advice {
		t.Fatalf("fixes: %+v", r.Fixes)
	}
}

// A proxy that answers itself with a login page: intermediary-answered.
func TestWebSocketHandshake_IntermediaryAnswered(t *testing.T) {
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.25.3")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Sign in - Corp SSO</title></head><body>…</body></html>"))
	}))
	t.Cleanup(login.Close)
	env := &Env{Inv: nil, KubeREST: &rest.Config{Host: login.URL}, ReadOnly: true, Where: Laptop}
	env.Inv = tokenEnvInv()
	r := runCheck(t, env, "websocket-handshake")
	wantCause(t, r, Fail, "intermediary-answered")
	if !strings.Contains(r.Summary, "Sign in - Corp SSO") || !strings.Contains(r.Summary, "nginx") {
		t.Fatalf("summary: %s", r.Summary)
	}
}

// faultyKube is a run against the real kube-apiserver through a loopback proxy that answers the
// requests inject picks with a fault (the fault matrix's middleware), everything else as the server does.
func faultyKube(t *testing.T, srv *testenv.APIServer, workload string, inject func(r *http.Request) *fakegcp.Injection) *Env {
	t.Helper()
	up, _ := url.Parse(srv.URL)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CAData)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Header.Set("Authorization", "Bearer "+srv.AdminToken)
		},
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false},
		FlushInterval: -1,
	}
	done := make(chan struct{})
	ps := httptest.NewServer(&fakegcp.Middleware{Next: rp, Inject: inject, Done: done,
		ErrorBody: func(r *http.Request, in *fakegcp.Injection, code int) []byte {
			return []byte(fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected %d on %s","code":%d}`, code, r.URL.Path, code))
		}})
	t.Cleanup(ps.Close)
	t.Cleanup(func() { close(done) })
	c, err := kube.FromConfig(&rest.Config{Host: ps.URL, Timeout: 10 * time.Second}, kube.Resolved{Context: testenv.KubeconfigContext, Namespace: "default"}, true)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{}, c.Clientset, nil, nil, nil)
	return &Env{Targets: Targets{Workload: workload}, Inv: inv, Where: Laptop, ReadOnly: true,
		Now: time.Now, FixDeps: &fixes.Deps{Kube: c.Clientset}, KubeREST: c.Config}
}

// mayExec lets ns's default ServiceAccount exec (so the check's baseline is a pass).
func mayExec(t *testing.T, srv *testenv.APIServer, ns string) {
	t.Helper()
	ctx := context.Background()
	k := srv.Clientset()
	if _, err := k.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "exec"}, Rules: execRules([]string{"get", "create"})}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "exec"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "exec"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The fault matrix's gaps in websocket-handshake: the check passed on the watch alone when the
// workload's pod could not be read (an error, or a 200 whose body is not the pod) or when the
// SubjectAccessReview for exec failed. Now each is a result that names what was not read.
func TestWebSocketHandshake_UnreadFactsAreNotAPass(t *testing.T) {
	srv := testenv.Shared(t)
	ns := srv.NewNamespace(t)
	pendingPod(t, srv, ns, "agent")
	mayExec(t, srv, ns)
	// A Deployment over the pod: the pod itself is then read only by the plain GET (as in the demo).
	lab := map[string]string{"app": "agent"}
	if _, err := srv.Clientset().AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: lab}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lab},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "example.invalid/agent:1"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	podPath := "/api/v1/namespaces/" + ns + "/pods/agent"
	run := func(inject func(r *http.Request) *fakegcp.Injection) Result {
		env := faultyKube(t, srv, "deploy/"+ns+"/agent", inject)
		env.Target.Namespace = ns
		return runCheck(t, env, "websocket-handshake")
	}
	if r := run(func(*http.Request) *fakegcp.Injection { return nil }); r.Status != Pass {
		t.Fatalf("baseline: %s", resultText(r))
	}
	cases := []struct {
		name  string
		match func(r *http.Request) bool
		kind  fakegcp.FaultKind
		names string
	}{
		{"the pod answers 500", func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == podPath }, fakegcp.Fault500, "pods/agent"},
		{"the pod answers 403", func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == podPath }, fakegcp.Fault403, "pods"},
		{"the pod's body is not JSON", func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == podPath }, fakegcp.FaultInvalidJSON, "pods/agent"},
		{"the pod's body is cut off", func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == podPath }, fakegcp.FaultTruncated, "pods/agent"},
		{"the access review fails", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/subjectaccessreviews") }, fakegcp.Fault500, "subjectaccessreview"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(func(r *http.Request) *fakegcp.Injection {
				if tc.match(r) {
					return &fakegcp.Injection{Kind: tc.kind}
				}
				return nil
			})
			if r.Status == Pass || !strings.Contains(strings.ToLower(r.Summary), tc.names) {
				t.Fatalf("want no pass, naming %s:\n%s", tc.names, resultText(r))
			}
		})
	}
}
