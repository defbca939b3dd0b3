package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStampMatchesBuildScript keeps BinDir's default path in step with the
// directory hack/testbin/build.sh builds into.
func TestStampMatchesBuildScript(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testbinStamp(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum to compare with")
	}
	// The same pipeline as build.sh.
	cmd := exec.Command("bash", "-c", `cat "$1" "$2" | sha256sum | cut -c1-12`, "bash",
		filepath.Join(root, stampFiles[0]), filepath.Join(root, stampFiles[1]))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("shell stamp: %v", err)
	}
	if want := strings.TrimSpace(string(out)); got != want {
		t.Errorf("testbinStamp = %s, build.sh pipeline = %s", got, want)
	}
	script, err := os.ReadFile(filepath.Join(root, "hack", "testbin", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), `cat "$apiserver_mod" "$etcd_mod" | sha256sum | cut -c1-12`) {
		t.Error("build.sh no longer stamps with the pipeline this test and testbinStamp assume")
	}
}

func TestDefaultBinDirHonoursXDGCacheHome(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir, err := defaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "gkedoctor", "testbin") + string(filepath.Separator); !strings.HasPrefix(dir, want) {
		t.Errorf("defaultBinDir = %s, want under %s", dir, want)
	}
	// Nothing is built there, so BinDir falls back to "" (unless the
	// environment names a directory).
	t.Setenv(EnvTestBin, "")
	if got := BinDir(); got != "" {
		t.Errorf("BinDir with an empty cache = %q, want \"\"", got)
	}
	t.Setenv(EnvTestBin, "/some/dir")
	if got := BinDir(); got != "/some/dir" {
		t.Errorf("BinDir with $%s set = %q", EnvTestBin, got)
	}
}

func TestParseAuditLog(t *testing.T) {
	log := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{"username":"system:serviceaccount:default:orchestrai-sa","groups":["system:serviceaccounts"]},"objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"annotations":{"authorization.k8s.io/decision":"allow"}}

{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{},"responseStatus":{"metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Meta`
	events, err := parseAuditLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2 (the unterminated last line is a write in progress)", len(events))
	}
	e := events[0]
	if e.Verb != "list" || e.User.Username != "system:serviceaccount:default:orchestrai-sa" || e.Code() != 200 ||
		e.ObjectRef == nil || e.ObjectRef.Resource != "pods" || e.Annotations["authorization.k8s.io/decision"] != "allow" {
		t.Errorf("first event parsed as %+v", e)
	}
	if events[1].Code() != 401 || events[1].User.Username != "" {
		t.Errorf("second event parsed as %+v", events[1])
	}
	if _, err := parseAuditLog(strings.NewReader("not json\n")); err == nil {
		t.Error("a malformed line parsed without error")
	}
}
