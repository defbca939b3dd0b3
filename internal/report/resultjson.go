package report

import (
	"strconv"
	"unicode/utf8"
)

// appendResultJSON appends res encoded exactly as marshalJSON(res, prefix) encodes it before
// safeout.EscapeJSON — encoding/json with SetEscapeHTML(false) and SetIndent(prefix, "  "), without
// the trailing newline — but written field by field instead of through reflection and a second
// indenting pass: a 20,000-Service audit's report is megabytes of results, and encoding them was a
// seventh of the audit's CPU, all of it after the last check. TestResultJSONIsEncodingJSON holds the
// two equal on generated results that fill every field (a field added to Result, Evidence or Fix and
// not here fails it).
func appendResultJSON(b []byte, res *Result, prefix string) []byte {
	w := jsonWriter{b: b, prefix: prefix}
	w.open('{')
	w.str(1, "id", res.ID)
	w.str(1, "title", res.Title)
	w.str(1, "status", string(res.Status))
	w.str(1, "cause", res.Cause)
	w.str(1, "summary", res.Summary)
	w.key(1, "evidence")
	w.array(1, len(res.Evidence), res.Evidence == nil, func(i int) {
		e := &res.Evidence[i]
		w.open('{')
		w.str(3, "step", e.Step)
		w.str(3, "status", string(e.Status))
		w.str(3, "detail", e.Detail)
		w.str(3, "command", e.Command)
		w.close(2, '}')
	})
	w.key(1, "fixes")
	w.array(1, len(res.Fixes), res.Fixes == nil, func(i int) { w.fix(3, &res.Fixes[i]) })
	w.key(1, "durationMs")
	w.b = strconv.AppendInt(w.b, res.DurationMs, 10)
	if res.Parent != "" {
		w.str(1, "parent", res.Parent)
	}
	if len(res.Path) > 0 {
		w.key(1, "path")
		w.strs(1, res.Path)
	}
	w.close(0, '}')
	return w.b
}

// fix writes one Fix object whose members are at depth.
func (w *jsonWriter) fix(depth int, f *Fix) {
	w.open('{')
	w.str(depth, "id", f.ID)
	if f.Check != "" {
		w.str(depth, "check", f.Check)
	}
	w.str(depth, "title", f.Title)
	if f.Description != "" {
		w.str(depth, "description", f.Description)
	}
	w.boolean(depth, "destructive", f.Destructive)
	w.boolean(depth, "reversible", f.Reversible)
	w.boolean(depth, "vpcWide", f.VPCWide)
	w.boolean(depth, "advice", f.Advice)
	if f.Alternative {
		w.boolean(depth, "alternative", true)
	}
	if f.Affects != "" {
		w.str(depth, "affects", f.Affects)
	}
	if len(f.JudgedAgainst) > 0 {
		w.key(depth, "judgedAgainst")
		w.strs(depth, f.JudgedAgainst)
	}
	if f.Diff != "" {
		w.str(depth, "diff", f.Diff)
	}
	w.key(depth, "commands")
	w.strs(depth, f.Commands)
	w.close(depth-1, '}')
}

// jsonWriter writes indented JSON the way json.Indent lays it out: a member or element on a line of
// its own, at prefix plus two spaces per depth; an empty array as []; ": " after a key.
type jsonWriter struct {
	b      []byte
	prefix string
	first  bool // the next member or element is the first of its object or array
}

func (w *jsonWriter) open(c byte) {
	w.b = append(w.b, c)
	w.first = true
}

func (w *jsonWriter) close(depth int, c byte) {
	w.newline(depth)
	w.b = append(w.b, c)
	w.first = false
}

func (w *jsonWriter) newline(depth int) {
	w.b = append(w.b, '\n')
	w.b = append(w.b, w.prefix...)
	for range depth {
		w.b = append(w.b, ' ', ' ')
	}
}

// elem starts the i-th element of an array at depth.
func (w *jsonWriter) elem(depth, i int) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
	w.newline(depth)
	w.first = false
}

// key starts a member at depth.
func (w *jsonWriter) key(depth int, k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.newline(depth)
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':', ' ')
}

func (w *jsonWriter) str(depth int, k, v string) {
	w.key(depth, k)
	w.b = appendJSONString(w.b, v)
}

func (w *jsonWriter) boolean(depth int, k string, v bool) {
	w.key(depth, k)
	w.b = strconv.AppendBool(w.b, v)
}

// array writes an array of n elements whose opening bracket is at depth — null when isNil, [] when
// empty — calling elem(i) to write each element at depth+1.
func (w *jsonWriter) array(depth, n int, isNil bool, elem func(i int)) {
	switch {
	case isNil:
		w.b = append(w.b, "null"...)
	case n == 0:
		w.b = append(w.b, "[]"...)
	default:
		w.open('[')
		for i := range n {
			w.elem(depth+1, i)
			elem(i)
		}
		w.close(depth, ']')
	}
}

// strs writes an array of strings whose opening bracket is at depth.
func (w *jsonWriter) strs(depth int, vs []string) {
	w.array(depth, len(vs), vs == nil, func(i int) { w.b = appendJSONString(w.b, vs[i]) })
}

// appendJSONString is encoding/json's string encoding with HTML escaping off: " and \ escaped, the
// control characters as \b \f \n \r \t or \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
