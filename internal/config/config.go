// Package config reads gkedoctor's configuration file ($XDG_CONFIG_HOME/gkedoctor/config.yaml):
// defaults for the shared flags, and read-only rules per kubeconfig context and per Google Cloud
// project, so that production opens read-only unless --write is given (k9s's per-context safety).
//
// The package judges the file's shape — known keys, the type of each value, no duplicates — and
// remembers the line of every value, so an error and `gkedoctor config view` can name the file and
// line a value came from. What the values mean (is this a project id, a resolver address?) is judged
// by internal/app with the same rules as the flags they stand for.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvVar names a config file to use instead of the default one (--config beats it).
const EnvVar = "GKEDOCTOR_CONFIG"

// MaxBytes bounds the file: a config is a few hundred bytes; anything larger is refused unread.
const MaxBytes = 1 << 20

// SchemaJSON is the JSON Schema (draft 2020-12) of the file, for editors (yaml-language-server) and
// for anyone generating one. The loader's own checks (this package) are the authority; a test keeps
// the two in agreement.
//
//go:embed schema/config-v1.schema.json
var SchemaJSON []byte

// Setting is one value read from the file, with where it was.
type Setting[T any] struct {
	Set   bool
	Value T
	Line  int
	Key   string // the dotted path in the file: contexts."gke_prod_*".readOnly
}

// Defaults stand for the shared flags of the same names.
type Defaults struct {
	Project, Location, Cluster, Namespace Setting[string]
	Resolver, CloudRunService             Setting[string]
	SourceProjects, DNSProjects           Setting[[]string]
	Timeout                               Setting[time.Duration]
}

// Rule is one entry under contexts: or projects:. Pattern is the entry's key: a name, or a pattern
// where * matches any run of characters.
type Rule struct {
	Pattern  string
	Line     int
	Key      string // contexts."gke_prod_*"
	ReadOnly Setting[bool]
	Defaults Defaults // contexts only
}

// File is a parsed config file.
type File struct {
	Path     string
	ReadOnly Setting[bool] // the default for every context and project
	Defaults Defaults
	Contexts []*Rule // in file order
	Projects []*Rule
}

// Error is a problem in the file: "PATH:LINE: KEY: what is wrong".
type Error struct {
	Path string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Location is where the config file is looked for, and why there.
type Location struct {
	Path string
	// Explicit: named by --config or $GKEDOCTOR_CONFIG, so it must exist.
	Explicit bool
	// Source says who chose the path: "--config", "$GKEDOCTOR_CONFIG", "$XDG_CONFIG_HOME", "~/.config".
	Source string
}

// Locate returns where the config is: --config (flag) first, then $GKEDOCTOR_CONFIG, then
// $XDG_CONFIG_HOME/gkedoctor/config.yaml, then ~/.config/gkedoctor/config.yaml. Path is "" only when
// nothing is named and there is no home directory either.
func Locate(flag string) Location {
	if flag != "" {
		return Location{Path: flag, Explicit: true, Source: "--config"}
	}
	if v := os.Getenv(EnvVar); v != "" {
		return Location{Path: v, Explicit: true, Source: "$" + EnvVar}
	}
	if base := os.Getenv("XDG_CONFIG_HOME"); base != "" && filepath.IsAbs(base) {
		return Location{Path: filepath.Join(base, "gkedoctor", "config.yaml"), Source: "$XDG_CONFIG_HOME"}
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return Location{}
	}
	return Location{Path: filepath.Join(home, ".config", "gkedoctor", "config.yaml"), Source: "~/.config"}
}

// Load reads and parses the file at l. An implicit file that does not exist is no config (nil, nil);
// a named one that does not exist, anything that is not a regular file, a file over MaxBytes and a
// malformed file are errors naming the file (and the line).
func Load(l Location) (*File, error) {
	if l.Path == "" {
		return nil, nil
	}
	fi, err := os.Stat(l.Path)
	if errors.Is(err, os.ErrNotExist) && !l.Explicit {
		return nil, nil
	}
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return nil, &Error{Path: l.Path, Msg: fmt.Sprintf("cannot read the config file (named by %s): %v", l.Source, err)}
	}
	if !fi.Mode().IsRegular() {
		// /dev/null is the one way to say "no config" explicitly.
		if l.Path == os.DevNull {
			return &File{Path: l.Path}, nil
		}
		return nil, &Error{Path: l.Path, Msg: "the config is not a regular file"}
	}
	if fi.Size() > MaxBytes {
		return nil, &Error{Path: l.Path, Msg: fmt.Sprintf("the config is %d bytes; the limit is %d", fi.Size(), MaxBytes)}
	}
	b, err := os.ReadFile(l.Path)
	if err != nil {
		return nil, &Error{Path: l.Path, Msg: fmt.Sprintf("cannot read the config file: %v", err)}
	}
	return Parse(l.Path, b)
}

// MatchContext returns the rule for a kubeconfig context: the entry named exactly so, else the most
// specific pattern that matches (the most literal characters; the first in the file on a tie). Nil
// when none matches.
func (f *File) MatchContext(name string) *Rule { return match(f.rules(true), name) }

// MatchProject is MatchContext for a Google Cloud project id.
func (f *File) MatchProject(id string) *Rule { return match(f.rules(false), id) }

func (f *File) rules(contexts bool) []*Rule {
	if f == nil {
		return nil
	}
	if contexts {
		return f.Contexts
	}
	return f.Projects
}

func match(rules []*Rule, name string) *Rule {
	if name == "" {
		return nil
	}
	var best *Rule
	bestLit := -1
	for _, r := range rules {
		if r.Pattern == name {
			return r
		}
		if !strings.Contains(r.Pattern, "*") || !Glob(r.Pattern, name) {
			continue
		}
		if lit := len(r.Pattern) - strings.Count(r.Pattern, "*"); lit > bestLit {
			best, bestLit = r, lit
		}
	}
	return best
}

// Glob reports whether name matches pattern, where * matches any run of characters (a slash
// included: EKS-style context names hold slashes) and every other character only itself.
func Glob(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

// Where is "PATH:LINE" for a value of this file.
func (f *File) Where(line int) string {
	if line <= 0 {
		return f.Path
	}
	return fmt.Sprintf("%s:%d", f.Path, line)
}

// ShortWhere is Where with the file's base name, for a header line.
func (f *File) ShortWhere(line int) string {
	if line <= 0 {
		return filepath.Base(f.Path)
	}
	return fmt.Sprintf("%s:%d", filepath.Base(f.Path), line)
}

// Example is a commented config file: the README shows it, `gkedoctor config view` points at it, and
// a test parses it.
const Example = `# gkedoctor configuration: $XDG_CONFIG_HOME/gkedoctor/config.yaml
# (or ~/.config/gkedoctor/config.yaml; --config FILE or $GKEDOCTOR_CONFIG name another).
# Flags always beat this file; this file beats the built-in defaults.

# The default for every context and project not matched below.
readOnly: false

# Defaults for the shared flags of the same names.
defaults:
  location: europe-west1
  sourceProjects: [acme-run-apps]       # --source-project (repeatable)
  dnsProjects: [acme-dns-hub]           # --dns-project (repeatable)
  timeout: 10m

# Per kubeconfig context: readOnly, and any key of defaults (they beat defaults and what the
# context's name says). An exact name beats a pattern; * matches any characters; the pattern with
# the most literal characters wins.
contexts:
  "gke_acme-prod_*":
    readOnly: true                      # production opens read-only unless --write
  gke_acme-dev_europe-west1_dev:
    namespace: apps
    resolver: 10.132.0.2:53

# Per Google Cloud project (the cluster's, each --source-project, each --dns-project): a project
# marked readOnly makes the whole session read-only, whichever context is in use.
projects:
  acme-prod:
    readOnly: true
`
