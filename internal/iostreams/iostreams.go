// Package iostreams carries the process's input and output streams and the TTY/colour decision, so
// commands print through one place and tests capture everything (the GitHub CLI's IOStreams).
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/charmbracelet/x/term"
)

// IOStreams are the streams a command uses.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	outTTY bool
	inTTY  bool
	color  bool
}

// System returns the process's streams with TTY and colour detected (colour only on a terminal, never
// with NO_COLOR set or TERM=dumb).
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.outTTY = term.IsTerminal(os.Stdout.Fd())
	s.inTTY = term.IsTerminal(os.Stdin.Fd())
	_, noColor := os.LookupEnv("NO_COLOR")
	s.color = s.outTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers: not a TTY, no colour.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdoutTTY reports whether output goes to a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStdinTTY reports whether input comes from a terminal (prompts are possible).
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// ColorEnabled reports whether output may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetTTY forces the TTY decision (tests).
func (s *IOStreams) SetTTY(in, out, color bool) { s.inTTY, s.outTTY, s.color = in, out, color }
