package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

const footerHeight = 2

// View draws the whole screen. Every line is cut to the width, and the body fills exactly the height
// left by the header and the footer, so a resize never leaves debris.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	title := "gkedoctor"
	if c := m.cfg.env.Target.Context; c != "" {
		title += " — " + safeout.Line(c) // the window title is an OSC sequence: nothing may end it early
	}
	v.WindowTitle = title
	return v
}

// render composes the frame: the header, a rule, the active component's body (exactly the body's
// height) and the footer.
func (m *Model) render() string {
	h := max(m.height, 6)
	header := m.headerLines(max(m.width, 20))
	lines := make([]string, 0, h+1)
	lines = append(lines, header...)
	lines = append(lines, m.st.Rule.Render(strings.Repeat("─", max(m.width, 20))))
	lines = append(lines, bodyLines(m.active())...)
	lines = append(lines, m.footerLines(max(m.width, 20))...)
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

func (m *Model) headerHeight() int {
	if m.cfg.kubeErr != nil || m.cfg.gcpErr != nil {
		return 3
	}
	return 2
}

func (m *Model) bodyHeight() int {
	return max(1, max(m.height, 6)-m.headerHeight()-1-footerHeight)
}

// detailOnly is implemented by a component that gives the detail pane the whole width of a
// terminal w columns wide (guided mode always, the focused detail pane on a narrow terminal).
type detailOnly interface{ detailOnly(w int) bool }

// listWidth is 0 when the list is hidden (the active component says when), the whole width on a very
// narrow terminal, else two fifths of it.
func (m *Model) listWidth() int {
	w := max(m.width, 20)
	if d, ok := m.active().(detailOnly); ok && d.detailOnly(w) {
		return 0
	}
	if w < 60 {
		return w
	}
	return min(60, max(38, w*2/5))
}

func (m *Model) detailWidth() int {
	w := max(m.width, 20)
	lw := m.listWidth()
	if lw == 0 {
		return w
	}
	if lw >= w {
		return 0
	}
	return w - lw - 1
}

// layout gives every component the body's size and the detail viewport the width the active
// component leaves it.
func (m *Model) layout() {
	w, h := max(m.width, 20), m.bodyHeight()
	for _, c := range m.panes {
		c.SetSize(w, h)
	}
	m.detail.resize(m.detailWidth(), h)
	m.help.SetWidth(w)
}

func (m *Model) headerLines(w int) []string {
	s := m.st
	env := m.cfg.env
	t := env.Target
	badge := s.BadgeRW.Render("[RW]")
	if m.cfg.readOnly {
		badge = s.BadgeRO.Render("[RO]")
	}
	orNone := func(v, what string) string {
		if v == "" {
			return "(no " + what + ")"
		}
		return safeout.Line(v) // a context name comes from a kubeconfig file
	}
	line1 := s.Header.Render(" gkedoctor ") + " " + badge + " " +
		s.Bold.Render(orNone(t.Project, "project")+" / "+orNone(t.Location, "location")+" / "+orNone(t.Cluster, "cluster"))
	where := string(env.Where)
	if where == "" {
		where = "unknown"
	}
	line2 := s.Dim.Render(" context ") + orNone(t.Context, "context") + s.Dim.Render(" · ns ") + orNone(t.Namespace, "namespace") +
		s.Dim.Render(" · runs from ") + safeout.Line(where)
	if m.cfg.readOnly {
		line2 += s.Dim.Render(" · " + m.readOnlyHeader())
	}
	out := []string{padRight(line1, w), padRight(line2, w)}
	if m.cfg.kubeErr != nil || m.cfg.gcpErr != nil {
		var parts []string
		if m.cfg.kubeErr != nil {
			parts = append(parts, "⊘ Kubernetes: "+clean(m.cfg.kubeErr.Error()))
		}
		if m.cfg.gcpErr != nil {
			parts = append(parts, "⊘ Google APIs: "+clean(m.cfg.gcpErr.Error()))
		}
		out = append(out, padRight(s.HeaderWarn.Render(" "+strings.Join(parts, "  ·  ")), w))
	}
	return out
}

// lineViewer is implemented by a component that can hand the root its body as lines (View joins
// them): the frame is composed from lines, and this saves joining and splitting the body each frame.
type lineViewer interface{ viewLines() []string }

// bodyLines is a component's body as lines.
func bodyLines(c component) []string {
	if lv, ok := c.(lineViewer); ok {
		return lv.viewLines()
	}
	return strings.Split(c.View(), "\n")
}

// splitLines is the checklist and the detail pane side by side, as the checklist, the detail pane and
// the filter draw it; listFocused says which of the two has the keyboard.
func (m *Model) splitLines(w, h int, listFocused bool) []string {
	lw := m.listWidth()
	if lw == 0 {
		return m.detail.pane(w, h, "", !listFocused)
	}
	list := m.list.pane(lw, h, listFocused)
	if lw >= w {
		return list
	}
	detail := m.detail.pane(w-lw-1, h, "", !listFocused)
	sep := m.st.Separator.Render("│")
	out := make([]string, h)
	for i := 0; i < h; i++ {
		l, d := "", ""
		if i < len(list) {
			l = list[i]
		}
		if i < len(detail) {
			d = detail[i]
		}
		out[i] = l + sep + d
	}
	return out
}

// statusWord is the glyph and word of a row's state; both are drawn so colour is never needed.
func (m *Model) statusWord(r *row) (string, string) {
	switch r.state {
	case statePlanned:
		return "planned", "○"
	case stateIdle:
		return "not run", "·"
	case stateQueued:
		return "queued", "·"
	case stateRunning:
		return "running", ansi.Strip(m.spin.View())
	}
	if r.result == nil {
		return "not run", "·"
	}
	return string(r.result.Status), glyph(r.result.Status)
}

func (m *Model) durationText(r *row) string {
	switch {
	case r.state == stateRunning && !r.startedAt.IsZero():
		return fmtDuration(m.cfg.now().Sub(r.startedAt))
	case r.state == stateDone && r.result != nil:
		return fmtDuration(r.result.Duration)
	}
	return ""
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// detailLines renders everything about one check for the viewport.
func (m *Model) detailLines(r *row, w int) []string {
	s := m.st
	info := r.info
	var out []string
	meta := []string{info.ID}
	if info.Kind != "" {
		meta = append(meta, info.Kind)
	}
	if r.parent != nil {
		meta = append(meta, "supports "+r.parent.id())
	} else if info.FailureMode != "" {
		meta = append(meta, info.FailureMode)
	}
	out = append(out, s.Dim.Render(truncate(strings.Join(meta, " · "), w)))
	switch {
	case r.state == statePlanned:
		out = append(out, s.Planned.Render("○ planned — not available in this build"), "")
	case r.state == stateIdle && r.result == nil:
		out = append(out, s.Dim.Render("· not run yet (r runs it)"), "")
	default:
		out = append(out, m.resultLines(r, w)...)
	}
	if len(r.children) > 0 {
		out = append(out, s.Section.Render("Supporting checks"))
		for _, c := range r.children {
			word, gl := m.statusWord(c)
			line := fmt.Sprintf("  %s %-7s %s", gl, word, c.id())
			if c.result != nil && c.result.Status != checks.Pass && c.result.Summary != "" {
				line += " — " + clean(c.result.Summary)
			}
			st := s.Dim
			if c.result != nil {
				st = s.statusStyle(c.result.Status)
			}
			for i, l := range wrapText(line, w) {
				if i == 0 {
					out = append(out, st.Render(l))
				} else {
					out = append(out, "              "+l)
				}
			}
		}
		out = append(out, "")
	}
	if lines := m.observed[r.id()]; len(lines) > 0 {
		out = append(out, s.Section.Render("Observed live"))
		for _, l := range lines {
			out = append(out, indentLines(wrapText(clean(l), w-2), "  ")...)
		}
		out = append(out, "")
	}
	if info.Good != "" {
		out = append(out, s.Section.Render("What good looks like"))
		out = append(out, indentLines(wrapText(info.Good, w-2), "  ")...)
		out = append(out, "")
	}
	if info.Explanation != "" {
		out = append(out, s.Section.Render("About this check"))
		out = append(out, indentLines(wrapText(info.Explanation, w-2), "  ")...)
		out = append(out, "")
	}
	if req := requiresText(info); req != "" {
		out = append(out, s.Section.Render("What it needs"))
		out = append(out, indentLines(wrapText(req, w-2), "  ")...)
	}
	return out
}

// resultLines renders what a check found: status, any fix in progress and the last fix's outcome,
// then summary, cause, path, evidence and fixes. While it runs for the first time, the evidence gathered
// so far; while it is re-checked, the previous result under a line that says so.
func (m *Model) resultLines(r *row, w int) []string {
	s := m.st
	var out []string
	word, gl := m.statusWord(r)
	res := r.result
	ev := r.steps
	var head string
	stStyle := s.Running
	switch {
	case r.state == stateDone && res != nil:
		stStyle = s.statusStyle(res.Status)
		head = gl + " " + strings.ToUpper(word)
	case res != nil:
		head = gl + " RE-CHECKING — previous result: " + glyph(res.Status) + " " + string(res.Status)
	default:
		head = gl + " " + strings.ToUpper(word)
	}
	if d := m.durationText(r); d != "" {
		head += " · " + d
	}
	out = append(out, stStyle.Render(truncate(head, w)))
	if m.fix != nil && m.fix.check == r.id() {
		out = append(out, m.fixProgressLines(w)...)
	}
	if r.fixNote != "" && m.fix == nil {
		st := map[level]lipgloss.Style{levelInfo: s.MsgInfo, levelOK: s.MsgOK, levelWarn: s.MsgWarn, levelErr: s.MsgErr}[r.fixLevel]
		out = append(out, s.Label.Render("Last fix"))
		// Cleaned whole, then split: a secret spanning lines (a PEM block in an error) is one match.
		for _, l := range strings.Split(clean(r.fixNote), "\n") {
			for _, wl := range indentLines(wrapText(l, w-2), "  ") {
				out = append(out, st.Render(wl))
			}
		}
		out = append(out, "")
	}
	if res != nil {
		ev = res.Evidence
		if res.Summary != "" {
			out = append(out, wrapText(clean(res.Summary), w)...)
		}
		out = append(out, "")
		if res.Cause != "" {
			out = append(out, s.Label.Render("Cause ")+clean(res.Cause))
			if c, ok := m.causeFor(r, res.Cause); ok {
				out = append(out, indentLines(wrapText(c.Title, w-2), "  ")...)
				if c.Explanation != "" {
					for _, l := range indentLines(wrapText(c.Explanation, w-2), "  ") {
						out = append(out, s.dimP.paint(l))
					}
				}
			}
			out = append(out, "")
		}
		if len(res.Path) > 0 {
			out = append(out, s.Label.Render("Path"))
			out = append(out, indentLines(wrapText(clean(strings.Join(res.Path, " → ")), w-2), "  ")...)
			out = append(out, "")
		}
	} else {
		out = append(out, "")
	}
	if len(ev) > 0 {
		title := "Evidence"
		if res == nil {
			title = "Evidence so far"
		}
		out = append(out, s.Section.Render(title))
		for _, e := range ev {
			out = append(out, m.evidenceLines(e, w)...)
		}
		out = append(out, "")
	}
	if res != nil && len(res.Fixes) > 0 {
		out = append(out, m.fixLines(res, w)...)
	}
	return out
}

func (m *Model) causeFor(r *row, cause string) (checks.Cause, bool) {
	for _, x := range []*row{r, r.parent} {
		if x == nil {
			continue
		}
		for _, c := range x.info.Causes {
			if c.ID == cause {
				return c, true
			}
		}
	}
	if _, c, ok := checks.CauseFor(r.id() + "/" + cause); ok {
		return c, true
	}
	return checks.Cause{}, false
}

func (m *Model) evidenceLines(e checks.Evidence, w int) []string {
	s := m.st
	const hang = "          "
	var out []string
	head := fmt.Sprintf("%s %-5s ", glyph(e.Status), e.Status)
	step := wrapText(clean(e.Step), max(4, w-2-len(hang)))
	for i, l := range step {
		if i == 0 {
			out = append(out, "  "+s.statusP[e.Status].paint(head)+" "+l)
		} else {
			out = append(out, "  "+hang+l)
		}
	}
	if e.Detail != "" {
		for _, l := range strings.Split(clean(e.Detail), "\n") {
			for _, wl := range wrapText(l, max(4, w-2-len(hang))) {
				out = append(out, "  "+hang+s.dimP.paint(wl))
			}
		}
	}
	if e.Command != "" {
		out = append(out, cmdLines(s, e.Command, w, "  "+hang)...)
	}
	return out
}

// cmdLines renders a command as "$ …", continuation lines indented, hard-wrapped so nothing is lost
// (c copies the exact text).
func cmdLines(s *styles, cmd string, w int, indent string) []string {
	var out []string
	for i, l := range strings.Split(clean(cmd), "\n") {
		p := "$ "
		if i > 0 {
			p = "  "
		}
		for j, wl := range wrapText(p+l, max(4, w-len(indent)-2)) {
			if j > 0 {
				wl = "  " + wl // continuation of a wrapped line
			}
			out = append(out, indent+s.cmdP.paint(wl))
		}
	}
	return out
}

func (m *Model) fixProgressLines(w int) []string {
	s := m.st
	f := m.fix
	var out []string
	p := f.plans[min(f.idx, len(f.plans)-1)]
	title := "Applying"
	if len(f.plans) > 1 {
		title = fmt.Sprintf("Applying %d of %d", f.idx+1, len(f.plans))
	}
	out = append(out, s.Section.Render(title))
	out = append(out, indentLines(wrapText(m.spin.View()+" "+clean(p.Title), w-2), "  ")...)
	for _, l := range f.lines {
		out = append(out, indentLines(wrapText("… "+clean(l), w-4), "    ")...)
	}
	if !f.deadline.IsZero() {
		left := f.deadline.Sub(m.cfg.now()).Round(time.Second)
		out = append(out, s.Dim.Render(truncate(fmt.Sprintf("    deadline %s (%s left) for the change to take effect", f.deadline.Format("15:04:05"), max(0, left)), w)))
	}
	out = append(out, "")
	return out
}

func (m *Model) fixLines(res *checks.Result, w int) []string {
	s := m.st
	var out []string
	all, rec, _ := applicable(res)
	hint := ""
	switch {
	case len(all) == 0 && m.cfg.readOnly:
		hint = "advice only: nothing the tool applies (c copies the commands)"
	case len(all) == 0:
		hint = "advice only: make the change, then f records it and re-checks (c copies the commands)"
	case m.cfg.readOnly:
		hint = "f fix — disabled: read-only"
	case len(all) == 1:
		hint = "f applies it"
		if all[0].NeedsConfirmation() {
			hint += " (asks once more first)"
		}
	default:
		hint = fmt.Sprintf("f picks one of %d, or applies the recommended set (%d)", len(all), len(rec))
	}
	title := "Fix"
	if len(res.Fixes) > 1 {
		title = "Fixes"
	}
	out = append(out, s.Section.Render(title)+s.Dim.Render("  "+hint))
	n := 0
	for _, p := range res.Fixes {
		if p == nil {
			continue
		}
		n++
		out = append(out, m.planLines(n, p, w, contains(rec, p))...)
	}
	return out
}

func contains(ps []*fixes.Plan, p *fixes.Plan) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func planFlags(s *styles, p *fixes.Plan, recommended bool) string {
	var f []string
	if recommended {
		f = append(f, s.FlagGood.Render("[recommended]"))
	}
	if p.Advice {
		f = append(f, s.Flag.Render("[advice]"))
	}
	if p.Alternative {
		f = append(f, s.Flag.Render("[alternative]"))
	}
	if p.Destructive {
		f = append(f, s.FlagDanger.Render("[destructive]"))
	}
	if p.VPCWide {
		f = append(f, s.FlagDanger.Render("[VPC-wide]"))
	}
	if !p.Advice {
		if p.Reversible {
			f = append(f, s.Flag.Render("[reversible]"))
		} else {
			f = append(f, s.FlagDanger.Render("[not reversible]"))
		}
	}
	return strings.Join(f, " ")
}

// judgedLines is the one "judged against" block, shared by the detail pane and the confirm dialog:
// what else uses what the fix changes, as judged when the plan was built.
func judgedLines(s *styles, p *fixes.Plan, w int) []string {
	if len(p.JudgedAgainst) == 0 {
		return nil
	}
	out := []string{s.Dim.Render("judged against:")}
	for _, j := range p.JudgedAgainst {
		for i, l := range wrapText(clean(j), max(4, w-2)) {
			if i == 0 {
				out = append(out, s.Dim.Render("· "+l))
			} else {
				out = append(out, s.Dim.Render("  "+l))
			}
		}
	}
	return out
}

func (m *Model) planLines(n int, p *fixes.Plan, w int, recommended bool) []string {
	s := m.st
	const ind = "     "
	var out []string
	for i, l := range wrapText(clean(p.Title), max(4, w-len(ind))) {
		if i == 0 {
			out = append(out, s.Bold.Render(fmt.Sprintf("  %d. %s", n, l)))
		} else {
			out = append(out, ind+s.Bold.Render(l))
		}
	}
	if fl := planFlags(s, p, recommended); fl != "" {
		out = append(out, ind+fl)
	}
	if p.WaitTimeout > 0 {
		out = append(out, ind+s.Dim.Render("waits up to "+p.WaitTimeout.String()+" for the effect"))
	}
	if p.Affects != "" {
		out = append(out, indentLines(wrapText("affects: "+clean(p.Affects), max(4, w-len(ind))), ind)...)
	}
	out = append(out, indentLines(judgedLines(s, p, max(4, w-len(ind))), ind)...)
	if p.Description != "" {
		out = append(out, indentLines(wrapText(clean(p.Description), max(4, w-len(ind))), ind)...)
	}
	if p.Diff != "" {
		for _, l := range strings.Split(strings.TrimRight(clean(p.Diff), "\n"), "\n") {
			st := s.ctxP
			switch {
			case strings.HasPrefix(l, "+"):
				st = s.addP
			case strings.HasPrefix(l, "-"):
				st = s.delP
			}
			for _, wl := range hardWrap(l, max(4, w-len(ind))) {
				out = append(out, ind+st.paint(wl))
			}
		}
	}
	for _, c := range p.Commands {
		out = append(out, cmdLines(s, c, w, ind)...)
	}
	out = append(out, "")
	return out
}

func (m *Model) footerLines(w int) []string {
	s := m.st
	var status string
	switch {
	case m.statusFromActive(&status):
	case m.fix != nil:
		// Deadline and the latest progress first: the title is the part that may be cut.
		f := m.fix
		p := f.plans[min(f.idx, len(f.plans)-1)]
		parts := []string{m.spin.View() + " fixing"}
		if len(f.plans) > 1 {
			parts[0] += fmt.Sprintf(" %d/%d", f.idx+1, len(f.plans))
		}
		if !f.deadline.IsZero() {
			parts = append(parts, fmt.Sprintf("%s left", max(0, f.deadline.Sub(m.cfg.now()).Round(time.Second))))
		}
		if n := len(f.lines); n > 0 {
			parts = append(parts, clean(f.lines[n-1]))
		}
		parts = append(parts, clean(p.Title))
		status = strings.Join(parts, " · ")
		if m.quitArmed {
			status = s.MsgWarn.Render(clean(m.status.text))
		}
	case m.undoing && !m.quitArmed:
		status = m.spin.View() + " " + clean(m.status.text)
	default:
		st := map[level]lipgloss.Style{levelInfo: s.MsgInfo, levelOK: s.MsgOK, levelWarn: s.MsgWarn, levelErr: s.MsgErr}[m.status.level]
		status = st.Render(clean(m.status.text))
	}
	helpLine := m.help.ShortHelpView(m.active().ShortHelp())
	return []string{padRight(" "+status, w), padRight(" "+helpLine, w)}
}

// statusViewer is implemented by a component that draws the footer's status line itself (the
// filter draws its input there).
type statusViewer interface{ statusView() string }

func (m *Model) statusFromActive(status *string) bool {
	if sv, ok := m.active().(statusViewer); ok {
		*status = sv.statusView()
		return true
	}
	return false
}

func keysFileForHelp() string {
	if p := keysFile(); p != "" {
		return p
	}
	return "$XDG_CONFIG_HOME/gkedoctor/keys.yaml"
}

// dialogLines centres a dialog's box in a body of w×h (the confirm and pick components).
func dialogLines(w, h int, box string) []string {
	placed := lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
	return fitBody(strings.Split(placed, "\n"), w, h)
}

// fitBody makes lines exactly h lines of width w: cut below, padded with blank lines.
func fitBody(lines []string, w, h int) []string {
	out := make([]string, 0, h)
	for _, l := range lines {
		if len(out) >= h {
			break
		}
		out = append(out, padRight(l, w))
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", w))
	}
	return out
}

// Text helpers. Every string from a result may come from a cluster or an API: it goes through the
// one output layer (safeout.Text: escape sequences, controls, bidi and invisible characters replaced
// by a visible placeholder, secrets redacted) before anything is drawn; tabs become spaces.

func clean(s string) string {
	if s == "" {
		return s
	}
	return strings.ReplaceAll(safeout.Text(s), "\t", " ")
}

func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	// Every cell takes at least one byte, so a string of at most w bytes fits without measuring.
	if len(s) <= w || ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

func padRight(s string, w int) string {
	s = truncate(s, w)
	if n := w - ansi.StringWidth(s); n > 0 {
		s += strings.Repeat(" ", n)
	}
	return s
}

// wrapText word-wraps plain text to w columns (breaking words longer than a line).
func wrapText(s string, w int) []string {
	w = max(1, w)
	var out []string
	for _, para := range strings.Split(s, "\n") {
		if para == "" {
			out = append(out, "")
			continue
		}
		out = append(out, strings.Split(ansi.Wrap(para, w, ""), "\n")...)
	}
	return out
}

func hardWrap(s string, w int) []string {
	return strings.Split(ansi.Hardwrap(s, max(1, w), true), "\n")
}

func indentLines(ls []string, ind string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = ind + l
	}
	return out
}
