package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

const screenFilter screen = "filter"

// filterBar is the filter line over the checklist: what is typed (or pasted) filters the checklist
// as it is typed, enter keeps the filter, esc clears it; either way it closes. The input draws in the
// footer's status line; the body is the checklist with the focus.
type filterBar struct {
	m             *Model
	width, height int
	input         textinput.Model
}

func newFilter(m *Model) component {
	f := &filterBar{m: m, input: textinput.New()}
	f.input.Prompt = "/"
	f.input.Placeholder = "filter by id, title or status"
	return f
}

// filterKeys is the filter's key map (every other key is typed into the input).
func filterKeys(k *keyMap) screenKeys {
	return screenKeys{k: k, short: []key.Binding{k.Accept, k.Clear}, all: []key.Binding{k.Accept, k.Clear}}
}

func (f *filterBar) ShortHelp() []key.Binding  { return filterKeys(f.m.keys).ShortHelp() }
func (f *filterBar) FullHelp() [][]key.Binding { return filterKeys(f.m.keys).FullHelp() }
func (f *filterBar) Init() tea.Cmd             { return nil }

func (f *filterBar) SetSize(w, h int) {
	f.width, f.height = w, h
	f.input.SetWidth(max(10, f.m.width-4))
}

func (f *filterBar) applyStyles() { f.input.SetStyles(textinput.DefaultStyles(f.m.st.dark)) }

// open starts editing the current filter.
func (f *filterBar) open() tea.Cmd {
	f.input.SetValue(f.m.filter)
	f.input.CursorEnd()
	return f.input.Focus()
}

func (f *filterBar) View() string        { return strings.Join(f.viewLines(), "\n") }
func (f *filterBar) viewLines() []string { return f.m.splitLines(f.width, f.height, true) }
func (f *filterBar) statusView() string  { return f.input.View() }

func (f *filterBar) Update(msg tea.Msg) (component, tea.Cmd) {
	m, k := f.m, f.m.keys
	switch msg := msg.(type) {
	case tea.PasteMsg:
		var cmd tea.Cmd
		f.input, cmd = f.input.Update(msg)
		m.filter = f.input.Value()
		return f, cmd
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Accept):
			m.filter = strings.TrimSpace(f.input.Value())
		case key.Matches(msg, k.Clear):
			m.filter = ""
		default:
			var cmd tea.Cmd
			f.input, cmd = f.input.Update(msg)
			m.filter = f.input.Value()
			if vis := m.visible(); len(vis) > 0 && m.cursorIndex(vis) < 0 {
				m.selected = vis[0].id()
			}
			return f, cmd
		}
		f.input.Blur()
		m.userMoved = true
		m.post(closeMsg{})
	}
	return f, nil
}
