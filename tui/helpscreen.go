package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

const screenHelp screen = "help"

// helpScreen is the full help over the screen it was opened from (the root remembers which): ? or
// esc closes it, q quits.
type helpScreen struct {
	m             *Model
	width, height int
}

func newHelpScreen(m *Model) component { return &helpScreen{m: m} }

// helpScreenKeys is the help screen's key map.
func helpScreenKeys(k *keyMap) screenKeys {
	return screenKeys{k: k, short: []key.Binding{k.Help, k.Back, k.Quit}, all: []key.Binding{k.Help, k.Back, k.Quit}}
}

func (c *helpScreen) ShortHelp() []key.Binding  { return helpScreenKeys(c.m.keys).ShortHelp() }
func (c *helpScreen) FullHelp() [][]key.Binding { return helpScreenKeys(c.m.keys).FullHelp() }
func (c *helpScreen) Init() tea.Cmd             { return nil }
func (c *helpScreen) SetSize(w, h int)          { c.width, c.height = w, h }

func (c *helpScreen) Update(msg tea.Msg) (component, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return c, nil
	}
	k := c.m.keys
	switch {
	case key.Matches(kp, k.Help), key.Matches(kp, k.Back):
		c.m.help.ShowAll = false
		c.m.post(closeMsg{})
	case key.Matches(kp, k.Quit):
		return c, c.m.quit()
	}
	return c, nil
}

func (c *helpScreen) View() string { return strings.Join(c.viewLines(), "\n") }

// viewLines is the full help of the screen the help was opened from, then notes on statuses, fixes
// and the keys file.
func (c *helpScreen) viewLines() []string {
	m, w, h := c.m, c.width, c.height
	s := m.st
	from, ok := m.panes[m.prevScreen]
	if !ok || m.prevScreen == screenHelp {
		from = m.list
	}
	var lines []string
	lines = append(lines, s.Section.Render(" Keys"), "")
	full := m.help.FullHelpView(from.FullHelp())
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
	return fitBody(lines, w, h)
}
