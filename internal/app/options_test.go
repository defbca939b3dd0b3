package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseGKEContext(t *testing.T) {
	cases := []struct {
		in      string
		p, l, c string
		ok      bool
	}{
		{"gke_dev-orchestra_europe-west1_dev-orchestra-cluster", "dev-orchestra", "europe-west1", "dev-orchestra-cluster", true},
		{"gke_p_us-central1-a_my_cluster_with_underscores", "p", "us-central1-a", "my_cluster_with_underscores", true},
		{"minikube", "", "", "", false},
		{"gke_p_l", "", "", "", false},
		{"gke___", "", "", "", false},
	}
	for _, tc := range cases {
		p, l, c, ok := ParseGKEContext(tc.in)
		if p != tc.p || l != tc.l || c != tc.c || ok != tc.ok {
			t.Errorf("%q: got %q %q %q %v", tc.in, p, l, c, ok)
		}
	}
}

func FuzzParseGKEContext(f *testing.F) {
	f.Add("gke_dev-orchestra_europe-west1_dev-orchestra-cluster")
	f.Add("gke_")
	f.Fuzz(func(t *testing.T, s string) {
		p, l, c, ok := ParseGKEContext(s)
		if ok && (p == "" || l == "" || c == "" || "gke_"+p+"_"+l+"_"+c != s) {
			t.Fatalf("%q parsed to %q %q %q", s, p, l, c)
		}
	})
}

func TestValidate(t *testing.T) {
	o := NewOptions()
	o.Services = []string{"default/development-agent", "environment-manager"}
	o.Peers = []string{"10.2.0.0/16", "10.2.0.1:443", "10.2.0.1"}
	o.Resolver = "127.0.0.1:5353"
	o.AppEngineService = "frontend/20251121t090000"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(o.services) != 2 || o.services[1].Namespace != "default" {
		t.Fatalf("services %+v", o.services)
	}
	for _, bad := range []func(*Options){
		func(o *Options) { o.Services = []string{"/x"} },
		func(o *Options) { o.Workload = "deployment/x" },
		func(o *Options) { o.Resolver = "not a resolver" },
		func(o *Options) { o.Peers = []string{"10.2.0.1:"} },
		func(o *Options) { o.Peers = []string{"10.2.0.1:70000"} },
		func(o *Options) { o.Peers = []string{"partner-api-1:443"} },
		func(o *Options) { o.DNSNames = []string{"a b"} },
		func(o *Options) { o.AppEngineService = "a/b/c" },
	} {
		o := NewOptions()
		bad(o)
		if err := o.Validate(); err == nil {
			t.Errorf("expected an error for %+v", o)
		}
	}
}

// UseContext after the flags' loader was used (and cached) still switches: the namespace and the
// client follow the new context, the kubeconfig named by the flags is kept.
func TestUseContextAfterTheLoaderWasCached(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "config")
	const two = "apiVersion: v1\nkind: Config\nclusters:\n- name: dev\n  cluster: {server: \"https://127.0.0.1:1\"}\n- name: staging\n  cluster: {server: \"https://127.0.0.1:2\"}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: dev\n  context: {cluster: dev, user: u}\n- name: staging\n  context: {cluster: staging, user: u, namespace: team-a}\n"
	if err := os.WriteFile(kc, []byte(two), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.Kube.KubeConfig = &kc
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.kubeResolveErr == nil {
		t.Fatal("no current context, yet no error")
	}
	o.UseContext("staging")
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.kubeResolveErr != nil || o.resolved.Context != "staging" || o.namespace() != "team-a" {
		t.Fatalf("after UseContext: %v %+v ns %s", o.kubeResolveErr, o.resolved, o.namespace())
	}
	rc, err := o.Kube.ToRESTConfig()
	if err != nil || rc.Host != "https://127.0.0.1:2" {
		t.Fatalf("rest config: %v %v", rc, err)
	}
}
