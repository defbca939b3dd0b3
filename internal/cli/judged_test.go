package cli

import (
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// fix --dry-run shows, for each planned fix, what it was judged against (issue 12: every plan states
// its blast radius), here the demo's internal-LB fix: the pods it selects and that the LB is regional.
func TestFixDryRunShowsWhatEachPlanWasJudgedAgainst(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo world")
	}
	prev := app.DemoStarter
	app.DemoStarter = sim.DemoStarter
	t.Cleanup(func() { app.DemoStarter = prev })
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	code, out, stderr := run(t, "fix", "--demo", "--dry-run", "clusterip-unreachable")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	if !strings.Contains(out, "judged against: ") || !strings.Contains(out, "Service default/development-agent selects") || !strings.Contains(out, "global access") {
		t.Fatalf("fix --dry-run does not show what the plan was judged against:\n%s", out)
	}
}
