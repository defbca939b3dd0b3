package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// prodContext is how gcloud names the kubeconfig context of a production cluster.
const prodContext = "gke_acme-prod_europe-west1_main"

// prodKubeconfig copies the test server's kubeconfig with its context renamed to a GKE production one.
func prodKubeconfig(t *testing.T, srv *testenv.APIServer) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(srv.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Contexts[testenv.KubeconfigContext]
	delete(cfg.Contexts, testenv.KubeconfigContext)
	cfg.Contexts[prodContext] = c
	cfg.CurrentContext = prodContext
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A context the config file marks read-only: `gkedoctor fix` refuses, naming the file, the line and the
// rule; and a write sent anyway through the session's own clients is refused by the read-only guards
// below them — the kube-apiserver's audit log shows no write, the Google API server sees no POST. With
// --write the same writes reach both servers (so the refusals above are the guards', not a broken test).
func TestConfigReadOnlyContext_fixRefusesAndTheGuardsRefuseWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startAPIServer(ctx, t)
	kubeconfig := prodKubeconfig(t, srv)
	g := fakegcp.New()
	t.Cleanup(g.Close)
	g.AddNetwork("acme-prod", &compute.Network{Name: "default"})
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", g.URL)
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgFile, []byte("readOnly: false\ncontexts:\n  \"gke_acme-prod_*\":\n    readOnly: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}

	// 1. The command refuses before it changes anything, and says why.
	for _, args := range [][]string{
		{"fix", "clusterip-unreachable", "--yes"},
		{"fix", "--all", "--yes"},
		{"undo", "--last"},
		{"check", "--from", "cluster"},
	} {
		args = append(args, "--kubeconfig", kubeconfig, "--config", cfgFile)
		code, _, stderr := run(t, args...)
		line := oneStderrLine(t, stderr)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want 2: %s", args, code, line)
		}
		for _, want := range []string{"read-only", cfgFile + ":4", `contexts."gke_acme-prod_*".readOnly`, prodContext, "--write"} {
			if !strings.Contains(line, want) {
				t.Errorf("%v: %q does not say %q", args, line, want)
			}
		}
	}
	// GKEDOCTOR_CONFIG names the file as well as --config does.
	t.Setenv("GKEDOCTOR_CONFIG", cfgFile)
	if code, _, stderr := run(t, "fix", "--all", "--yes", "--kubeconfig", kubeconfig); code != ExitUsage || !strings.Contains(stderr, cfgFile+":4") {
		t.Errorf("with $GKEDOCTOR_CONFIG: exit %d: %s", code, stderr)
	}
	t.Setenv("GKEDOCTOR_CONFIG", "")

	// 2. The session built for that context is read-only below the UI.
	session := func(write bool) *app.Session {
		o := app.NewOptions()
		o.Kube.KubeConfig = &kubeconfig
		o.ConfigPath, o.Write, o.JournalDir = cfgFile, write, t.TempDir()
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		s, err := app.Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	s := session(false)
	if !s.Env.ReadOnly || !s.Applier.ReadOnly || !strings.Contains(s.ReadOnlyWhy.Long, cfgFile+":4") {
		t.Fatalf("session: env read-only %v, applier read-only %v, why %+v", s.Env.ReadOnly, s.Applier.ReadOnly, s.ReadOnlyWhy)
	}
	if s.Env.Target.Context != prodContext || s.Env.Target.Project != "acme-prod" {
		t.Fatalf("target %+v", s.Env.Target)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "written-anyway", Namespace: "default"}}
	_, err = s.Env.FixDeps.Kube.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	if apierr.KindOf(err) != apierr.ReadOnly {
		t.Errorf("a Kubernetes create through the session's client: %v, want the read-only guard's refusal", err)
	}
	// The REST config the session hands to other clients (vantage, the dynamic client) carries the guard too.
	other, err := kubernetes.NewForConfig(s.Env.KubeREST)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); apierr.KindOf(err) != apierr.ReadOnly {
		t.Errorf("a delete through a client built from the session's REST config: %v", err)
	}
	_, err = s.Env.FixDeps.GCP.Compute.Firewalls.Insert("acme-prod", &compute.Firewall{Name: "written-anyway", Network: "default",
		SourceRanges: []string{"10.8.0.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(ctx).Do()
	if apierr.KindOf(err) != apierr.ReadOnly {
		t.Errorf("a Google insert through the session's client: %v, want the read-only guard's refusal", err)
	}
	events, _ := gkedoctorRequests(t, srv, len(before))
	for _, e := range events {
		if !isRead(e) {
			t.Errorf("a write reached the kube-apiserver: %s %s", e.Verb, e.RequestURI)
		}
	}
	for _, rq := range g.Requests() {
		if rq.Method != http.MethodGet {
			t.Errorf("a write reached the Google API server: %s %s", rq.Method, rq.Path)
		}
	}

	// 3. --write: the same writes reach both servers.
	w := session(true)
	if w.Env.ReadOnly || w.Applier.ReadOnly || w.Options.Overridden() == "" {
		t.Fatalf("--write: env read-only %v, applier %v, overridden %q", w.Env.ReadOnly, w.Applier.ReadOnly, w.Options.Overridden())
	}
	if _, err := w.Env.FixDeps.Kube.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Errorf("--write: the create did not reach the kube-apiserver: %v", err)
	}
	if _, err := w.Env.FixDeps.GCP.Compute.Firewalls.Insert("acme-prod", &compute.Firewall{Name: "written-with-write", Network: "default",
		SourceRanges: []string{"10.8.0.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(ctx).Do(); err != nil {
		t.Errorf("--write: the insert did not reach the Google API server: %v", err)
	}
	posted := false
	for _, rq := range g.Requests() {
		posted = posted || rq.Method == http.MethodPost
	}
	if !posted {
		t.Error("--write: no POST reached the Google API server")
	}
}
