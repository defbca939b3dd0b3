package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// The release builds the probe image with ko (.goreleaser.yaml `kos`), which needs a registry to push
// to, or a Docker daemon in snapshot mode; neither exists here. This test builds the same image for the
// native platform as an OCI image layout — the binary with the release's flags at ko's path
// /ko-app/gkedoctor, ko's entrypoint, the non-root user the release sets — then reads the layout back
// as a runtime would (index → manifest → config → layer), unpacks the layer and runs the entrypoint's
// `probe` once against a loopback listener. The base image's layer (cgr.dev/chainguard/static: CA
// certificates, tzdata, /etc/passwd) cannot be pulled here, so the test image has the app layer only.

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Entrypoint []string          `json:"Entrypoint"`
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels,omitempty"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type koImage struct {
	User       string            `json:"user"`
	Platforms  []string          `json:"platforms"`
	Repos      []string          `json:"repositories"`
	Labels     map[string]string `json:"labels"`
	Build      string            `json:"build"`
	BaseImage  string            `json:"base_image"`
	Disable    string            `json:"disable"`
	Tags       []string          `json:"tags"`
	Bare       bool              `json:"bare"`
	Main       string            `json:"main"`
	SBOM       string            `json:"sbom"`
	Annotation map[string]string `json:"annotations"`
}

func writeBlob(t *testing.T, dir string, b []byte) (string, int64) {
	t.Helper()
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + d, int64(len(b))
}

func readBlob(t *testing.T, dir, digest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != digest {
		t.Fatalf("blob %s does not match its digest", digest)
	}
	return b
}

// buildOCILayout writes an OCI image layout holding bin as ko lays it out, for the native platform.
func buildOCILayout(t *testing.T, dir, bin, user, ref string, labels map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	_ = tw.WriteHeader(&tar.Header{Name: "ko-app/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "ko-app/gkedoctor", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(exe))})
	_, _ = tw.Write(exe)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	diff := sha256.Sum256(layer.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(layer.Bytes())
	_ = zw.Close()
	layerDigest, layerSize := writeBlob(t, dir, gz.Bytes())

	var cfg ociConfig
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Config.Entrypoint = []string{"/ko-app/gkedoctor"}
	cfg.Config.User = user
	cfg.Config.Env = []string{"PATH=/ko-app:/usr/local/bin:/usr/bin:/bin", "KO_DATA_PATH=/var/run/ko"}
	cfg.Config.Labels = labels
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{"sha256:" + hex.EncodeToString(diff[:])}
	cb, _ := json.Marshal(cfg)
	cfgDigest, cfgSize := writeBlob(t, dir, cb)

	m := ociManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: ociDescriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cfgDigest, Size: cfgSize},
		Layers: []ociDescriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: layerDigest, Size: layerSize}}}
	mb, _ := json.Marshal(m)
	mDigest, mSize := writeBlob(t, dir, mb)
	idx := ociIndex{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []ociDescriptor{{
		MediaType: m.MediaType, Digest: mDigest, Size: mSize,
		Annotations: map[string]string{"org.opencontainers.image.ref.name": ref},
		Platform:    map[string]string{"os": "linux", "architecture": runtime.GOARCH}}}}
	ib, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unpack reads the layout as a runtime does and unpacks its layers into root; it returns the config.
func unpack(t *testing.T, dir, root string) ociConfig {
	t.Helper()
	var idx ociIndex
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, b)
	}
	var m ociManifest
	if err := json.Unmarshal(readBlob(t, dir, idx.Manifests[0].Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg ociConfig
	if err := json.Unmarshal(readBlob(t, dir, m.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(readBlob(t, dir, l.Digest)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(zr)
		sum := sha256.Sum256(raw)
		if cfg.RootFS.DiffIDs[i] != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Fatalf("layer %d's diff id does not match", i)
		}
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, filepath.Clean("/"+h.Name))
			switch h.Typeflag {
			case tar.TypeDir:
				_ = os.MkdirAll(p, 0o755)
			case tar.TypeReg:
				data, _ := io.ReadAll(tr)
				if err := os.WriteFile(p, data, os.FileMode(h.Mode)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return cfg
}

// TestProbeImage builds the probe image as an OCI layout and runs its entrypoint's probe once.
func TestProbeImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; run without -short (make test does)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux-only")
	}
	var cfg struct {
		Kos []koImage `json:"kos"`
	}
	raw, err := os.ReadFile(filepath.Join(root(t), ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yamlUnmarshal(raw, &cfg); err != nil || len(cfg.Kos) != 1 {
		t.Fatalf("kos: %v %+v", err, cfg.Kos)
	}
	ko := cfg.Kos[0]
	if ko.User != "65532:65532" || ko.Build != "gkedoctor" || len(ko.Repos) != 1 || !ko.Bare ||
		!contains(ko.Platforms, "linux/amd64") || !contains(ko.Platforms, "linux/arm64") || !contains(ko.Tags, "{{.Version}}") {
		t.Fatalf("the image is not the static, non-root, multi-arch one the vantage points launch: %+v", ko)
	}
	g := load(t)
	if ld := strings.Join(g.Builds[0].Ldflags, " "); !strings.Contains(ld, "version.ProbeImageRepo="+ko.Repos[0]) {
		t.Fatalf("the binary is not stamped with the image repository %s: %s", ko.Repos[0], ld)
	}
	bin := buildNative(t)
	dir, rootfs := t.TempDir(), t.TempDir()
	buildOCILayout(t, dir, bin, strings.Split(ko.User, ":")[0], "9.9.9-test", ko.Labels)
	ic := unpack(t, dir, rootfs)
	if ic.Config.User != "65532" || len(ic.Config.Entrypoint) != 1 {
		t.Fatalf("image config %+v", ic.Config)
	}
	entry := filepath.Join(rootfs, ic.Config.Entrypoint[0])

	out, err := exec.Command(entry, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "9.9.9-test") {
		t.Fatalf("version: %v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	plan := `{"schemaVersion":1,"probes":[{"kind":"tcp","id":"listener","addr":"` + ln.Addr().String() + `"}]}`
	cmd := exec.Command(entry, "probe", "--plan-json", plan, "--vantage", "image test")
	cmd.Env = append(ic.Config.Env, "HOME="+t.TempDir())
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	var rep struct {
		Kind, Vantage string
		Results       []struct {
			ID string
			OK bool
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Kind != "gkedoctor.ProbeResult" || rep.Vantage != "image test" ||
		len(rep.Results) != 1 || !rep.Results[0].OK {
		t.Fatalf("probe result: %v\n%s", err, out)
	}
}

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }

// buildNative builds the native binary with the release's flags and ldflags (version 9.9.9-test),
// once per test binary: TestReleaseMatrixBuilds and TestProbeImage share it.
func buildNative(t *testing.T) string {
	t.Helper()
	native.once.Do(func() {
		b := load(t).Builds[0]
		dir, err := os.MkdirTemp("", "gkedoctor-release-test")
		if err != nil {
			native.err = err
			return
		}
		native.dir = dir
		out := filepath.Join(dir, "gkedoctor")
		ld := strings.NewReplacer("{{.Version}}", "9.9.9-test", "{{.ShortCommit}}", "abc1234", "{{.Date}}", "2026-01-01T00:00:00Z").Replace(strings.Join(b.Ldflags, " "))
		args := append([]string{"build"}, b.Flags...)
		args = append(args, "-ldflags", ld, "-o", out, b.Main)
		cmd := exec.Command("go", args...)
		cmd.Dir = root(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			native.err = fmt.Errorf("go build failed: %v\n%s", err, msg)
			return
		}
		native.path = out
	})
	if native.err != nil {
		t.Fatal(native.err)
	}
	return native.path
}

var native struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if snap.tmp != "" {
		os.RemoveAll(snap.tmp)
	}
	if native.dir != "" {
		os.RemoveAll(native.dir)
	}
	os.Exit(code)
}
