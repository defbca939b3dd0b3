package fakegcp

import (
	"encoding/base64"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// paginate returns the page of items the request asks for (query parameters sizeParam — "pageSize"
// or "maxResults" — and "pageToken") and the token of the next page ("" on the last page).
// Page tokens are opaque offsets into the (name-sorted) list.
func paginate[T any](c *call, items []T, sizeParam string) ([]T, string, *apiError) {
	size := 0
	if v := c.query(sizeParam); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", errInvalid("Invalid value for field '%s': '%s'. Must be a non-negative integer.", sizeParam, v)
		}
		size = n
	}
	c.s.mu.Lock()
	def := c.s.PageSize
	c.s.mu.Unlock()
	switch {
	case size == 0 && def > 0:
		size = def
	case size == 0:
		size = defaultPageSize
	case def > 0 && size > def:
		size = def
	}
	if size > defaultPageSize {
		size = defaultPageSize
	}
	off := 0
	if tok := c.query("pageToken"); tok != "" {
		n, ok := decodePageToken(tok)
		if !ok {
			return nil, "", errInvalid("Invalid value for field 'pageToken': '%s'.", tok)
		}
		off = n
	}
	if off > len(items) {
		off = len(items)
	}
	end := off + size
	if end >= len(items) {
		return items[off:], "", nil
	}
	return items[off:end], encodePageToken(end), nil
}

func encodePageToken(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("fakegcp:" + strconv.Itoa(off)))
}

func decodePageToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "fakegcp:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "fakegcp:") {
		return 0, false
	}
	return n, true
}

// filterTerm is one comparison of a compute list filter.
type filterTerm struct {
	field  []int // reflect field index path
	negate bool
	value  *regexp.Regexp
}

// filterTermRE matches one term: optional parentheses, a field name, = or != (or eq / ne), and a
// double-quoted, single-quoted or bare value.
var filterTermRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\(?\s*([A-Za-z][A-Za-z0-9_]*)\s*(!=|=|\s+eq\s+|\s+ne\s+)\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s()"']+)\s*\)?`)
})

// parseFilter parses the subset of compute's list filter syntax gkedoctor uses: terms such as
// IPAddress="10.0.0.1", IPAddress = "…", loadBalancingScheme="INTERNAL" or name != foo, ANDed by
// spaces (an explicit AND is accepted). Fields are the top-level scalar fields of the listed type
// (prototype's JSON names). Values compare as strings; * in a value matches any run of characters.
// Anything else is a 400, as the real API answers a bad filter.
func parseFilter(expr string, prototype any) ([]filterTerm, *apiError) {
	t := reflect.TypeOf(prototype)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var terms []filterTerm
	rest := strings.TrimSpace(expr)
	for rest != "" {
		if strings.HasPrefix(rest, "AND ") {
			rest = strings.TrimSpace(rest[4:])
			continue
		}
		m := filterTermRE().FindStringSubmatch(rest)
		if m == nil {
			return nil, errInvalid("Invalid list filter expression '%s'.", expr)
		}
		rest = strings.TrimSpace(rest[len(m[0]):])
		idx, ok := scalarField(t, m[1])
		if !ok {
			return nil, errInvalid("Invalid list filter expression '%s': unknown field '%s'.", expr, m[1])
		}
		op := strings.TrimSpace(m[2])
		val := m[3]
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') {
			val = val[1 : len(val)-1]
			val = strings.ReplaceAll(val, `\"`, `"`)
		}
		parts := strings.Split(val, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re, err := regexp.Compile("^" + strings.Join(parts, ".*") + "$")
		if err != nil { // e.g. invalid UTF-8 in the value
			return nil, errInvalid("Invalid list filter expression '%s': %v.", expr, err)
		}
		terms = append(terms, filterTerm{field: idx, negate: op == "!=" || op == "ne", value: re})
	}
	return terms, nil
}

// scalarField finds the exported string/bool/number field whose JSON name is name.
func scalarField(t reflect.Type, name string) ([]int, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != name || !f.IsExported() {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
			return f.Index, true
		}
		return nil, false
	}
	return nil, false
}

// matchFilter reports whether item (a pointer to the listed struct) satisfies every term.
func matchFilter(terms []filterTerm, item any) bool {
	v := reflect.ValueOf(item)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	for _, t := range terms {
		fv := v.FieldByIndex(t.field)
		var s string
		switch fv.Kind() {
		case reflect.String:
			s = fv.String()
		case reflect.Bool:
			s = strconv.FormatBool(fv.Bool())
		case reflect.Int, reflect.Int64:
			s = strconv.FormatInt(fv.Int(), 10)
		case reflect.Uint64:
			s = strconv.FormatUint(fv.Uint(), 10)
		case reflect.Float64:
			s = strconv.FormatFloat(fv.Float(), 'g', -1, 64)
		}
		if t.value.MatchString(s) == t.negate {
			return false
		}
	}
	return true
}

// filterItems applies the request's "filter" query parameter to items.
func filterItems[T any](c *call, items []*T) ([]*T, *apiError) {
	expr := c.query("filter")
	if strings.TrimSpace(expr) == "" {
		return items, nil
	}
	terms, err := parseFilter(expr, new(T))
	if err != nil {
		return nil, err
	}
	out := items[:0:0]
	for _, it := range items {
		if matchFilter(terms, it) {
			out = append(out, it)
		}
	}
	return out, nil
}
