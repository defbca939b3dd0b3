package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateInputRejectsMalformedValues: one case per kind of malformed value; each error is one
// line that names the flag and holds no raw control character.
func TestValidateInputRejectsMalformedValues(t *testing.T) {
	long := strings.Repeat("a", 64)
	cases := []struct {
		flag string
		set  func(*Options)
	}{
		{"--service", func(o *Options) { o.Services = []string{"../x"} }},
		{"--service", func(o *Options) { o.Services = []string{"a b/c"} }},
		{"--service", func(o *Options) { o.Services = []string{"default/" + long} }},
		{"--service", func(o *Options) { o.Services = []string{"Default/x"} }},
		{"--peer", func(o *Options) { o.Peers = []string{"10.0.0.1:99999"} }},
		{"--peer", func(o *Options) { o.Peers = []string{"10.0.0.1:abc"} }},
		{"--peer", func(o *Options) { o.Peers = []string{"10.0.0.1:0"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{strings.Repeat("abcdefghi.", 26) + "com"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{long + ".example.com"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{"a..b"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{"api\x1b[2J.example.com"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{"api\n.example.com"} }},
		{"--dns-name", func(o *Options) { o.DNSNames = []string{"-api.example.com"} }},
		{"--dns-project", func(o *Options) { o.DNSProjects = []string{"acme-dns-hub", "a/../x"} }},
		{"--dns-project", func(o *Options) { o.DNSProjects = []string{"Hub\x1b[2J"} }},
		{"--project", func(o *Options) { o.Project = "a/../../x?y=" }},
		{"--project", func(o *Options) { o.Project = "Dev-Orchestra" }},
		{"--project", func(o *Options) { o.Project = "abc" }},
		{"--location", func(o *Options) { o.Location = "europe\x1b]0;PWNED\x07-west1" }},
		{"--location", func(o *Options) { o.Location = "../global" }},
		{"--cluster", func(o *Options) { o.Cluster = "c/../x" }},
		{"--cluster", func(o *Options) { o.Cluster = long }},
		{"--cloud-run-service", func(o *Options) { o.CloudRunService = "../../x" }},
		{"--cloud-run-service", func(o *Options) { o.CloudRunService = "projects/p/locations/l/services/s" }},
		{"--cloud-run-service", func(o *Options) { o.CloudRunService = "europe/s" }},
		{"--source-project", func(o *Options) { o.SourceProjects = []string{"acme-app-dev", "a/../b"} }},
		{"--source-project", func(o *Options) { o.SourceProjects = []string{"Acme-App"} }},
		{"--workload", func(o *Options) { o.Workload = "deploy/default/a b" }},
		{"--resolver", func(o *Options) { o.Resolver = "10.0.0.2:99999" }},
		{"--resolver", func(o *Options) { o.Resolver = "bad host:53" }},
		{"--timeout", func(o *Options) { o.Timeout = -time.Second }},
		{"--latency", func(o *Options) { o.DemoLatency = -time.Second }},
		{"--namespace", func(o *Options) { ns := "a/b"; o.Kube.Namespace = &ns }},
		{"--token-file", func(o *Options) { o.TokenFile = "/dev/zero" }},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			o := NewOptions()
			tc.set(o)
			err := o.ValidateInput()
			if err == nil {
				t.Fatalf("accepted: %+v", o)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.flag) {
				t.Errorf("error does not start with the flag %s: %q", tc.flag, msg)
			}
			for _, r := range msg {
				if r < 0x20 || r == 0x7f {
					t.Errorf("error holds a raw control character %U: %q", r, msg)
				}
			}
			if err := o.Validate(); err == nil {
				t.Errorf("Validate accepts what ValidateInput refuses")
			}
		})
	}
}

func TestValidateInputAcceptsRealValues(t *testing.T) {
	o := NewOptions()
	o.Project, o.Location, o.Cluster = "dev-orchestra", "europe-west1", "dev-orchestra-cluster"
	o.CloudRunService = "projects/dev-orchestra/locations/europe-west1/services/gke-connectivity-tester4"
	o.Services = []string{"default/development-agent", "environment-manager"}
	o.SourceProjects = []string{"acme-app-dev", "acme-app-prod"}
	o.Workload = "deploy/default/environment-manager"
	o.DNSNames = []string{"api.internal.example.com.", "_grpc._tcp.svc.example.com", "*.example.com"}
	o.Peers = []string{"10.2.0.0/16", "10.2.0.1:443", "10.2.0.1", "[fd00::1]:8443"}
	o.Resolver = "dns.example.com:53"
	o.DemoLatency = 300 * time.Millisecond
	if err := o.ValidateInput(); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"gke-connectivity-tester4", "europe-west4/gke-connectivity-tester4"} {
		o.CloudRunService = ref
		if err := o.ValidateInput(); err != nil {
			t.Errorf("--cloud-run-service %q: %v", ref, err)
		}
	}
	for _, p := range []string{"example.com:my-project", "my-project-123456"} {
		if !validProject(p) {
			t.Errorf("project %q refused", p)
		}
	}
	for _, l := range []string{"us-central1", "europe-west1-b", "northamerica-northeast2-a"} {
		if !validLocation(l) {
			t.Errorf("location %q refused", l)
		}
	}
}

// A context named like GKE's whose parts are not Google ids is not used as the target (so nothing
// from it is ever sent as a request path), and is not an error either.
func TestCompleteIgnoresContextPartsThatAreNotIDs(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "config")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: "gke_a/../../x?y=_europe-west1_my_cluster", context: {cluster: c, user: u}}]
current-context: "gke_a/../../x?y=_europe-west1_my_cluster"
`), 0o600)
	o := NewOptions()
	o.Kube.KubeConfig = &kc
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.Project != "" || o.Cluster != "" || o.Location != "europe-west1" {
		t.Fatalf("target from the context: project %q location %q cluster %q", o.Project, o.Location, o.Cluster)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestGCPEndpointIsIgnoredUnderNoGCP(t *testing.T) {
	for _, v := range []string{"garbage", "http://a b", "http://h:99999", "http://u:p@h:1", "ftp://h", "http://h/?q=1", "http://\x1b[2J"} {
		t.Setenv("GKEDOCTOR_GCP_ENDPOINT", v)
		o := NewOptions()
		err := o.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "GKEDOCTOR_GCP_ENDPOINT=") {
			t.Errorf("%q: %v", v, err)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%q: raw ESC in %q", v, err)
		}
		o.NoGCP = true
		if err := o.Validate(); err != nil {
			t.Errorf("%q under --no-gcp: %v", v, err)
		}
	}
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", "http://127.0.0.1:8080/")
	if err := NewOptions().Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzDNSNameProblem(f *testing.F) {
	for _, s := range []string{"a.b", "a..b", "", ".", "x\x00", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		why := dnsNameProblem(s)
		if why == "" {
			n := strings.TrimSuffix(s, ".")
			if len(n) > 253 || strings.Contains(n, "..") || strings.ContainsAny(n, " /\\\x00\x1b\n") {
				t.Fatalf("%q accepted", s)
			}
		}
	})
}
