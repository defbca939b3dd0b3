package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

const triagePaste = `Traceback (most recent call last):
  File "/usr/local/lib/python3.11/socket.py", line 962, in getaddrinfo
socket.gaierror: [Errno -2] Name or service not known
requests.exceptions.ConnectionError: HTTPConnectionPool(host='orders.shop.svc.cluster.local', port=8080): Max retries exceeded`

// The triage component drawn alone at the body size the root gives it (the terminal less header,
// rule and footer): empty, a recognised paste, an unknown one.
func TestTriageGolden(t *testing.T) {
	for _, tc := range []struct{ name, paste string }{
		{"triage-empty", ""},
		{"triage-recognised", triagePaste},
		{"triage-unknown", "ModuleNotFoundError: No module named 'numpy'"},
	} {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				cfg, _, _ := testConfig(t, false)
				m := newModel(context.Background(), cfg)
				m.Update(windowSize(size[0], size[1]))
				press(m, "t")
				if tc.paste != "" {
					m.Update(tea.PasteMsg{Content: tc.paste})
				}
				view := m.panes[screenTriage].View()
				assertFits(t, view, size[0], m.bodyHeight(), name)
				compareGolden(t, name, ansi.Strip(view))
			})
		}
	}
}

// t opens the screen (its own help in the footer, not the checklist's), a paste is analysed, Enter
// closes it and runs exactly the checks it fits with the extracted targets added to the session's;
// esc goes back without running anything.
func TestTriageFromTheChecklist(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	m := newModel(context.Background(), cfg)
	m.Update(windowSize(100, 30))
	press(m, "t")
	if m.screen != screenTriage {
		t.Fatalf("t opened %s, not the triage screen", m.screen)
	}
	footer := ansi.Strip(strings.Join(m.footerLines(100), "\n"))
	if !strings.Contains(footer, "enter run these checks") || !strings.Contains(footer, "esc/shift+tab back") || strings.Contains(footer, "fix") {
		t.Errorf("the footer does not show the triage screen's help:\n%s", footer)
	}
	press(m, "esc")
	if m.screen != screenList {
		t.Fatalf("esc went to %s, not back to the checklist", m.screen)
	}
	press(m, "t")
	m.Update(tea.PasteMsg{Content: triagePaste})
	if v := ansi.Strip(m.render()); !strings.Contains(v, "dns-servfail") || !strings.Contains(v, "shop/orders") {
		t.Fatalf("the screen does not show the match and the target:\n%s", v)
	}
	if _, cmd := m.Update(keyPress("enter")); cmd == nil {
		t.Fatal("enter started nothing")
	}
	if m.screen != screenList {
		t.Errorf("enter left %s open", m.screen)
	}
	if got := m.cfg.env.Targets.DNSNames; strings.Join(got, ",") != "orders.shop.svc.cluster.local" {
		t.Errorf("dns names %v", got)
	}
	if got := m.cfg.env.Targets.Services; len(got) != 1 || got[0].String() != "shop/orders" {
		t.Errorf("services %v", got)
	}
	for _, r := range m.rows {
		if queued := r.state == stateQueued; queued != (r.id() == "dns-servfail") {
			t.Errorf("%s queued=%v", r.id(), queued)
		}
	}
	if m.selected != "dns-servfail" || m.status.text != "triage: running dns-servfail" {
		t.Errorf("selected %s, status %q", m.selected, m.status.text)
	}
}

// The text box takes what is typed, q included (only ctrl+c quits); a new opening starts blank, so
// an old text is never analysed with a new paste; enter on an unrecognised text runs nothing.
func TestTriage_typingAndReopening(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	m := newModel(context.Background(), cfg)
	m.Update(windowSize(100, 30))
	press(m, "enter", "t") // from the detail pane
	for _, r := range "quit" {
		if _, cmd := m.Update(keyPress(string(r))); cmd != nil {
			if _, quit := cmd().(tea.QuitMsg); quit {
				t.Fatal("q quit from the text box")
			}
		}
	}
	if got := m.triage.area.Value(); got != "quit" {
		t.Errorf("the text box holds %q", got)
	}
	press(m, "enter")
	if m.screen != screenTriage || !strings.Contains(m.status.text, "nothing recognised") {
		t.Errorf("enter on an unknown text: screen %s, status %q", m.screen, m.status.text)
	}
	for _, r := range m.rows {
		if r.state == stateQueued {
			t.Errorf("%s queued", r.id())
		}
	}
	press(m, "esc")
	if m.screen != screenDetail {
		t.Errorf("esc went to %s, not back to the detail pane", m.screen)
	}
	press(m, "t")
	if got := m.triage.area.Value(); got != "" || strings.Contains(ansi.Strip(m.render()), "quit") {
		t.Errorf("the reopened screen still holds %q", got)
	}
}

// gkedoctor --triage opens the screen at start; Enter while the first run is still going waits for
// it (the targets are shared with the running checks) and then runs exactly the triage's checks.
func TestTriage_openedAtStartWaitsForTheRunningChecks(t *testing.T) {
	cfg, tc, _ := testConfig(t, false)
	cfg.triage = true
	tc.delay = 300 * time.Millisecond
	h := newHarness(t, cfg, 120, 40)
	if h.m.screen != screenTriage {
		t.Fatalf("--triage opened %s", h.m.screen)
	}
	h.init()
	h.waitFor("the first run", func() bool { return h.m.busyChecks() })
	h.send(tea.PasteMsg{Content: triagePaste})
	h.key("enter")
	if h.m.screen != screenList || h.m.triageWaiting == nil || !strings.Contains(h.status(), "will run when") {
		t.Fatalf("enter while checks run: screen %s, waiting %v, status %q", h.m.screen, h.m.triageWaiting != nil, h.status())
	}
	if len(h.m.cfg.env.Targets.DNSNames) != 0 {
		t.Fatal("the targets changed while checks were running")
	}
	firstRun := h.m.nextRun
	h.waitFor("the triage run", func() bool { return h.m.nextRun > firstRun })
	if h.m.triageWaiting != nil || h.status() != "triage: running dns-servfail" {
		t.Errorf("waiting %v, status %q", h.m.triageWaiting != nil, h.status())
	}
	for _, r := range h.m.rows {
		if (r.run == h.m.nextRun) != (r.id() == "dns-servfail") {
			t.Errorf("%s in run %d (triage's run %d)", r.id(), r.run, h.m.nextRun)
		}
	}
	h.waitFor("dns-servfail", func() bool { return !h.m.busy() })
	if got := h.m.cfg.env.Targets.DNSNames; strings.Join(got, ",") != "orders.shop.svc.cluster.local" {
		t.Errorf("dns names %v", got)
	}
}
