package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/vantage"
)

// componentGolden is one component in one state, reached through the root the way a user reaches it
// (keys and messages), then drawn alone: the component's View at the size the root gave it.
type componentGolden struct {
	sc        screen
	name      string
	guided    bool
	noResults bool
	plans     func(tc *testChecks) []*fixes.Plan
	setup     func(t *testing.T, m *Model, tc *testChecks)
}

var destructivePlan = func(tc *testChecks) []*fixes.Plan {
	return []*fixes.Plan{tc.w.plan(tc.id, func(p *fixes.Plan) {
		p.Title = "Replace the Service development-agent with an internal LoadBalancer"
		p.Destructive, p.Affects = true, "clients of development-agent (2 pods)"
	})}
}

var componentGoldens = []componentGolden{
	{sc: screenList, name: "checklist", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "down", "space") }},
	{sc: screenDetail, name: "detail", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "enter", "down", "down") }},
	{sc: screenHelp, name: "help-from-detail", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "enter", "?") }},
	{sc: screenFilter, name: "filter", setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "/", "4", "0", "1") }},
	{sc: screenConfirm, name: "confirm", plans: destructivePlan, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{sc: screenConfirm, name: "confirm-advice", plans: func(tc *testChecks) []*fixes.Plan {
		return []*fixes.Plan{{ID: "point-client", Title: "Point the client at the internal load balancer's address", Advice: true,
			Commands: []string{"gcloud run services update gke-connectivity-tester4 --update-env-vars TARGET=http://10.132.0.6"}}}
	}, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{sc: screenConfirm, name: "confirm-observe", setup: func(t *testing.T, m *Model, tc *testChecks) {
		m.Update(observePlannedMsg{check: "clusterip-unreachable", plans: []vantage.VantagePlan{{From: "cloudrun"}}, lines: []string{
			"Cloud Run job gkedoctor-probe-7f3a in europe-west1 (the service's VPC access and egress), runs once:",
			"  curl -sS -m 5 http://10.132.0.6:80/ and a DNS lookup of development-agent.default.svc.cluster.local",
			"cost: one job execution of a few seconds"}})
	}},
	{sc: screenPick, name: "pick", plans: func(tc *testChecks) []*fixes.Plan {
		return []*fixes.Plan{tc.w.plan(tc.id), tc.w.plan(tc.id, func(p *fixes.Plan) {
			p.ID, p.Title, p.Alternative = "fw", "Allow 192.168.99.0/28 to the GKE nodes on tcp:80", true
		}), tc.w.plan(tc.id, func(p *fixes.Plan) { p.ID, p.Title = "peer", "Export custom routes over the peering" })}
	}, setup: func(t *testing.T, m *Model, tc *testChecks) { press(m, "f") }},
	{sc: screenTriage, name: "triage", setup: func(t *testing.T, m *Model, tc *testChecks) {
		press(m, "enter", "t")
		m.Update(tea.PasteMsg{Content: triagePaste})
	}},
	{sc: screenGuided, name: "guided-finished", guided: true, setup: func(t *testing.T, m *Model, tc *testChecks) {
		for range m.guided.ids {
			id := m.guided.current()
			press(m, "enter")
			m.Update(checkDoneMsg{run: m.nextRun, id: id, result: resultOf(t, tc, m.cfg.env, id)})
			press(m, "enter")
		}
	}},
}

func TestComponentGolden(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/oncall/.config")
	covered := map[screen]bool{}
	for _, st := range componentGoldens {
		covered[st.sc] = true
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			name := fmt.Sprintf("component-%s-%dx%d", st.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				cfg, tc, _ := testConfig(t, false)
				cfg.guided = st.guided
				if st.plans != nil {
					tc.plans = func() []*fixes.Plan { return st.plans(tc) }
				}
				m := newModel(context.Background(), cfg)
				m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				if !st.noResults && !st.guided {
					for _, id := range testCheckIDs {
						m.Update(checkDoneMsg{id: id, result: resultOf(t, tc, cfg.env, id)})
					}
				}
				if st.setup != nil {
					st.setup(t, m, tc)
				}
				if m.screen != st.sc {
					t.Fatalf("the setup left the %s screen active, want %s (status %q)", m.screen, st.sc, m.status.text)
				}
				c := m.panes[st.sc]
				body := c.View()
				// The component draws exactly the body the root gave it, and the frame is header,
				// rule, that body and the footer.
				lines := strings.Split(body, "\n")
				if len(lines) != m.bodyHeight() {
					t.Errorf("%d lines, want the body height %d", len(lines), m.bodyHeight())
				}
				for i, l := range lines {
					if w := ansi.StringWidth(l); w > size[0] {
						t.Errorf("line %d is %d wide (> %d): %q", i, w, size[0], ansi.Strip(l))
					}
				}
				frame := strings.Split(m.render(), "\n")
				top := m.headerHeight() + 1
				if got := strings.Join(frame[top:top+len(lines)], "\n"); got != body {
					t.Errorf("the frame does not show the component's View between the rule and the footer")
				}
				compareGolden(t, name, ansi.Strip(body))
			})
		}
	}
	for _, sc := range allScreens {
		if !covered[sc] {
			t.Errorf("no component golden for the %s screen", sc)
		}
	}
}

// TestComponentKeys writes each component's key map — every binding it takes, its short help and
// its full help, with the default keys and in read-only mode — to a golden, and checks that the
// component, the registry and the footer agree on it.
func TestComponentKeys(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/oncall/.config")
	for _, d := range screens {
		t.Run(string(d.id), func(t *testing.T) {
			var b strings.Builder
			for _, readOnly := range []bool{false, true} {
				cfg, _, _ := testConfig(t, readOnly)
				m := newModel(context.Background(), cfg)
				c := m.panes[d.id]
				reg := d.keys(m.keys)
				if got, want := helpText(c.ShortHelp()), helpText(reg.ShortHelp()); got != want {
					t.Errorf("the component's short help %q is not its registered key map's %q", got, want)
				}
				m.screen = d.id
				footer := ansi.Strip(m.footerLines(400)[1])
				if want := ansi.Strip(m.help.ShortHelpView(c.ShortHelp())); strings.TrimSpace(footer) != strings.TrimSpace(want) {
					t.Errorf("the footer shows %q, not the component's short help %q", footer, want)
				}
				fmt.Fprintf(&b, "== %s, read-only %v\ntakes:\n", d.id, readOnly)
				for _, k := range reg.all {
					fmt.Fprintf(&b, "  %-14s %s%s\n", strings.Join(k.Keys(), " "), k.Help().Desc, map[bool]string{false: " (disabled)", true: ""}[k.Enabled()])
				}
				fmt.Fprintf(&b, "short: %s\n", helpText(c.ShortHelp()))
				for i, g := range c.FullHelp() {
					fmt.Fprintf(&b, "full %d: %s\n", i+1, helpText(g))
				}
			}
			compareGolden(t, "keys-"+strings.ReplaceAll(string(d.id), " ", "-"), b.String())
		})
	}
}

func helpText(bs []key.Binding) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Help().Key+" "+b.Help().Desc)
	}
	return strings.Join(out, " · ")
}

// TestComponents_ignoreOtherMessages: a component takes keys (and the filter pastes); anything else
// the root keeps, so a component handed another message changes nothing and asks for nothing.
func TestComponents_ignoreOtherMessages(t *testing.T) {
	cfg, tc, _ := testConfig(t, false)
	m := newModel(context.Background(), cfg)
	for _, id := range testCheckIDs {
		m.Update(checkDoneMsg{id: id, result: resultOf(t, tc, cfg.env, id)})
	}
	for _, d := range screens {
		c := m.panes[d.id]
		before := c.View()
		next, cmd := c.Update(checkDoneMsg{id: "dns-servfail"})
		if next != c || cmd != nil || c.View() != before {
			t.Errorf("%s: a non-key message changed the component or returned a command", d.id)
		}
	}
}

// TestRegistry: every screen id is registered once, and its constructor makes a component whose key
// map is the registered one.
func TestRegistry(t *testing.T) {
	seen := map[screen]bool{}
	for _, d := range screens {
		if d.id == "" || seen[d.id] {
			t.Errorf("screen id %q is empty or registered twice", d.id)
		}
		seen[d.id] = true
		if d.keys == nil || d.make == nil {
			t.Errorf("%s: no key map or constructor", d.id)
		}
	}
	if len(allScreens) != len(screens) {
		t.Errorf("allScreens has %d screens, the registry %d", len(allScreens), len(screens))
	}
}
