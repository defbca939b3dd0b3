package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/app"
)

// A context the config file marks read-only opens the checklist read-only: the header says which rule
// of which file, and f, u and o say it when pressed. The reason is the session's (internal/app reads
// the file); the TUI only shows it. (That the guards refuse a write anyway is proved in
// internal/cli/config_testenv_test.go against a real kube-apiserver and the fake Google API server.)
func TestReadOnly_fromTheConfigFile_headerAndKeysSayWhy(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: gke_acme-prod_europe-west1_main, context: {cluster: c, user: u}}]
current-context: gke_acme-prod_europe-west1_main
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte("contexts:\n  \"gke_acme-prod_*\":\n    readOnly: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := app.NewOptions()
	o.Kube.KubeConfig = &kubeconfig
	o.ConfigPath, o.NoGCP, o.JournalDir = cfgFile, true, t.TempDir()
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	s, err := app.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := sessionConfig(s)
	if !sc.readOnly || sc.readOnlyShort != "context gke_acme-prod_* (config.yaml:3)" {
		t.Fatalf("session config: read-only %v, reason %q", sc.readOnly, sc.readOnlyShort)
	}

	cfg, _, spy := testConfig(t, true)
	cfg.readOnlyShort, cfg.readOnlyLong = sc.readOnlyShort, sc.readOnlyLong
	h := newHarness(t, cfg, 160, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	if !strings.Contains(h.screen(), "read-only: context gke_acme-prod_* (config.yaml:3)") {
		t.Errorf("the header does not say why it is read-only:\n%s", h.screen())
	}
	for _, k := range []string{"f", "u", "o"} {
		h.m.selected = "clusterip-unreachable"
		h.key(k)
		h.drain(5 * time.Millisecond)
		st := h.status()
		if !strings.Contains(st, "disabled: read-only") || !strings.Contains(st, cfgFile+":3") || !strings.Contains(st, `contexts."gke_acme-prod_*".readOnly`) {
			t.Errorf("%s says %q; want the file, the line and the rule", k, st)
		}
	}
	if spy.applies.Load()+spy.undos.Load() != 0 {
		t.Error("the Applier was called")
	}
}
