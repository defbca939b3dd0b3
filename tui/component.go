package tui

import (
	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// component is one screen of the TUI (soft-serve's pkg/ui/common.Component, adapted): it handles the
// messages the root routes to it while it is active, draws itself as a string of the size it was
// given, and says which keys it takes (help.KeyMap) so the footer and the help screen list exactly
// those. Only the root Model returns a tea.View.
//
// Update returns the component itself (or a replacement) and a command; a component that is done
// (confirmed, cancelled, picked) says so with a message the root handles (for example closeMsg), never
// by reaching into the root.
type component interface {
	help.KeyMap
	Init() tea.Cmd
	Update(msg tea.Msg) (component, tea.Cmd)
	View() string
	SetSize(width, height int)
}

// closeMsg asks the root to close the active component and return to the screen it came from.
type closeMsg struct{}

// openMsg asks the root to make a full screen active (the checklist and the detail pane switch with
// it); overlays (help, filter, confirm, pick) are opened by the root's actions, which remember where
// to return.
type openMsg struct{ to screen }
