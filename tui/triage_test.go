package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
)

const triagePaste = `Traceback (most recent call last):
  File "/usr/local/lib/python3.11/socket.py", line 962, in getaddrinfo
socket.gaierror: [Errno -2] Name or service not known
requests.exceptions.ConnectionError: HTTPConnectionPool(host='orders.shop.svc.cluster.local', port=8080): Max retries exceeded`

// The triage component on its own: empty, a recognised paste, an unknown one.
func TestTriageGolden(t *testing.T) {
	for _, tc := range []struct{ name, paste string }{
		{"triage-empty", ""},
		{"triage-recognised", triagePaste},
		{"triage-unknown", "ModuleNotFoundError: No module named 'numpy'"},
	} {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				s := newTriageScreen(newStyles(true, true), checks.Catalogue())
				s.SetSize(size[0], size[1]-5)
				s.Init()
				if tc.paste != "" {
					s.Update(tea.PasteMsg{Content: tc.paste})
				}
				view := s.View()
				assertFits(t, view, size[0], size[1]-5, name)
				compareGolden(t, name, ansi.Strip(view))
			})
		}
	}
}

// t opens the screen, a paste is analysed, Enter closes it and runs exactly the checks it fits with
// the extracted targets added to the session's; esc goes back without running anything.
func TestTriageFromTheChecklist(t *testing.T) {
	cfg, _, _ := testConfig(t, false)
	m := newModel(context.Background(), cfg)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	press(m, "t")
	if m.triage == nil {
		t.Fatal("t did not open the triage screen")
	}
	if _, cmd := m.Update(keyPress("esc")); cmd == nil {
		t.Fatal("esc gave no command")
	} else {
		m.Update(cmd())
	}
	if m.triage != nil {
		t.Fatal("esc did not close the triage screen")
	}
	press(m, "t")
	m.Update(tea.PasteMsg{Content: triagePaste})
	if v := ansi.Strip(m.render()); !strings.Contains(v, "dns-servfail") || !strings.Contains(v, "shop/orders") {
		t.Fatalf("the screen does not show the match and the target:\n%s", v)
	}
	_, cmd := m.Update(keyPress("enter"))
	if cmd == nil {
		t.Fatal("enter gave no command")
	}
	msg, ok := cmd().(triageRunMsg)
	if !ok || strings.Join(msg.checks, ",") != "dns-servfail" {
		t.Fatalf("enter asked %#v", msg)
	}
	m.Update(msg)
	if m.triage != nil {
		t.Error("the screen stayed open")
	}
	if got := m.cfg.env.Targets.DNSNames; strings.Join(got, ",") != "orders.shop.svc.cluster.local" {
		t.Errorf("dns names %v", got)
	}
	if got := m.cfg.env.Targets.Services; len(got) != 1 || got[0].String() != "shop/orders" {
		t.Errorf("services %v", got)
	}
	for _, r := range m.rows {
		queued := r.state == stateQueued
		if queued != (r.id() == "dns-servfail") {
			t.Errorf("%s queued=%v", r.id(), queued)
		}
	}
}
