package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/internal/vantage"
)

// The o key: observe the selected check live from where the client runs (gkedoctor check --from …):
// plan the probes, preview what will be created, and on y create it, run it, delete it and put the
// observations beside the verdict in the detail pane.

type observeState struct {
	check string
	plans []vantage.VantagePlan
	lines []string // the previews
}

type observePlannedMsg struct {
	check string
	plans []vantage.VantagePlan
	notes []string
	lines []string
}

type observedMsg struct {
	check     string
	lines     []string
	disagrees bool
	err       error
}

func (m *Model) observeSelected() tea.Cmd {
	if m.cfg.readOnly {
		why := "started with --read-only"
		if m.cfg.readOnlyLong != "" && m.cfg.readOnlyShort != "--read-only" {
			why = m.readOnlyNote()
		}
		m.setStatus(levelWarn, "o observe — disabled: read-only (observing creates a probe pod or job; "+why+")")
		return nil
	}
	if m.cfg.observer == nil {
		m.setStatus(levelWarn, "o observe — not available in this session (no fix applier)")
		return nil
	}
	if m.observing != "" || m.fix != nil {
		m.setStatus(levelWarn, "wait for the running fix or observation to finish")
		return nil
	}
	r := m.current()
	if r == nil || r.result == nil {
		m.setStatus(levelInfo, "run the check first (r); observing compares with its verdict")
		return nil
	}
	froms := vantage.ForCheck(r.id())
	if len(froms) == 0 {
		m.setStatus(levelInfo, "no vantage point observes "+r.id()+" (gkedoctor check --from works for the reachability, DNS and pod-egress checks)")
		return nil
	}
	results := m.results()
	obs, env, id := m.cfg.observer, m.cfg.env, r.id()
	ctx := m.ctx
	m.setStatus(levelInfo, "planning the live probes for "+id+"…")
	return func() tea.Msg {
		plans, notes := vantage.Plans(ctx, env, results, froms)
		var lines []string
		var ok []vantage.VantagePlan
		for _, vp := range plans {
			pv, why := obs.Preview(vp)
			if why != "" {
				notes = append(notes, "--from "+vp.From+": "+why)
				continue
			}
			ok = append(ok, vp)
			lines = append(lines, strings.Split(strings.TrimRight(pv.String(), "\n"), "\n")...)
		}
		return observePlannedMsg{check: id, plans: ok, notes: notes, lines: lines}
	}
}

func (m *Model) observePlanned(msg observePlannedMsg) tea.Cmd {
	if len(msg.plans) == 0 {
		why := "nothing to probe"
		if len(msg.notes) > 0 {
			why = strings.Join(msg.notes, "; ")
		}
		m.setStatus(levelWarn, "cannot observe "+msg.check+": "+why)
		return nil
	}
	m.observeAsk = &observeState{check: msg.check, plans: msg.plans, lines: msg.lines}
	if m.screen != screenConfirm && m.screen != screenPick {
		m.prevScreen = m.screen
	}
	m.screen = screenConfirm
	return nil
}

func (m *Model) startObserve(a *observeState) tea.Cmd {
	if m.cfg.readOnly || m.cfg.observer == nil { // the applier and the guards refuse too; the UI stays honest
		return nil
	}
	m.observing = a.check
	m.setStatus(levelInfo, fmt.Sprintf("observing %s live from %d vantage point(s): creating, probing, deleting…", a.check, len(a.plans)))
	obs, ctx := m.cfg.observer, m.ctx
	return tea.Batch(func() tea.Msg {
		msg := observedMsg{check: a.check}
		for _, vp := range a.plans {
			live := obs.Run(ctx, vp)
			msg.lines = append(msg.lines, live.Lines()...)
			msg.disagrees = msg.disagrees || live.Disagrees()
		}
		msg.err = ctx.Err()
		return msg
	}, m.startSpinner())
}

func (m *Model) observedDone(msg observedMsg) tea.Cmd {
	m.observing = ""
	if m.observed == nil {
		m.observed = map[string][]string{}
	}
	m.observed[msg.check] = msg.lines
	m.bumpCheck(msg.check)
	level, text := levelInfo, "observed "+msg.check+" live: see \"Observed live\" in the detail pane"
	if msg.disagrees {
		level, text = levelWarn, "observed "+msg.check+" live: an observation DISAGREES with the prediction (detail pane)"
	}
	if msg.err != nil {
		level, text = levelWarn, "observation of "+msg.check+" stopped: "+msg.err.Error()
	}
	m.setStatus(level, text)
	return nil
}
