package tui

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// The in-process connection end to end: the setup screen picks a cluster the fake Google API lists
// (its endpoint and CA are a real kube-apiserver's on loopback), builds gcloud's entry, and the
// session the checklist opens on reaches that server through the entry's credential plugin — a
// gke-gcloud-auth-plugin stand-in on PATH that prints an ExecCredential, as the real one does — with
// nothing written to any kubeconfig.
func TestSetup_connectsInProcessThroughTheAuthPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the kube-apiserver test bed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.Start(ctx, testenv.Options{})
	if errors.Is(err, testenv.ErrNoBinaries) {
		if os.Getenv(testenv.EnvRequireTestBin) == "1" {
			t.Fatal(err)
		}
		t.Skipf("kube-apiserver/etcd test binaries not built: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	plugins := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}'\n", srv.AdminToken)
	if err := os.WriteFile(filepath.Join(plugins, "gke-gcloud-auth-plugin"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", plugins+string(os.PathListSeparator)+os.Getenv("PATH"))
	kubeconfig := filepath.Join(t.TempDir(), "config")
	t.Setenv("KUBECONFIG", kubeconfig)

	fake, clients := setupFake(t, u.Host, base64.StdEncoding.EncodeToString(srv.CAData))
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", fake.URL)
	o := app.NewOptions()
	o.JournalDir = t.TempDir()
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	first, err := app.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if !wantsSetup(first) {
		t.Fatalf("no kubeconfig and no project, yet no setup screen (kube: %v, target %+v)", first.KubeErr, first.Env.Target)
	}

	m := newSetupComponent(ctx, setupEnv{kubeErr: first.KubeErr, gcp: clients}, nil)
	d := pressSetup(t, m, "enter", "enter", "enter", "enter", "down", "down", "enter")
	if d == nil || d.choice.kind != setupCluster {
		t.Fatalf("no cluster chosen: %+v (msg %q)", d, m.msg)
	}
	s, err := sessionFor(ctx, first, d.choice)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.KubeErr != nil {
		t.Fatalf("the session has no cluster: %v", s.KubeErr)
	}
	want := checks.Target{Project: "dev-orchestra", Location: "europe-west1", Cluster: "dev-orchestra-cluster", Namespace: "default",
		Context: "gke_dev-orchestra_europe-west1_dev-orchestra-cluster"}
	if s.Env.Target != want || s.Env.Targets.CloudRunService != "projects/dev-orchestra/locations/europe-west1/services/gke-connectivity-tester4" {
		t.Errorf("target %+v, cloud run %q", s.Env.Target, s.Env.Targets.CloudRunService)
	}
	if _, err := s.Env.FixDeps.Kube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("the in-process connection did not reach the API server: %v", err)
	}
	if _, err := os.Stat(kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a kubeconfig was written without w: %v", err)
	}
}
