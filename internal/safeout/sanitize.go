// Package safeout is the one output layer: every byte gkedoctor sends to a terminal, a file or stderr
// passes through it. Values read from a cluster, an API or the network (an error body, an Event
// message, a Cloud Run environment variable) may hold terminal escape sequences, invisible or
// direction-changing characters, and secrets. This package makes them safe to show:
//
//   - Sanitize removes escape sequences (CSI, OSC, DCS and the other string sequences, in their 7-bit
//     and 8-bit forms), C0 controls except newline and tab, DEL, C1 controls (U+0080–U+009F),
//     invalid UTF-8, bidi embeddings/overrides/isolates and marks (U+202A–U+202E, U+2066–U+2069,
//     U+200E, U+200F, U+061C), zero-width and other invisible characters (U+200B–U+200D, U+2060,
//     U+FEFF, U+2028, U+2029, tag characters U+E0000–U+E007F). Each removed sequence or character
//     leaves one visible placeholder (U+FFFD), so a command the user copies cannot look like another.
//   - Redact masks secrets (see redact.go: the rule set and where it comes from).
//   - Text is both, in that order; it is what every renderer applies to every string it did not
//     write itself. Line folds the result onto one line (stderr). EscapeJSON escapes what JSON
//     encoding leaves raw. Writer applies the same to a whole stream, as the last line of defence
//     under every command's output (internal/iostreams wraps stdout and stderr with it).
package safeout

import (
	"strings"
	"unicode/utf8"
)

// Placeholder replaces each removed escape sequence or character: visible, so tampering shows.
const Placeholder = '\uFFFD'

const placeholderStr = string(Placeholder)

// Sanitize returns s with every escape sequence and every control, bidi or invisible character
// replaced by one Placeholder (CR LF becomes LF). Newline and tab are kept. It is idempotent, never
// emits a control character, and its output is at most three times as long as its input.
func Sanitize(s string) string { return sanitize(s, false) }

// Command is Sanitize followed by Redact for a command the user will copy and run: anything removed
// from it leaves a visible placeholder, so the shown command cannot differ invisibly from what runs.
func Command(s string) string { return Text(s) }

// Text is what every output path applies to a string it did not write itself: sanitised, then
// redacted (sanitising first, so an escape sequence cannot hide a secret's key from the rules).
func Text(s string) string {
	if s == "" {
		return s
	}
	return Redact(sanitize(s, false))
}

// Line is Text folded onto one line (newlines become "; "), for one-line messages on stderr.
func Line(s string) string {
	s = strings.TrimSpace(Text(s))
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	s = strings.ReplaceAll(s, "\t", " ")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' }), "; ")
}

// Clean reports whether s needs no sanitising (it may still hold a secret).
func Clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isC0(rune(c)) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Forbidden(r) {
			return false
		}
		i += n
	}
	return true
}

// Forbidden reports whether r is never shown: a control other than newline and tab, or a bidi,
// zero-width or other invisible formatting character.
func Forbidden(r rune) bool {
	switch {
	case r < 0x80:
		return isC0(r)
	case r <= 0x9f: // C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // Arabic letter mark, LRM, RLM
		return true
	case r >= 0x200b && r <= 0x200d: // zero-width space, non-joiner, joiner
		return true
	case r >= 0x2028 && r <= 0x202e: // line/paragraph separators, bidi embeddings and overrides
		return true
	case r >= 0x2060 && r <= 0x2064: // word joiner, invisible operators
		return true
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
		return true
	case r == 0xfeff: // zero-width no-break space (BOM)
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation
		return true
	case r >= 0xe0000 && r <= 0xe007f: // tag characters (invisible "ASCII smuggling")
		return true
	}
	return false
}

func isC0(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }

// sanitize does Sanitize; with keepSGR, a CSI sequence that only sets colours and attributes
// (ESC [ digits/;/: m) is kept verbatim (the Writer on a colour terminal).
func sanitize(s string, keepSGR bool) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			i++ // CR LF → LF
			continue
		case c == 0x1b:
			n := escLen(s[i:])
			if keepSGR && isSGR(s[i:i+n]) {
				b.WriteString(s[i : i+n])
			} else {
				b.WriteString(placeholderStr)
			}
			i += n
			continue
		case c < utf8.RuneSelf:
			if isC0(rune(c)) {
				b.WriteString(placeholderStr)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(placeholderStr)
		case r == 0x9b: // 8-bit CSI: swallow its parameters and final byte too
			n += csiLen(s[i+n:])
			b.WriteString(placeholderStr)
		case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f: // 8-bit DCS, SOS, OSC, PM, APC
			n += stringSeqLen(s[i+n:])
			b.WriteString(placeholderStr)
		case Forbidden(r):
			b.WriteString(placeholderStr)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escLen is the length of the escape sequence at the start of s (s[0] is ESC), at least 1.
func escLen(s string) int {
	if len(s) < 2 {
		return 1
	}
	switch c := s[1]; {
	case c == '[':
		return 2 + csiLen(s[2:])
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return 2 + stringSeqLen(s[2:])
	case c >= 0x20 && c <= 0x2f: // nF: intermediates, then a final byte
		i := 1
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e: // Fp, Fe, Fs: one final byte
		return 2
	}
	return 1
}

// csiLen is the length of a CSI sequence's parameters, intermediates and final byte at the start of s.
func csiLen(s string) int {
	i := 0
	for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// stringSeqLen is the length of a string sequence's body and terminator (BEL, ESC \ or 8-bit ST) at
// the start of s. An unterminated one ends at the line's end, so it cannot swallow later lines.
func stringSeqLen(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0x07:
			return i + 1
		case '\n':
			return i
		case 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i // another sequence starts: it is judged on its own
		case 0xc2:
			if i+1 < len(s) && s[i+1] == 0x9c { // U+009C ST
				return i + 2
			}
		}
	}
	return len(s)
}

// isSGR reports whether seq is ESC [ params m with params only digits, ';' and ':'.
func isSGR(seq string) bool {
	if len(seq) < 3 || seq[1] != '[' || seq[len(seq)-1] != 'm' {
		return false
	}
	for _, c := range []byte(seq[2 : len(seq)-1]) {
		if (c < '0' || c > '9') && c != ';' && c != ':' {
			return false
		}
	}
	return true
}

// EscapeJSON rewrites encoded JSON so every character Sanitize would remove appears as a \uXXXX escape
// instead of raw (encoding/json leaves C1, bidi and zero-width characters raw). Outside strings
// encoded JSON is ASCII, so escaping rune by rune keeps the document valid and equal in meaning.
func EscapeJSON(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || Forbidden(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	const hex = "0123456789abcdef"
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case Forbidden(r) && r > 0xffff:
			out = append(out, `\ufffd`...) // outside the BMP (tag characters): a placeholder
		case Forbidden(r):
			out = append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}
