package tui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"

	"github.com/gkedoctor/gkedoctor/checks"
)

// styles is every style the TUI draws with. It is built once from the background (dark or light) and
// the colour decision, and rebuilt only when the terminal answers the background-colour query. Colour
// never carries meaning alone: every status has a glyph and a word, selection has a marker.
type styles struct {
	dark, noColor bool

	Header, HeaderDim, BadgeRO, BadgeRW, HeaderWarn lipgloss.Style
	Rule, Separator                                 lipgloss.Style

	PaneTitle, PaneTitleFocused lipgloss.Style
	Row, RowSelected, RowBlur   lipgloss.Style
	Dim, Planned, Bold          lipgloss.Style

	status  map[checks.Status]lipgloss.Style
	Running lipgloss.Style

	Section, Label, Cmd, DiffAdd, DiffDel, DiffCtx lipgloss.Style
	Flag, FlagDanger, FlagGood                     lipgloss.Style

	MsgInfo, MsgOK, MsgWarn, MsgErr lipgloss.Style

	Dialog, DialogTitle, DialogDanger lipgloss.Style

	Help help.Styles

	// Painters for the hot paths of the detail pane (evidence, commands, diffs): the style's escape
	// sequences around a string, without lipgloss's layout work on every line.
	dimP, cmdP, addP, delP, ctxP painter
	statusP                      map[checks.Status]painter
}

// painter wraps plain one-line text in a style's opening and closing sequences.
type painter struct{ pre, post string }

func newPainter(st lipgloss.Style) painter {
	const mark = "\uE000"
	out := st.Render(mark)
	pre, post, ok := strings.Cut(out, mark)
	if !ok {
		return painter{}
	}
	return painter{pre: pre, post: post}
}

func (p painter) paint(s string) string {
	if p.pre == "" && p.post == "" {
		return s
	}
	return p.pre + s + p.post
}

func newStyles(dark, noColor bool) *styles {
	ld := lipgloss.LightDark(dark)
	c := func(light, darkc string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(darkc))
	}
	var (
		fg     = c("#1f2328", "#e6edf3")
		dim    = c("#6e7781", "#8b949e")
		green  = c("#1a7f37", "#3fb950")
		red    = c("#cf222e", "#f85149")
		yellow = c("#9a6700", "#d29922")
		blue   = c("#0969da", "#58a6ff")
		purple = c("#8250df", "#bc8cff")
		selBg  = c("#ddf4ff", "#1f3a5f")
		bandBg = c("#eaeef2", "#161b22")
	)
	s := &styles{dark: dark, noColor: noColor}
	base := lipgloss.NewStyle()

	s.Header = base.Bold(true).Foreground(fg).Background(bandBg)
	s.HeaderDim = base.Foreground(dim).Background(bandBg)
	s.HeaderWarn = base.Foreground(yellow)
	s.BadgeRO = base.Bold(true).Foreground(c("#ffffff", "#0d1117")).Background(green)
	s.BadgeRW = base.Bold(true).Foreground(c("#ffffff", "#0d1117")).Background(red)
	s.Rule = base.Foreground(dim)
	s.Separator = base.Foreground(dim)

	s.PaneTitle = base.Bold(true).Foreground(dim)
	s.PaneTitleFocused = base.Bold(true).Foreground(blue).Underline(true)
	s.Row = base
	s.RowSelected = base.Bold(true).Background(selBg)
	s.RowBlur = base.Bold(true)
	if noColor {
		// Without colour the selection must still be visible: reverse video plus the › marker.
		s.RowSelected = base.Reverse(true)
		s.BadgeRO = base.Bold(true)
		s.BadgeRW = base.Bold(true).Reverse(true)
		s.PaneTitleFocused = base.Bold(true).Underline(true)
	}
	s.Dim = base.Foreground(dim)
	s.Planned = base.Foreground(dim).Faint(true)
	s.Bold = base.Bold(true)

	s.status = map[checks.Status]lipgloss.Style{
		checks.Pass:  base.Foreground(green),
		checks.Fail:  base.Foreground(red).Bold(true),
		checks.Warn:  base.Foreground(yellow).Bold(true),
		checks.Skip:  base.Foreground(dim),
		checks.Error: base.Foreground(purple).Bold(true),
	}
	s.Running = base.Foreground(blue)

	s.Section = base.Bold(true).Foreground(blue)
	if noColor {
		s.Section = base.Bold(true).Underline(true)
	}
	s.Label = base.Bold(true)
	s.Cmd = base.Foreground(c("#0550ae", "#79c0ff"))
	s.DiffAdd = base.Foreground(green)
	s.DiffDel = base.Foreground(red)
	s.DiffCtx = base.Foreground(dim)
	s.Flag = base.Foreground(blue)
	s.FlagDanger = base.Foreground(red).Bold(true)
	s.FlagGood = base.Foreground(green)

	s.MsgInfo = base.Foreground(fg)
	s.MsgOK = base.Foreground(green).Bold(true)
	s.MsgWarn = base.Foreground(yellow).Bold(true)
	s.MsgErr = base.Foreground(red).Bold(true)

	s.Dialog = base.Border(lipgloss.RoundedBorder()).BorderForeground(blue).Padding(0, 1)
	s.DialogDanger = base.Border(lipgloss.DoubleBorder()).BorderForeground(red).Padding(0, 1)
	s.DialogTitle = base.Bold(true)

	s.Help = help.DefaultStyles(dark)
	if noColor {
		plain := base
		s.Help = help.Styles{
			Ellipsis: plain, ShortKey: plain.Bold(true), ShortDesc: plain, ShortSeparator: plain,
			FullKey: plain.Bold(true), FullDesc: plain, FullSeparator: plain,
		}
	}
	s.dimP, s.cmdP = newPainter(s.Dim), newPainter(s.Cmd)
	s.addP, s.delP, s.ctxP = newPainter(s.DiffAdd), newPainter(s.DiffDel), newPainter(s.DiffCtx)
	s.statusP = map[checks.Status]painter{}
	for st, v := range s.status {
		s.statusP[st] = newPainter(v)
	}
	return s
}

// statusStyle is the style of a status; unknown statuses are plain.
func (s *styles) statusStyle(st checks.Status) lipgloss.Style {
	if v, ok := s.status[st]; ok {
		return v
	}
	return lipgloss.NewStyle()
}

// glyph for a status: both glyph and word are always drawn, so no colour and screen readers lose nothing.
func glyph(st checks.Status) string { return st.Glyph() }
