package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
	"github.com/gkedoctor/gkedoctor/internal/triage"
)

// triageScreen is the triage component (t, or gkedoctor --triage): paste or type an error text, see
// which failure modes and causes it fits (internal/triage, over the catalogue's signatures) and what
// it names, and Enter runs exactly those checks in the checklist with the extracted targets.
type triageScreen struct {
	st            *styles
	cat           []checks.Info
	area          textarea.Model
	result        triage.Result
	analysed      string
	width, height int

	run, newline, clear, back key.Binding
}

// triageRunMsg asks the root to run checks with the extracted targets added to its own.
type triageRunMsg struct {
	checks  []string
	targets triage.Targets
}

func newTriageScreen(st *styles, cat []checks.Info) *triageScreen {
	a := textarea.New()
	a.Placeholder = "paste a traceback, a log excerpt or curl -v output"
	a.ShowLineNumbers = false
	a.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("ctrl+j"))
	a.CharLimit = triage.MaxInput
	t := &triageScreen{
		st: st, cat: cat, area: a, width: 80, height: 20,
		run:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run these checks")),
		newline: key.NewBinding(key.WithKeys("ctrl+j"), key.WithHelp("ctrl+j", "new line")),
		clear:   key.NewBinding(key.WithKeys("ctrl+l"), key.WithHelp("ctrl+l", "clear")),
		back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	}
	t.SetSize(80, 20)
	return t
}

func (t *triageScreen) ShortHelp() []key.Binding {
	return []key.Binding{t.run, t.newline, t.clear, t.back}
}
func (t *triageScreen) FullHelp() [][]key.Binding {
	return [][]key.Binding{t.ShortHelp()}
}

func (t *triageScreen) Init() tea.Cmd { return t.area.Focus() }

func (t *triageScreen) SetSize(width, height int) {
	t.width, t.height = max(width, 20), max(height, 6)
	t.area.SetWidth(t.width - 2)
	t.area.SetHeight(max(3, t.height/3))
}

func (t *triageScreen) Update(msg tea.Msg) (component, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, t.back):
			return t, func() tea.Msg { return closeMsg{} }
		case key.Matches(k, t.run):
			if !t.result.Recognised() {
				return t, nil
			}
			run := triageRunMsg{checks: t.result.Checks, targets: t.result.Targets}
			return t, func() tea.Msg { return run }
		case key.Matches(k, t.clear):
			t.area.Reset()
			t.analyse()
			return t, nil
		}
	}
	var cmd tea.Cmd
	t.area, cmd = t.area.Update(msg)
	t.analyse()
	return t, cmd
}

func (t *triageScreen) analyse() {
	if v := t.area.Value(); v != t.analysed {
		t.analysed = v
		t.result = triage.Analyze(v, t.cat)
	}
}

func (t *triageScreen) View() string {
	w := t.width
	lines := []string{t.st.Bold.Render("Triage") + " — paste or type the error text; what it fits shows below"}
	lines = append(lines, strings.Split(t.area.View(), "\n")...)
	lines = append(lines, "")
	lines = append(lines, t.findings()...)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	if len(lines) > t.height {
		lines = lines[:t.height]
	}
	for len(lines) < t.height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func (t *triageScreen) findings() []string {
	r := t.result
	switch {
	case strings.TrimSpace(t.analysed) == "":
		return []string{t.st.Dim.Render("Nothing yet. Enter runs the checks the text fits; esc goes back.")}
	case !r.Recognised():
		out := []string{t.st.MsgWarn.Render("Recognised no known error in the text: gkedoctor does not guess."), "The checks it knows:"}
		for _, i := range t.cat {
			if len(i.Signatures) > 0 {
				out = append(out, "  "+i.ID+"  "+t.st.Dim.Render(i.Title))
			}
		}
		return out
	}
	var out []string
	last := ""
	for _, m := range r.Matches {
		if m.Check != last {
			out = append(out, t.st.Bold.Render(m.Check)+" — "+m.FailureMode)
			last = m.Check
		}
		out = append(out, fmt.Sprintf("  matched %q", m.Quote))
		var ids []string
		for _, c := range m.Causes {
			ids = append(ids, c.ID)
		}
		out = append(out, t.st.Dim.Render("  causes: "+strings.Join(ids, ", ")))
	}
	f := r.Found
	for _, row := range []struct {
		name string
		vals []string
	}{{"services", f.Services}, {"hosts", f.Hosts}, {"addresses", f.IPs}, {"service accounts", f.ServiceAccounts}, {"pods", f.Pods}} {
		if len(row.vals) > 0 {
			out = append(out, fmt.Sprintf("%-17s %s", row.name, safeout.Line(strings.Join(row.vals, ", "))))
		}
	}
	run := "Enter runs " + strings.Join(r.Checks, ", ")
	if fl := r.Targets.Flags(); len(fl) > 0 {
		run += " with " + safeout.Line(strings.Join(fl, " "))
	}
	return append(out, "", t.st.MsgOK.Render(run))
}

// The root's side of the triage screen: open it, route to it while open, run what it asks.

func (m *Model) openTriage() tea.Cmd {
	t := newTriageScreen(m.st, checks.Catalogue()) // the signatures are the catalogue's
	t.SetSize(max(m.width, 20), m.bodyHeight())
	m.triage = t
	return t.Init()
}

// routeTriage hands msg to the open triage screen; it reports whether the screen took it.
func (m *Model) routeTriage(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case closeMsg:
		m.triage = nil
		return nil, true
	case triageRunMsg:
		m.triage = nil
		return m.runTriage(msg), true
	case tea.WindowSizeMsg:
		m.triage.SetSize(max(msg.Width, 20), max(1, max(msg.Height, 6)-m.headerHeight()-1-footerHeight))
		return nil, false // the root sizes itself too
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return nil, false
		}
	case tea.PasteMsg:
	default:
		return nil, false
	}
	var cmd tea.Cmd
	m.triage, cmd = m.triage.Update(msg)
	return cmd, true
}

// runTriage adds the extracted targets to the session's and runs the checks, unless others are running.
func (m *Model) runTriage(msg triageRunMsg) tea.Cmd {
	if m.busy() {
		m.setStatus(levelWarn, "checks or a fix are running: triage's checks start when they finish (press t again)")
		return nil
	}
	t := &m.cfg.env.Targets
	for _, s := range msg.targets.Services {
		if n, err := checks.ParseNamespacedName(s, "default"); err == nil && !slicesContains(t.Services, n) {
			t.Services = append(t.Services, n)
		}
	}
	t.DNSNames = appendMissing(t.DNSNames, msg.targets.DNSNames...)
	t.Peers = appendMissing(t.Peers, msg.targets.Peers...)
	if t.Workload == "" {
		t.Workload = msg.targets.Workload
	}
	ids := map[string]bool{}
	for _, id := range msg.checks {
		ids[id] = true
	}
	m.setStatus(levelInfo, "triage: running "+strings.Join(msg.checks, ", "))
	if len(msg.checks) > 0 {
		m.selected, m.userMoved = msg.checks[0], true
	}
	return m.runIDs(ids, false)
}

func slicesContains(l []checks.NamespacedName, n checks.NamespacedName) bool {
	for _, x := range l {
		if x == n {
			return true
		}
	}
	return false
}

func appendMissing(to []string, vs ...string) []string {
	for _, v := range vs {
		found := false
		for _, x := range to {
			found = found || x == v
		}
		if !found {
			to = append(to, v)
		}
	}
	return to
}
