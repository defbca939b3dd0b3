package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

const screenDetail screen = "detail"

// detail is the detail pane with the keyboard: it scrolls its viewport, returns to the checklist
// (esc, enter, tab) and passes the shared actions to the root. The viewport is the detail pane's
// wherever it is drawn: beside the checklist, alone on a narrow terminal, and as guided mode's body.
type detail struct {
	m             *Model
	width, height int
	vp            viewport.Model
	key           string // what the viewport's content was made from
	sel           string // the selection the viewport was last scrolled to the top for
}

func newDetail(m *Model) component { return &detail{m: m, vp: viewport.New()} }

// detailKeys is the detail pane's key map.
func detailKeys(k *keyMap) screenKeys {
	short := append(k.fixUndoHelp(), k.Rerun, k.Back, k.Help, k.Quit, k.moveHelp())
	return screenKeys{k: k, short: short, full: k.mainFullHelp(),
		all: []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Back, k.Focus,
			k.Fix, k.Rerun, k.RerunAll, k.Undo, k.Observe, k.Triage, k.Copy, k.Export, k.Filter, k.Guided, k.Help, k.Quit}}
}

func (d *detail) ShortHelp() []key.Binding  { return detailKeys(d.m.keys).ShortHelp() }
func (d *detail) FullHelp() [][]key.Binding { return detailKeys(d.m.keys).FullHelp() }
func (d *detail) Init() tea.Cmd             { return nil }
func (d *detail) SetSize(w, h int)          { d.width, d.height = w, h }

// detailOnly: on a terminal narrower than 100 columns the focused detail pane takes the whole width.
func (d *detail) detailOnly(w int) bool { return w < 100 }

// View is the detail pane with the focus, beside the checklist unless the terminal is narrow.
func (d *detail) View() string        { return strings.Join(d.viewLines(), "\n") }
func (d *detail) viewLines() []string { return d.m.splitLines(d.width, d.height, false) }

// resize sizes the viewport to a pane of w×h (one column of margin after the separator, one line
// for the title) and makes the next sync redraw.
func (d *detail) resize(w, h int) {
	d.vp.SetWidth(max(1, w-1))
	d.vp.SetHeight(max(1, h-1))
	d.key = ""
}

func (d *detail) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	m, k := d.m, d.m.keys
	switch {
	case d.scroll(kp):
	case key.Matches(kp, k.Back), key.Matches(kp, k.Focus):
		m.post(openMsg{to: screenList})
	default:
		return d, m.commonOrExplain(kp, detailKeys(k).all)
	}
	return d, nil
}

// scroll handles the viewport's movement keys (detail pane and guided mode); it reports whether msg
// was one of them.
func (d *detail) scroll(msg tea.KeyPressMsg) bool {
	k := d.m.keys
	switch {
	case key.Matches(msg, k.Up):
		d.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		d.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		d.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		d.vp.PageDown()
	case key.Matches(msg, k.Top):
		d.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		d.vp.GotoBottom()
	default:
		return false
	}
	return true
}

// pane is the title line and the viewport; focused says whether the detail pane has the keyboard.
func (d *detail) pane(w, h int, prefix string, focused bool) []string {
	m := d.m
	s := m.st
	r := m.current()
	title := ""
	if r != nil {
		title = r.info.Title
		if title == "" {
			title = r.id()
		}
	}
	if prefix != "" {
		title = prefix + " · " + title
	}
	tstyle := s.PaneTitle
	if focused {
		tstyle = s.PaneTitleFocused
	}
	out := make([]string, 0, h)
	scroll := ""
	switch {
	case d.vp.TotalLineCount() <= d.vp.Height():
	case d.vp.YOffset() == 0:
		scroll = " ↓ more"
	default:
		scroll = fmt.Sprintf(" %3.0f%%", d.vp.ScrollPercent()*100)
	}
	out = append(out, padRight(" "+tstyle.Render(truncate(clean(title), max(1, w-2-len(scroll))))+s.Dim.Render(scroll), w))
	for _, l := range strings.Split(d.vp.View(), "\n") {
		if len(out) >= h {
			break
		}
		out = append(out, padRight(" "+l, w))
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", w))
	}
	return out
}

// sync refreshes the viewport when the selected check, its state, the size or the styles changed; a
// new selection starts at the top. Guided mode shows its step in the same viewport.
func (d *detail) sync() {
	m := d.m
	r := m.current()
	if r == nil {
		d.vp.SetContent("")
		return
	}
	w := d.vp.Width()
	k := fmt.Sprintf("%s/%d/%d/%d/%s/%d/%v", r.id(), r.version, w, m.styleGen, m.screen, m.guided.phase, m.guided.on)
	if r.state == stateRunning || m.fix != nil {
		k += "/" + m.spin.View() // running times and the spinner move
	}
	if k == d.key {
		return
	}
	d.key = k
	var lines []string
	if m.screen == screenGuided {
		lines = m.guided.lines(max(10, w))
	} else {
		lines = m.detailLines(r, max(10, w))
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	d.vp.SetContentLines(lines)
	if d.sel != r.id()+fmt.Sprint(m.screen == screenGuided, m.guided.idx) {
		d.sel = r.id() + fmt.Sprint(m.screen == screenGuided, m.guided.idx)
		d.vp.GotoTop()
	}
}
