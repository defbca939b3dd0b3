package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/safeout/poison"
)

// poisonResult puts the poison into every string of a result a screen may draw.
func poisonResult(r *checks.Result) {
	r.Summary += " " + poison.Value("summary")
	for i := range r.Path {
		r.Path[i] += " " + poison.Value("path")
	}
	r.Path = append(r.Path, poison.Value("path-target"))
	r.Evidence = append(r.Evidence, checks.Evidence{Step: poison.Value("step"), Status: checks.Fail,
		Detail: poison.Value("detail: Event message"), Command: "kubectl get events " + poison.Value("command")})
	for _, p := range r.Fixes {
		poisonPlan(p)
	}
}

func poisonPlan(p *fixes.Plan) {
	if strings.Contains(p.Title, "PWNED") {
		return // shared between results
	}
	p.Title += " " + poison.Value("fix-title")
	p.Description += " " + poison.Value("fix-description")
	p.Affects += " " + poison.Value("fix-affects")
	p.JudgedAgainst = append(p.JudgedAgainst, poison.Value("fix-judged-against"))
	p.Diff += "- URL=" + poison.Value("diff-old") + "\n+ URL=" + poison.Value("diff-new") + "\n"
	p.Commands = append(p.Commands, "gcloud run services update x --update-env-vars "+poison.Value("fix-command"))
}

// TestEveryScreenIsSanitisedAndRedacted renders every screen of the golden harness (checklist,
// detail, scrolled detail, help, filter, running, confirm, the fix picker, fix progress, a fix not
// yet effective, read-only, guided) at two sizes with every result, plan, error and the context name
// poisoned (escape sequences, C1, bidi, zero-width, every secret shape), and fails on any of it
// reaching the screen, the window title or the clipboard (c copies the commands).
func TestEveryScreenIsSanitisedAndRedacted(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/oncall/.config")
	extra := []goldenState{
		{name: "fix-progress-poisoned", setup: func(t *testing.T, m *Model, tc *testChecks) {
			press(m, "f")
			m.Update(fixProgressMsg{job: 1, line: poison.Value("progress"), at: fixedNow})
		}},
		{name: "fix-failed-poisoned", setup: func(t *testing.T, m *Model, tc *testChecks) {
			press(m, "f")
			p := m.fix.plans[0]
			m.Update(fixAppliedMsg{job: 1, outcome: fixrun.Outcome{Plan: p, State: fixrun.Failed, JournalID: "20260314T092653Z-3fa9c1",
				Err: errors.New(poison.Value("fix-error: API error body"))}})
		}},
		{name: "undo-failed-poisoned", setup: func(t *testing.T, m *Model, tc *testChecks) {
			m.Update(undoDoneMsg{entry: &fixes.Entry{ID: "20260314T092653Z-3fa9c1", Title: poison.Value("journal-title")},
				err: errors.New(poison.Value("undo-error"))})
		}},
		{name: "export-failed-poisoned", setup: func(t *testing.T, m *Model, tc *testChecks) {
			m.Update(exportDoneMsg{err: errors.New(poison.Value("export-error"))})
		}},
	}
	screens, shown := 0, 0
	for _, st := range append(append([]goldenState{}, goldenStates...), extra...) {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("%s-%dx%d", st.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				cfg, tc, _ := testConfig(t, st.readOnly)
				cfg.guided = st.guided
				cfg.kubeErr = errors.New(poison.Value("kubeconfig error"))
				cfg.gcpErr = errors.New(poison.Value("ADC error"))
				cfg.env.Target.Context = "gke_p_l_c" + poison.Terminal
				if st.plans != nil {
					tc.plans = func() []*fixes.Plan {
						ps := st.plans(tc)
						for _, p := range ps {
							poisonPlan(p)
						}
						return ps
					}
				}
				m := newModel(context.Background(), cfg)
				m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				if !st.noResults {
					for _, id := range testCheckIDs {
						r := resultOf(t, tc, cfg.env, id)
						poisonResult(&r)
						m.Update(checkDoneMsg{id: id, result: r})
					}
				} else {
					m.Update(checkStepMsg{run: 1, id: "clusterip-unreachable", ev: checks.Evidence{Step: poison.Value("live step"),
						Status: checks.Pass, Command: poison.Value("live command")}})
				}
				if st.setup != nil {
					st.setup(t, m, tc)
				}
				view := m.render()
				for _, l := range poison.Leaks(view, true) {
					t.Errorf("screen: %s", l)
				}
				for _, l := range poison.Leaks(m.View().WindowTitle, false) {
					t.Errorf("window title: %s", l)
				}
				if m.current() != nil {
					for _, c := range commandsOf(m.current()) {
						for _, l := range poison.Leaks(c, false) {
							t.Errorf("copied command: %s", l)
						}
					}
				}
				screens++
				if strings.Contains(view, "[REDACTED]") && strings.Contains(view, "\uFFFD") {
					shown++
				}
			})
		}
	}
	if screens < 2*len(goldenStates) {
		t.Errorf("only %d screens rendered", screens)
	}
	if shown == 0 {
		t.Error("no screen showed a redacted or replaced value: the poison never reached the screen, the test shows nothing")
	}
}
