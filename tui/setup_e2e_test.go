package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// TestE2E_firstRunSetup runs the built binary under tmux as a new user would, with nothing configured:
// no kubeconfig and no Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS names a file
// that does not exist, so nothing looks for a metadata server), then a kubeconfig with two contexts
// and none current, then the fake Google API server listing projects, clusters and Cloud Run
// services. Every address is loopback.
func TestE2E_firstRunSetup(t *testing.T) {
	tmuxBin, bin := e2eBinaries(t)
	nothing := func(kubeconfig string) []string {
		home := t.TempDir()
		return []string{"HOME=" + home, "KUBECONFIG=" + kubeconfig, "GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(home, "no-adc.json"),
			"CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"), "GKEDOCTOR_GCP_ENDPOINT="}
	}
	setupOpen := func(scr string) bool { return strings.Contains(scr, "setup — nothing to diagnose yet") }

	// Nothing at all: the setup screen instead of seven skips; the cluster picker says what it needs;
	// the demo opens the checklist on the demo world.
	t.Run("no_kubeconfig", func(t *testing.T) {
		s := startTmuxEnv(t, tmuxBin, bin, t.TempDir(), nothing(filepath.Join(t.TempDir(), "absent")))
		s.waitFor("the setup screen", func(scr string) bool {
			return setupOpen(scr) && strings.Contains(scr, "No kubeconfig file") && strings.Contains(scr, "Google: no credentials")
		})
		s.keys("Enter") // the cluster picker, disabled
		s.waitFor("why the cluster picker is disabled", func(scr string) bool {
			return strings.Contains(scr, "No usable Google credentials: run gcloud auth application-default login")
		})
		s.keys("Down", "Enter") // the demo world
		s.waitChecksDone("clusterip-unreachable", "fail")
		if scr := s.capture(); !strings.Contains(scr, "dev-orchestra / europe-west1 / dev-orchestra-cluster") {
			t.Fatalf("the checklist is not on the demo world:\n%s", scr)
		}
		s.quit()
	})

	// A kubeconfig with two contexts and none current: pick one; the checklist opens on it.
	t.Run("two_contexts", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "config")
		const two = `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: "https://127.0.0.1:1"}
- name: staging
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: u
  user: {}
contexts:
- name: dev
  context: {cluster: dev, user: u}
- name: staging
  context: {cluster: staging, user: u, namespace: team-a}
`
		if err := os.WriteFile(kc, []byte(two), 0o600); err != nil {
			t.Fatal(err)
		}
		s := startTmuxEnv(t, tmuxBin, bin, t.TempDir(), nothing(kc))
		s.waitFor("the setup screen with both contexts", func(scr string) bool {
			return setupOpen(scr) && strings.Contains(scr, "context dev") && strings.Contains(scr, "context staging") &&
				strings.Contains(scr, "2 contexts in "+kc+", none current")
		})
		s.keys("Down", "Enter")
		s.waitFor("the checklist on context staging", func(scr string) bool {
			return strings.Contains(scr, "context staging · ns team-a") && strings.Contains(scr, "clusterip-unreachable")
		})
		s.waitFor("the checks to finish", func(scr string) bool { return !listRunning(scr) })
		if b, _ := os.ReadFile(kc); string(b) != two {
			t.Error("choosing a context changed the kubeconfig")
		}
		s.quit()
	})

	// The fake Google API lists the projects, clusters and Cloud Run services: pick dev-orchestra's
	// cluster, see gcloud's entry, write it with w (merged into the kubeconfig named by KUBECONFIG,
	// which did not exist), pick the Cloud Run service, and the checklist opens on that cluster.
	t.Run("google_clusters_and_services", func(t *testing.T) {
		fake, _ := setupFake(t, "127.0.0.1:1", setupTestCA)
		kc := filepath.Join(t.TempDir(), "kube", "config")
		env := nothing(kc)
		env[len(env)-1] = "GKEDOCTOR_GCP_ENDPOINT=" + fake.URL
		s := startTmuxEnv(t, tmuxBin, bin, t.TempDir(), env)
		s.waitFor("the setup screen with Google credentials", func(scr string) bool {
			return setupOpen(scr) && strings.Contains(scr, "Google: credentials usable")
		})
		s.keys("Enter")
		s.waitFor("the projects", func(scr string) bool {
			return strings.Contains(scr, "dev-orchestra") && strings.Contains(scr, "partner-data")
		})
		s.keys("Enter")
		s.waitFor("dev-orchestra's clusters", func(scr string) bool {
			return strings.Contains(scr, "GKE clusters of dev-orchestra") && strings.Contains(scr, "dev-orchestra-cluster") && strings.Contains(scr, "europe-west1-b")
		})
		s.keys("Enter")
		s.waitFor("gcloud's entry", func(scr string) bool {
			return strings.Contains(scr, "gcloud container clusters get-credentials dev-orchestra-cluster") && strings.Contains(scr, "server: https://127.0.0.1:1")
		})
		if _, err := os.Stat(kc); !os.IsNotExist(err) {
			t.Fatalf("the kubeconfig exists before w: %v", err)
		}
		s.keys("w")
		s.waitFor("the services, after the write", func(scr string) bool {
			return strings.Contains(scr, "Wrote context") && strings.Contains(scr, "gke-connectivity-tester4") && strings.Contains(scr, "connector my-vpc-connector")
		})
		got, err := clientcmd.LoadFromFile(kc)
		if err != nil || got.CurrentContext != "gke_dev-orchestra_europe-west1_dev-orchestra-cluster" ||
			got.AuthInfos["gke_dev-orchestra_europe-west1_dev-orchestra-cluster"].Exec.Command != "gke-gcloud-auth-plugin" {
			t.Fatalf("the kubeconfig written: %v %+v", err, got)
		}
		s.keys("Down", "Down", "Enter") // gke-connectivity-tester4
		s.waitFor("the checklist on the cluster", func(scr string) bool {
			return strings.Contains(scr, "dev-orchestra / europe-west1 / dev-orchestra-cluster") &&
				strings.Contains(scr, "context gke_dev-orchestra_europe-west1_dev-orchestra-cluster")
		})
		s.waitFor("the checks to finish", func(scr string) bool { return !listRunning(scr) })
		s.quit()
	})
}
