package config

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The schema, by hand: yaml.v3's Node keeps every value's line, which a decoder into structs loses.
// Every key is known, every value has one type; the first problem is the error.

type kind int

const (
	kindString kind = iota
	kindStringList
	kindDuration
)

// defaultKey is one key of defaults: (and of a context entry), the flag it stands for, and where its
// value goes.
type defaultKey struct {
	name string
	flag string
	kind kind
	str  func(*Defaults) *Setting[string]
	list func(*Defaults) *Setting[[]string]
	dur  func(*Defaults) *Setting[time.Duration]
}

// DefaultKeys lists the keys of defaults: in the order `config view` shows them, with their flags.
var defaultKeys = []defaultKey{
	{name: "project", flag: "--project", str: func(d *Defaults) *Setting[string] { return &d.Project }},
	{name: "location", flag: "--location", str: func(d *Defaults) *Setting[string] { return &d.Location }},
	{name: "cluster", flag: "--cluster", str: func(d *Defaults) *Setting[string] { return &d.Cluster }},
	{name: "namespace", flag: "--namespace", str: func(d *Defaults) *Setting[string] { return &d.Namespace }},
	{name: "cloudRunService", flag: "--cloud-run-service", str: func(d *Defaults) *Setting[string] { return &d.CloudRunService }},
	{name: "sourceProjects", flag: "--source-project", kind: kindStringList, list: func(d *Defaults) *Setting[[]string] { return &d.SourceProjects }},
	{name: "dnsProjects", flag: "--dns-project", kind: kindStringList, list: func(d *Defaults) *Setting[[]string] { return &d.DNSProjects }},
	{name: "resolver", flag: "--resolver", str: func(d *Defaults) *Setting[string] { return &d.Resolver }},
	{name: "timeout", flag: "--timeout", kind: kindDuration, dur: func(d *Defaults) *Setting[time.Duration] { return &d.Timeout }},
}

// FlagFor returns the flag a defaults key stands for ("" for an unknown key).
func FlagFor(key string) string {
	for _, k := range defaultKeys {
		if k.name == key {
			return k.flag
		}
	}
	return ""
}

const readOnlyKey = "readOnly"

var topKeys = []string{readOnlyKey, "defaults", "contexts", "projects"}

// Parse parses a config file's bytes; path names it in errors.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	p := &parser{path: path}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file is no settings
		}
		return nil, p.yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errf(extra.Line, "", "the config is one YAML document; found a second one (a --- line)")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlErr(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = deref(root)
	if isNull(root) {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root.Line, "", "want a mapping of settings (readOnly, defaults, contexts, projects), got %s", describe(root))
	}
	err := p.mapping(root, "", topKeys, func(key string, k, v *yaml.Node) error {
		switch key {
		case readOnlyKey:
			return p.boolean(v, readOnlyKey, &f.ReadOnly)
		case "defaults":
			return p.defaults(v, "defaults", &f.Defaults, false)
		case "contexts":
			rules, err := p.rules(v, "contexts", true)
			f.Contexts = rules
			return err
		case "projects":
			rules, err := p.rules(v, "projects", false)
			f.Projects = rules
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct{ path string }

func (p *parser) errf(line int, key, format string, args ...any) error {
	return &Error{Path: p.path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// yamlErr turns a YAML syntax error ("yaml: line 3: mapping values are not allowed…") into PATH:LINE.
func (p *parser) yamlErr(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return &Error{Path: p.path, Line: line, Msg: "not valid YAML: " + tail}
			}
		}
	}
	return &Error{Path: p.path, Msg: "not valid YAML: " + msg}
}

// mapping walks a mapping's keys in order, refusing unknown (when known is non-nil) and duplicate keys.
func (p *parser) mapping(n *yaml.Node, at string, known []string, each func(key string, k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errf(k.Line, at, "a key must be a plain name, got %s", describe(k))
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			return p.errf(k.Line, join(at, key), "duplicate key (first at line %d)", first)
		}
		seen[key] = k.Line
		if known != nil && !contains(known, key) {
			return p.errf(k.Line, join(at, key), "unknown key%s; known keys here: %s", suggest(key, known), strings.Join(known, ", "))
		}
		if err := each(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) defaults(n *yaml.Node, at string, d *Defaults, withReadOnly bool) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n.Line, at, "want a mapping of settings, got %s", describe(n))
	}
	return p.mapping(n, at, defaultNames(withReadOnly), func(key string, k, v *yaml.Node) error {
		for _, dk := range defaultKeys {
			if dk.name != key {
				continue
			}
			path := join(at, key)
			switch dk.kind {
			case kindString:
				return p.str(v, path, dk.str(d))
			case kindStringList:
				return p.list(v, path, dk.list(d))
			case kindDuration:
				return p.duration(v, path, dk.dur(d))
			}
		}
		return nil // readOnly: the caller reads it
	})
}

func defaultNames(withReadOnly bool) []string {
	var out []string
	if withReadOnly {
		out = append(out, readOnlyKey)
	}
	for _, k := range defaultKeys {
		out = append(out, k.name)
	}
	return out
}

// rules reads contexts: or projects:, a mapping of name (or pattern) to an entry.
func (p *parser) rules(n *yaml.Node, at string, contexts bool) ([]*Rule, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		what := "kubeconfig context names"
		if !contexts {
			what = "Google Cloud project ids"
		}
		return nil, p.errf(n.Line, at, "want a mapping of %s to settings, got %s", what, describe(n))
	}
	var out []*Rule
	err := p.mapping(n, at, nil, func(key string, k, v *yaml.Node) error {
		path := join(at, key)
		if key == "" {
			return p.errf(k.Line, path, "an empty name matches nothing")
		}
		r := &Rule{Pattern: key, Line: k.Line, Key: path}
		if isNull(v) {
			return p.errf(v.Line, path, "want settings (e.g. readOnly: true), got nothing")
		}
		if v.Kind != yaml.MappingNode {
			return p.errf(v.Line, path, "want a mapping of settings (e.g. readOnly: true), got %s", describe(v))
		}
		if !contexts {
			err := p.mapping(v, path, []string{readOnlyKey}, func(key string, k, v *yaml.Node) error {
				return p.boolean(v, join(path, key), &r.ReadOnly)
			})
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		}
		if err := p.defaults(v, path, &r.Defaults, true); err != nil {
			return err
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i].Value == readOnlyKey {
				if err := p.boolean(deref(v.Content[i+1]), join(path, readOnlyKey), &r.ReadOnly); err != nil {
					return err
				}
			}
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (p *parser) boolean(n *yaml.Node, at string, s *Setting[bool]) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return p.errf(n.Line, at, "want true or false, got %s", describe(n))
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		return p.errf(n.Line, at, "want true or false, got %s", describe(n))
	}
	*s = Setting[bool]{Set: true, Value: v, Line: n.Line, Key: at}
	return nil
}

func (p *parser) str(n *yaml.Node, at string, s *Setting[string]) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return p.errf(n.Line, at, "want a string, got %s", describe(n))
	}
	if n.Value == "" {
		return p.errf(n.Line, at, "want a value, got an empty string (remove the key to leave it unset)")
	}
	*s = Setting[string]{Set: true, Value: n.Value, Line: n.Line, Key: at}
	return nil
}

// list takes a sequence of strings, or one string for a list of one.
func (p *parser) list(n *yaml.Node, at string, s *Setting[[]string]) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value != "" {
		*s = Setting[[]string]{Set: true, Value: []string{n.Value}, Line: n.Line, Key: at}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errf(n.Line, at, "want a list of strings (e.g. [a, b]), got %s", describe(n))
	}
	var vals []string
	for _, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || item.Tag != "!!str" || item.Value == "" {
			return p.errf(item.Line, at, "want a list of strings (e.g. [a, b]); an item is %s", describe(item))
		}
		vals = append(vals, item.Value)
	}
	*s = Setting[[]string]{Set: true, Value: vals, Line: n.Line, Key: at}
	return nil
}

func (p *parser) duration(n *yaml.Node, at string, s *Setting[time.Duration]) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return p.errf(n.Line, at, "want a duration such as 90s or 10m, got %s", describe(n))
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 {
		return p.errf(n.Line, at, "want a positive duration such as 90s or 10m, got %q", n.Value)
	}
	*s = Setting[time.Duration]{Set: true, Value: d, Line: n.Line, Key: at}
	return nil
}

// deref follows an alias (&anchor / *alias) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// describe says what a node is, for "want X, got Y": a scalar quoted as written.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		return strconv.Quote(n.Value)
	case n.Kind == yaml.ScalarNode:
		return n.Value
	}
	return "something else"
}

// join appends a key to a dotted path, quoting keys that are not plain names.
func join(at, key string) string {
	k := key
	if !plain(key) {
		k = strconv.Quote(key)
	}
	if at == "" {
		return k
	}
	return at + "." + k
}

func plain(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// suggest is " (did you mean X?)" for a key one typo away from a known one.
func suggest(key string, known []string) string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, k := range known {
		d := distance(strings.ToLower(key), strings.ToLower(k))
		if d <= 2 || strings.HasPrefix(strings.ToLower(k), strings.ToLower(key)) && len(key) >= 4 {
			cs = append(cs, cand{k, d})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	return fmt.Sprintf(" (did you mean %s?)", cs[0].name)
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
