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

const screenTriage screen = "triage"

// triageScreen is the triage component (t from the checklist or the detail pane, or gkedoctor
// --triage): paste or type an error text, see which failure modes and causes it fits
// (internal/triage, over the catalogue's signatures) and what it names; enter runs exactly those
// checks with the extracted targets (the root's runTriage), esc goes back. Every other key is typed
// into the text box, so q types a q (ctrl+c still quits).
type triageScreen struct {
	m             *Model
	width, height int
	area          textarea.Model
	cat           []checks.Info // the whole catalogue: its signatures are what a text is matched against
	result        triage.Result
	analysed      string
}

// triageRunMsg asks the root to run checks with the extracted targets added to its own.
type triageRunMsg struct {
	checks  []string
	targets triage.Targets
}

func newTriage(m *Model) component {
	t := &triageScreen{m: m, width: 80, height: 20}
	t.reset()
	return t
}

// triageKeys is the triage screen's key map.
func triageKeys(k *keyMap) screenKeys {
	bs := []key.Binding{k.TriageRun, k.TriageNewline, k.TriageClear, k.Back}
	return screenKeys{k: k, short: bs, full: [][]key.Binding{bs}, all: bs}
}

func (t *triageScreen) ShortHelp() []key.Binding  { return triageKeys(t.m.keys).ShortHelp() }
func (t *triageScreen) FullHelp() [][]key.Binding { return triageKeys(t.m.keys).FullHelp() }
func (t *triageScreen) Init() tea.Cmd             { return nil }

func (t *triageScreen) SetSize(width, height int) {
	t.width, t.height = max(width, 20), max(height, 1)
	t.area.SetWidth(t.width - 2)
	t.area.SetHeight(max(3, t.height/3))
}

// reset empties the text box: every opening starts from a blank text, so a new paste is never
// analysed together with an old one.
func (t *triageScreen) reset() {
	a := textarea.New()
	a.Placeholder = "paste a traceback, a log excerpt or curl -v output"
	a.ShowLineNumbers = false
	a.KeyMap.InsertNewline = t.m.keys.TriageNewline
	a.CharLimit = triage.MaxInput
	t.area = a
	t.applyStyles()
	t.analysed, t.result = "", triage.Result{}
	t.SetSize(t.width, t.height)
}

func (t *triageScreen) applyStyles() { t.area.SetStyles(textarea.DefaultStyles(t.m.st.dark)) }

// open starts a blank triage with the text box focused.
func (t *triageScreen) open() tea.Cmd {
	if t.cat == nil {
		t.cat = checks.Catalogue() // on first use: a session that never triages does not copy it
	}
	t.reset()
	return t.area.Focus()
}

func (t *triageScreen) Update(msg tea.Msg) (component, tea.Cmd) {
	m, k := t.m, t.m.keys
	switch msg := msg.(type) {
	case tea.PasteMsg:
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Back):
			t.area.Blur()
			m.post(closeMsg{})
			return t, nil
		case key.Matches(msg, k.TriageRun):
			if !t.result.Recognised() {
				m.setStatus(levelInfo, "triage: nothing recognised in the text, so nothing to run")
				return t, nil
			}
			t.area.Blur()
			m.post(triageRunMsg{checks: t.result.Checks, targets: t.result.Targets})
			return t, nil
		case key.Matches(msg, k.TriageClear):
			t.area.Reset()
			t.analyse()
			return t, nil
		}
	default:
		return t, nil // only keys and pastes: the root keeps everything else
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

func (t *triageScreen) View() string { return strings.Join(t.viewLines(), "\n") }

func (t *triageScreen) viewLines() []string {
	w := t.width
	lines := []string{t.m.st.Bold.Render("Triage") + " — paste or type the error text; what it fits shows below"}
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
	return lines
}

func (t *triageScreen) findings() []string {
	st, r := t.m.st, t.result
	switch {
	case strings.TrimSpace(t.analysed) == "":
		return []string{st.Dim.Render("Nothing yet. Enter runs the checks the text fits; esc goes back.")}
	case !r.Recognised():
		out := []string{st.MsgWarn.Render("Recognised no known error in the text: gkedoctor does not guess."), "The checks it knows:"}
		for _, i := range t.cat {
			if len(i.Signatures) > 0 {
				out = append(out, "  "+i.ID+"  "+st.Dim.Render(i.Title))
			}
		}
		return out
	}
	var out []string
	last := ""
	for _, m := range r.Matches {
		if m.Check != last {
			out = append(out, st.Bold.Render(m.Check)+" — "+m.FailureMode)
			last = m.Check
		}
		out = append(out, fmt.Sprintf("  matched %q", m.Quote))
		var ids []string
		for _, c := range m.Causes {
			ids = append(ids, c.ID)
		}
		out = append(out, st.Dim.Render("  causes: "+strings.Join(ids, ", ")))
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
	return append(out, "", st.MsgOK.Render(run))
}

// The root's side of the triage screen (openTriage, the t key, is in actions.go): run what it asks,
// now or — while checks, a fix or an observation are running, since the targets are shared with
// them — as soon as they have finished.

// triageRequested closes the triage screen and runs its checks, or keeps them waiting.
func (m *Model) triageRequested(msg triageRunMsg) tea.Cmd {
	if m.screen == screenTriage {
		m.screen = m.returnScreen()
		m.layout()
	}
	if len(msg.checks) > 0 {
		m.selected, m.userMoved = msg.checks[0], true
	}
	if m.busy() {
		m.triageWaiting = &msg
		m.setStatus(levelInfo, "triage: "+strings.Join(msg.checks, ", ")+" will run when what is running now has finished")
		return nil
	}
	return m.runTriage(msg)
}

// startWaitingTriage runs the waiting triage once nothing else runs.
func (m *Model) startWaitingTriage() tea.Cmd {
	if m.triageWaiting == nil || m.busy() {
		return nil
	}
	msg := *m.triageWaiting
	m.triageWaiting = nil
	return m.runTriage(msg)
}

// runTriage adds the extracted targets to the session's and runs exactly the checks the text fits.
func (m *Model) runTriage(msg triageRunMsg) tea.Cmd {
	t := &m.cfg.env.Targets
	for _, s := range msg.targets.Services {
		if n, err := checks.ParseNamespacedName(s, "default"); err == nil {
			t.Services = triage.AppendMissing(t.Services, n)
		}
	}
	t.DNSNames = triage.AppendMissing(t.DNSNames, msg.targets.DNSNames...)
	t.Peers = triage.AppendMissing(t.Peers, msg.targets.Peers...)
	if t.Workload == "" {
		t.Workload = msg.targets.Workload
	}
	ids := map[string]bool{}
	for _, id := range msg.checks {
		ids[id] = true
	}
	if len(m.registered(ids)) == 0 {
		m.setStatus(levelWarn, "triage: "+strings.Join(msg.checks, ", ")+" not available in this build: nothing to run")
		return nil
	}
	m.setStatus(levelInfo, "triage: running "+strings.Join(msg.checks, ", "))
	return m.runIDs(ids, false)
}
