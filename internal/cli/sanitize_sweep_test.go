package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bytes"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	poisonfx "github.com/gkedoctor/gkedoctor/internal/safeout/poison"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// poison is one value holding every escape, control, bidi and invisible character class and every
// secret shape (internal/safeout/poison); the prefix says where it was put.
func poison(where string) string { return poisonfx.Value(where) }

// assertNoLeak fails when out holds a forbidden character, invalid UTF-8 or a secret's marker. With
// colour, the renderer's own SGR sequences are allowed (and only those).
func assertNoLeak(t *testing.T, where, out string, color bool) {
	t.Helper()
	for _, l := range poisonfx.Leaks(out, color) {
		t.Errorf("%s: %s", where, l)
	}
}

const poisonUndo = "test.poisoned-undo"

// poisonCheck puts a check in place of clusterip-unreachable whose every string is poisoned: the
// summary, the path, each evidence step, detail and command, and two fixes (title, description,
// affects, diff, commands); the first applies with a poisoned progress line and message and journals
// a poisoned undo (whose failure is poisoned too), the second fails with a poisoned error.
func poisonCheck(t *testing.T) {
	t.Helper()
	orig, ok := checks.Lookup("clusterip-unreachable")
	if !ok {
		t.Fatal("clusterip-unreachable is not registered")
	}
	t.Cleanup(func() { checks.Register(orig) })
	fixes.RegisterUndoer(poisonUndo, func(context.Context, *fixes.Deps, json.RawMessage) error {
		return errors.New(poison("undo-error"))
	})
	plan := func(i int, err error) *fixes.Plan {
		n := string(rune('1' + i))
		return &fixes.Plan{
			ID: "poison-fix-" + n, Title: poison("fix-title-" + n), Description: poison("fix-description"),
			Affects: poison("fix-affects"), Diff: "- " + poison("diff-old") + "\n+ " + poison("diff-new") + "\n",
			Commands: []string{"gcloud run services update x --update-env-vars " + poison("fix-command")}, Reversible: true,
			Apply: func(context.Context, fixes.Snapshot) (fixes.Outcome, error) {
				if err != nil {
					return fixes.Outcome{}, err
				}
				return fixes.Outcome{Message: poison("fix-message"), Undo: []fixes.UndoAction{fixes.NewUndo(poisonUndo, map[string]string{"old": poison("undo-params")})}}, nil
			},
			Wait: func(ctx context.Context, progress func(string)) (string, error) {
				progress(poison("fix-progress"))
				return poison("wait-message"), nil
			},
		}
	}
	checks.Register(checks.CheckFunc{CheckID: "clusterip-unreachable", Fn: func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
		rec.Step(poison("step"), checks.Fail, poison("detail: API error body"), "kubectl get events "+poison("command"))
		r := checks.FailResult("target-is-clusterip", poison("summary"), plan(0, nil), plan(1, errors.New(poison("fix-error"))))
		r.Path = []string{poison("path-source"), poison("path-target")}
		return r
	}})
}

// TestEveryOutputPathIsSanitisedAndRedacted walks every way gkedoctor's command line prints — each
// report format of audit and fix, the fix plans (--dry-run), the fix progress and outcome lines,
// undo, undo --list, the errors on stderr — with a check, a fix, a journal entry and an undo whose
// every string holds escape sequences, C1, bidi, zero-width characters and every secret shape, and
// fails on any of it reaching the output. It also reads the journal file: the fields a person reads
// are redacted there too (the undo parameters keep the raw value undo needs, and are never printed).
func TestEveryOutputPathIsSanitisedAndRedacted(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	poisonCheck(t)
	walk := func(name string, args ...string) (int, string) {
		t.Helper()
		code, out, stderr := run(t, args...)
		assertNoLeak(t, name+" stdout", out, false)
		assertNoLeak(t, name+" stderr", stderr, false)
		return code, out
	}
	for _, o := range []string{"text", "json", "markdown", "junit"} {
		code, out := walk("audit -o "+o, "audit", "clusterip-unreachable", "--no-gcp", "-o", o)
		if code != 1 || !strings.Contains(out, "summary") {
			t.Fatalf("audit -o %s: exit %d, want 1 with the poisoned result in it:\n%s", o, code, out)
		}
		if o == "json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("audit -o json is not JSON after sanitising: %v", err)
			}
		}
		walk("fix --dry-run -o "+o, "fix", "clusterip-unreachable", "--dry-run", "--no-gcp", "-o", o)
	}
	code, out := walk("fix --yes", "fix", "clusterip-unreachable", "--yes", "--no-gcp")
	if code != 1 || !strings.Contains(out, "fix-message") || !strings.Contains(out, "fix-error") || !strings.Contains(out, "fix-progress") {
		t.Fatalf("fix: exit %d, want 1 with the progress, message and error lines:\n%s", code, out)
	}
	walk("fix --yes -o json", "fix", "clusterip-unreachable", "--yes", "--no-gcp", "-o", "json")

	_, list := walk("undo --list", "undo", "--list")
	if !strings.Contains(list, "fix-title-1") {
		t.Fatalf("undo --list does not list the poisoned entry:\n%s", list)
	}
	dir, err := fixes.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	j := fixes.OpenJournal(dir)
	entries, err := j.List()
	if err != nil || len(entries) == 0 {
		t.Fatalf("journal: %v, %d entries", err, len(entries))
	}
	var id string
	for _, e := range entries {
		if e.FixID == "poison-fix-1" && e.State == fixes.StateApplied {
			id = e.ID
		}
	}
	if id == "" {
		t.Fatal("no applied journal entry for poison-fix-1")
	}
	code, _ = walk("undo ID", "undo", id, "--no-gcp")
	if code != ExitFindings {
		t.Errorf("undo: exit %d, want 1 (the undoer fails)", code)
	}
	walk("unknown fix id on stderr", "fix", poison("id"), "--no-gcp")
	walk("unknown check on stderr", "audit", "no-such-"+poison("check"))
	walk("explain on stderr", "explain", poison("explain"))

	// The journal file: what a person may read is redacted; the raw value undo needs is kept.
	raw, err := os.ReadFile(filepath.Join(j.Dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var disk fixes.Entry
	if err := json.Unmarshal(raw, &disk); err != nil {
		t.Fatal(err)
	}
	display := strings.Join(append([]string{disk.Title, disk.Message, disk.Error}, disk.Commands...), "\n")
	for _, s := range poisonfx.Secrets {
		if strings.Contains(display, s.Marker) {
			t.Errorf("journal display fields hold %q", s.Marker)
		}
	}
	if len(disk.Undo) != 1 || !strings.Contains(string(disk.Undo[0].Params), "SECRETURLTOKEN14") {
		t.Errorf("the journal must keep the raw value undo restores; undo params: %s", disk.Undo)
	}
}

// A colour terminal gets the renderer's colours and nothing else.
func TestColourOutputCarriesOnlySGR(t *testing.T) {
	poisonCheck(t)
	ios, _, out, errOut := iostreamsTTY()
	code := Execute(context.Background(), ios, []string{"audit", "clusterip-unreachable", "--no-gcp"})
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "\x1b[") {
		t.Fatal("no colour at all: the test shows nothing")
	}
	assertNoLeak(t, "colour text", out.String(), true)
}

func iostreamsTTY() (*iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	ios.SetTTY(false, true, true)
	return ios, in, out, errOut
}

// A check that panics is reported as an error naming where (by function), never with a Go stack
// trace, in every format (TestNoReportHoldsAStackTrace covers the malformed endpoint and the demo).
func TestAPanickingCheckLeavesNoStackTrace(t *testing.T) {
	orig, _ := checks.Lookup("clusterip-unreachable")
	t.Cleanup(func() { checks.Register(orig) })
	checks.Register(checks.CheckFunc{CheckID: "clusterip-unreachable", Fn: func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
		var m map[string]int
		m["boom"] = 1
		return checks.PassResult("unreachable")
	}})
	for _, o := range outputFormats {
		code, out, stderr := run(t, "audit", "clusterip-unreachable", "--no-gcp", "-o", o)
		if code != 1 || !strings.Contains(out, "check-panic") {
			t.Fatalf("-o %s: exit %d, want 1 with check-panic:\n%s%s", o, code, out, stderr)
		}
		assertNoStackTrace(t, out+stderr)
	}
}

// The real boundary: the fake Google API server answers every call with a 400 whose error body is
// poisoned, the real google.golang.org/api clients parse it, the checks report it; nothing of the
// poison reaches any format.
func TestPoisonedGoogleErrorBodyIsSanitisedAndRedacted(t *testing.T) {
	g := fakegcp.New()
	t.Cleanup(g.Close)
	g.InjectFault(fakegcp.Fault{Status: http.StatusBadRequest, Message: poison("google-error-body")})
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", g.URL)
	reached := false
	for _, o := range outputFormats {
		_, out, stderr := run(t, "audit", "--project", "dev-orchestra", "--location", "europe-west1", "--cluster", "dev-orchestra-cluster", "-o", o)
		assertNoLeak(t, "audit -o "+o+" stdout", out, false)
		assertNoLeak(t, "audit -o "+o+" stderr", stderr, false)
		reached = reached || strings.Contains(out, "google-error-body")
	}
	if len(g.Requests()) == 0 {
		t.Fatal("no request reached the fake Google server")
	}
	if !reached {
		t.Error("the error body never reached a report: the test shows nothing")
	}
}
