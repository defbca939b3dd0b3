package safeout

import (
	"io"
	"strings"
	"sync/atomic"
)

// Writer sanitises and redacts everything written through it before it reaches the underlying
// writer: the last line of defence under every command's output, so a value that reached a print
// without passing through Text is still made safe. Each Write is judged on its own (every print of
// the tool writes whole lines or whole documents in one call). With colour allowed, SGR sequences
// (ESC [ … m: colours and attributes, what the text renderer paints with) pass; every other escape
// sequence is replaced like any other control.
type Writer struct {
	w     io.Writer
	color atomic.Bool
}

// NewWriter returns a Writer over w; color says whether SGR colour sequences may pass.
func NewWriter(w io.Writer, color bool) *Writer {
	sw := &Writer{w: w}
	sw.color.Store(color)
	return sw
}

// SetColor changes whether SGR colour sequences may pass.
func (sw *Writer) SetColor(on bool) { sw.color.Store(on) }

// Underlying returns the writer Writer writes to.
func (sw *Writer) Underlying() io.Writer { return sw.w }

// Write writes the safe form of p. It reports len(p) on success: the caller's bytes were consumed,
// whatever the safe form's length.
func (sw *Writer) Write(p []byte) (int, error) {
	s := string(p)
	safe := Redact(sanitize(s, sw.color.Load()))
	if _, err := io.WriteString(sw.w, safe); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteLines is Write for a document whose lines stand alone — indented JSON from encoding/json,
// where a string never spans a line and every member is on a line of its own: it is redacted line by
// line, so the rules run only on the few lines that hold what a secret needs (a secret-named key, a
// token prefix) instead of over the whole document. On such a document no rule can match across a
// line, except by taking the quote that ends one string and the one that opens the next as a quoted
// value (token="…",⏎"next"), which whole-document redaction would turn into broken JSON.
func (sw *Writer) WriteLines(p []byte) (int, error) {
	s := sanitize(string(p), sw.color.Load())
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		line, rest, nl := strings.Cut(s, "\n")
		b.WriteString(Redact(line))
		if nl {
			b.WriteByte('\n')
		}
		s = rest
	}
	if _, err := io.WriteString(sw.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for a string.
func (sw *Writer) WriteString(s string) (int, error) { return sw.Write([]byte(s)) }
