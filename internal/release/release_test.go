package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type goreleaser struct {
	Version int `json:"version"`
	Builds  []struct {
		Main    string   `json:"main"`
		Binary  string   `json:"binary"`
		Env     []string `json:"env"`
		Flags   []string `json:"flags"`
		Ldflags []string `json:"ldflags"`
		Goos    []string `json:"goos"`
		Goarch  []string `json:"goarch"`
	} `json:"builds"`
	Archives []struct {
		Formats []string `json:"formats"`
	} `json:"archives"`
	Checksum struct {
		NameTemplate string `json:"name_template"`
	} `json:"checksum"`
}

func root(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root not found")
		}
		dir = parent
	}
}

func load(t *testing.T) goreleaser {
	b, err := os.ReadFile(filepath.Join(root(t), ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var g goreleaser
	if err := yaml.UnmarshalStrict(b, &g); err != nil {
		// Strict decoding would reject fields we do not model; decode leniently but still require a parse.
		if err := yaml.Unmarshal(b, &g); err != nil {
			t.Fatalf(".goreleaser.yaml does not parse: %v", err)
		}
	}
	return g
}

func TestGoreleaserConfig(t *testing.T) {
	g := load(t)
	if g.Version != 2 {
		t.Fatalf("version %d, want 2", g.Version)
	}
	if len(g.Builds) != 1 {
		t.Fatalf("want one build, got %d", len(g.Builds))
	}
	b := g.Builds[0]
	if b.Main != "./cmd/gkedoctor" || b.Binary != "gkedoctor" {
		t.Fatalf("build %+v", b)
	}
	if !contains(b.Env, "CGO_ENABLED=0") || !contains(b.Flags, "-trimpath") {
		t.Fatalf("CGO must be off and -trimpath on: %+v", b)
	}
	if !strings.Contains(strings.Join(b.Ldflags, " "), "internal/version.Version={{.Version}}") {
		t.Fatalf("the version is not stamped by ldflags: %v", b.Ldflags)
	}
	for _, os := range []string{"linux", "darwin", "windows"} {
		if !contains(b.Goos, os) {
			t.Errorf("goos lacks %s", os)
		}
	}
	for _, a := range []string{"amd64", "arm64"} {
		if !contains(b.Goarch, a) {
			t.Errorf("goarch lacks %s", a)
		}
	}
	if len(g.Archives) == 0 || g.Checksum.NameTemplate == "" {
		t.Fatal("archives and checksums must be configured")
	}
}

// TestReleaseMatrixBuilds builds the native target with the release flags and runs it to read the
// stamped version back. The whole matrix (six cross-compiled binaries, the longest part of a cold
// test run) is built by the release itself (goreleaser) and by `make release-matrix`, which sets
// GKEDOCTOR_RELEASE_MATRIX=1 for this test; `make test` checks the matrix's configuration with
// TestGoreleaserConfig and `goreleaser check`.
func TestReleaseMatrixBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; run without -short (make test does)")
	}
	g := load(t)
	b := g.Builds[0]
	dir := t.TempDir()
	matrix := os.Getenv("GKEDOCTOR_RELEASE_MATRIX") == "1"
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			if !matrix && (goos != runtime.GOOS || goarch != runtime.GOARCH) {
				continue
			}
			if goos == runtime.GOOS && goarch == runtime.GOARCH {
				out := buildNative(t)
				v, err := exec.Command(out, "version").CombinedOutput()
				if err != nil || !strings.Contains(string(v), "gkedoctor 9.9.9-test (abc1234, 2026-01-01T00:00:00Z)") {
					t.Fatalf("stamped version not reported: %q %v", v, err)
				}
				continue
			}
			out := filepath.Join(dir, goos+"-"+goarch, "gkedoctor")
			ld := strings.NewReplacer("{{.Version}}", "9.9.9-test", "{{.ShortCommit}}", "abc1234", "{{.Date}}", "2026-01-01T00:00:00Z").Replace(strings.Join(b.Ldflags, " "))
			args := append([]string{"build"}, b.Flags...)
			args = append(args, "-ldflags", ld, "-o", out, b.Main)
			cmd := exec.Command("go", args...)
			cmd.Dir = root(t)
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s/%s: go build failed: %v\n%s", goos, goarch, err, msg)
			}
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestGoreleaserCheck runs `goreleaser check` with the pinned GoReleaser that `make test` builds
// (hack/tools/build-goreleaser.sh) and hands over in GKEDOCTOR_GORELEASER.
func TestGoreleaserCheck(t *testing.T) {
	bin := os.Getenv("GKEDOCTOR_GORELEASER")
	if bin == "" {
		if os.Getenv("GKEDOCTOR_REQUIRE_TESTBIN") == "1" {
			t.Fatal("GKEDOCTOR_GORELEASER is not set: run `make test` (it builds goreleaser with hack/tools/build-goreleaser.sh)")
		}
		t.Skip("goreleaser not built: run `make test` (or set GKEDOCTOR_GORELEASER to hack/tools/build-goreleaser.sh's output)")
	}
	cmd := exec.Command(bin, "check")
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 configuration file(s) validated") {
		t.Fatalf("goreleaser check failed: %v\n%s", err, out)
	}
}
