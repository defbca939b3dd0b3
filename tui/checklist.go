package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
)

const screenList screen = "checklist"

// checklist is the list of checks beside the detail pane: it moves the selection, folds supporting
// checks under their primary, focuses the detail pane (enter) and passes the shared actions (f, u,
// o, r, R, c, e, /, g, ?, q) to the root. The selection and the rows are the root's; the scroll
// offset is the checklist's own.
type checklist struct {
	m             *Model
	width, height int
	offset        int // the first visible row
}

func newChecklist(m *Model) component { return &checklist{m: m} }

// checklistKeys is the checklist's key map.
func checklistKeys(k *keyMap) screenKeys {
	short := append(k.fixUndoHelp(), k.Rerun, k.Focus, k.Filter, k.Help, k.Quit, k.moveHelp())
	return screenKeys{k: k, short: short, full: k.mainFullHelp(),
		all: []key.Binding{k.Up, k.Down, k.Expand, k.Collapse, k.Toggle, k.Focus, k.PageUp, k.PageDown, k.Top, k.Bottom,
			k.Fix, k.Rerun, k.RerunAll, k.Undo, k.Observe, k.Triage, k.Copy, k.Export, k.Filter, k.Guided, k.Help, k.Quit}}
}

func (c *checklist) ShortHelp() []key.Binding  { return checklistKeys(c.m.keys).ShortHelp() }
func (c *checklist) FullHelp() [][]key.Binding { return checklistKeys(c.m.keys).FullHelp() }
func (c *checklist) Init() tea.Cmd             { return nil }
func (c *checklist) SetSize(w, h int)          { c.width, c.height = w, h }

// View is the checklist with the focus, beside the detail pane.
func (c *checklist) View() string        { return strings.Join(c.viewLines(), "\n") }
func (c *checklist) viewLines() []string { return c.m.splitLines(c.width, c.height, true) }

func (c *checklist) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return c, nil
	}
	m, k := c.m, c.m.keys
	switch {
	case key.Matches(kp, k.Up):
		c.move(-1)
	case key.Matches(kp, k.Down):
		c.move(1)
	case key.Matches(kp, k.PageUp):
		c.move(-max(1, m.bodyHeight()-1))
	case key.Matches(kp, k.PageDown):
		c.move(max(1, m.bodyHeight()-1))
	case key.Matches(kp, k.Top):
		c.move(-len(m.rows))
	case key.Matches(kp, k.Bottom):
		c.move(len(m.rows))
	case key.Matches(kp, k.Expand):
		c.fold(true)
	case key.Matches(kp, k.Collapse):
		c.fold(false)
	case key.Matches(kp, k.Toggle):
		if r := m.current(); r != nil {
			if len(r.children) > 0 {
				c.fold(!r.expanded)
			} else if r.parent != nil {
				c.fold(false)
			}
		}
	case key.Matches(kp, k.Focus):
		m.post(openMsg{to: screenDetail})
	default:
		return c, m.commonOrExplain(kp, checklistKeys(k).all)
	}
	return c, nil
}

func (c *checklist) move(delta int) {
	m := c.m
	vis := m.visible()
	if len(vis) == 0 {
		return
	}
	i := m.cursorIndex(vis)
	if i < 0 {
		i = 0
	} else {
		i += delta
	}
	i = max(0, min(len(vis)-1, i))
	m.selected = vis[i].id()
	m.userMoved = true
}

// fold expands or collapses the selected primary; collapsing on a child moves to its parent.
func (c *checklist) fold(open bool) {
	m := c.m
	r := m.current()
	if r == nil {
		return
	}
	m.userMoved = true
	if r.parent != nil && !open {
		r.parent.expanded = false
		m.selected = r.parent.id()
		return
	}
	if len(r.children) > 0 {
		r.expanded = open
	}
}

// pane is the checklist: a title with the counts, then one row per visible check. focused says
// whether the checklist has the keyboard (the checklist and the filter) or the detail pane has it.
func (c *checklist) pane(w, h int, focused bool) []string {
	m := c.m
	s := m.st
	vis := m.visible()
	counts := map[checks.Status]int{}
	running := 0
	for _, r := range m.rows {
		switch {
		case r.state == stateQueued || r.state == stateRunning:
			running++
		case r.result != nil:
			counts[r.result.Status]++
		}
	}
	title := "Checks"
	if m.filter != "" {
		title = fmt.Sprintf("Checks · filter %q · %d of %d", m.filter, len(vis), len(m.rows))
	}
	var parts []string
	if running > 0 {
		parts = append(parts, fmt.Sprintf("%d running", running))
	}
	for _, st := range checks.Statuses {
		if counts[st] > 0 {
			parts = append(parts, s.statusStyle(st).Render(fmt.Sprintf("%d %s", counts[st], st)))
		}
	}
	tstyle := s.PaneTitle
	if focused {
		tstyle = s.PaneTitleFocused
	}
	head := tstyle.Render(title)
	if len(parts) > 0 {
		head += " " + strings.Join(parts, " ")
	}
	out := make([]string, 0, h)
	out = append(out, padRight(" "+head, w))
	rowsH := h - 1
	cur := m.cursorIndex(vis)
	if cur >= 0 {
		if cur < c.offset {
			c.offset = cur
		}
		if cur >= c.offset+rowsH {
			c.offset = cur - rowsH + 1
		}
	}
	c.offset = max(0, min(c.offset, max(0, len(vis)-rowsH)))
	for i := c.offset; i < len(vis) && len(out) < h; i++ {
		out = append(out, c.rowLine(vis[i], w, i == cur, focused))
	}
	if len(vis) == 0 && len(out) < h {
		out = append(out, padRight(s.Dim.Render("  no check matches the filter (/ then esc clears it)"), w))
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", w))
	}
	return out
}

func (c *checklist) rowLine(r *row, w int, selected, focused bool) string {
	m := c.m
	s := m.st
	word, gl := m.statusWord(r)
	var stStyle lipgloss.Style
	switch {
	case r.state == statePlanned:
		stStyle = s.Planned
	case r.state == stateIdle || r.state == stateQueued:
		stStyle = s.Dim
	case r.state == stateRunning:
		stStyle = s.Running
	default:
		stStyle = s.statusStyle(r.result.Status)
	}
	nameStyle := s.Row
	if r.state == statePlanned {
		nameStyle = s.Planned
	}
	base := s.Row
	if selected {
		base = s.RowSelected
		if !focused {
			base = s.RowBlur
		}
		stStyle = stStyle.Inherit(base)
		nameStyle = nameStyle.Inherit(base)
	}
	marker := "  "
	if selected {
		marker = "› "
	}
	fold := "  "
	if len(r.children) > 0 {
		fold = "▸ "
		if r.expanded || m.filter != "" {
			fold = "▾ "
		}
	}
	indent := ""
	if r.parent != nil {
		indent = "  "
	}
	dur := ""
	if w >= 44 {
		dur = m.durationText(r)
	}
	fixed := 2 + 2 + 8 + len(indent) + 2
	nameW := w - fixed
	if dur != "" {
		nameW -= len(dur) + 1
	}
	name := r.id()
	name = truncate(name, max(1, nameW))
	gap := max(0, nameW-ansi.StringWidth(name))
	line := base.Render(marker) + stStyle.Render(gl+" "+fmt.Sprintf("%-7s", word)) + base.Render(" "+indent+fold) +
		nameStyle.Render(name) + base.Render(strings.Repeat(" ", gap))
	if dur != "" {
		line += base.Render(" ") + s.Dim.Inherit(base).Render(dur)
	}
	return padRight(line, w)
}
