package tui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// durations are fixed so the goldens do not depend on the machine.
var goldenDurations = map[string]time.Duration{
	"clusterip-unreachable": 1840 * time.Millisecond, "run-vpc-egress": 420 * time.Millisecond,
	"ilb-provisioned": 610 * time.Millisecond, "dns-servfail": 2130 * time.Millisecond, "sa-token-401": 3 * time.Millisecond,
}

// resultOf runs a test check directly (no engine: the goldens must not depend on timing).
func resultOf(t *testing.T, tc *testChecks, env *checks.Env, id string) checks.Result {
	t.Helper()
	rec := checks.NewRecorder(id)
	res := tc.fn(id)(context.Background(), env, rec)
	res.ID = id
	res.Evidence = append(rec.Evidence(), res.Evidence...)
	res.Duration = goldenDurations[id]
	for _, p := range res.Fixes {
		p.Check = id
	}
	return res
}

type goldenState struct {
	name     string
	readOnly bool
	guided   bool
	plans    func(tc *testChecks) []*fixes.Plan
	// results: feed every check's result before setup (default true).
	noResults bool
	setup     func(t *testing.T, m *Model, tc *testChecks)
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		m.Update(keyPress(k)) // commands are dropped: the goldens show state, nothing runs
	}
}

var goldenStates = []goldenState{
	{name: "checklist"},
	{name: "detail", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "enter") }},
	{name: "detail-scrolled", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "enter", "pgdown") }},
	{name: "supporting", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "down", "down") }},
	{name: "help", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "?") }},
	{name: "filter", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "/", "d", "n", "s") }},
	{name: "triage", setup: func(t *testing.T, m *Model, tc *testChecks) {
		press(m, "t")
		m.Update(tea.PasteMsg{Content: triagePaste})
	}},
	{name: "planned", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "end") }},
	{name: "running", noResults: true, setup: func(t *testing.T, m *Model, tc *testChecks) {
		m.runIDs(nil, false)
		m.Update(checkStartedMsg{run: 1, id: "clusterip-unreachable", at: fixedNow.Add(-1200 * time.Millisecond)})
		m.Update(checkStepMsg{run: 1, id: "clusterip-unreachable", ev: checks.Evidence{Step: "Cloud Run service gke-connectivity-tester4 has VPC access",
			Status: checks.Pass, Command: "gcloud run services describe gke-connectivity-tester4 --region europe-west1"}})
		m.Update(checkStartedMsg{run: 1, id: "dns-servfail", at: fixedNow.Add(-300 * time.Millisecond)})
		m.Update(checkDoneMsg{run: 1, id: "sa-token-401", result: resultOf(t, tc, m.cfg.env, "sa-token-401")})
	}},
	{name: "confirm", plans: func(tc *testChecks) []*fixes.Plan {
		return []*fixes.Plan{tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.Title = "Delete forwarding zone gke-cluster-dns-forwarding and create private zone svc-internal"
			p.Destructive, p.VPCWide = true, true
			p.Affects = "every VM, GKE node and Cloud Run service on network default that resolves cluster.local."
			p.JudgedAgainst = []string{"networks bound: default", "every name under cluster.local. for clients of default: it forwards only to 34.118.224.10"}
		})}
	}, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{name: "pick", plans: func(tc *testChecks) []*fixes.Plan {
		return []*fixes.Plan{tc.w.plan(tc.id), tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Alternative = "fw", "Allow 192.168.99.0/28 to the GKE nodes on tcp:80 (firewall rule allow-serverless-to-gke)", true
		})}
	}, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{name: "fix-running", setup: func(t *testing.T, m *Model, tc *testChecks) {
		press(m, "f")
		m.Update(fixProgressMsg{job: 1, line: "journaled as 20260314T092653Z-3fa9c1; applying", at: fixedNow})
		m.Update(fixProgressMsg{job: 1, line: "waiting for the change to take effect (deadline 5m0s)", at: fixedNow})
		m.Update(fixProgressMsg{job: 1, line: "waiting for status.loadBalancer.ingress", at: fixedNow})
	}},
	{name: "fix-not-effective", setup: func(t *testing.T, m *Model, tc *testChecks) {
		press(m, "f")
		p := m.fix.plans[0]
		m.Update(fixAppliedMsg{job: 1, outcome: fixrun.Outcome{Plan: p, State: fixrun.NotEffective, JournalID: "20260314T092653Z-3fa9c1",
			Err: &fixes.WaitError{Msg: "no ingress IP after 5m0s (events: SyncLoadBalancerFailed)"}}})
	}},
	{name: "readonly", readOnly: true, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{name: "readonly-help", readOnly: true, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "?") }},
	{name: "guided-explain", guided: true, noResults: true},
	{name: "guided-result", guided: true, noResults: true, setup: func(t *testing.T, m *Model, tc *testChecks) {
		press(m, "enter")
		for _, id := range []string{"ilb-provisioned", "clusterip-unreachable"} {
			m.Update(checkDoneMsg{run: 1, id: id, result: resultOf(t, tc, m.cfg.env, id)})
		}
	}},
}

func TestGolden(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/oncall/.config") // the help names the keys file
	for _, st := range goldenStates {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("%s-%dx%d", st.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				cfg, tc, _ := testConfig(t, st.readOnly)
				cfg.guided = st.guided
				if st.plans != nil {
					tc.plans = func() []*fixes.Plan { return st.plans(tc) }
				}
				m := newModel(context.Background(), cfg)
				m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				if !st.noResults {
					for _, id := range testCheckIDs {
						m.Update(checkDoneMsg{id: id, result: resultOf(t, tc, cfg.env, id)})
					}
				}
				if st.setup != nil {
					st.setup(t, m, tc)
				}
				view := m.render()
				assertFits(t, view, size[0], size[1], name)
				compareGolden(t, name, ansi.Strip(view))
			})
		}
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -run TestGolden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./tui -run TestGolden -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
