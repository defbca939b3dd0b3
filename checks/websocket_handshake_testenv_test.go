package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

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
