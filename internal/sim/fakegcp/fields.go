package fakegcp

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Partial responses: the `fields` system parameter of every Google API ("fields=a,b/c,d(e,f)",
// https://cloud.google.com/compute/docs/api/how-tos/performance#partial-response). The answer keeps
// only the selected members: a/b selects b inside a, a(b,c) selects b and c inside a, * every member
// not named beside it; a selection inside an array applies to each element. A malformed selection is
// a 400, as Google's "Invalid field selection". Members a selection names but the answer lacks are
// left out (the real API omits empty members too).

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
					if _, named := sel[name]; !named { // a member named too keeps its own selection
						out[name] = sub.pick(member)
					}
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
	if m, ok := selectMembers(res, sel); ok {
		return m, nil
	}
	return selectJSON(res, sel)
}

// selectJSON is partial by encoding the whole response and pruning the decoded JSON.
func selectJSON(res any, sel fieldSel) (any, *apiError) {
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

// selectMembers is partial for a response that is a struct (what the handlers return), without
// encoding the members left out: a large answer asked for one small member (the policies of
// getEffectiveFirewalls, not the network's thousands of rules) costs what that member costs. It
// declines (false) what it cannot do exactly as encoding/json would: * selections, and structs with
// untagged embedded fields.
func selectMembers(res any, sel fieldSel) (map[string]any, bool) {
	if _, star := sel["*"]; star {
		return nil, false
	}
	v := reflect.ValueOf(res)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, false
	}
	t := v.Type()
	out := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		if f.Anonymous && !hasTag {
			return nil, false // encoding/json would flatten it
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sub, ok := sel[name]
		if !ok {
			continue
		}
		fv := v.Field(i)
		if strings.Contains(","+opts+",", ",omitempty,") && emptyJSON(fv) {
			continue
		}
		if sub == nil {
			out[name] = fv.Interface()
			continue
		}
		picked, err := selectJSON(fv.Interface(), sub)
		if err != nil {
			return nil, false
		}
		out[name] = picked
	}
	return out, true
}

// emptyJSON is encoding/json's notion of an empty value for omitempty.
func emptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
