package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

func allDone(h *harness) func() bool {
	return func() bool { return !h.m.busyChecks() && h.m.nextRun > 0 }
}

func startAll(t *testing.T, readOnly bool) (*harness, *testChecks, *spyApplier) {
	t.Helper()
	cfg, tc, spy := testConfig(t, readOnly)
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("every check to finish", allDone(h))
	return h, tc, spy
}

func TestChecklist_runsEveryCheckAndSelectsTheFirstFailure(t *testing.T) {
	h, _, _ := startAll(t, false)
	if got := h.m.selected; got != "clusterip-unreachable" {
		t.Errorf("selected %q, want the first failure clusterip-unreachable", got)
	}
	want := map[string]checks.Status{
		"clusterip-unreachable": checks.Fail, "ilb-provisioned": checks.Fail, "dns-servfail": checks.Fail,
		"sa-token-401": checks.Skip, "run-vpc-egress": checks.Pass,
	}
	for id, st := range want {
		if got := h.statusOf(id); got != st {
			t.Errorf("%s: status %q, want %q", id, got, st)
		}
	}
	if r := h.row("pod-egress-cross-project"); r.state != statePlanned {
		t.Errorf("pod-egress-cross-project state %v, want planned", r.state)
	}
	scr := h.screen()
	for _, s := range []string{"✗ fail", "clusterip-unreachable", "○ planned", "pod-egress-cross-project", "– skip", "[RW]",
		"dev-orchestra / europe-west1 / dev-orchestra-cluster", "demo VPC (simulated)", "Cause target-is-clusterip",
		"$ kubectl -n default get service development-agent"} {
		if !strings.Contains(scr, s) {
			t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
	// A failing supporting check unfolds its primary by itself.
	if !h.row("clusterip-unreachable").expanded {
		t.Error("clusterip-unreachable not expanded although ilb-provisioned failed")
	}
}

func TestChecklist_userMoveStopsAutomaticSelection(t *testing.T) {
	cfg, tc, _ := testConfig(t, false)
	tc.delay = 200 * time.Millisecond
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.key("down", "down")
	moved := h.m.selected
	h.waitFor("every check to finish", allDone(h))
	if h.m.selected != moved {
		t.Errorf("selection jumped from %q to %q after the user moved", moved, h.m.selected)
	}
}

func TestChecklist_moveAndFold(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	h := newHarness(t, cfg, 120, 40)
	if h.m.selected != "clusterip-unreachable" {
		t.Fatalf("initial selection %q", h.m.selected)
	}
	h.key("j")
	if h.m.selected != "dns-servfail" {
		t.Errorf("j: selected %q, want dns-servfail (children folded)", h.m.selected)
	}
	h.key("k", "right", "down")
	if h.m.selected != "run-vpc-egress" {
		t.Errorf("→ then ↓: selected %q, want the first supporting check", h.m.selected)
	}
	h.key("left")
	if h.m.selected != "clusterip-unreachable" || h.row("clusterip-unreachable").expanded {
		t.Errorf("← on a child: selected %q expanded %v, want the folded parent", h.m.selected, h.row("clusterip-unreachable").expanded)
	}
	h.key("space")
	if !h.row("clusterip-unreachable").expanded {
		t.Error("space did not unfold")
	}
	h.key("space")
	if h.row("clusterip-unreachable").expanded {
		t.Error("space did not fold")
	}
	h.key("end")
	if h.m.selected != "pod-egress-cross-project" {
		t.Errorf("end: selected %q", h.m.selected)
	}
	h.key("home")
	if h.m.selected != "clusterip-unreachable" {
		t.Errorf("home: selected %q", h.m.selected)
	}
	h.key("up") // at the top: stays
	if h.m.selected != "clusterip-unreachable" {
		t.Errorf("up at top: selected %q", h.m.selected)
	}
}

func TestChecklist_focusDetailAndBack(t *testing.T) {
	h, _, _ := startAll(t, false)
	h.key("enter")
	if h.m.screen != screenDetail {
		t.Fatalf("enter: screen %v, want detail", h.m.screen)
	}
	sel := h.m.selected
	h.key("down", "down")
	if h.m.selected != sel {
		t.Error("↓ in the detail pane moved the selection instead of scrolling")
	}
	h.key("tab")
	if h.m.screen != screenList {
		t.Errorf("tab in detail: screen %v, want list", h.m.screen)
	}
	h.key("tab", "esc")
	if h.m.screen != screenList {
		t.Errorf("esc in detail: screen %v, want list", h.m.screen)
	}
}

func TestChecklist_filter(t *testing.T) {
	h, _, _ := startAll(t, false)
	before := len(h.m.visible())
	h.key("/", "d", "n", "s")
	if h.m.screen != screenFilter {
		t.Fatalf("screen %v, want filter", h.m.screen)
	}
	vis := h.m.visible()
	if len(vis) != 1 || vis[0].id() != "dns-servfail" || h.m.selected != "dns-servfail" {
		t.Fatalf("filter dns: visible %v selected %q", ids(vis), h.m.selected)
	}
	h.key("enter")
	if h.m.screen != screenList || h.m.filter != "dns" {
		t.Errorf("enter: screen %v filter %q", h.m.screen, h.m.filter)
	}
	if !strings.Contains(h.screen(), `filter "dns"`) {
		t.Errorf("the list title does not show the filter:\n%s", h.screen())
	}
	// Status words filter too.
	h.key("/", "backspace", "backspace", "backspace", "s", "k", "i", "p", "enter")
	if vis := h.m.visible(); len(vis) != 1 || vis[0].id() != "sa-token-401" {
		t.Errorf("filter skip: visible %v", ids(vis))
	}
	h.key("/", "esc")
	if h.m.filter != "" || len(h.m.visible()) != before {
		t.Errorf("esc clears: filter %q visible %v", h.m.filter, ids(h.m.visible()))
	}
}

func ids(rs []*row) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.id())
	}
	return out
}

func TestHelp_fullHelpOpensAndCloses(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	h := newHarness(t, cfg, 120, 40)
	h.key("?")
	if h.m.screen != screenHelp {
		t.Fatalf("? : screen %v", h.m.screen)
	}
	scr := h.screen()
	for _, s := range []string{"re-run all", "export report", "copy commands", "undo last fix", "guided mode", "keys.yaml"} {
		if !strings.Contains(scr, s) {
			t.Errorf("full help lacks %q:\n%s", s, scr)
		}
	}
	h.key("?")
	if h.m.screen != screenList {
		t.Errorf("? again: screen %v, want list", h.m.screen)
	}
}

func TestFix_appliesOnOneKeyShowsProgressAndRechecks(t *testing.T) {
	h, tc, spy := startAll(t, false)
	gate := make(chan struct{})
	tc.w.mu.Lock()
	tc.w.gate = gate
	tc.w.mu.Unlock()

	h.key("f")
	if h.m.fix == nil {
		t.Fatalf("f did not start the fix; status %q", h.status())
	}
	if h.m.screen != screenList {
		t.Errorf("a non-destructive fix asked for confirmation (screen %v)", h.m.screen)
	}
	h.waitFor("the journal line", func() bool {
		return h.m.fix != nil && len(h.m.fix.lines) > 0 && strings.Contains(strings.Join(h.m.fix.lines, "\n"), "journaled as")
	})
	scr := h.screen()
	if !strings.Contains(scr, "fixing · 5m0s left") || !strings.Contains(scr, "deadline 09:31:53 (5m0s left)") {
		t.Errorf("the fix in progress is not shown with its deadline:\n%s", scr)
	}
	close(gate)
	h.waitFor("the re-check to pass", func() bool { return h.m.fix == nil && h.statusOf("clusterip-unreachable") == checks.Pass })
	h.waitFor("the family re-check", allDone(h))
	if !strings.Contains(h.status(), "clusterip-unreachable passes now") {
		t.Errorf("status %q, want the verdict of the re-check", h.status())
	}
	if h.statusOf("ilb-provisioned") != checks.Pass {
		t.Errorf("the supporting check was not re-run: %q", h.statusOf("ilb-provisioned"))
	}
	if n := spy.applies.Load(); n != 1 {
		t.Errorf("Applier.Apply called %d times, want 1", n)
	}
	if note := h.row("clusterip-unreachable").fixNote; !strings.Contains(note, "✓ applied") || !strings.Contains(note, "journal") {
		t.Errorf("fix note %q", note)
	}
	if !strings.Contains(h.screen(), "✓ applied") {
		t.Errorf("the detail pane does not show the fix outcome:\n%s", h.screen())
	}
}

func TestFix_appliedButNotEffectiveIsNotSuccess(t *testing.T) {
	h, tc, _ := startAll(t, false)
	tc.w.mu.Lock()
	tc.w.effective = false
	tc.w.mu.Unlock()
	h.key("f")
	h.waitFor("the fix to end", func() bool { return h.m.fix == nil && h.row("clusterip-unreachable").fixNote != "" })
	r := h.row("clusterip-unreachable")
	if r.fixLevel != levelWarn || !strings.Contains(r.fixNote, "applied, but not yet effective") || strings.Contains(r.fixNote, "✓") {
		t.Errorf("fix note %q level %v: want a warning saying applied but not yet effective", r.fixNote, r.fixLevel)
	}
	if h.m.status.level == levelOK {
		t.Errorf("status %q shown as success", h.status())
	}
}

func TestFix_errorIsShownPlainly(t *testing.T) {
	h, tc, _ := startAll(t, false)
	tc.w.mu.Lock()
	tc.w.applyErr = errors.New("services \"development-agent-ilb\" is forbidden: User cannot create services")
	tc.w.mu.Unlock()
	h.key("f")
	h.waitFor("the fix to end", func() bool { return h.m.fix == nil && h.row("clusterip-unreachable").fixNote != "" })
	h.waitFor("the re-check", allDone(h))
	if r := h.row("clusterip-unreachable"); r.fixLevel != levelErr || !strings.Contains(r.fixNote, "✗ fix failed") || !strings.Contains(r.fixNote, "forbidden") {
		t.Errorf("fix note %q level %v", r.fixNote, r.fixLevel)
	}
	if h.statusOf("clusterip-unreachable") != checks.Fail {
		t.Errorf("status %q after a failed fix", h.statusOf("clusterip-unreachable"))
	}
	if !strings.Contains(h.status(), "still fails after the fix") {
		t.Errorf("status %q: want the re-check verdict", h.status())
	}
}

func TestFix_destructiveAsksOnceMoreDefaultNo(t *testing.T) {
	cfg, tc, spy := testConfig(t, false)
	tc.plans = func() []*fixes.Plan {
		return []*fixes.Plan{tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.Title = "Delete forwarding zone gke-cluster-dns-forwarding"
			p.Destructive, p.VPCWide = true, true
			p.Affects = "every VM and Cloud Run service on network default that resolves cluster.local."
		})}
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f")
	if h.m.screen != screenConfirm {
		t.Fatalf("f on a destructive fix: screen %v, want confirm", h.m.screen)
	}
	scr := h.screen()
	for _, s := range []string{"Apply this fix?", "destructive and VPC-wide", "every VM and Cloud Run", "no (default)"} {
		if !strings.Contains(scr, s) {
			t.Errorf("dialog lacks %q:\n%s", s, scr)
		}
	}
	h.key("enter") // the default is No
	h.drain(50 * time.Millisecond)
	if h.m.screen != screenList || spy.applies.Load() != 0 || tc.w.applies.Load() != 0 {
		t.Fatalf("enter applied the fix (screen %v, applies %d)", h.m.screen, spy.applies.Load())
	}
	if h.status() != "not applied" {
		t.Errorf("status %q", h.status())
	}
	h.key("f", "n")
	h.key("f", "esc")
	h.drain(50 * time.Millisecond)
	if spy.applies.Load() != 0 {
		t.Fatal("n or esc applied the fix")
	}
	h.key("f", "y")
	h.waitFor("the fix", func() bool { return spy.applies.Load() == 1 && h.m.fix == nil })
}

func TestFix_pickerWithSeveralPlans(t *testing.T) {
	cfg, tc, spy := testConfig(t, false)
	var applied []string
	tc.plans = func() []*fixes.Plan {
		a := tc.w.plan(tc.id)
		b := tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Alternative, p.Wait = "alt", "Alternative: expose with a NodePort and a firewall rule", true, nil
		})
		adv := &fixes.Plan{ID: "advice", Title: "Point the client at the ILB IP", Advice: true, Commands: []string{"gcloud run services update …"}}
		return []*fixes.Plan{a, b, adv}
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f")
	if h.m.screen != screenPick {
		t.Fatalf("screen %v, want the picker", h.m.screen)
	}
	scr := h.screen()
	for _, s := range []string{"Which fix?", "1. Create an internal", "2. Alternative", "[alternative]", "recommended set (1)"} {
		if !strings.Contains(scr, s) {
			t.Errorf("picker lacks %q:\n%s", s, scr)
		}
	}
	if strings.Contains(scr, "3. Point the client") {
		t.Error("the picker offers an advice-only plan")
	}
	h.key("esc")
	if h.m.screen != screenList || spy.applies.Load() != 0 {
		t.Fatalf("esc: screen %v applies %d", h.m.screen, spy.applies.Load())
	}
	h.key("f", "2")
	if h.m.screen != screenList || h.m.pick != nil {
		t.Errorf("after picking: screen %v pick %v, want the checklist", h.m.screen, h.m.pick)
	}
	h.waitFor("the alternative", func() bool { return h.m.fix == nil && spy.applies.Load() == 1 })
	h.waitFor("re-check", allDone(h))
	applied = append(applied, h.row("clusterip-unreachable").fixNote)
	if !strings.Contains(applied[0], "Alternative") {
		t.Errorf("2 applied %q", applied[0])
	}
}

func TestFix_recommendedSetAppliesEachInTurn(t *testing.T) {
	cfg, tc, spy := testConfig(t, false)
	tc.plans = func() []*fixes.Plan {
		a := tc.w.plan(tc.id)
		b := tc.w.plan(tc.id, func(p *fixes.Plan) { p.ID, p.Title, p.Wait = "fw", "Allow 192.168.99.0/28 to the nodes on tcp:80", nil })
		return []*fixes.Plan{a, b}
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f", "a")
	if h.m.screen != screenList {
		t.Errorf("after the recommended set: screen %v, want the checklist", h.m.screen)
	}
	h.waitFor("both fixes", func() bool { return h.m.fix == nil && spy.applies.Load() == 2 })
	note := h.row("clusterip-unreachable").fixNote
	if strings.Count(note, "✓ applied") != 2 {
		t.Errorf("fix note %q: want both applied", note)
	}
}

func TestUndo_revertsTheLastFixAndRechecks(t *testing.T) {
	h, tc, spy := startAll(t, false)
	h.key("u")
	h.waitFor("undo with an empty journal", func() bool { return !h.m.undoing })
	if !strings.Contains(h.status(), "nothing to undo") {
		t.Errorf("status %q, want nothing to undo", h.status())
	}
	h.key("f")
	h.waitFor("the fix and re-check", func() bool { return h.m.fix == nil && h.statusOf("clusterip-unreachable") == checks.Pass })
	h.waitFor("re-check", allDone(h))
	h.key("u")
	h.waitFor("the undo and re-check", func() bool { return !h.m.undoing && h.statusOf("clusterip-unreachable") == checks.Fail })
	h.waitFor("re-check", allDone(h))
	if tc.w.hasILB() || tc.w.undos.Load() != 1 || spy.undos.Load() != 1 {
		t.Errorf("world ilb %v, undoer calls %d, Applier.Undo calls %d", tc.w.hasILB(), tc.w.undos.Load(), spy.undos.Load())
	}
	if !strings.Contains(h.status(), "clusterip-unreachable fails again after the undo") {
		t.Errorf("status %q", h.status())
	}
	if note := h.row("clusterip-unreachable").fixNote; !strings.HasPrefix(note, "↺ undone") {
		t.Errorf("fix note %q", note)
	}
}

func TestReadOnly_fixAndUndoExplainThemselves(t *testing.T) {
	h, tc, spy := startAll(t, true)
	h.key("f")
	if !strings.Contains(h.status(), "f fix — disabled: read-only") {
		t.Errorf("f in read-only: status %q", h.status())
	}
	h.key("u")
	if !strings.Contains(h.status(), "u undo last fix — disabled: read-only") {
		t.Errorf("u in read-only: status %q", h.status())
	}
	h.drain(50 * time.Millisecond)
	if spy.applies.Load() != 0 || spy.undos.Load() != 0 || tc.w.snapshots.Load() != 0 {
		t.Errorf("read-only reached the Applier: %d applies, %d undos", spy.applies.Load(), spy.undos.Load())
	}
	scr := h.screen()
	for _, s := range []string{"[RO]", "f/u fix/undo — disabled: read-only", "f fix — disabled: read-only"} {
		if !strings.Contains(scr, s) {
			t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
	h.key("?")
	if scr := h.screen(); !strings.Contains(scr, "f fix — disabled: read-only") || !strings.Contains(scr, "u undo last fix — disabled: read-only") {
		t.Errorf("full help does not keep the disabled keys with their reason:\n%s", scr)
	}
}

func TestRerun_selectedAndAll(t *testing.T) {
	h, tc, _ := startAll(t, false)
	for i := 0; i < 5 && h.m.selected != "dns-servfail"; i++ {
		h.key("down")
	}
	tc.dnsFail = false
	h.key("r")
	if r := h.row("dns-servfail"); r.state != stateQueued && r.state != stateRunning {
		t.Fatalf("r: state %v", r.state)
	}
	if h.row("sa-token-401").state != stateDone {
		t.Error("r re-ran more than the selected check")
	}
	h.waitFor("the re-run", allDone(h))
	if h.statusOf("dns-servfail") != checks.Pass {
		t.Errorf("dns-servfail %q after re-run", h.statusOf("dns-servfail"))
	}
	h.key("R")
	for _, id := range []string{"clusterip-unreachable", "sa-token-401", "dns-servfail"} {
		if s := h.row(id).state; s != stateQueued && s != stateRunning {
			t.Errorf("R: %s state %v", id, s)
		}
	}
	h.key("R")
	if !strings.Contains(h.status(), "still running") {
		t.Errorf("R while running: status %q", h.status())
	}
	h.waitFor("the re-run", allDone(h))
}

func TestCopy_putsTheCommandsOnTheClipboard(t *testing.T) {
	h, _, _ := startAll(t, false)
	h.key("c")
	h.drain(50 * time.Millisecond)
	if len(h.clip) != 1 {
		t.Fatalf("clipboard writes: %d", len(h.clip))
	}
	for _, s := range []string{"kubectl -n default get service development-agent -o wide", "kubectl -n default expose service development-agent"} {
		if !strings.Contains(h.clip[0], s) {
			t.Errorf("clipboard lacks %q: %q", s, h.clip[0])
		}
	}
	if !strings.Contains(h.status(), "copied") {
		t.Errorf("status %q", h.status())
	}
}

func TestExport_writesTheMarkdownReport(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	dir := t.TempDir()
	cfg.exportDirs = func() []string { return []string{filepath.Join(dir, "missing"), dir} }
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("e")
	h.waitFor("the export", func() bool { return strings.Contains(h.status(), "report written to") })
	path := strings.Fields(strings.TrimPrefix(h.status(), "✓ report written to "))[0]
	if filepath.Dir(path) != dir {
		t.Errorf("report in %s, want the fallback %s", path, dir)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"clusterip-unreachable", "target-is-clusterip", "dev-orchestra"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestGuided_explainRunCompareNext(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	cfg.guided = true
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.drain(50 * time.Millisecond)
	if h.m.nextRun != 0 {
		t.Fatal("guided mode ran checks before being asked")
	}
	if h.m.screen != screenGuided || h.m.guided.current() != "clusterip-unreachable" || h.m.guided.phase != phaseExplain {
		t.Fatalf("guided start: screen %v step %q phase %v", h.m.screen, h.m.guided.current(), h.m.guided.phase)
	}
	scr := h.screen()
	for _, s := range []string{"Step 1 of 3", "What this step looks at", "What you should see", "Press enter to run this step"} {
		if !strings.Contains(scr, s) {
			t.Errorf("explain step lacks %q:\n%s", s, scr)
		}
	}
	h.key("enter")
	h.waitFor("the step's result", func() bool { return h.m.guided.phase == phaseResult })
	scr = h.screen()
	for _, s := range []string{"What you should see", "What we saw", "✗ FAIL", "Cause target-is-clusterip", "Press enter for the next failure mode: dns-servfail"} {
		if !strings.Contains(scr, s) {
			t.Errorf("result step lacks %q:\n%s", s, scr)
		}
	}
	h.key("enter")
	if h.m.guided.current() != "dns-servfail" || h.m.guided.phase != phaseExplain || h.m.selected != "dns-servfail" {
		t.Errorf("next: step %q phase %v selected %q", h.m.guided.current(), h.m.guided.phase, h.m.selected)
	}
	h.key("esc")
	if h.m.screen != screenList {
		t.Errorf("esc: screen %v", h.m.screen)
	}
	h.key("g")
	if h.m.screen != screenGuided || h.m.guided.current() != "dns-servfail" {
		t.Errorf("g: screen %v step %q", h.m.screen, h.m.guided.current())
	}
}

func TestQuit_asksAgainWhileAFixRuns(t *testing.T) {
	h, tc, _ := startAll(t, false)
	gate := make(chan struct{})
	tc.w.mu.Lock()
	tc.w.gate = gate
	tc.w.mu.Unlock()
	defer close(gate)
	h.key("f", "q")
	if h.quit || !strings.Contains(h.status(), "press q (or ctrl+c) again") {
		t.Fatalf("q during a fix: quit %v status %q", h.quit, h.status())
	}
	h.key("q")
	h.drain(20 * time.Millisecond)
	if !h.quit {
		t.Error("second q did not quit")
	}
}

func TestQuit_q(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	h := newHarness(t, cfg, 80, 24)
	h.key("q")
	h.drain(20 * time.Millisecond)
	if !h.quit {
		t.Error("q did not quit")
	}
}

func TestUnreachableAPIServerIsAFinding(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	cfg.kubeErr = errors.New("Get \"https://10.132.0.2/version\": dial tcp 10.132.0.2:443: i/o timeout")
	base := cfg.lookup
	cfg.lookup = func(id string) (checks.Check, bool) {
		if id == "sa-token-401" {
			return checks.CheckFunc{CheckID: id, Fn: func(_ context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
				return checks.ErrorResult(errors.New("get ServiceAccount default/orchestrai-sa: dial tcp 10.132.0.2:443: i/o timeout"))
			}}, true
		}
		return base(id)
	}
	h := newHarness(t, cfg, 80, 24)
	h.init()
	h.waitFor("checks", allDone(h))
	if h.statusOf("sa-token-401") != checks.Error {
		t.Errorf("sa-token-401: %q", h.statusOf("sa-token-401"))
	}
	scr := h.screen()
	if !strings.Contains(scr, "⊘ Kubernetes: Get") || !strings.Contains(scr, "⊘ error") {
		t.Errorf("the unreachable API server is not shown as a finding:\n%s", scr)
	}
}

func TestResize_neverOverflows(t *testing.T) {
	h, _, _ := startAll(t, false)
	h.row("clusterip-unreachable").expanded = true
	sizes := [][2]int{{80, 24}, {81, 25}, {99, 30}, {100, 30}, {120, 40}, {160, 48}, {200, 60}, {60, 20}, {40, 12}, {20, 6}}
	for _, sc := range []screen{screenList, screenDetail, screenHelp, screenGuided} {
		for _, sz := range sizes {
			h.send(windowSize(sz[0], sz[1]))
			switch sc {
			case screenHelp:
				h.m.openHelp()
			case screenGuided:
				h.m.enterGuided(false)
			default:
				h.m.screen = sc
			}
			h.m.layout()
			h.m.syncDetail()
			assertFits(t, h.m.render(), sz[0], sz[1], sc.String())
			h.m.screen = screenList
		}
	}
}

func assertFits(t *testing.T, view string, w, h int, what string) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%s at %dx%d: %d lines", what, w, h, len(lines))
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%s at %dx%d: line %d is %d wide: %q", what, w, h, i, lw, ansi.Strip(l))
		}
	}
}

func windowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func TestFix_pickedDestructivePlanStillAsks(t *testing.T) {
	cfg, tc, spy := testConfig(t, false)
	tc.plans = func() []*fixes.Plan {
		return []*fixes.Plan{tc.w.plan(tc.id), tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Destructive, p.Affects = "replace", "Replace the Service", true, "clients of development-agent"
		})}
	}
	h := newHarness(t, cfg, 120, 40)
	h.init()
	h.waitFor("checks", allDone(h))
	h.key("f", "2")
	if h.m.screen != screenConfirm || !strings.Contains(h.screen(), "clients of development-agent") {
		t.Fatalf("picking a destructive plan: screen %v\n%s", h.m.screen, h.screen())
	}
	h.key("y")
	if h.m.screen != screenList {
		t.Errorf("after y: screen %v, want the checklist", h.m.screen)
	}
	h.waitFor("the fix", func() bool { return spy.applies.Load() == 1 && h.m.fix == nil })
}

func TestColour_fitsAndCarriesWordsToo(t *testing.T) {
	for _, dark := range []bool{true, false} {
		cfg, _, _ := testConfig(t, false)
		cfg.noColor = false
		h := newHarness(t, cfg, 120, 40)
		h.m.dark = dark
		h.m.st = newStyles(dark, false)
		h.m.applyStyles()
		h.init()
		h.waitFor("checks", allDone(h))
		for _, sz := range [][2]int{{80, 24}, {120, 40}, {160, 48}} {
			h.send(windowSize(sz[0], sz[1]))
			view := h.m.render()
			if !strings.Contains(view, "\x1b[") {
				t.Fatalf("dark=%v: no colour in the view", dark)
			}
			assertFits(t, view, sz[0], sz[1], fmt.Sprintf("colour dark=%v", dark))
			if plain := ansi.Strip(view); !strings.Contains(plain, "✗ fail") || !strings.Contains(plain, "[RW]") {
				t.Errorf("dark=%v: the glyphs and words are not all there:\n%s", dark, plain)
			}
		}
	}
}
