package tui

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/setup"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// A fixed CA so the entry in the goldens does not change from run to run.
var setupTestCA = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n"))

// setupFake is the fake Google API server with what the setup screen lists, and the real clients on it.
func setupFake(t *testing.T, endpoint, ca string) (*fakegcp.Server, *gcp.Clients) {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	s.AddCluster("dev-orchestra", "europe-west1", &container.Cluster{Name: "dev-orchestra-cluster", Endpoint: endpoint,
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddCluster("dev-orchestra", "europe-west1-b", &container.Cluster{Name: "batch", Endpoint: "127.0.0.9",
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddCluster("partner-data", "europe-west4", &container.Cluster{Name: "partner", Endpoint: "127.0.0.10",
		MasterAuth: &container.MasterAuth{ClusterCaCertificate: ca}})
	s.AddRunService("dev-orchestra", "europe-west1", &run.GoogleCloudRunV2Service{Name: "gke-connectivity-tester4",
		Template: &run.GoogleCloudRunV2RevisionTemplate{VpcAccess: &run.GoogleCloudRunV2VpcAccess{
			Connector: "projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector", Egress: "ALL_TRAFFIC"}}})
	s.AddRunService("dev-orchestra", "europe-west1", &run.GoogleCloudRunV2Service{Name: "frontend"})
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

var errNoKubeconfig = &apierr.Error{Kind: apierr.NotConfigured, Op: "load kubeconfig", Remedy: "gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig", Err: errors.New("no kubeconfig found")}

// runCmds runs cmd and every command its messages lead to, synchronously, feeding the messages to m;
// it returns the setupDoneMsg if the screen finished.
func runCmds(t *testing.T, m *setupComponent, cmd tea.Cmd) *setupDoneMsg {
	t.Helper()
	for i := 0; cmd != nil; i++ {
		if i > 20 {
			t.Fatal("the setup screen's commands do not settle")
		}
		msg := cmd()
		if d, ok := msg.(setupDoneMsg); ok {
			return &d
		}
		var c component
		c, cmd = m.Update(msg)
		if c != m {
			t.Fatal("the setup screen replaced itself")
		}
	}
	return nil
}

func pressSetup(t *testing.T, m *setupComponent, keys ...string) *setupDoneMsg {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(keyPress(k))
		if d := runCmds(t, m, cmd); d != nil {
			return d
		}
	}
	return nil
}

func twoContexts() setup.Kubeconfig {
	return setup.Kubeconfig{Files: []string{"/home/oncall/.kube/config"}, WritePath: "/home/oncall/.kube/config",
		Contexts: []setup.Context{{Name: "kind-dev", Cluster: "kind-dev", Server: "https://127.0.0.1:40123"},
			{Name: "staging", Cluster: "staging", Server: "https://127.0.0.1:40124", Namespace: "team-a"}}}
}

func TestSetupGolden(t *testing.T) {
	_, clients := setupFake(t, "127.0.0.1:6443", setupTestCA)
	noKube := setup.Kubeconfig{WritePath: "/home/oncall/.kube/config"}
	fixedMerge := func(path string, _ *clientcmdapi.Config, _ time.Time) (*setup.Merged, error) {
		return &setup.Merged{Path: path, Backup: path + ".gkedoctor-backup-20261129T080000.000000000Z"}, nil
	}
	states := []struct {
		name string
		env  setupEnv
		keys []string
	}{
		{"setup-nothing", setupEnv{kube: noKube, kubeErr: errNoKubeconfig}, nil},
		{"setup-nothing-pick-disabled", setupEnv{kube: noKube, kubeErr: errNoKubeconfig}, []string{"enter"}},
		{"setup-contexts", setupEnv{kube: twoContexts(), kubeErr: errNoKubeconfig, gcp: clients}, []string{"down"}},
		{"setup-projects", setupEnv{kube: noKube, kubeErr: errNoKubeconfig, gcp: clients}, []string{"enter"}},
		{"setup-clusters", setupEnv{kube: noKube, kubeErr: errNoKubeconfig, gcp: clients}, []string{"enter", "enter"}},
		{"setup-entry", setupEnv{kube: noKube, kubeErr: errNoKubeconfig, gcp: clients}, []string{"enter", "enter", "enter"}},
		{"setup-services-written", setupEnv{kube: noKube, kubeErr: errNoKubeconfig, gcp: clients, merge: fixedMerge},
			[]string{"enter", "enter", "enter", "w", "down"}},
	}
	for _, st := range states {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("%s-%dx%d", st.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				m := newSetupComponent(context.Background(), st.env, newStyles(true, true))
				m.SetSize(size[0], size[1])
				if d := pressSetup(t, m, st.keys...); d != nil {
					t.Fatalf("the screen finished early: %+v", d.choice)
				}
				view := m.View()
				assertFits(t, view, size[0], size[1], name)
				compareGolden(t, name, ansi.Strip(view))
			})
		}
	}
}

// The whole way through a GKE cluster, against the fake Google API server through the real clients
// and a real kubeconfig file: the entry is written only on w, merged with a backup, and the choice
// carries the cluster, the entry and the Cloud Run service picked.
func TestSetup_clusterWrittenAndServicePicked(t *testing.T) {
	_, clients := setupFake(t, "127.0.0.1:6443", setupTestCA)
	path := filepath.Join(t.TempDir(), "config")
	const before = "apiVersion: v1\nkind: Config\nclusters:\n- name: old\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: old\n  context:\n    cluster: old\n    user: old\nusers:\n- name: old\n  user: {}\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{path}}
	kc := setup.ReadKubeconfig(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}))
	m := newSetupComponent(context.Background(), setupEnv{kube: kc, kubeErr: errNoKubeconfig, gcp: clients}, nil)

	// The one context of the file comes first; the cluster picker second.
	if d := pressSetup(t, m, "down", "enter"); d != nil || m.step != stepProjects || len(m.projects) != 2 {
		t.Fatalf("projects: step %v, %+v, %s", m.step, m.projects, m.msg)
	}
	if d := pressSetup(t, m, "enter"); d != nil || len(m.clusters) != 2 || m.clusters[0].Name != "dev-orchestra-cluster" {
		t.Fatalf("clusters: %+v %s", m.clusters, m.msg)
	}
	pressSetup(t, m, "enter")
	if m.step != stepEntry || !strings.Contains(m.View(), "gke_dev-orchestra_europe-west1_dev-orchestra-cluster") {
		t.Fatalf("entry step: %v\n%s", m.step, ansi.Strip(m.View()))
	}
	// Shown, not written.
	if b, _ := os.ReadFile(path); string(b) != before {
		t.Fatal("the kubeconfig changed before w")
	}
	pressSetup(t, m, "w")
	if m.step != stepServices || len(m.services) != 2 || !strings.Contains(m.msg, "Wrote context") {
		t.Fatalf("after w: step %v services %+v msg %q", m.step, m.services, m.msg)
	}
	got, err := clientcmd.LoadFromFile(path)
	if err != nil || got.Contexts["old"] == nil || got.CurrentContext != "gke_dev-orchestra_europe-west1_dev-orchestra-cluster" {
		t.Fatalf("kubeconfig after w: %v %+v", err, got)
	}
	// Rows: every service (default), frontend, gke-connectivity-tester4.
	d := pressSetup(t, m, "down", "down", "enter")
	if d == nil {
		t.Fatal("no choice")
	}
	c := d.choice
	if c.kind != setupCluster || c.cloudRun != "projects/dev-orchestra/locations/europe-west1/services/gke-connectivity-tester4" ||
		c.written != path || c.entry == nil || c.entry.CurrentContext != "gke_dev-orchestra_europe-west1_dev-orchestra-cluster" {
		t.Errorf("choice = %+v", c)
	}
}

func TestSetup_keys(t *testing.T) {
	// Without Google credentials the picker says why and does nothing.
	m := newSetupComponent(context.Background(), setupEnv{kube: twoContexts(), kubeErr: errNoKubeconfig}, nil)
	if d := pressSetup(t, m, "down", "down", "enter"); d != nil || m.step != stepHome || !strings.Contains(m.msg, "gcloud auth application-default login") {
		t.Errorf("disabled picker: %+v step %v msg %q", d, m.step, m.msg)
	}
	// A context.
	m = newSetupComponent(context.Background(), setupEnv{kube: twoContexts(), kubeErr: errNoKubeconfig}, nil)
	if d := pressSetup(t, m, "down", "enter"); d == nil || d.choice.kind != setupContext || d.choice.context != "staging" {
		t.Errorf("context: %+v", d)
	}
	// The demo, the checklist as it is, quitting.
	for _, tc := range []struct {
		keys []string
		want setupKind
	}{
		{[]string{"down", "enter"}, setupDemo},
		{[]string{"down", "down", "enter"}, setupAsItIs},
		{[]string{"q"}, setupQuit},
		{[]string{"ctrl+c"}, setupQuit},
	} {
		m := newSetupComponent(context.Background(), setupEnv{kubeErr: errNoKubeconfig}, nil)
		if d := pressSetup(t, m, tc.keys...); d == nil || d.choice.kind != tc.want {
			t.Errorf("%v: %+v, want kind %v", tc.keys, d, tc.want)
		}
	}
	// esc goes back a step; the listing error is shown, not swallowed.
	s, clients := setupFake(t, "127.0.0.1:6443", setupTestCA)
	s.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/v1/projects", Status: 403, Permission: "resourcemanager.projects.list"})
	m = newSetupComponent(context.Background(), setupEnv{kubeErr: errNoKubeconfig, gcp: clients}, nil)
	pressSetup(t, m, "enter")
	if m.step != stepProjects || !strings.Contains(m.msg, "resourcemanager.projects.list") {
		t.Errorf("403 on projects.list: step %v msg %q", m.step, m.msg)
	}
	pressSetup(t, m, "esc")
	if m.step != stepHome || m.msg != "" {
		t.Errorf("esc: step %v msg %q", m.step, m.msg)
	}
}

func TestWantsSetup(t *testing.T) {
	ctxName := "kind-dev"
	for _, tc := range []struct {
		name string
		mod  func(s *app.Session)
		want bool
	}{
		{"nothing configured", func(*app.Session) {}, true},
		{"a cluster", func(s *app.Session) { s.KubeErr = nil }, false},
		{"a project", func(s *app.Session) { s.Env.Target.Project = "p" }, false},
		{"--no-gcp", func(s *app.Session) { s.Options.NoGCP = true }, false},
		{"--context", func(s *app.Session) { s.Options.Kube.Context = &ctxName }, false},
		{"demo", func(s *app.Session) { s.Options.Demo = true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &app.Session{Options: app.NewOptions(), Env: &checks.Env{}, KubeErr: errNoKubeconfig}
			tc.mod(s)
			if got := wantsSetup(s); got != tc.want {
				t.Errorf("wantsSetup = %v, want %v", got, tc.want)
			}
		})
	}
}
