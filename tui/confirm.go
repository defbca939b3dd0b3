package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

const screenConfirm screen = "confirm"

// confirmDialog asks once more before something the root will do: apply a destructive or VPC-wide
// fix, record advice as carried out (m.confirm), or create the probes of a live observation
// (m.observeAsk). y does it, n, esc, enter or q does not (the default); either way it closes.
type confirmDialog struct {
	m             *Model
	width, height int
}

func newConfirm(m *Model) component { return &confirmDialog{m: m} }

// confirmKeys is the confirm dialog's key map.
func confirmKeys(k *keyMap) screenKeys {
	return screenKeys{k: k, short: []key.Binding{k.Yes, k.No}, all: []key.Binding{k.Yes, k.No}}
}

func (c *confirmDialog) ShortHelp() []key.Binding  { return confirmKeys(c.m.keys).ShortHelp() }
func (c *confirmDialog) FullHelp() [][]key.Binding { return confirmKeys(c.m.keys).FullHelp() }
func (c *confirmDialog) Init() tea.Cmd             { return nil }
func (c *confirmDialog) SetSize(w, h int)          { c.width, c.height = w, h }

func (c *confirmDialog) View() string { return strings.Join(c.viewLines(), "\n") }

func (c *confirmDialog) viewLines() []string {
	if c.m.observeAsk != nil {
		return dialogLines(c.width, c.height, c.observeBox(c.width))
	}
	return dialogLines(c.width, c.height, c.confirmBox(c.width))
}

func (c *confirmDialog) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return c, nil
	}
	if c.m.observeAsk != nil {
		return c, c.observeKey(kp)
	}
	m, k := c.m, c.m.keys
	req := m.confirm
	switch {
	case key.Matches(kp, k.Yes) && req != nil:
		m.confirm = nil
		m.post(closeMsg{})
		return c, m.startApply(req.check, req.plans)
	case key.Matches(kp, k.No), key.Matches(kp, k.Quit) && kp.String() == "q":
		m.confirm = nil
		m.post(closeMsg{})
		m.setStatus(levelInfo, "not applied")
	}
	return c, nil
}

// observeKey answers the observation preview.
func (c *confirmDialog) observeKey(msg tea.KeyPressMsg) tea.Cmd {
	m, k := c.m, c.m.keys
	a := m.observeAsk
	switch {
	case key.Matches(msg, k.Yes):
		m.observeAsk = nil
		m.post(closeMsg{})
		return m.startObserve(a)
	case key.Matches(msg, k.No), key.Matches(msg, k.Quit) && msg.String() == "q":
		m.observeAsk = nil
		m.post(closeMsg{})
		m.setStatus(levelInfo, "nothing created")
	}
	return nil
}

func (c *confirmDialog) confirmBox(w int) string {
	m := c.m
	s := m.st
	req := m.confirm
	if req == nil {
		return ""
	}
	inner := max(20, min(w-6, 76))
	if len(req.plans) > 0 && req.plans[0].CarriedOut {
		return c.carriedOutBox(inner)
	}
	var lines []string
	q := "Apply this fix?"
	if len(req.plans) > 1 {
		q = fmt.Sprintf("Apply these %d fixes?", len(req.plans))
	}
	lines = append(lines, s.DialogTitle.Render(q), "")
	for _, p := range req.plans {
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
func (c *confirmDialog) carriedOutBox(inner int) string {
	m := c.m
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

func (c *confirmDialog) observeBox(w int) string {
	m := c.m
	s := m.st
	a := m.observeAsk
	inner := max(20, min(w-6, 76))
	lines := []string{s.DialogTitle.Render("Observe " + a.check + " live?"), ""}
	for _, l := range a.lines {
		for _, wl := range wrapText(clean(l), inner) {
			lines = append(lines, wl)
		}
	}
	lines = append(lines, "")
	for _, l := range wrapText("Each creation is journaled with its cleanup first and deleted afterwards, whatever happens.", inner) {
		lines = append(lines, s.Dim.Render(l))
	}
	lines = append(lines, "", truncate(fmt.Sprintf("%s create, probe, delete   %s cancel (default)", m.keys.Yes.Help().Key, m.keys.No.Help().Key), inner))
	return s.Dialog.Width(inner + 4).Render(strings.Join(lines, "\n"))
}
