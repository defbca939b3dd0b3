package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// stopSet puts a test check in place of clusterip-unreachable for the test: it fails with three
// recommended fixes, the second of which fails. It returns how many times each fix's Apply ran.
func stopSet(t *testing.T) *[3]atomic.Int32 {
	t.Helper()
	orig, ok := checks.Lookup("clusterip-unreachable")
	if !ok {
		t.Fatal("clusterip-unreachable is not registered")
	}
	t.Cleanup(func() { checks.Register(orig) })
	var calls [3]atomic.Int32
	plan := func(i int, err error) *fixes.Plan {
		return &fixes.Plan{
			ID: "test-fix-" + string(rune('1'+i)), Title: "Test fix " + string(rune('1'+i)), Reversible: true,
			Commands: []string{"true"},
			Apply: func(context.Context, fixes.Snapshot) (fixes.Outcome, error) {
				calls[i].Add(1)
				return fixes.Outcome{Message: "done"}, err
			},
		}
	}
	checks.Register(checks.CheckFunc{CheckID: "clusterip-unreachable", Fn: func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
		return checks.FailResult("target-is-clusterip", "the client targets a ClusterIP",
			plan(0, nil), plan(1, errors.New("services is forbidden: User cannot create services")), plan(2, nil))
	}})
	return &calls
}

// The one stop policy, through `gkedoctor fix`: the second fix of three fails, so the first stays
// applied (nothing is undone), the third is not attempted, the report says so, and the exit code is 1.
func TestFixStopsAtTheFirstFailedFix(t *testing.T) {
	calls := stopSet(t)
	code, out, stderr := run(t, "fix", "clusterip-unreachable", "--yes", "--no-gcp", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a fix failed); stderr %s", code, stderr)
	}
	var rep struct {
		Applied []AppliedFix
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var got []string
	for _, a := range rep.Applied {
		got = append(got, a.FixID+"="+a.State)
	}
	if want := "test-fix-1=applied test-fix-2=failed test-fix-3=not-attempted"; strings.Join(got, " ") != want {
		t.Errorf("applied %v, want %s", got, want)
	}
	if rep.Applied[0].JournalID == "" || !strings.Contains(rep.Applied[1].Error, "forbidden") || rep.Applied[2].JournalID != "" {
		t.Errorf("outcomes %+v", rep.Applied)
	}
	if n := [3]int32{calls[0].Load(), calls[1].Load(), calls[2].Load()}; n != [3]int32{1, 1, 0} {
		t.Errorf("Apply calls %v, want [1 1 0]", n)
	}

	// The text output names what was not attempted and that nothing was undone.
	calls = stopSet(t)
	code, out, _ = run(t, "fix", "clusterip-unreachable", "--yes", "--no-gcp")
	if code != 1 {
		t.Fatalf("text: exit %d", code)
	}
	for _, s := range []string{"✓ applied", "✗ fix test-fix-2 failed: services is forbidden", "– not attempted: Test fix 3", "Stopped at the first fix that did not take", "nothing was undone"} {
		if !strings.Contains(out, s) {
			t.Errorf("text output lacks %q:\n%s", s, out)
		}
	}
	if calls[2].Load() != 0 {
		t.Error("the third fix ran")
	}
}
