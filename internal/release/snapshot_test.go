package release

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// The release pipeline of .goreleaser.yaml, run once per test binary for the native target only: a
// snapshot with the before hooks (man pages, completions), one build, the archive, the .deb and .rpm,
// the SBOM, checksums, the Homebrew cask and the krew manifest — no ko image (it needs a registry or
// a Docker daemon), no publishing. The six-target matrix is cross-compiled by the release itself.
// The tests in krew_test.go and packages_test.go read what it produced.
//
// The dist directory lies inside the work tree (build/, ignored by git, removed by TestMain) because
// the SBOM step runs `go run github.com/gkedoctor/gkedoctor/hack/sbom` from it, as the release does
// from ./dist.
var snap struct {
	once sync.Once
	dist string // the dist directory
	tmp  string // its parent, removed by TestMain
	out  string // goreleaser's output
	err  error
}

// snapshot runs the native-only GoReleaser snapshot (once) and returns its dist directory. It needs
// the pinned GoReleaser (GKEDOCTOR_GORELEASER, built by hack/tools/build-goreleaser.sh); without it the
// test skips, or fails under GKEDOCTOR_REQUIRE_TESTBIN=1 (make test).
func snapshot(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a single-target goreleaser snapshot")
	}
	gr := os.Getenv("GKEDOCTOR_GORELEASER")
	if gr == "" {
		if os.Getenv("GKEDOCTOR_REQUIRE_TESTBIN") == "1" {
			t.Fatal("GKEDOCTOR_GORELEASER must be set: run `make test` (hack/tools/build-goreleaser.sh)")
		}
		t.Skip("goreleaser not built: run `make test`, or set GKEDOCTOR_GORELEASER to hack/tools/build-goreleaser.sh's output")
	}
	top := root(t)
	// For iterating on these tests: GKEDOCTOR_RELEASE_DIST names a dist directory a snapshot with the
	// same derived configuration left behind, instead of building one. make test never sets it.
	if d := os.Getenv("GKEDOCTOR_RELEASE_DIST"); d != "" {
		return d
	}
	snap.once.Do(func() { snap.dist, snap.out, snap.err = runSnapshot(top, gr) })
	if snap.err != nil {
		t.Fatal(snap.err)
	}
	return snap.dist
}

func runSnapshot(top, gr string) (string, string, error) {
	b, err := os.ReadFile(filepath.Join(top, ".goreleaser.yaml"))
	if err != nil {
		return "", "", err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(top, "build"), 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(filepath.Join(top, "build"), "release-test-")
	if err != nil {
		return "", "", err
	}
	snap.tmp = tmp
	builds, ok := cfg["builds"].([]any)
	if !ok || len(builds) != 1 {
		return "", "", fmt.Errorf(".goreleaser.yaml: want one build, got %v", cfg["builds"])
	}
	build := builds[0].(map[string]any)
	build["goos"], build["goarch"] = []string{runtime.GOOS}, []string{runtime.GOARCH}
	delete(cfg, "kos")
	dist := filepath.Join(tmp, "dist")
	cfg["dist"] = dist
	cfg["release"] = map[string]any{"disable": true}
	derived, err := yaml.Marshal(cfg)
	if err != nil {
		return "", "", err
	}
	cfgPath := filepath.Join(tmp, "goreleaser.yaml")
	if err := os.WriteFile(cfgPath, derived, 0o644); err != nil {
		return "", "", err
	}
	cmd := exec.Command(gr, "release", "--snapshot", "--clean", "--config", cfgPath, "--skip=publish,announce,sign")
	cmd.Dir = top
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", string(out), fmt.Errorf("goreleaser release --snapshot: %v\n%s", err, out)
	}
	return dist, string(out), nil
}

// distFiles lists the dist directory's files (not directories) whose names end in suffix.
func distFiles(t *testing.T, dist, suffix string) []string {
	t.Helper()
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(dist, e.Name()))
		}
	}
	return out
}

// onlyDistFile is the one file in dist ending in suffix.
func onlyDistFile(t *testing.T, dist, suffix string) string {
	t.Helper()
	fs := distFiles(t, dist, suffix)
	if len(fs) != 1 {
		t.Fatalf("want one %s in dist, got %v", suffix, fs)
	}
	return fs[0]
}

// snapshotVersion is the version GoReleaser gave the snapshot, read from its metadata.json.
func snapshotVersion(t *testing.T, dist string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil || m.Version == "" {
		t.Fatalf("metadata.json: %v %s", err, b)
	}
	return m.Version
}
