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

func (m *Model) render() string {
	w, h := max(m.width, 20), max(m.height, 6)
	header := m.headerLines(w)
	bodyH := m.bodyHeight()
	var body []string
	switch {
	case m.triage != nil:
		body = strings.Split(m.triage.View(), "\n")
	case m.screen == screenHelp:
		body = m.helpBody(w, bodyH)
	case m.screen == screenConfirm:
		if m.observeAsk != nil {
			body = m.dialogBody(w, bodyH, m.observeBox(w))
		} else {
			body = m.dialogBody(w, bodyH, m.confirmBox(w))
		}
	case m.screen == screenPick:
		body = m.dialogBody(w, bodyH, m.pickBox(w))
	case m.screen == screenGuided:
		body = m.detailPane(w, bodyH, "Guided")
	default:
		body = m.mainBody(w, bodyH)
	}
	lines := make([]string, 0, h)
	lines = append(lines, header...)
	lines = append(lines, m.st.Rule.Render(strings.Repeat("─", w)))
	lines = append(lines, body...)
	lines = append(lines, m.footerLines(w)...)
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

// listWidth is 0 when the list is hidden: in guided mode, and when the detail pane has the focus on a
// narrow terminal (it then takes the whole width).
func (m *Model) listWidth() int {
	w := max(m.width, 20)
	switch {
	case m.screen == screenGuided:
		return 0
	case m.screen == screenDetail && w < 100:
		return 0
	case w < 60:
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

func (m *Model) layout() {
	dw := m.detailWidth()
	m.vp.SetWidth(max(1, dw-1)) // one column of margin after the separator
	m.vp.SetHeight(max(1, m.bodyHeight()-1))
	m.help.SetWidth(max(m.width, 20))
	m.input.SetWidth(max(10, m.width-4))
	m.detailKey = ""
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
		line2 += s.Dim.Render(" · read-only: fixes disabled")
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

func (m *Model) mainBody(w, h int) []string {
	lw := m.listWidth()
	if lw == 0 {
		return m.detailPane(w, h, "")
	}
	list := m.listPane(lw, h)
	if lw >= w {
		return list
	}
	detail := m.detailPane(w-lw-1, h, "")
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

// listPane is the checklist: a title with the counts, then one row per visible check.
func (m *Model) listPane(w, h int) []string {
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
	if m.screen == screenList || m.screen == screenFilter {
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
		if cur < m.listOffset {
			m.listOffset = cur
		}
		if cur >= m.listOffset+rowsH {
			m.listOffset = cur - rowsH + 1
		}
	}
	m.listOffset = max(0, min(m.listOffset, max(0, len(vis)-rowsH)))
	for i := m.listOffset; i < len(vis) && len(out) < h; i++ {
		out = append(out, m.rowLine(vis[i], w, i == cur))
	}
	if len(vis) == 0 && len(out) < h {
		out = append(out, padRight(s.Dim.Render("  no check matches the filter (/ then esc clears it)"), w))
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", w))
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

func (m *Model) rowLine(r *row, w int, selected bool) string {
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
		if m.screen != screenList && m.screen != screenFilter {
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

// detailPane is the title line and the viewport.
func (m *Model) detailPane(w, h int, prefix string) []string {
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
	if m.screen == screenDetail || m.screen == screenGuided {
		tstyle = s.PaneTitleFocused
	}
	out := make([]string, 0, h)
	scroll := ""
	switch {
	case m.vp.TotalLineCount() <= m.vp.Height():
	case m.vp.YOffset() == 0:
		scroll = " ↓ more"
	default:
		scroll = fmt.Sprintf(" %3.0f%%", m.vp.ScrollPercent()*100)
	}
	out = append(out, padRight(" "+tstyle.Render(truncate(clean(title), max(1, w-2-len(scroll))))+s.Dim.Render(scroll), w))
	for _, l := range strings.Split(m.vp.View(), "\n") {
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

// syncDetail refreshes the viewport when the selected check, its state, the size or the styles
// changed; a new selection starts at the top.
func (m *Model) syncDetail() {
	r := m.current()
	if r == nil {
		m.vp.SetContent("")
		return
	}
	w := m.vp.Width()
	key := fmt.Sprintf("%s/%d/%d/%d/%d/%d/%v", r.id(), r.version, w, m.styleGen, m.screen, m.guided.phase, m.guided.on)
	if r.state == stateRunning || m.fix != nil {
		key += "/" + m.spin.View() // running times and the spinner move
	}
	if key == m.detailKey {
		return
	}
	m.detailKey = key
	var lines []string
	if m.screen == screenGuided {
		lines = m.guidedLines(max(10, w))
	} else {
		lines = m.detailLines(r, max(10, w))
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	m.vp.SetContentLines(lines)
	if m.detailSel != r.id()+fmt.Sprint(m.screen == screenGuided, m.guided.idx) {
		m.detailSel = r.id() + fmt.Sprint(m.screen == screenGuided, m.guided.idx)
		m.vp.GotoTop()
	}
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
	case m.screen == screenFilter:
		status = m.input.View()
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
	helpLine := m.help.ShortHelpView(m.keys.helpFor(m.screen).ShortHelp())
	return []string{padRight(" "+status, w), padRight(" "+helpLine, w)}
}

func (m *Model) helpBody(w, h int) []string {
	s := m.st
	sc := m.prevScreen
	if sc == screenHelp {
		sc = screenList
	}
	var lines []string
	lines = append(lines, s.Section.Render(" Keys"), "")
	full := m.help.FullHelpView(m.keys.helpFor(sc).FullHelp())
	for _, l := range strings.Split(full, "\n") {
		lines = append(lines, " "+l)
	}
	lines = append(lines, "")
	notes := []string{
		"Statuses: ✓ pass · ✗ fail · ! warn · – skip (could not look; the reason is shown) · ⊘ error (the check broke) · ○ planned (not in this build).",
		"f applies the selected check's fix on one key; destructive or VPC-wide fixes ask once more (default No). Every fix is journaled first; u undoes the newest one. o observes the check live from where the client runs (a probe pod or job, deleted after).",
		"Keys can be remapped in " + keysFileForHelp() + " (action: [keys]).",
	}
	if m.cfg.readOnly {
		notes = append(notes, "Read-only: fix and undo are disabled; the Kubernetes and Google API transports refuse every write below the UI.")
	}
	for _, n := range notes {
		lines = append(lines, indentLines(wrapText(n, w-2), " ")...)
	}
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

func keysFileForHelp() string {
	if p := keysFile(); p != "" {
		return p
	}
	return "$XDG_CONFIG_HOME/gkedoctor/keys.yaml"
}

func (m *Model) dialogBody(w, h int, box string) []string {
	placed := lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
	lines := strings.Split(placed, "\n")
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

func (m *Model) confirmBox(w int) string {
	s := m.st
	c := m.confirm
	if c == nil {
		return ""
	}
	inner := max(20, min(w-6, 76))
	if len(c.plans) > 0 && c.plans[0].CarriedOut {
		return m.carriedOutBox(inner)
	}
	var lines []string
	q := "Apply this fix?"
	if len(c.plans) > 1 {
		q = fmt.Sprintf("Apply these %d fixes?", len(c.plans))
	}
	lines = append(lines, s.DialogTitle.Render(q), "")
	for _, p := range c.plans {
		for i, l := range wrapText(clean(p.Title), inner-2) {
			if i == 0 {
				lines = append(lines, "• "+l)
			} else {
				lines = append(lines, "  "+l)
			}
		}
		if fl := planFlags(s, p, false); fl != "" {
			lines = append(lines, "  "+fl)
		}
		if p.NeedsConfirmation() {
			what := "destructive"
			if p.VPCWide && p.Destructive {
				what = "destructive and VPC-wide"
			} else if p.VPCWide {
				what = "VPC-wide"
			}
			affects := p.Affects
			if affects == "" {
				affects = "more than the checked object"
			}
			for _, l := range wrapText("This fix is "+what+". It affects: "+clean(affects), inner-2) {
				lines = append(lines, "  "+s.MsgWarn.Render(l))
			}
		}
		lines = append(lines, indentLines(judgedLines(s, p, inner-2), "  ")...)
	}
	lines = append(lines, "", truncate(fmt.Sprintf("%s yes, apply   %s no (default)", m.keys.Yes.Help().Key, m.keys.No.Help().Key), inner))
	return s.DialogDanger.Width(inner + 4).Render(strings.Join(lines, "\n"))
}

// carriedOutBox asks whether the person made the change an advice describes: gkedoctor cannot make
// it, only record it and look again.
func (m *Model) carriedOutBox(inner int) string {
	s := m.st
	lines := []string{s.DialogTitle.Render("Have you made this change?"), ""}
	for _, p := range m.confirm.plans {
		for i, l := range wrapText(clean(strings.TrimPrefix(p.Title, "Carried out outside gkedoctor: ")), inner-2) {
			if i == 0 {
				lines = append(lines, "• "+l)
			} else {
				lines = append(lines, "  "+l)
			}
		}
	}
	lines = append(lines, "")
	for _, l := range wrapText("gkedoctor cannot make this change (it is in code or elsewhere). Once you have made and deployed it, yes records that in the journal (nothing to undo) and runs the check again on fresh facts.", inner) {
		lines = append(lines, s.Dim.Render(l))
	}
	lines = append(lines, "", truncate(fmt.Sprintf("%s yes, it is done: re-check   %s not yet (default)", m.keys.Yes.Help().Key, m.keys.No.Help().Key), inner))
	return s.Dialog.Width(inner + 4).Render(strings.Join(lines, "\n"))
}

func (m *Model) pickBox(w int) string {
	s := m.st
	p := m.pick
	if p == nil {
		return ""
	}
	inner := max(20, min(w-6, 76))
	lines := []string{s.DialogTitle.Render("Which fix?"), ""}
	for i, pl := range p.plans {
		if i >= 9 {
			lines = append(lines, s.Dim.Render(fmt.Sprintf("(%d more: use `gkedoctor fix FIX-ID`)", len(p.plans)-9)))
			break
		}
		for j, l := range wrapText(clean(pl.Title), inner-4) {
			if j == 0 {
				lines = append(lines, fmt.Sprintf("%d. %s", i+1, l))
			} else {
				lines = append(lines, "   "+l)
			}
		}
		lines = append(lines, "   "+planFlags(s, pl, contains(p.recommended, pl)))
	}
	lines = append(lines, "")
	if len(p.recommended) > 0 {
		lines = append(lines, truncate(fmt.Sprintf("1-%d apply that fix · %s apply the recommended set (%d) · %s cancel",
			min(9, len(p.plans)), m.keys.ApplySet.Help().Key, len(p.recommended), m.keys.Cancel.Help().Key), inner))
	} else {
		lines = append(lines, truncate(fmt.Sprintf("1-%d apply that fix · %s cancel", min(9, len(p.plans)), m.keys.Cancel.Help().Key), inner))
	}
	return s.Dialog.Width(inner + 4).Render(strings.Join(lines, "\n"))
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
