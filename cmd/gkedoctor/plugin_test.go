package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubectlBin is the kubectl hack/testbin/build-kubectl.sh builds (GKEDOCTOR_KUBECTL, as make test and
// make bench set it, else the script's cache path).
func kubectlBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GKEDOCTOR_KUBECTL"); p != "" {
		return p
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "hack", "testbin", "kubectl", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mod)
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	p := filepath.Join(cache, "gkedoctor", "testbin", "kubectl-"+hex.EncodeToString(sum[:])[:12], "kubectl")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("GKEDOCTOR_REQUIRE_TESTBIN") == "1" {
			t.Fatalf("kubectl not built (%v): run bash hack/testbin/build-kubectl.sh (make test does)", err)
		}
		t.Skipf("kubectl not built: run bash hack/testbin/build-kubectl.sh, or set GKEDOCTOR_KUBECTL (%v)", err)
	}
	return p
}

// TestKubectlPlugin installs the binary as kubectl-gkedoctor (and kubectl_complete-gkedoctor) on
// PATH and drives it through the real kubectl: `kubectl gkedoctor version`, its help and errors name
// it "kubectl gkedoctor", and kubectl's plugin completion reaches the dynamic completions.
func TestKubectlPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs kubectl")
	}
	kubectl := kubectlBin(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-gkedoctor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "kubectl_complete-gkedoctor")); err != nil {
		t.Fatal(err)
	}
	kube := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(kubectl, args...)
		// Only the temporary directory on PATH: kubectl finds the plugin there or nowhere.
		cmd.Env = []string{"PATH=" + dir, "HOME=" + t.TempDir(), "KUBECONFIG=" + filepath.Join(dir, "no-kubeconfig")}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("kubectl %q: %v", args, err)
		}
		return stdout.String(), stderr.String(), code
	}

	out, errOut, code := kube("plugin", "list")
	if code != 0 || !strings.Contains(out, bin) {
		t.Fatalf("kubectl plugin list does not find %s (exit %d):\n%s%s", bin, code, out, errOut)
	}
	out, errOut, code = kube("gkedoctor", "version")
	if code != 0 || !strings.HasPrefix(out, "gkedoctor ") {
		t.Fatalf("kubectl gkedoctor version: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = kube("gkedoctor", "audit", "--help")
	if code != 0 || !strings.Contains(out, "\n  kubectl gkedoctor audit [CHECK-ID...] [flags]") || !strings.Contains(out, "\n  kubectl gkedoctor audit --demo") {
		t.Errorf("kubectl gkedoctor audit --help does not name the plugin in its usage and examples:\n%s", out)
	}
	if strings.Contains(strings.ReplaceAll(out, "kubectl gkedoctor", ""), "\n  gkedoctor ") {
		t.Errorf("an example still starts with the bare name:\n%s", out)
	}
	_, errOut, code = kube("gkedoctor", "audit", "--bogus")
	if code != 2 || errOut != "kubectl gkedoctor: unknown flag: --bogus (see kubectl gkedoctor audit --help)\n" {
		t.Errorf("kubectl gkedoctor audit --bogus: exit %d, stderr %q", code, errOut)
	}
	// kubectl (1.26+) completes `kubectl gkedoctor …` by running kubectl_complete-gkedoctor.
	out, errOut, code = kube("__complete", "gkedoctor", "expl")
	if code != 0 || !strings.Contains(out, "explain") {
		t.Errorf("kubectl __complete gkedoctor expl: exit %d, got %q %s", code, out, errOut)
	}
	out, _, _ = kube("__complete", "gkedoctor", "audit", "dns-serv")
	if !strings.Contains(out, "dns-servfail") {
		t.Errorf("kubectl __complete gkedoctor audit dns-serv: got %q", out)
	}
}
