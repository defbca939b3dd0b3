package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// krewManifest is krew's Plugin (krew.googlecontainertools.github.com/v1alpha2), the fields we check.
type krewManifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			URI      string `json:"uri"`
			Sha256   string `json:"sha256"`
			Bin      string `json:"bin"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestKrewManifestAndArchive checks what the native-only release snapshot (snapshot_test.go)
// produced: krew's own validator (validate-krew-manifest, built by hack/tools/build-krew-validate.sh) accepts the manifest and rejects a damaged copy, the manifest's
// sha256 is the archive's, and the archive ships the binary, a man page per command and the
// completion scripts. The before hook writes build/man and build/completions in the work tree.
func TestKrewManifestAndArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a single-target goreleaser snapshot")
	}
	validator := os.Getenv("GKEDOCTOR_KREW_VALIDATE")
	if validator == "" {
		if os.Getenv("GKEDOCTOR_REQUIRE_TESTBIN") == "1" {
			t.Fatal("GKEDOCTOR_KREW_VALIDATE must be set: run `make test` (hack/tools/build-krew-validate.sh)")
		}
		t.Skip("validate-krew-manifest not built: run `make test`, or set GKEDOCTOR_KREW_VALIDATE")
	}
	dist := snapshot(t)
	tmp := t.TempDir()

	manifest := filepath.Join(dist, "krew", "gkedoctor.yaml")
	if out, err := exec.Command(validator, "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
		t.Fatalf("krew rejects the manifest: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// The validator is live: a manifest without a sha256 is refused.
	broken := filepath.Join(tmp, "broken", "gkedoctor.yaml")
	_ = os.MkdirAll(filepath.Dir(broken), 0o755)
	lines := strings.Split(string(raw), "\n")
	var kept []string
	for _, l := range lines {
		if !strings.Contains(l, "sha256:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(broken, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(validator, "-manifest", broken, "-skip-install").CombinedOutput(); err == nil {
		t.Fatalf("krew accepts a manifest without sha256: the validation proves nothing\n%s", out)
	}

	var m krewManifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "gkedoctor" ||
		!strings.HasPrefix(m.Spec.Version, "v") || m.Spec.Homepage == "" || m.Spec.ShortDescription == "" || len(m.Spec.Platforms) != 1 {
		t.Fatalf("manifest:\n%s", raw)
	}
	p := m.Spec.Platforms[0]
	if p.Bin != "gkedoctor" || p.Selector.MatchLabels["os"] != runtime.GOOS || p.Selector.MatchLabels["arch"] != runtime.GOARCH ||
		!strings.HasPrefix(p.URI, "https://github.com/gkedoctor/gkedoctor/releases/download/") {
		t.Fatalf("platform %+v", p)
	}
	archive := filepath.Join(dist, filepath.Base(p.URI))
	ab, err := os.ReadFile(archive)
	if err != nil {
		t.Fatalf("the manifest's archive is not the one built: %v", err)
	}
	if sum := sha256.Sum256(ab); hex.EncodeToString(sum[:]) != p.Sha256 {
		t.Fatalf("manifest sha256 %s is not the archive's %x", p.Sha256, sum)
	}

	files := archiveListing(t, archive)
	for _, f := range []string{"gkedoctor", "README.md", "man/man1/gkedoctor.1", "man/man1/gkedoctor-audit.1", "man/man1/gkedoctor-undo.1",
		"man/man1/gkedoctor-completion-bash.1", "completions/gkedoctor.bash", "completions/_gkedoctor", "completions/gkedoctor.fish", "completions/gkedoctor.ps1"} {
		if !files[f] {
			t.Errorf("the archive lacks %s (has %v)", f, files)
		}
	}
}

func archiveFiles(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = true
	}
}
