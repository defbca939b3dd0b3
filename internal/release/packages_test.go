package release

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The packages the release snapshot (snapshot_test.go) builds from .goreleaser.yaml: the .deb is
// installed with dpkg into a temporary root with a fresh dpkg database and run; the .rpm is read with
// rpm and installed the same way into a fresh rpm database; the Homebrew cask is evaluated by Ruby
// with a stand-in for Homebrew's cask DSL; checksums.txt must cover every artifact; the SBOM must
// list exactly the modules `go version -m` reads from the archived binary. dpkg, rpm and ruby are
// Debian packages hack/install-test-deps.sh installs.

// tool returns the path of a command the test drives, or skips (fails under make test) without it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("GKEDOCTOR_REQUIRE_TESTBIN") == "1" {
			t.Fatalf("%s is not installed: run `make test-deps` (hack/install-test-deps.sh)", name)
		}
		t.Skipf("%s is not installed: run `make test-deps`", name)
	}
	return p
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// listing reads an archive's file list once per test binary (decompressing it is slow under -race).
var listing = struct {
	sync.Mutex
	files map[string]map[string]bool
}{files: map[string]map[string]bool{}}

func archiveListing(t *testing.T, archive string) map[string]bool {
	t.Helper()
	listing.Lock()
	defer listing.Unlock()
	if fs, ok := listing.files[archive]; ok {
		return fs
	}
	fs := archiveFiles(t, archive)
	listing.files[archive] = fs
	return fs
}

// archiveManPages lists the man pages the archive ships (man/man1/*.1), the set the packages must install.
func archiveManPages(t *testing.T, archive string) []string {
	t.Helper()
	var pages []string
	for f := range archiveListing(t, archive) {
		if strings.HasPrefix(f, "man/man1/") && strings.HasSuffix(f, ".1") {
			pages = append(pages, strings.TrimPrefix(f, "man/man1/"))
		}
	}
	sort.Strings(pages)
	if len(pages) < 10 {
		t.Fatalf("the archive ships %d man pages: %v", len(pages), pages)
	}
	return pages
}

// packageFiles are the files both packages install besides the man pages (the zsh directory differs:
// Debian's zsh reads vendor-completions, Fedora's site-functions).
func packageFiles(zsh string) []string {
	return []string{"/usr/bin/gkedoctor", "/usr/bin/kubectl-gkedoctor", "/usr/bin/kubectl_complete-gkedoctor",
		"/usr/share/bash-completion/completions/gkedoctor", zsh + "/_gkedoctor",
		"/usr/share/fish/vendor_completions.d/gkedoctor.fish", "/usr/share/doc/gkedoctor/README.md"}
}

// checkInstalled runs what a package installed under root: the binary reports the snapshot's
// version, the kubectl plugin link names itself "kubectl gkedoctor", every file is in place.
func checkInstalled(t *testing.T, root, version string, files []string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	out, err := exec.Command(filepath.Join(root, "usr/bin/gkedoctor"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "gkedoctor "+version+" ") {
		t.Fatalf("installed gkedoctor version: %v %q (want %s)", err, out, version)
	}
	out, err = exec.Command(filepath.Join(root, "usr/bin/kubectl-gkedoctor"), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kubectl gkedoctor [command]") {
		t.Fatalf("installed kubectl-gkedoctor --help: %v\n%s", err, out)
	}
	for _, f := range []string{"gkedoctor", "kubectl-gkedoctor", "kubectl_complete-gkedoctor"} {
		if target, err := os.Readlink(filepath.Join(root, "usr/bin", f)); f != "gkedoctor" && (err != nil || target != "gkedoctor") {
			t.Errorf("%s should be a relative link to gkedoctor: %q %v", f, target, err)
		}
	}
}

// sbinPath is PATH with the sbin directories dpkg and rpm look for their helpers in.
func sbinPath() string {
	return "PATH=/usr/local/sbin:/usr/sbin:/sbin:" + os.Getenv("PATH")
}

func TestDebInstallsAndRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux packages")
	}
	dpkg, dpkgDeb := tool(t, "dpkg"), tool(t, "dpkg-deb")
	dist := snapshot(t)
	version := snapshotVersion(t, dist)
	deb := onlyDistFile(t, dist, ".deb")
	pages := archiveManPages(t, onlyDistFile(t, dist, ".tar.gz"))

	// Control metadata, as apt shows it.
	fields := map[string]string{}
	for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Homepage", "Section", "Description"} {
		fields[f] = strings.TrimSpace(run(t, nil, dpkgDeb, "--field", deb, f))
	}
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	if fields["Package"] != "gkedoctor" || fields["Architecture"] != arch || fields["Homepage"] != "https://github.com/gkedoctor/gkedoctor" ||
		!strings.Contains(fields["Maintainer"], "<") || !strings.HasPrefix(fields["Description"], "Diagnose connectivity failures") ||
		!strings.Contains(fields["Description"], "undoable fixes") || fields["Section"] != "admin" ||
		strings.ReplaceAll(fields["Version"], "~", "-") != version {
		t.Fatalf("control fields %q (snapshot version %s)", fields, version)
	}

	// A real install into an empty root with its own, fresh dpkg database (--root puts the database
	// under it), as root or not (--force-not-root; the package has no maintainer scripts).
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{sbinPath()}
	dp := []string{"--root=" + root, "--log=/dev/null", "--force-not-root"}
	run(t, env, dpkg, append(dp, "--install", deb)...)
	if st := run(t, env, dpkg, append(dp, "--status", "gkedoctor")...); !strings.Contains(st, "Status: install ok installed") {
		t.Fatalf("dpkg --status:\n%s", st)
	}
	files := packageFiles("/usr/share/zsh/vendor-completions")
	for _, p := range pages {
		files = append(files, "/usr/share/man/man1/"+p)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(run(t, env, dpkg, append(dp, "--listfiles", "gkedoctor")...), "\n") {
		listed[strings.TrimSpace(l)] = true
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("dpkg does not list %s as the package's", f)
		}
	}
	checkInstalled(t, root, version, files)

	// And it removes cleanly.
	run(t, env, dpkg, append(dp, "--remove", "gkedoctor")...)
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s left behind by dpkg --remove", f)
		}
	}
}

func TestRPMPackage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux packages")
	}
	rpm := tool(t, "rpm")
	dist := snapshot(t)
	version := snapshotVersion(t, dist)
	pkg := onlyDistFile(t, dist, ".rpm")
	pages := archiveManPages(t, onlyDistFile(t, dist, ".tar.gz"))

	q := run(t, nil, rpm, "-qp", "--qf", "%{NAME}|%{VERSION}|%{ARCH}|%{URL}|%{SUMMARY}|%{PACKAGER}|%{GROUP}|%{DESCRIPTION}", pkg)
	f := strings.SplitN(q, "|", 8)
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if len(f) != 8 || f[0] != "gkedoctor" || strings.ReplaceAll(f[1], "~", "-") != version || f[2] != arch ||
		f[3] != "https://github.com/gkedoctor/gkedoctor" || f[4] != "Diagnose Cloud Run/VPC to GKE connectivity failures" ||
		!strings.Contains(f[5], "<") || f[6] != "Applications/System" || !strings.Contains(f[7], "undoable fixes") {
		t.Fatalf("rpm metadata %q (snapshot version %s)", f, version)
	}
	files := packageFiles("/usr/share/zsh/site-functions")
	for _, p := range pages {
		files = append(files, "/usr/share/man/man1/"+p)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(run(t, nil, rpm, "-qlp", pkg), "\n") {
		listed[strings.TrimSpace(l)] = true
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("the rpm lacks %s", f)
		}
	}
	if len(listed) != len(files)+1 { // +1: the empty string after the last newline
		t.Errorf("the rpm has %d files, want %d: %v", len(listed)-1, len(files), listed)
	}

	// Installed into an empty root with a fresh rpm database: no scripts run, no dependencies.
	root := t.TempDir()
	env := []string{sbinPath()}
	run(t, env, rpm, "--root", root, "--initdb")
	run(t, env, rpm, "--root", root, "--install", "--nodeps", "--noscripts", "--notriggers", pkg)
	if q := run(t, env, rpm, "--root", root, "-q", "gkedoctor"); !strings.HasPrefix(q, "gkedoctor-") {
		t.Fatalf("rpm -q: %s", q)
	}
	checkInstalled(t, root, version, files)
	run(t, env, rpm, "--root", root, "--erase", "--noscripts", "gkedoctor")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/gkedoctor")); err == nil {
		t.Error("rpm --erase left the binary")
	}
}

// caskDSL stands in for Homebrew's cask DSL: it evaluates the generated cask as Ruby (so the file must
// be valid Ruby and interpolate #{version} as Homebrew would), records each stanza and prints them as
// JSON. A stanza it does not know fails the test, so a change in GoReleaser's template is noticed.
const caskDSL = `
require "json"
class CaskDSL
  attr_reader :rec
  def initialize(name)
    @rec = {"cask" => name, "binary" => [], "manpage" => [], "completions" => {}, "platforms" => {}, "hooks" => []}
    @ctx = []
  end
  def version(v = nil)
    return @rec["version"] if v.nil?
    @rec["version"] = v
  end
  %w[name desc homepage].each { |m| define_method(m) { |v| @rec[m] = v } }
  def livecheck(&b) = (@rec["livecheck"] = true)
  def binary(v) = @rec["binary"] << v
  def manpage(v) = @rec["manpage"] << v
  def bash_completion(v) = (@rec["completions"]["bash"] = v)
  def zsh_completion(v) = (@rec["completions"]["zsh"] = v)
  def fish_completion(v) = (@rec["completions"]["fish"] = v)
  %w[on_macos on_linux on_intel on_arm].each do |m|
    define_method(m) { |&b| @ctx.push(m); instance_eval(&b); @ctx.pop }
  end
  def platform = (@rec["platforms"][@ctx.join("/")] ||= {})
  def url(u, **opts) = (platform["url"] = u)
  def sha256(s) = (platform["sha256"] = s)
  %w[preflight postflight uninstall_preflight uninstall_postflight].each do |m|
    define_method(m) { |&b| @rec["hooks"] << m }
  end
  def caveats(&b) = (@rec["caveats"] = instance_eval(&b))
  def method_missing(m, *a, &b) = raise("the stand-in does not know the cask stanza #{m}")
  def respond_to_missing?(*) = false
end
def cask(name, &b)
  d = CaskDSL.new(name)
  d.instance_eval(&b)
  puts JSON.generate(d.rec)
end
load ARGV[0]
`

type caskRecord struct {
	Cask, Version, Name, Desc, Homepage, Caveats string
	Binary, Manpage, Hooks                       []string
	Completions                                  map[string]string
	Platforms                                    map[string]struct{ URL, Sha256 string }
}

func TestHomebrewCask(t *testing.T) {
	ruby := tool(t, "ruby")
	dist := snapshot(t)
	version := snapshotVersion(t, dist)
	cask := filepath.Join(dist, "homebrew", "Casks", "gkedoctor.rb")
	if _, err := os.Stat(cask); err != nil {
		t.Fatalf("no cask: %v", err)
	}
	stub := filepath.Join(t.TempDir(), "cask_dsl.rb")
	if err := os.WriteFile(stub, []byte(caskDSL), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, nil, ruby, stub, cask)
	var c caskRecord
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c.Cask != "gkedoctor" || c.Version != version || c.Homepage != "https://github.com/gkedoctor/gkedoctor" || c.Desc == "" ||
		len(c.Binary) != 1 || c.Binary[0] != "gkedoctor" {
		t.Fatalf("cask %+v (snapshot version %s)", c, version)
	}
	if !strings.Contains(c.Caveats, "application-default login") || !strings.Contains(c.Caveats, "gkedoctor undo") {
		t.Errorf("caveats %q", c.Caveats)
	}
	if len(c.Hooks) != 1 || c.Hooks[0] != "postflight" {
		t.Errorf("hooks %v: want the postflight that clears macOS's quarantine", c.Hooks)
	}

	// The snapshot builds the native target only: one platform, pointing at the archive it built.
	osBlock := map[string]string{"linux": "on_linux", "darwin": "on_macos"}[runtime.GOOS]
	archBlock := map[string]string{"amd64": "on_intel", "arm64": "on_arm"}[runtime.GOARCH]
	p, ok := c.Platforms[osBlock+"/"+archBlock]
	if !ok || len(c.Platforms) != 1 {
		t.Fatalf("platforms %+v, want %s/%s", c.Platforms, osBlock, archBlock)
	}
	archive := onlyDistFile(t, dist, ".tar.gz")
	if !strings.HasPrefix(p.URL, "https://github.com/gkedoctor/gkedoctor/releases/download/") || filepath.Base(p.URL) != filepath.Base(archive) {
		t.Fatalf("cask url %s is not the archive %s", p.URL, filepath.Base(archive))
	}
	if p.Sha256 != fileSHA256(t, archive) {
		t.Fatalf("cask sha256 %s is not the archive's", p.Sha256)
	}
	// Everything the cask links is in the archive: the binary, every man page, the completions.
	files := archiveListing(t, archive)
	pages := archiveManPages(t, archive)
	if len(c.Manpage) != len(pages) {
		t.Errorf("the cask links %d man pages, the archive has %d", len(c.Manpage), len(pages))
	}
	for _, f := range append(append([]string{c.Binary[0]}, c.Manpage...), c.Completions["bash"], c.Completions["zsh"], c.Completions["fish"]) {
		if !files[f] {
			t.Errorf("the cask links %q, which the archive lacks", f)
		}
	}
}

func TestChecksumsCoverArtifacts(t *testing.T) {
	dist := snapshot(t)
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("checksums.txt line %q", sc.Text())
		}
		sums[name] = sum
	}
	var want []string
	for _, suffix := range []string{".tar.gz", ".deb", ".rpm", ".sbom.json"} {
		fs := distFiles(t, dist, suffix)
		if len(fs) != 1 {
			t.Fatalf("want one %s, got %v", suffix, fs)
		}
		want = append(want, fs...)
	}
	for _, p := range want {
		if got := sums[filepath.Base(p)]; got != fileSHA256(t, p) {
			t.Errorf("checksums.txt has %q for %s, the file's is %s", got, filepath.Base(p), fileSHA256(t, p))
		}
	}
	if len(sums) != len(want) {
		t.Errorf("checksums.txt lists %d files, want %d: %v", len(sums), len(want), sums)
	}
}

// spdx is the part of an SPDX 2.3 JSON document the test reads.
type spdx struct {
	SPDXVersion, DataLicense, SPDXID, Name, DocumentNamespace string
	CreationInfo                                              struct {
		Created  string
		Creators []string
	}
	Packages []struct {
		Name, SPDXID, VersionInfo, DownloadLocation, PrimaryPackagePurpose string
		Checksums                                                          []struct{ Algorithm, ChecksumValue string }
		ExternalRefs                                                       []struct{ ReferenceType, ReferenceLocator string }
	}
	Relationships []struct{ SpdxElementID, RelationshipType, RelatedSpdxElement string }
}

func TestSBOM(t *testing.T) {
	dist := snapshot(t)
	version := snapshotVersion(t, dist)
	archive := onlyDistFile(t, dist, ".tar.gz")
	doc := onlyDistFile(t, dist, ".sbom.json")
	if filepath.Base(doc) != filepath.Base(archive)+".sbom.json" {
		t.Fatalf("SBOM %s is not named after the archive %s", filepath.Base(doc), filepath.Base(archive))
	}
	raw, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var s spdx
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.SPDXVersion != "SPDX-2.3" || s.DataLicense != "CC0-1.0" || s.SPDXID != "SPDXRef-DOCUMENT" ||
		s.Name != filepath.Base(archive) || !strings.HasPrefix(s.DocumentNamespace, "https://") ||
		s.CreationInfo.Created == "" || len(s.CreationInfo.Creators) == 0 {
		t.Fatalf("SPDX header: %+v", s)
	}

	// The document describes the archive, by its sha256.
	byID := map[string]int{}
	for i, p := range s.Packages {
		if _, dup := byID[p.SPDXID]; dup {
			t.Fatalf("duplicate SPDXID %s", p.SPDXID)
		}
		byID[p.SPDXID] = i
	}
	var described string
	for _, r := range s.Relationships {
		_, a := byID[r.SpdxElementID]
		_, b := byID[r.RelatedSpdxElement]
		if (!a && r.SpdxElementID != "SPDXRef-DOCUMENT") || !b {
			t.Fatalf("relationship with an unknown element: %+v", r)
		}
		if r.SpdxElementID == "SPDXRef-DOCUMENT" && r.RelationshipType == "DESCRIBES" {
			described = r.RelatedSpdxElement
		}
	}
	ap := s.Packages[byID[described]]
	if described == "" || ap.Name != filepath.Base(archive) || len(ap.Checksums) != 1 || ap.Checksums[0].Algorithm != "SHA256" ||
		ap.Checksums[0].ChecksumValue != fileSHA256(t, archive) {
		t.Fatalf("the SBOM does not describe the archive by its sha256: %+v", ap)
	}

	// Its modules are exactly those the Go toolchain reads from the archived binary.
	bin := filepath.Join(t.TempDir(), "gkedoctor")
	extract(t, archive, "gkedoctor", bin)
	linked := map[string]string{}
	last := ""
	for _, l := range strings.Split(run(t, nil, "go", "version", "-m", bin), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "dep" {
			linked[f[1]], last = f[2], f[1]
		}
		if len(f) >= 3 && f[0] == "=>" { // the replacement of the dep above is what was linked
			delete(linked, last)
			linked[f[1]] = f[2]
		}
	}
	if len(linked) < 50 {
		t.Fatalf("go version -m lists %d modules", len(linked))
	}
	listed := map[string]string{}
	purls := map[string]string{}
	for _, p := range s.Packages {
		switch p.PrimaryPackagePurpose {
		case "LIBRARY":
			if p.Name != "stdlib" {
				listed[p.Name] = p.VersionInfo
			}
			for _, r := range p.ExternalRefs {
				if r.ReferenceType == "purl" {
					purls[p.Name] = r.ReferenceLocator
				}
			}
		case "APPLICATION":
			if p.Name != "github.com/gkedoctor/gkedoctor" || p.VersionInfo != "v"+version {
				t.Errorf("main module %s %s, want github.com/gkedoctor/gkedoctor v%s", p.Name, p.VersionInfo, version)
			}
		}
	}
	for m, v := range linked {
		if listed[m] != v {
			t.Errorf("linked %s %s, the SBOM says %q", m, v, listed[m])
		}
	}
	for m := range listed {
		if _, ok := linked[m]; !ok {
			t.Errorf("the SBOM lists %s, which is not linked", m)
		}
	}
	// And the versions are the module's: client-go as go.mod requires it.
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "k8s.io/client-go")
	cmd.Dir = root(t)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(want))
	if listed["k8s.io/client-go"] != v || purls["k8s.io/client-go"] != "pkg:golang/k8s.io/client-go@"+v {
		t.Fatalf("k8s.io/client-go: SBOM %q (%s), go.mod %s", listed["k8s.io/client-go"], purls["k8s.io/client-go"], v)
	}
}

// extract copies one file out of a .tar.gz, with tar (gzip in the race-instrumented test is slow).
func extract(t *testing.T, archive, name, dst string) {
	t.Helper()
	dir := t.TempDir()
	run(t, nil, "tar", "-xzf", archive, "-C", dir, name)
	if err := os.Rename(filepath.Join(dir, name), dst); err != nil {
		t.Fatal(err)
	}
}
