package fakegcp

import (
	"encoding/json"
	"strings"
)

// Partial responses: the `fields` system parameter of every Google API ("fields=a,b/c,d(e,f)",
// https://cloud.google.com/compute/docs/api/how-tos/performance#partial-response). The answer keeps
// only the selected members: a/b selects b inside a, a(b,c) selects b and c inside a, * every member;
// a selection inside an array applies to each element. A malformed selection is a 400, as Google's
// "Invalid field selection". Members a selection names but the answer lacks are left out (the real
// API omits empty members too).

// fieldSel is a parsed selection: each selected member and what is selected inside it (nil: all).
type fieldSel map[string]fieldSel

// parseFields parses a fields parameter.
func parseFields(s string) (fieldSel, bool) {
	p := fieldsParser{s: s}
	sel := fieldSel{}
	if !p.list(sel) || p.i != len(p.s) {
		return nil, false
	}
	return sel, true
}

type fieldsParser struct {
	s string
	i int
}

// list parses a comma-separated list of paths into sel.
func (p *fieldsParser) list(sel fieldSel) bool {
	for {
		if !p.path(sel) {
			return false
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return true
	}
}

// path parses name[/name…][(list)] into sel.
func (p *fieldsParser) path(sel fieldSel) bool {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",/()", rune(p.s[p.i])) {
		p.i++
	}
	name := strings.TrimSpace(p.s[start:p.i])
	if name == "" {
		return false
	}
	if p.i < len(p.s) && (p.s[p.i] == '/' || p.s[p.i] == '(') {
		sub, had := sel[name]
		whole := had && sub == nil // already selected whole: a narrower selection changes nothing
		if sub == nil {
			sub = fieldSel{}
		}
		if !whole {
			sel[name] = sub
		}
		if p.s[p.i] == '/' {
			p.i++
			return p.path(sub)
		}
		p.i++
		if !p.list(sub) || p.i >= len(p.s) || p.s[p.i] != ')' {
			return false
		}
		p.i++
		return true
	}
	sel[name] = nil // the whole member, whatever was selected inside it before
	return true
}

// apply keeps in v (decoded JSON) what sel selects.
func (sel fieldSel) apply(v any) any {
	switch t := v.(type) {
	case []any:
		for i := range t {
			t[i] = sel.apply(t[i])
		}
		return t
	case map[string]any:
		out := map[string]any{}
		for k, sub := range sel {
			if k == "*" {
				for name, member := range t {
					out[name] = sub.pick(member)
				}
				continue
			}
			if member, ok := t[k]; ok {
				out[k] = sub.pick(member)
			}
		}
		return out
	default:
		return v
	}
}

// pick is what a selection keeps of one member: all of it, or what its own selection keeps.
func (sel fieldSel) pick(v any) any {
	if sel == nil {
		return v
	}
	return sel.apply(v)
}

// partial keeps what sel selects of a response.
func partial(res any, sel fieldSel) (any, *apiError) {
	b, err := json.Marshal(res)
	if err != nil {
		return nil, errInternal("fakegcp: cannot encode the response: " + err.Error())
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, errInternal("fakegcp: cannot decode the response: " + err.Error())
	}
	return sel.apply(v), nil
}
