package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// handleKey routes a key to the active component. ctrl+c always quits (twice while a fix runs),
// whatever the key map says, so nobody is trapped by a remapping.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		return m.quit()
	}
	if !key.Matches(msg, m.keys.Quit) {
		m.quitArmed = false
	}
	return m.route(msg)
}

// explainDisabled shows why a disabled key of a component (bs: the bindings it reacts to) does
// nothing; it reports whether msg was such a key.
func (m *Model) explainDisabled(msg tea.KeyPressMsg, bs []key.Binding) bool {
	name, reason, ok := m.keys.disabledReason(msg, bs...)
	if !ok {
		return false
	}
	b := m.bindingByName(name)
	text := fmt.Sprintf("%s %s — disabled: %s", b.Help().Key, b.Help().Desc, reason)
	if reason == "read-only" {
		text += " (" + m.readOnlyNote() + ")"
	}
	m.setStatus(levelWarn, text)
	return true
}

func (m *Model) bindingByName(name string) key.Binding {
	for _, a := range m.keys.actions() {
		if a.name == name {
			return *a.b
		}
	}
	return key.Binding{}
}

// common handles the actions the checklist, the detail pane and guided mode share (a component
// passes on the keys it does not take itself; guided mode takes g, r, R and / first).
func (m *Model) common(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit(), true
	case key.Matches(msg, k.Fix):
		return m.fixSelected(), true
	case key.Matches(msg, k.Undo):
		return m.undo(), true
	case key.Matches(msg, k.Observe):
		return m.observeSelected(), true
	case key.Matches(msg, k.Rerun):
		return m.rerunSelected(), true
	case key.Matches(msg, k.RerunAll):
		return m.rerunAll(), true
	case key.Matches(msg, k.Copy):
		return m.copyCommands(), true
	case key.Matches(msg, k.Export):
		m.setStatus(levelInfo, "writing the report…")
		return m.export(), true
	case key.Matches(msg, k.Help):
		m.openHelp()
		return nil, true
	case key.Matches(msg, k.Filter):
		return m.openFilter(), true
	case key.Matches(msg, k.Triage) && m.screen != screenGuided: // guided mode does not offer it
		return m.openTriage(), true
	case key.Matches(msg, k.Guided):
		m.enterGuided(false)
		return nil, true
	}
	return nil, false
}

// commonOrExplain is a component's last resort for a key: a shared action, or why it is disabled.
func (m *Model) commonOrExplain(msg tea.KeyPressMsg, bs []key.Binding) tea.Cmd {
	if cmd, ok := m.common(msg); ok {
		return cmd
	}
	m.explainDisabled(msg, bs)
	return nil
}

// openHelp opens the help over the active screen.
func (m *Model) openHelp() {
	if m.screen != screenHelp {
		m.prevScreen = m.screen
	}
	m.screen = screenHelp
	m.help.ShowAll = true
}

// openFilter opens the filter line over the checklist (from the detail pane too: the filter returns
// to the checklist).
func (m *Model) openFilter() tea.Cmd {
	m.prevScreen = m.screen
	if m.prevScreen == screenDetail {
		m.prevScreen = screenList
	}
	m.screen = screenFilter
	cmd := m.filterBar.open()
	m.layout()
	return cmd
}

// openTriage opens a blank triage screen over the checklist or the detail pane (esc returns there).
func (m *Model) openTriage() tea.Cmd {
	if m.screen != screenTriage {
		m.prevScreen = m.screen
	}
	m.screen = screenTriage
	m.layout()
	return m.triage.open()
}

func (m *Model) quit() tea.Cmd {
	if (m.fix != nil || m.undoing) && !m.quitArmed {
		m.quitArmed = true
		m.setStatus(levelWarn, "a fix is still running: press q (or ctrl+c) again to quit anyway; the journal keeps what it did (gkedoctor undo --list)")
		return nil
	}
	return tea.Quit
}

// applicable splits a result's plans: every plan the tool can apply, and the recommended set
// (neither advice nor alternative), the way `gkedoctor fix CHECK-ID` picks them.
func applicable(res *checks.Result) (all, recommended []*fixes.Plan, advice int) {
	if res == nil {
		return nil, nil, 0
	}
	for _, p := range res.Fixes {
		if p == nil {
			continue
		}
		if p.Advice || p.Apply == nil {
			advice++
			continue
		}
		all = append(all, p)
		if !p.Alternative {
			recommended = append(recommended, p)
		}
	}
	return all, recommended, advice
}

// fixSelected is f: apply the selected check's fix, asking first when it is destructive or VPC-wide,
// and letting the user pick when there are several.
func (m *Model) fixSelected() tea.Cmd {
	if m.cfg.readOnly {
		m.setStatus(levelWarn, "f fix — disabled: read-only ("+m.readOnlyNote()+")")
		return nil
	}
	if m.fix != nil || m.undoing {
		m.setStatus(levelWarn, "a fix is already running; wait for it to finish")
		return nil
	}
	r := m.current()
	if r == nil {
		return nil
	}
	switch {
	case r.state == statePlanned:
		m.setStatus(levelInfo, r.id()+" is planned: not available in this build, so there is nothing to fix")
		return nil
	case r.state == stateQueued || r.state == stateRunning:
		m.setStatus(levelInfo, r.id()+" is still running; the fix is offered when it has finished")
		return nil
	case r.result == nil:
		m.setStatus(levelInfo, r.id()+" has not run yet (r runs it)")
		return nil
	case r.result.Status == checks.Pass || r.result.Status == checks.Skip:
		m.setStatus(levelInfo, "nothing to fix: "+r.id()+" is "+string(r.result.Status))
		return nil
	}
	all, rec, advice := applicable(r.result)
	switch {
	case len(all) == 0 && advice > 0:
		// Advice is a change only a person can make (code, a command run elsewhere). Once made, f
		// records it and runs the check again: the verdict, not the statement, says if it worked.
		var done []*fixes.Plan
		for _, p := range r.result.Fixes {
			if p != nil && p.Advice && !p.Alternative {
				done = append(done, fixes.CarriedOut(p))
			}
		}
		if len(done) == 0 {
			m.setStatus(levelInfo, "the fix for "+r.id()+" is advice only: see the detail pane (c copies the commands)")
			return nil
		}
		m.confirm = &confirmState{check: r.id(), plans: done}
		if m.screen != screenConfirm && m.screen != screenPick {
			m.prevScreen = m.screen
		}
		m.screen = screenConfirm
		return nil
	case len(all) == 0:
		m.setStatus(levelInfo, "no fix is known for this cause of "+r.id())
		return nil
	case len(all) == 1:
		return m.requestApply(r.id(), all)
	}
	m.pick = &pickState{check: r.id(), plans: all, recommended: rec}
	m.prevScreen = m.screen
	m.screen = screenPick
	return nil
}

// requestApply asks once more for a destructive or VPC-wide plan, else applies at once.
func (m *Model) requestApply(check string, plans []*fixes.Plan) tea.Cmd {
	for _, p := range plans {
		if p.NeedsConfirmation() {
			m.confirm = &confirmState{check: check, plans: plans}
			if m.screen != screenConfirm && m.screen != screenPick {
				m.prevScreen = m.screen
			}
			m.screen = screenConfirm
			return nil
		}
	}
	return m.startApply(check, plans)
}

// startApply is the only way to an Applier call. It refuses in read-only mode itself, whatever screen
// asked: the guard transports are the real protection, this keeps the UI honest.
func (m *Model) startApply(check string, plans []*fixes.Plan) tea.Cmd {
	if m.cfg.readOnly {
		m.setStatus(levelWarn, "f fix — disabled: read-only ("+m.readOnlyNote()+")")
		return nil
	}
	if m.fix != nil || m.undoing || len(plans) == 0 {
		return nil
	}
	m.userMoved = true // the user is working on this check: the selection stays
	m.jobSeq++
	now := m.cfg.now()
	job := &fixJob{id: m.jobSeq, check: check, set: fixrun.NewSet(plans), plans: plans, started: now}
	if p := plans[0]; p.WaitTimeout > 0 {
		job.deadline = now.Add(p.WaitTimeout)
	}
	m.fix = job
	m.quitArmed = false
	m.setStatus(levelInfo, "applying: "+plans[0].Title)
	m.bumpCheck(check)
	return tea.Batch(m.applyFix(job.id, plans[0]), m.startSpinner())
}

// returnScreen is where an overlay returns to: the detail pane or guided mode it was opened from,
// else the checklist.
func (m *Model) returnScreen() screen {
	switch m.prevScreen {
	case screenDetail, screenGuided:
		return m.prevScreen
	}
	return screenList
}

// fixApplied records one plan's outcome in the set and goes on with the next, or — the set done or
// stopped at a fix that did not take (fixrun's stop policy) — re-checks.
func (m *Model) fixApplied(msg fixAppliedMsg) tea.Cmd {
	job := m.fix
	if job == nil || msg.job != job.id {
		return nil
	}
	o := msg.outcome
	if o.Plan == nil {
		o.Plan = job.set.Next()
	}
	job.set.Record(o)
	title := o.Plan.Title
	var line string
	lv := levelOK
	switch o.State {
	case fixrun.Applied:
		line = "✓ applied: " + title
		if o.JournalID != "" {
			line += " (journal " + o.JournalID + "; u undoes it)"
		}
		if o.Message != "" {
			line += ". " + o.Message
		}
	case fixrun.NotEffective:
		lv = levelWarn
		line = "! " + title + ": " + o.Err.Error()
		if o.JournalID != "" {
			line += " (journal " + o.JournalID + "; u undoes it)"
		}
	default:
		lv = levelErr
		line = "✗ fix failed: " + o.Err.Error()
	}
	job.results = append(job.results, line)
	if lv > job.worst {
		job.worst = lv
	}
	job.idx = len(job.set.Attempted())
	if next := job.set.Next(); next != nil {
		job.lines = nil
		job.deadline = time.Time{}
		if next.WaitTimeout > 0 {
			job.deadline = m.cfg.now().Add(next.WaitTimeout)
		}
		m.setStatus(lv, line+" — next: "+next.Title)
		m.bumpCheck(job.check)
		return m.applyFix(job.id, next)
	}
	rest := job.set.NotAttempted()
	for _, p := range rest {
		job.results = append(job.results, "– not attempted: "+p.Title)
	}
	if note := job.set.StopNote(); note != "" {
		job.results = append(job.results, note)
	}
	m.fix = nil
	m.quitArmed = false
	if r, ok := m.byID[job.check]; ok {
		r.fixNote, r.fixLevel = strings.Join(job.results, "\n"), job.worst
		r.version++
	}
	summary := line
	if len(job.plans) > 1 {
		summary = fmt.Sprintf("%d fixes: %s", len(job.plans), line)
	}
	if len(rest) > 0 {
		summary += fmt.Sprintf(" (stopped: %d not attempted)", len(rest))
	}
	m.setStatus(job.worst, summary+" — re-checking…")
	m.verify[job.check] = "fix"
	return m.runIDs(m.family(job.check), false)
}

// undo is u: revert the newest fix in the journal, then re-check what it touched.
func (m *Model) undo() tea.Cmd {
	if m.cfg.readOnly {
		m.setStatus(levelWarn, "u undo last fix — disabled: read-only ("+m.readOnlyNote()+")")
		return nil
	}
	if m.fix != nil || m.undoing {
		m.setStatus(levelWarn, "a fix is running; undo when it has finished")
		return nil
	}
	m.undoing = true
	m.userMoved = true
	m.setStatus(levelInfo, "undoing the last fix…")
	return tea.Batch(m.undoLast(), m.startSpinner())
}

func (m *Model) undoDone(msg undoDoneMsg) tea.Cmd {
	m.undoing = false
	m.quitArmed = false
	if msg.err != nil {
		if msg.entry == nil {
			m.setStatus(levelWarn, "! "+msg.err.Error())
		} else {
			m.setStatus(levelErr, "✗ undo failed: "+msg.err.Error())
		}
		return nil
	}
	e := msg.entry
	m.setStatus(levelOK, "↺ undone: "+e.Title+" (journal "+e.ID+") — re-checking "+e.Check+"…")
	if r, ok := m.byID[e.Check]; ok {
		r.fixNote, r.fixLevel = "↺ undone: "+e.Title+" (journal "+e.ID+")", levelInfo
		r.version++
	}
	if _, ok := m.byID[e.Check]; !ok {
		return m.runAll(false)
	}
	m.verify[e.Check] = "undo"
	return m.runIDs(m.family(e.Check), false)
}

func (m *Model) rerunSelected() tea.Cmd {
	r := m.current()
	if r == nil {
		return nil
	}
	switch r.state {
	case statePlanned:
		m.setStatus(levelInfo, r.id()+" is planned: not available in this build")
		return nil
	case stateQueued, stateRunning:
		m.setStatus(levelInfo, r.id()+" is already running")
		return nil
	}
	if m.screen == screenGuided {
		m.guided.phase = phaseRunning // the step's result is what comes back
	}
	m.userMoved = true
	m.setStatus(levelInfo, "re-running "+r.id()+" on fresh facts…")
	return m.runIDs(map[string]bool{r.id(): true}, true)
}

func (m *Model) rerunAll() tea.Cmd {
	if m.busyChecks() {
		m.setStatus(levelInfo, "checks are still running; R re-runs them all when they have finished")
		return nil
	}
	m.setStatus(levelInfo, "re-running every check on fresh facts…")
	return m.runAll(true)
}

// copyCommands puts the selected check's equivalent commands on the clipboard with OSC 52.
func (m *Model) copyCommands() tea.Cmd {
	r := m.current()
	if r == nil {
		return nil
	}
	cmds := commandsOf(r)
	if len(cmds) == 0 {
		m.setStatus(levelInfo, "nothing to copy: "+r.id()+" has no commands yet")
		return nil
	}
	text := strings.Join(cmds, "\n") + "\n"
	m.setStatus(levelOK, fmt.Sprintf("✓ copied %d command(s) of %s to the clipboard (OSC 52: the terminal must allow it)", len(cmds), r.id()))
	return tea.SetClipboard(text)
}

// commandsOf lists a check's evidence and fix commands, redacted, without repeats.
func commandsOf(r *row) []string {
	var out []string
	seen := map[string]bool{}
	add := func(c string) {
		c = strings.TrimSpace(safeout.Command(c))
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	ev := r.steps
	if r.result != nil {
		ev = r.result.Evidence
	}
	for _, e := range ev {
		add(e.Command)
	}
	if r.result != nil {
		for _, p := range r.result.Fixes {
			if p == nil {
				continue
			}
			for _, c := range p.Commands {
				add(c)
			}
		}
	}
	return out
}
