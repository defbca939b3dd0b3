package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
)

const screenPick screen = "fix picker"

// pickDialog offers the fixes of a check that has several (m.pick): a digit applies that one, a (or
// enter) the recommended set, esc, n or q none. It closes first, so a pick that needs confirming
// opens the confirm dialog over the screen the picker came from.
type pickDialog struct {
	m             *Model
	width, height int
}

func newPick(m *Model) component { return &pickDialog{m: m} }

// pickKeys is the fix picker's key map.
func pickKeys(k *keyMap) screenKeys {
	digits := key.NewBinding(key.WithKeys("\x00display"), key.WithHelp("1-9", "apply that fix"))
	return screenKeys{k: k, short: []key.Binding{digits, k.ApplySet, k.Cancel}, all: []key.Binding{k.ApplySet, k.Cancel}}
}

func (c *pickDialog) ShortHelp() []key.Binding  { return pickKeys(c.m.keys).ShortHelp() }
func (c *pickDialog) FullHelp() [][]key.Binding { return pickKeys(c.m.keys).FullHelp() }
func (c *pickDialog) Init() tea.Cmd             { return nil }
func (c *pickDialog) SetSize(w, h int)          { c.width, c.height = w, h }

func (c *pickDialog) View() string        { return strings.Join(c.viewLines(), "\n") }
func (c *pickDialog) viewLines() []string { return dialogLines(c.width, c.height, c.pickBox(c.width)) }

func (c *pickDialog) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return c, nil
	}
	m, k := c.m, c.m.keys
	p := m.pick
	if p == nil {
		m.post(closeMsg{})
		return c, nil
	}
	if n, err := strconv.Atoi(kp.String()); err == nil && n >= 1 && n <= len(p.plans) {
		m.pick = nil
		m.post(closeMsg{}) // requestApply may open the confirmation from the screen returned to
		return c, m.requestApply(p.check, []*fixes.Plan{p.plans[n-1]})
	}
	switch {
	case key.Matches(kp, k.ApplySet):
		m.pick = nil
		m.post(closeMsg{})
		if len(p.recommended) == 0 {
			m.setStatus(levelInfo, "no recommended set: pick one fix by its number")
			return c, nil
		}
		return c, m.requestApply(p.check, p.recommended)
	case key.Matches(kp, k.Cancel), key.Matches(kp, k.Quit) && kp.String() == "q":
		m.pick = nil
		m.post(closeMsg{})
		m.setStatus(levelInfo, "not applied")
	}
	return c, nil
}

func (c *pickDialog) pickBox(w int) string {
	m := c.m
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
