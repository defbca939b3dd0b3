// Package iostreams carries the process's input and output streams and the TTY/colour decision, so
// commands print through one place and tests capture everything (the GitHub CLI's IOStreams).
//
// Out and ErrOut are safeout Writers: every byte a command prints is sanitised (no escape sequence but
// SGR colour on a colour terminal, no control, bidi or invisible character) and redacted on its way
// out, whatever the command forgot. Only the interactive checklist draws on the raw terminal
// (Terminal), and it cleans every string it draws itself.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/charmbracelet/x/term"

	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// IOStreams are the streams a command uses.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer // a *safeout.Writer over the real stdout
	ErrOut io.Writer // a *safeout.Writer over the real stderr

	term   io.Writer // the real stdout, for the full-screen checklist only
	safe   []*safeout.Writer
	outTTY bool
	inTTY  bool
	color  bool
}

// System returns the process's streams with TTY and colour detected (colour only on a terminal, never
// with NO_COLOR set or TERM=dumb).
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin}
	s.outTTY = term.IsTerminal(os.Stdout.Fd())
	s.inTTY = term.IsTerminal(os.Stdin.Fd())
	_, noColor := os.LookupEnv("NO_COLOR")
	s.color = s.outTTY && !noColor && os.Getenv("TERM") != "dumb"
	s.wrap(os.Stdout, os.Stderr)
	return s
}

// wrap puts the safe writers over out and errOut. Only stdout may carry colour.
func (s *IOStreams) wrap(out, errOut io.Writer) {
	o, e := safeout.NewWriter(out, s.color), safeout.NewWriter(errOut, false)
	s.Out, s.ErrOut, s.term, s.safe = o, e, out, []*safeout.Writer{o}
}

// Terminal is the raw stdout, unfiltered: only for the full-screen interactive checklist, which
// draws with cursor movement and cleans every string it shows (tui.clean). Everything else prints
// through Out and ErrOut.
func (s *IOStreams) Terminal() io.Writer {
	if s.term == nil {
		return s.Out
	}
	return s.term
}

// Test returns streams backed by buffers: not a TTY, no colour.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s := &IOStreams{In: in}
	s.wrap(out, errOut)
	return s, in, out, errOut
}

// IsStdoutTTY reports whether output goes to a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStdinTTY reports whether input comes from a terminal (prompts are possible).
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// ColorEnabled reports whether output may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetTTY forces the TTY decision (tests).
func (s *IOStreams) SetTTY(in, out, color bool) {
	s.inTTY, s.outTTY, s.color = in, out, color
	for _, w := range s.safe {
		w.SetColor(color)
	}
}
