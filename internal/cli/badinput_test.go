package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// commandsForFlagTable: every command, with the arguments it needs to get as far as its flags.
var commandsForFlagTable = [][]string{
	{},                                 // the root command (not a terminal: prints the audit)
	{"audit"},                          //
	{"fix", "--all", "--dry-run"},      //
	{"fix", "clusterip-unreachable"},   //
	{"undo", "20250101-000000-abcdef"}, //
	{"demo"},                           //
	{"checks"},                         //
	{"explain", "dns-servfail"},        //
	{"version"},                        //
	{"probe", "--tcp", "127.0.0.1:9"},  //
	{"check", "--from", "cluster"},     //
}

// malformedFlags: each flag with malformed values, and the name the one-line error must carry.
func malformedFlags(t *testing.T) []struct {
	name string
	args []string
} {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 64)
	return []struct {
		name string
		args []string
	}{
		{"--service", []string{"--service", "../x"}},
		{"--service", []string{"--service", "a b/c"}},
		{"--service", []string{"--service", "a/b/c"}},
		{"--peer", []string{"--peer", "10.0.0.1:99999"}},
		{"--peer", []string{"--peer", "10.0.0.1:abc"}},
		{"--peer", []string{"--peer", "not-an-ip"}},
		{"--dns-name", []string{"--dns-name", strings.Repeat("abcdefghi.", 26) + "com"}},
		{"--dns-name", []string{"--dns-name", long + ".example.com"}},
		{"--dns-name", []string{"--dns-name", "a..b"}},
		{"--dns-name", []string{"--dns-name", "a\x1b[2Jb.example.com"}},
		{"--dns-project", []string{"--dns-project", "../hub"}},
		{"--project", []string{"--project", "a/../../x?y="}},
		{"--project", []string{"--project", "UPPER"}},
		{"--location", []string{"--location", "europe\x1b]0;PWNED\x07-west1"}},
		{"--location", []string{"--location", "a/b"}},
		{"--cluster", []string{"--cluster", "c/../x"}},
		{"--cluster", []string{"--cluster", long}},
		{"--cloud-run-service", []string{"--cloud-run-service", "a/b/c"}},
		{"--cloud-run-service", []string{"--cloud-run-service", "projects/UP/locations/europe-west1/services/s"}},
		{"--cloud-run-service", []string{"--cloud-run-service", "projects/acme-app-dev/locations/x/services/s"}},
		{"--source-project", []string{"--source-project", "a/../b"}},
		{"--source-project", []string{"--source-project", "Acme-App"}},
		{"--app-engine-service", []string{"--app-engine-service", "a b/c/d"}},
		{"--app-engine-service", []string{"--app-engine-service", "web/v\x1b[2J1"}},
		{"--workload", []string{"--workload", "deploy/x"}},
		{"--workload", []string{"--workload", "deploy/default/a b"}},
		{"--token-file", []string{"--token-file", "/dev/zero"}},
		{"--token-file", []string{"--token-file", fifo}},
		{"--resolver", []string{"--resolver", "10.0.0.2:99999"}},
		{"--resolver", []string{"--resolver", "not a resolver"}},
		{"--timeout", []string{"--timeout", "-1s"}},
		{"--timeout", []string{"--timeout", "soon"}},
		{"--namespace", []string{"--namespace", "a/b"}},
		{"--kubeconfig", []string{"--kubeconfig", "/dev/zero"}},
		{"--kubeconfig", []string{"--kubeconfig", fifo}},
		{"--kubeconfig", []string{"--kubeconfig", "/nonexistent"}},
		{"--certificate-authority", []string{"--certificate-authority", "/dev/zero"}},
	}
}

// TestEveryCommandRefusesEveryMalformedFlag drives every command with every malformed flag value:
// exit 2, exactly one line on stderr, the line names the flag and holds no raw control character.
func TestEveryCommandRefusesEveryMalformedFlag(t *testing.T) {
	flags := malformedFlags(t)
	n := 0
	for _, cmd := range commandsForFlagTable {
		for _, f := range flags {
			// kubectl's file flags matter to the commands that build a client; the rest never read them.
			if (f.name == "--kubeconfig" || f.name == "--certificate-authority") && !readsKubeconfig(cmd) {
				continue
			}
			n++
			args := append(append([]string{}, cmd...), f.args...)
			code, _, stderr := run(t, args...)
			if code != ExitUsage {
				t.Errorf("gkedoctor %q: exit %d, want 2; stderr: %q", args, code, stderr)
				continue
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 {
				t.Errorf("gkedoctor %q: %d lines on stderr: %q", args, len(lines), stderr)
			}
			if !strings.Contains(lines[0], f.name) {
				t.Errorf("gkedoctor %q: %q does not name %s", args, lines[0], f.name)
			}
			for _, r := range stderr {
				if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("gkedoctor %q: raw control character %U on stderr: %q", args, r, stderr)
					break
				}
			}
		}
	}
	t.Logf("%d commands × %d malformed flag values: %d runs", len(commandsForFlagTable), len(flags), n)
}

func readsKubeconfig(cmd []string) bool {
	if len(cmd) == 0 {
		return true
	}
	switch cmd[0] {
	case "audit", "fix", "undo":
		return true
	}
	return false
}

func TestDemoLatencyMustNotBeNegative(t *testing.T) {
	code, _, stderr := run(t, "demo", "--latency", "-1s")
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2: %s", code, stderr)
	}
	if line := oneStderrLine(t, stderr); !strings.Contains(line, "--latency") {
		t.Fatalf("%q does not name --latency", line)
	}
}

// GKEDOCTOR_GCP_ENDPOINT is parsed in full: malformed is exit 2 naming it (never a panic), and
// under --no-gcp, where it is not used, it does not fail the run.
func TestGCPEndpointVariable(t *testing.T) {
	for _, v := range []string{"garbage", "http://a b", "http://h:99999", "http://\x1b[2J"} {
		t.Setenv("GKEDOCTOR_GCP_ENDPOINT", v)
		for _, cmd := range [][]string{{"audit"}, {"fix", "--all", "--dry-run"}, {}} {
			code, out, stderr := run(t, cmd...)
			if code != ExitUsage {
				t.Errorf("%q %q: exit %d, want 2; %s", v, cmd, code, stderr)
				continue
			}
			if line := oneStderrLine(t, stderr); !strings.Contains(line, "GKEDOCTOR_GCP_ENDPOINT") || strings.ContainsRune(line, 0x1b) {
				t.Errorf("%q %q: %q", v, cmd, line)
			}
			assertNoStackTrace(t, out+stderr)
		}
		code, out, stderr := run(t, "audit", "--no-gcp", "-o", "json")
		if code == ExitUsage {
			t.Errorf("%q under --no-gcp: exit 2: %s", v, stderr)
		}
		assertNoStackTrace(t, out+stderr)
	}
}

// No report, in any format, ever holds a Go stack trace: not with a malformed endpoint (the Google
// client used to panic on it), not in the demo world.
func TestNoReportHoldsAStackTrace(t *testing.T) {
	for _, format := range outputFormats {
		for _, env := range []string{"", "http://a b", "garbage"} {
			t.Setenv("GKEDOCTOR_GCP_ENDPOINT", env)
			for _, extra := range [][]string{{"--no-gcp"}, {"--project", "dev-orchestra", "--location", "europe-west1", "--cluster", "c1"}} {
				args := append([]string{"audit", "-o", format}, extra...)
				_, out, stderr := run(t, args...)
				assertNoStackTrace(t, out+stderr)
			}
		}
	}
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", "")
	_, out, stderr := run(t, "audit", "--demo", "-o", "json")
	assertNoStackTrace(t, out+stderr)
}

func assertNoStackTrace(t *testing.T, s string) {
	t.Helper()
	for _, sign := range []string{"panic:", "goroutine ", "runtime/debug.Stack", "runtime.gopanic", ".go:"} {
		if strings.Contains(s, sign) {
			i := strings.Index(s, sign)
			t.Fatalf("output holds a Go stack trace (%q): …%s…", sign, s[max(0, i-200):min(len(s), i+200)])
		}
	}
}

// Every check skipped: exit 3, and the text report's last line says nothing could be checked.
func TestNothingCouldBeCheckedIsExit3(t *testing.T) {
	code, out, stderr := run(t, "audit")
	if code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Nothing could be checked") {
		t.Fatalf("last line %q", last)
	}
	// With something configured that can look, it is not 3.
	code, _, stderr = run(t, "audit", "--demo", "-o", "json")
	if code == 3 || code == 2 {
		t.Fatalf("demo audit: exit %d: %s", code, stderr)
	}
}
