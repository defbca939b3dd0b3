package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/iostreams"
)

// TestMain isolates the commands from the machine: no kubeconfig, no Google credentials (and so no
// metadata-server lookup), state and config in temp dirs.
func TestMain(m *testing.M) {
	if name := os.Getenv(crashChildEnv); name != "" {
		// Re-executed by TestKilledAfterEachWriteUndoRestores: apply one fix and (be) die(d).
		os.Exit(crashChild(name))
	}
	origHome = os.Getenv("HOME")
	tmp, err := os.MkdirTemp("", "gkedoctor-cli-test")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"HOME":                           tmp,
		"KUBECONFIG":                     filepath.Join(tmp, "no-kubeconfig"),
		"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(tmp, "no-adc.json"),
		"XDG_STATE_HOME":                 filepath.Join(tmp, "state"),
		"XDG_CONFIG_HOME":                filepath.Join(tmp, "config"),
		"GKEDOCTOR_GCP_ENDPOINT":         "",
		"GKEDOCTOR_CONFIG":               "",
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("KUBERNETES_SERVICE_HOST")
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// origHome is HOME before TestMain replaced it: tests that run the go tool need its caches.
var origHome string

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := Execute(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

func oneStderrLine(t *testing.T, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want exactly one line on stderr, got %d:\n%s", len(lines), stderr)
	}
	return lines[0]
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "config")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gke_dev-orchestra_europe-west1_dev-orchestra-cluster, context: {cluster: c, user: u}}]
current-context: gke_dev-orchestra_europe-west1_dev-orchestra-cluster
`), 0o600)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing kubeconfig", []string{"audit", "--kubeconfig", "/nonexistent"}, []string{"/nonexistent"}},
		{"unknown context", []string{"audit", "--kubeconfig", kc, "--context", "nope"}, []string{`context "nope" not found`}},
		{"bad output", []string{"audit", "-o", "yaml"}, []string{`"yaml"`, "text, json, markdown, junit"}},
		{"unknown check", []string{"audit", "no-such-check"}, []string{`"no-such-check"`, "valid ids"}},
		{"unknown explain", []string{"explain", "nope"}, []string{`"nope"`, "gkedoctor checks"}},
		{"unknown flag", []string{"audit", "--nope"}, []string{"unknown flag"}},
		{"fix without ids", []string{"fix"}, []string{"--all"}},
		{"fix read-only", []string{"fix", "--all", "--read-only"}, []string{"--read-only"}},
		{"undo without id", []string{"undo"}, []string{"--last"}},
		{"bad service flag", []string{"audit", "--service", "a/b/c"}, []string{"NAMESPACE/NAME"}},
		{"bad peer", []string{"audit", "--peer", "not-an-ip"}, []string{"--peer"}},
		{"bad peer port", []string{"audit", "--peer", "10.2.0.1:99999"}, []string{"--peer", "1 to 65535"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			line := oneStderrLine(t, stderr)
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q lacks %q", line, w)
				}
			}
		})
	}
}

func TestChecksJSONListsTheCatalogue(t *testing.T) {
	code, out, stderr := run(t, "checks", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Checks []struct {
			ID, Title, Explanation, Kind string
			Requires                     struct{ APIs, Permissions, RBAC []string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range doc.Checks {
		ids[c.ID] = true
		if c.Title == "" || c.Explanation == "" {
			t.Errorf("%s lacks title or explanation", c.ID)
		}
	}
	for _, id := range []string{"clusterip-unreachable", "dns-servfail", "dns-stale-record", "sa-token-401", "websocket-handshake", "pod-egress-cross-project", "run-vpc-egress", "vpc-connector-ready", "firewall-serverless-to-nodes", "ilb-provisioned"} {
		if !ids[id] {
			t.Errorf("checks -o json lacks %s", id)
		}
	}
}

func TestExplain(t *testing.T) {
	code, out, _ := run(t, "explain", "dns-servfail")
	if code != 0 || !strings.Contains(out, "dns-servfail") || !strings.Contains(out, "SERVFAIL") || !strings.Contains(out, "forwarding-to-clusterip") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "explain", "forwarding-to-clusterip")
	if code != 0 || !strings.Contains(out, "dns-servfail/forwarding-to-clusterip") {
		t.Fatalf("cause: exit %d:\n%s", code, out)
	}
}

func TestAuditWithNothingConfiguredSkipsWithRemedies(t *testing.T) {
	code, out, stderr := run(t, "audit", "-o", "json")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (every check skipped: nothing could be checked): %s", code, stderr)
	}
	var rep struct {
		SchemaVersion int
		Results       []struct{ ID, Status, Summary string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.SchemaVersion != 1 {
		t.Fatalf("schemaVersion %d", rep.SchemaVersion)
	}
	if len(rep.Results) == 0 {
		t.Fatal("no results: the test would pass having looked at nothing")
	}
	for _, r := range rep.Results {
		if r.Status == "pass" {
			t.Errorf("%s passed while nothing could be looked at: %s", r.ID, r.Summary)
		}
		if r.Status == "skip" && r.Summary == "" {
			t.Errorf("%s skipped without a reason", r.ID)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "gkedoctor ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

func TestParseGKEContext(t *testing.T) {
	// Covered in internal/app; here the flag defaults flow through Complete.
	code, _, stderr := run(t, "undo", "--list")
	if code != 0 {
		t.Fatalf("undo --list on an empty journal: exit %d %s", code, stderr)
	}
}
