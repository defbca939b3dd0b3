package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
)

// Guided mode walks the failure modes one at a time for someone reading each step aloud: explain
// what the step looks at and what good looks like, run it on enter, then show what good looks like
// beside what was seen, and go on to the next on enter.

type guidedPhase int

const (
	phaseExplain guidedPhase = iota
	phaseRunning
	phaseResult
	phaseFinished
)

type guidedState struct {
	on    bool
	ids   []string
	idx   int
	phase guidedPhase
}

func (g guidedState) current() string {
	if g.idx >= 0 && g.idx < len(g.ids) {
		return g.ids[g.idx]
	}
	return ""
}

const screenGuided screen = "guided"

// guided is guided mode: one failure mode at a time in the detail pane's viewport (the whole body).
// enter runs the step, then shows the result, then goes on; esc or g leaves for the checklist. The
// shared actions (f, u, r, c, e, ?, q) go to the root; R and / do nothing here.
type guided struct {
	m             *Model
	width, height int
	guidedState
}

func newGuided(m *Model) component { return &guided{m: m} }

// guidedKeys is guided mode's key map.
func guidedKeys(k *keyMap) screenKeys {
	return screenKeys{k: k, short: append(append([]key.Binding{k.Next}, k.fixUndoHelp()...), k.Back, k.Help, k.Quit, k.moveHelp()),
		full: [][]key.Binding{{k.Next, k.Up, k.Down, k.PageUp, k.PageDown}, {k.Fix, k.Undo, k.Rerun, k.Copy, k.Export}, {k.Back, k.Guided, k.Help, k.Quit}},
		all: []key.Binding{k.Next, k.Up, k.Down, k.PageUp, k.PageDown, k.Fix, k.Rerun, k.Undo, k.Copy, k.Export,
			k.Back, k.Guided, k.Help, k.Quit}}
}

func (g *guided) ShortHelp() []key.Binding  { return guidedKeys(g.m.keys).ShortHelp() }
func (g *guided) FullHelp() [][]key.Binding { return guidedKeys(g.m.keys).FullHelp() }
func (g *guided) Init() tea.Cmd             { return nil }
func (g *guided) SetSize(w, h int)          { g.width, g.height = w, h }

// detailOnly: guided mode's step takes the whole width.
func (g *guided) detailOnly(int) bool { return true }

func (g *guided) View() string        { return strings.Join(g.viewLines(), "\n") }
func (g *guided) viewLines() []string { return g.m.detail.pane(g.width, g.height, "Guided", true) }

func (g *guided) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return g, nil
	}
	m, k := g.m, g.m.keys
	switch {
	case key.Matches(kp, k.Next):
		return g, g.next()
	case m.detail.scroll(kp):
	case key.Matches(kp, k.Back), key.Matches(kp, k.Guided):
		g.leave()
	case key.Matches(kp, k.RerunAll), key.Matches(kp, k.Filter):
		m.explainDisabled(kp, guidedKeys(k).all) // not in guided mode
	default:
		return g, m.commonOrExplain(kp, guidedKeys(k).all)
	}
	return g, nil
}

// enterGuided starts guided mode at the selected failure mode (or the first one).
func (m *Model) enterGuided(atStart bool) {
	var ids []string
	for _, r := range m.top {
		if r.state != statePlanned && (r.info.Kind == "primary" || r.info.Kind == "related" || r.info.Kind == "") {
			ids = append(ids, r.id())
		}
	}
	if len(ids) == 0 {
		m.setStatus(levelWarn, "guided mode has nothing to walk: no failure-mode check is available in this build")
		return
	}
	idx := 0
	if !atStart {
		sel := m.current()
		if sel != nil && sel.parent != nil {
			sel = sel.parent
		}
		for i, id := range ids {
			if sel != nil && id == sel.id() {
				idx = i
			}
		}
	}
	m.guided.guidedState = guidedState{on: true, ids: ids, idx: idx, phase: phaseExplain}
	m.selected = ids[idx]
	m.screen = screenGuided
	m.setStatus(levelInfo, "guided mode: enter runs each step; esc returns to the checklist")
	m.layout()
}

// leave ends guided mode for the checklist.
func (g *guided) leave() {
	g.on = false
	g.m.setStatus(levelInfo, "")
	g.m.post(openMsg{to: screenList})
}

func (g *guided) next() tea.Cmd {
	m := g.m
	switch g.phase {
	case phaseExplain:
		r := m.byID[g.current()]
		if r == nil {
			return nil
		}
		if r.state == stateQueued || r.state == stateRunning {
			g.phase = phaseRunning
			return nil
		}
		g.phase = phaseRunning
		return m.runIDs(map[string]bool{r.id(): true}, true)
	case phaseRunning:
		m.setStatus(levelInfo, "still running: the result appears here when it is done")
		return nil
	case phaseResult:
		g.idx++
		if g.idx >= len(g.ids) {
			g.idx = len(g.ids) - 1
			g.phase = phaseFinished
			return nil
		}
		g.phase = phaseExplain
		m.selected = g.current()
		return nil
	case phaseFinished:
		g.leave()
	}
	return nil
}

// lines renders the guided step for the viewport.
func (g *guided) lines(w int) []string {
	m := g.m
	s := m.st
	var out []string
	if g.phase == phaseFinished {
		out = append(out, s.Section.Render("That was every failure mode."), "")
		var counts []string
		for _, id := range g.ids {
			if r := m.byID[id]; r != nil {
				word, gl := m.statusWord(r)
				counts = append(counts, fmt.Sprintf("  %s %-7s %s", gl, word, id))
			}
		}
		out = append(out, counts...)
		out = append(out, "")
		out = append(out, wrapText("Press enter or esc to return to the checklist; e writes the report for the ticket.", w)...)
		return out
	}
	r := m.byID[g.current()]
	if r == nil {
		return nil
	}
	info := r.info
	step := fmt.Sprintf("Step %d of %d · %s", g.idx+1, len(g.ids), info.ID)
	if info.FailureMode != "" {
		step += " · " + info.FailureMode
	}
	out = append(out, s.Dim.Render(truncate(step, w)))
	// What enter does next, at the top where it is seen without scrolling (and again at the end).
	var prompt string
	switch g.phase {
	case phaseExplain:
		prompt = "Press enter to run this step."
	case phaseRunning:
		prompt = "Running… the result appears below when it is done."
	case phaseResult:
		if g.idx+1 < len(g.ids) {
			prompt = "Press enter for the next failure mode: " + g.ids[g.idx+1] + "."
		} else {
			prompt = "Press enter to finish."
		}
	}
	out = append(out, s.Bold.Render(truncate(prompt, w)), "")
	section := func(title string, body []string) {
		out = append(out, s.Section.Render(title))
		out = append(out, body...)
		out = append(out, "")
	}
	good := indentLines(wrapText(info.Good, w-2), "  ")
	switch g.phase {
	case phaseExplain:
		section("What this step looks at", indentLines(wrapText(info.Explanation, w-2), "  "))
		section("What you should see", good)
		if req := requiresText(info); req != "" {
			section("What it needs", indentLines(wrapText(req, w-2), "  "))
		}
		if r.result != nil {
			word, gl := m.statusWord(r)
			out = append(out, s.Dim.Render(truncate(fmt.Sprintf("Last run: %s %s — enter runs it again on fresh facts.", gl, word), w)))
		}
		out = append(out, s.Bold.Render(truncate(prompt, w)))
	case phaseRunning, phaseResult:
		section("What you should see", good)
		out = append(out, s.Section.Render("What we saw"))
		out = append(out, indentLines(m.resultLines(r, w-2), "  ")...)
		out = append(out, "", s.Bold.Render(truncate(prompt, w)))
	}
	return out
}

// requiresText says what a check needs to look (APIs, IAM permissions, RBAC).
func requiresText(info checks.Info) string {
	apis, perms, rbac := info.Requires.APIs, info.Requires.Permissions, info.Requires.RBAC
	var parts []string
	if len(apis) > 0 {
		parts = append(parts, "APIs: "+strings.Join(apis, ", "))
	}
	if len(perms) > 0 {
		parts = append(parts, "IAM: "+strings.Join(perms, ", "))
	}
	if len(rbac) > 0 {
		parts = append(parts, "RBAC: "+strings.Join(rbac, "; "))
	}
	return strings.Join(parts, ". ")
}
