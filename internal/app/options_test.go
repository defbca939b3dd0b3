package app

import "testing"

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
