package tui

import "github.com/gkedoctor/gkedoctor/internal/safeout"

// Why the session is read-only comes from the session (internal/app: --read-only, or the config
// file's rule for this context or project); the TUI only shows it. The guards below the UI enforce it.

const flagReadOnlyNote = "started with --read-only: nothing can be changed from this session"

// readOnlyNote is the reason a disabled fix, undo or observe key gives when pressed.
func (m *Model) readOnlyNote() string {
	if m.cfg.readOnlyLong != "" {
		return safeout.Line(m.cfg.readOnlyLong)
	}
	return flagReadOnlyNote
}

// readOnlyHeader is the header's read-only note: "read-only: context gke_prod_… (config.yaml:7)".
func (m *Model) readOnlyHeader() string {
	if m.cfg.readOnlyShort == "" || m.cfg.readOnlyShort == "--read-only" {
		return "read-only: fixes disabled"
	}
	return "read-only: " + safeout.Line(m.cfg.readOnlyShort)
}
