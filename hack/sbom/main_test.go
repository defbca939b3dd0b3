package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// The test binary is a real Go binary with build information: the tool must find it inside the
// archives the release makes (tar.gz, and zip for Windows) and ignore the other files.
func selfBinary(t *testing.T) []byte {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTarGz(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(data)
	}
	_ = tw.Close()
	_ = zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	_ = zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func find(doc *Document, name string) *Package {
	for i := range doc.Packages {
		if doc.Packages[i].Name == name {
			return &doc.Packages[i]
		}
	}
	return nil
}

// checkWellFormed checks the SPDX rules a consumer relies on: unique ids of the allowed form, every
// relationship between known elements, the document describing something.
func checkWellFormed(t *testing.T, doc *Document) {
	t.Helper()
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" ||
		!strings.HasPrefix(doc.DocumentNamespace, "https://") || strings.Contains(doc.DocumentNamespace, "#") ||
		len(doc.CreationInfo.Creators) == 0 {
		t.Fatalf("document header %+v", doc)
	}
	if _, err := time.Parse(time.RFC3339, doc.CreationInfo.Created); err != nil {
		t.Fatalf("created %q: %v", doc.CreationInfo.Created, err)
	}
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	for _, p := range doc.Packages {
		if ids[p.SPDXID] {
			t.Fatalf("duplicate id %s", p.SPDXID)
		}
		ids[p.SPDXID] = true
		for _, r := range strings.TrimPrefix(p.SPDXID, "SPDXRef-") {
			if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				t.Fatalf("id %q has %q", p.SPDXID, r)
			}
		}
		if p.Name == "" || p.DownloadLocation == "" || p.LicenseConcluded == "" || p.CopyrightText == "" {
			t.Fatalf("package lacks a required field: %+v", p)
		}
	}
	describes := 0
	for _, r := range doc.Relationships {
		if !ids[r.SPDXElementID] || !ids[r.RelatedSPDXElement] {
			t.Fatalf("relationship to an unknown element: %+v", r)
		}
		if r.SPDXElementID == "SPDXRef-DOCUMENT" && r.RelationshipType == "DESCRIBES" {
			describes++
		}
	}
	if describes != 1 {
		t.Fatalf("the document describes %d elements", describes)
	}
}

func TestArchives(t *testing.T) {
	self := selfBinary(t)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build information")
	}
	dir := t.TempDir()
	files := map[string][]byte{"gkedoctor": self, "README.md": []byte("# readme\n"), "man/man1/gkedoctor.1": []byte(".TH x\n")}
	for _, name := range []string{"gkedoctor_1.2.3_linux_amd64.tar.gz", "gkedoctor_1.2.3_windows_amd64.zip"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if strings.HasSuffix(name, ".zip") {
				writeZip(t, path, files)
			} else {
				writeTarGz(t, path, files)
			}
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			doc, err := Generate(path, "1.2.3", created)
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, doc)
			raw, _ := os.ReadFile(path)
			sum := sha256.Sum256(raw)
			archive := find(doc, name)
			if archive == nil || archive.PrimaryPackagePurpose != "ARCHIVE" || len(archive.Checksums) != 1 ||
				archive.Checksums[0].ChecksumValue != hex.EncodeToString(sum[:]) {
				t.Fatalf("archive package %+v", archive)
			}
			if doc.CreationInfo.Created != "2026-01-02T03:04:05Z" {
				t.Fatalf("created %s", doc.CreationInfo.Created)
			}
			app := find(doc, bi.Main.Path)
			selfSum := sha256.Sum256(self)
			if app == nil || app.VersionInfo != "v1.2.3" || app.PackageFileName != "gkedoctor" ||
				app.Checksums[0].ChecksumValue != hex.EncodeToString(selfSum[:]) ||
				app.ExternalRefs[0].ReferenceLocator != "pkg:golang/"+bi.Main.Path+"@v1.2.3" ||
				!strings.Contains(app.Comment, runtime.Version()) {
				t.Fatalf("main module package %+v", app)
			}
			std := find(doc, "stdlib")
			if std == nil || std.VersionInfo != runtime.Version() {
				t.Fatalf("stdlib %+v", std)
			}
			// Only the binary is catalogued: the README and the man page are no packages.
			if len(doc.Packages) != 3+len(bi.Deps) {
				t.Fatalf("%d packages for a binary with %d modules: %+v", len(doc.Packages), len(bi.Deps), doc.Packages)
			}
		})
	}
}

func TestBareBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gkedoctor")
	if err := os.WriteFile(path, selfBinary(t), 0o755); err != nil {
		t.Fatal(err)
	}
	doc, err := Generate(path, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, doc)
	described := ""
	for _, r := range doc.Relationships {
		if r.RelationshipType == "DESCRIBES" {
			described = r.RelatedSPDXElement
		}
	}
	if doc.Packages[0].PrimaryPackagePurpose != "APPLICATION" || described != doc.Packages[0].SPDXID {
		t.Fatalf("a bare binary is described by its main module: %+v", doc.Packages[0])
	}
}

// Modules: every dependency with its version and go.sum hash, a replaced one under its replacement,
// one package per module even when two binaries of an archive link it.
func TestModules(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Path: "github.com/gkedoctor/gkedoctor/cmd/gkedoctor",
		Main: debug.Module{Path: "github.com/gkedoctor/gkedoctor", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "k8s.io/client-go", Version: "v0.37.2", Sum: "h1:abc="},
			{Path: "github.com/old/dns", Version: "v1.0.0", Replace: &debug.Module{Path: "github.com/new/dns", Version: "v1.1.0", Sum: "h1:def="}},
		},
		Settings: []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}}}
	doc := &Document{SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		DocumentNamespace: namespace + "t", CreationInfo: CreationInfo{Created: "2026-01-01T00:00:00Z", Creators: []string{"Tool: t"}}}
	g := &generator{ids: map[string]int{}}
	a := g.binary(doc, binary{name: "a", sha256: "00", info: info}, "")
	doc.rel("SPDXRef-DOCUMENT", "DESCRIBES", a)
	g.binary(doc, binary{name: "b", sha256: "11", info: info}, "")
	checkWellFormed(t, doc)
	cg := find(doc, "k8s.io/client-go")
	if cg == nil || cg.VersionInfo != "v0.37.2" || cg.ExternalRefs[0].ReferenceLocator != "pkg:golang/k8s.io/client-go@v0.37.2" ||
		!strings.Contains(cg.Comment, "h1:abc=") {
		t.Fatalf("client-go %+v", cg)
	}
	if find(doc, "github.com/old/dns") != nil {
		t.Fatal("a replaced module is listed under its old path")
	}
	if r := find(doc, "github.com/new/dns"); r == nil || r.VersionInfo != "v1.1.0" || !strings.Contains(r.Comment, "replaces github.com/old/dns@v1.0.0") {
		t.Fatalf("replacement %+v", r)
	}
	if main := find(doc, "github.com/gkedoctor/gkedoctor"); main.VersionInfo != "(devel)" || len(main.ExternalRefs) != 1 ||
		main.ExternalRefs[0].ReferenceLocator != "pkg:golang/github.com/gkedoctor/gkedoctor" {
		t.Fatalf("an unversioned main module: %+v", main)
	}
	// two binaries: 2 main packages + stdlib + 2 modules, and 3 DEPENDS_ON each
	if len(doc.Packages) != 5 || len(doc.Relationships) != 7 {
		t.Fatalf("%d packages, %d relationships", len(doc.Packages), len(doc.Relationships))
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	notGo := filepath.Join(dir, "README.md")
	_ = os.WriteFile(notGo, []byte("# not a binary\n"), 0o644)
	if _, err := Generate(notGo, "", time.Now()); err == nil || !strings.Contains(err.Error(), "no Go binary") {
		t.Fatalf("a file without Go build information: %v", err)
	}
	onlyDocs := filepath.Join(dir, "docs.tar.gz")
	writeTarGz(t, onlyDocs, map[string][]byte{"README.md": []byte("x")})
	if _, err := Generate(onlyDocs, "", time.Now()); err == nil || !strings.Contains(err.Error(), "no Go binary") {
		t.Fatalf("an archive without a Go binary: %v", err)
	}
	bad := filepath.Join(dir, "bad.tar.gz")
	_ = os.WriteFile(bad, []byte("not gzip"), 0o644)
	if _, err := Generate(bad, "", time.Now()); err == nil || !strings.Contains(err.Error(), "bad.tar.gz") {
		t.Fatalf("a damaged archive: %v", err)
	}
	if _, err := Generate(filepath.Join(dir, "missing"), "", time.Now()); err == nil {
		t.Fatal("a missing file gives no error")
	}
}

func TestCreationTime(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct{ flag, epoch, want string }{
		{"2026-03-04T05:06:07Z", "", "2026-03-04T05:06:07Z"},
		{"2026-03-04", "", "2026-03-04T00:00:00Z"},
		{"0001-01-01T00:00:00Z", "86400", "1970-01-02T00:00:00Z"}, // GoReleaser's zero CommitDate
		{"", "", "2030-01-01T00:00:00Z"},
	} {
		got, err := creationTime(c.flag, c.epoch, now)
		if err != nil || got.Format(time.RFC3339) != c.want {
			t.Errorf("creationTime(%q, %q) = %v, %v; want %s", c.flag, c.epoch, got, err, c.want)
		}
	}
	if _, err := creationTime("yesterday", "", now); err == nil {
		t.Error("a bad -date is accepted")
	}
	if _, err := creationTime("", "soon", now); err == nil {
		t.Error("a bad SOURCE_DATE_EPOCH is accepted")
	}
}
