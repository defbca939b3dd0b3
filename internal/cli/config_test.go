package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/config"
)

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPath(t *testing.T) {
	// TestMain points XDG_CONFIG_HOME at an empty temp dir.
	code, out, stderr := run(t, "config", "path")
	want := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "gkedoctor", "config.yaml") + "\n"
	if code != 0 || out != want || !strings.Contains(stderr, "no file there") {
		t.Errorf("exit %d out %q stderr %q; want %q", code, out, stderr, want)
	}
	p := writeConfig(t, "readOnly: true\n")
	t.Setenv("GKEDOCTOR_CONFIG", p)
	if code, out, stderr := run(t, "config", "path"); code != 0 || out != p+"\n" || stderr != "" {
		t.Errorf("$GKEDOCTOR_CONFIG: exit %d out %q stderr %q", code, out, stderr)
	}
	if code, out, _ := run(t, "config", "path", "--config", "/x/y.yaml"); code != 0 || out != "/x/y.yaml\n" {
		t.Errorf("--config beats the variable: exit %d out %q", code, out)
	}
}

func TestConfigView(t *testing.T) {
	p := writeConfig(t, "readOnly: true\ndefaults:\n  location: us-central1\n  timeout: 7m\n")
	code, out, stderr := run(t, "config", "view", "--config", p, "--project", "acme-flag")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Config file: " + p, "readOnly", p + ":1 makes every context read-only", "acme-flag", "flag --project",
		"us-central1", p + ":3 (defaults.location)", "7m0s", p + ":4 (defaults.timeout)"} {
		if !strings.Contains(out, want) {
			t.Errorf("config view does not say %q:\n%s", want, out)
		}
	}
	code, out, stderr = run(t, "config", "view", "--config", p, "--write", "--timeout", "1m", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v struct {
		File     string
		Exists   bool
		Settings []struct{ Key, Value, Source string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string][2]string{}
	for _, s := range v.Settings {
		got[s.Key] = [2]string{s.Value, s.Source}
	}
	if v.File != p || !v.Exists || got["readOnly"][0] != "false" || !strings.Contains(got["readOnly"][1], "--write") ||
		got["timeout"] != [2]string{"1m0s", "flag --timeout"} {
		t.Errorf("json: %+v", v)
	}
	if code, _, stderr := run(t, "config", "view", "-o", "yaml"); code != ExitUsage || !strings.Contains(stderr, "text, json") {
		t.Errorf("-o yaml: exit %d %s", code, stderr)
	}
	if code, out, _ := run(t, "config", "view", "--demo", "--config", p); code != 0 || !strings.Contains(out, "not used with --demo") {
		t.Errorf("--demo: exit %d\n%s", code, out)
	}
}

func TestConfigSchemaIsTheEmbeddedOne(t *testing.T) {
	code, out, _ := run(t, "config", "schema")
	if code != 0 || out != string(config.SchemaJSON) || !json.Valid([]byte(out)) {
		t.Errorf("exit %d, %d bytes", code, len(out))
	}
}

// A broken config file stops every command that uses it with one line naming the file and line, exit 2.
func TestConfigErrorsAreUsageErrorsNamingFileAndLine(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"contexts:\n  prod:\n    readOnly: yes\n", `:3: contexts.prod.readOnly: want true or false, got "yes"`},
		{"defaults:\n  project: Not_A_Project\n", `:2: defaults.project: "Not_A_Project" is not a Google Cloud project id`},
		{"colour: red\n", `:1: colour: unknown key`},
	} {
		p := writeConfig(t, tc.doc)
		for _, args := range [][]string{{"audit"}, {"fix", "--all", "--dry-run"}, {"config", "view"}} {
			code, _, stderr := run(t, append(args, "--config", p)...)
			line := oneStderrLine(t, stderr)
			if code != ExitUsage || !strings.Contains(line, p+tc.want) {
				t.Errorf("%v with %q: exit %d: %s\nwant %s%s", args, tc.doc, code, line, p, tc.want)
			}
		}
	}
	code, _, stderr := run(t, "audit", "--config", "/nonexistent/config.yaml")
	if code != ExitUsage || !strings.Contains(stderr, "/nonexistent/config.yaml") || !strings.Contains(stderr, "--config") {
		t.Errorf("a named file that does not exist: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "fix", "--all", "--read-only", "--write"); code != ExitUsage || !strings.Contains(stderr, "--read-only and --write") {
		t.Errorf("--read-only --write: exit %d %s", code, stderr)
	}
}

// With a context marked read-only and --dry-run, fix shows its plans as before: only applying is refused.
func TestConfigReadOnly_dryRunStillPlans(t *testing.T) {
	p := writeConfig(t, "readOnly: true\n")
	code, _, stderr := run(t, "fix", "--all", "--dry-run", "--no-gcp", "--config", p)
	if code == ExitUsage {
		t.Errorf("--dry-run under a read-only config: exit 2: %s", stderr)
	}
}

func TestCompleteConfig(t *testing.T) {
	cands, _ := complete(t, "config", "")
	for _, want := range []string{"path", "view", "schema"} {
		if !slices.Contains(cands, want) {
			t.Errorf("config subcommands: %v lacks %q", cands, want)
		}
	}
	cands, dir := complete(t, "config", "view", "-o", "")
	if !slices.Equal(cands, []string{"text", "json"}) || dir != dirNoFiles {
		t.Errorf("config view -o: %v %s", cands, dir)
	}
	// --config completes YAML file names (the shell does the listing: directive FilterFileExt).
	cands, dir = complete(t, "audit", "--config", "")
	if !slices.Equal(cands, []string{"yaml", "yml"}) || dir != ":8" {
		t.Errorf("--config: %v %s", cands, dir)
	}
}
