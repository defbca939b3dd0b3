package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func TestParse_example(t *testing.T) {
	f, err := Parse("config.yaml", []byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	if !f.ReadOnly.Set || f.ReadOnly.Value {
		t.Errorf("readOnly: %+v", f.ReadOnly)
	}
	if f.Defaults.Location.Value != "europe-west1" || f.Defaults.Timeout.Value != 10*time.Minute {
		t.Errorf("defaults: %+v", f.Defaults)
	}
	if got := f.Defaults.SourceProjects.Value; len(got) != 1 || got[0] != "acme-run-apps" {
		t.Errorf("sourceProjects: %v", got)
	}
	if len(f.Contexts) != 2 || len(f.Projects) != 1 {
		t.Fatalf("contexts %d projects %d", len(f.Contexts), len(f.Projects))
	}
	prod := f.MatchContext("gke_acme-prod_europe-west1_main")
	if prod == nil || prod.Pattern != "gke_acme-prod_*" || !prod.ReadOnly.Value || prod.ReadOnly.Key != `contexts."gke_acme-prod_*".readOnly` {
		t.Fatalf("prod rule: %+v", prod)
	}
	if want := strings.Index(Example, "readOnly: true                      # production"); want < 0 || prod.ReadOnly.Line != strings.Count(Example[:want], "\n")+1 {
		t.Errorf("the readOnly line is %d, want the example's line of it", prod.ReadOnly.Line)
	}
	dev := f.MatchContext("gke_acme-dev_europe-west1_dev")
	if dev == nil || dev.Defaults.Namespace.Value != "apps" || dev.ReadOnly.Set {
		t.Errorf("dev rule: %+v", dev)
	}
	if r := f.MatchProject("acme-prod"); r == nil || !r.ReadOnly.Value {
		t.Errorf("project rule: %+v", r)
	}
	if f.MatchContext("kind-kind") != nil || f.MatchProject("acme-dev") != nil {
		t.Error("a rule matched what no entry names")
	}
}

func TestMatch_exactBeatsPatternAndTheMostLiteralPatternWins(t *testing.T) {
	doc := `
contexts:
  "*":
    readOnly: true
  "gke_*":
    readOnly: true
  "gke_acme-dev_*":
    readOnly: false
  "gke_acme-dev_europe-west1_special":
    readOnly: true
  "arn:aws:eks:*:cluster/prod*":
    readOnly: true
`
	f, err := Parse("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"kind-kind":                                 "*",
		"gke_other_us-east1_x":                      "gke_*",
		"gke_acme-dev_europe-west1_x":               "gke_acme-dev_*",
		"gke_acme-dev_europe-west1_special":         "gke_acme-dev_europe-west1_special",
		"arn:aws:eks:eu-west-1:1234:cluster/prod-a": "arn:aws:eks:*:cluster/prod*",
	} {
		r := f.MatchContext(name)
		if r == nil || r.Pattern != want {
			t.Errorf("%s: matched %+v, want %q", name, r, want)
		}
	}
	if f.MatchContext("") != nil {
		t.Error("an empty context name matched")
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "ac", true}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false}, {"abc", "abc", true}, {"abc", "abcd", false}, {"*", "", true},
		{"a*a", "a", false}, {"*/prod", "x/y/prod", true},
	} {
		if got := Glob(tc.p, tc.s); got != tc.ok {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// The errors a person meets, each naming the file, the line and the key.
func TestParse_errorsNameFileLineAndKey(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"yes is not a bool", "contexts:\n  prod:\n    readOnly: yes\n", `config.yaml:3: contexts.prod.readOnly: want true or false, got "yes"`},
		{"quoted true", "readOnly: \"true\"\n", `config.yaml:1: readOnly: want true or false, got "true"`},
		{"unknown top key", "readonly: true\n", `config.yaml:1: readonly: unknown key (did you mean readOnly?); known keys here: readOnly, defaults, contexts, projects`},
		{"singular sourceProject", "defaults:\n  sourceProject: a-project\n", `config.yaml:2: defaults.sourceProject: unknown key (did you mean sourceProjects?)`},
		{"readOnly not in defaults", "defaults:\n  readOnly: true\n", `config.yaml:2: defaults.readOnly: unknown key`},
		{"project rule with a default", "projects:\n  acme-prod:\n    location: europe-west1\n", `config.yaml:3: projects.acme-prod.location: unknown key; known keys here: readOnly`},
		{"duplicate", "readOnly: true\nreadOnly: false\n", `config.yaml:2: readOnly: duplicate key (first at line 1)`},
		{"number for a string", "defaults:\n  project: 12345678\n", `config.yaml:2: defaults.project: want a string, got 12345678`},
		{"empty string", "defaults:\n  project: \"\"\n", `config.yaml:2: defaults.project: want a value, got an empty string`},
		{"bad duration", "defaults:\n  timeout: 5 minutes\n", `config.yaml:2: defaults.timeout: want a positive duration such as 90s or 10m, got "5 minutes"`},
		{"number for a duration", "defaults:\n  timeout: 300\n", `config.yaml:2: defaults.timeout: want a duration such as 90s or 10m, got 300`},
		{"list of numbers", "defaults:\n  dnsProjects:\n    - hub-project\n    - 7\n", `config.yaml:4: defaults.dnsProjects: want a list of strings (e.g. [a, b]); an item is 7`},
		{"not a mapping", "- a\n- b\n", `config.yaml:1: want a mapping of settings`},
		{"context without settings", "contexts:\n  prod:\n", `config.yaml:2: contexts.prod: want settings (e.g. readOnly: true), got nothing`},
		{"contexts as a list", "contexts:\n  - prod\n", `config.yaml:2: contexts: want a mapping of kubeconfig context names to settings, got a list`},
		{"pattern key quoted in the path", "contexts:\n  \"gke_prod_*\":\n    readOnly: on\n", `config.yaml:3: contexts."gke_prod_*".readOnly: want true or false, got "on"`},
		{"syntax", "readOnly: true\n  defaults: [\n", `config.yaml:2: not valid YAML`},
		{"two documents", "readOnly: true\n---\nreadOnly: false\n", `config.yaml:2: the config is one YAML document`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.doc)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error:\n  %s\nwant it to start with\n  %s", err, tc.want)
			}
		})
	}
}

func TestParse_emptyAndAliases(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "~\n", "contexts:\nprojects:\n"} {
		f, err := Parse("c.yaml", []byte(doc))
		if err != nil || f == nil || f.ReadOnly.Set || len(f.Contexts) != 0 {
			t.Errorf("%q: %+v %v", doc, f, err)
		}
	}
	f, err := Parse("c.yaml", []byte("contexts:\n  a: &ro\n    readOnly: true\n  b: *ro\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.MatchContext("b"); r == nil || !r.ReadOnly.Value {
		t.Errorf("alias: %+v", r)
	}
}

func TestLocate(t *testing.T) {
	t.Setenv(EnvVar, "")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if l := Locate(""); l.Path != "/xdg/gkedoctor/config.yaml" || l.Explicit || l.Source != "$XDG_CONFIG_HOME" {
		t.Errorf("xdg: %+v", l)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/oncall")
	if l := Locate(""); l.Path != "/home/oncall/.config/gkedoctor/config.yaml" || l.Explicit {
		t.Errorf("home: %+v", l)
	}
	t.Setenv(EnvVar, "/etc/gkedoctor.yaml")
	if l := Locate(""); l.Path != "/etc/gkedoctor.yaml" || !l.Explicit || l.Source != "$GKEDOCTOR_CONFIG" {
		t.Errorf("env: %+v", l)
	}
	if l := Locate("/tmp/x.yaml"); l.Path != "/tmp/x.yaml" || !l.Explicit || l.Source != "--config" {
		t.Errorf("flag beats env: %+v", l)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.yaml")
	if f, err := Load(Location{Path: missing, Source: "$XDG_CONFIG_HOME"}); f != nil || err != nil {
		t.Errorf("an absent default file is no config: %v %v", f, err)
	}
	if _, err := Load(Location{Path: missing, Explicit: true, Source: "--config"}); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--config") {
		t.Errorf("an absent named file: %v", err)
	}
	if _, err := Load(Location{Path: dir, Explicit: true, Source: "--config"}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if f, err := Load(Location{Path: os.DevNull, Explicit: true, Source: "--config"}); err != nil || f == nil {
		t.Errorf("/dev/null is an empty config: %v %v", f, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#\n"), MaxBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Location{Path: big, Explicit: true}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a huge file: %v", err)
	}
	good := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(good, []byte("readOnly: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(Location{Path: good})
	if err != nil || !f.ReadOnly.Value || f.Where(f.ReadOnly.Line) != good+":1" || f.ShortWhere(1) != "config.yaml:1" {
		t.Errorf("load: %+v %v", f, err)
	}
}

// The published JSON Schema and the loader agree: every document one accepts the other accepts,
// and every document the schema rejects the loader rejects. (The loader refuses more — values the
// flags refuse — which internal/app checks.)
func TestSchemaAgreesWithTheLoader(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("config.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{
		Example,
		"",
		"readOnly: true\n",
		"defaults:\n  sourceProjects: one-project\n",
		"contexts:\n  kind-dev:\n    readOnly: false\n    namespace: apps\n    timeout: 90s\n",
		"projects:\n  acme-prod:\n    readOnly: true\n",
		// rejected by both
		"readOnly: yes\n",
		"readonly: true\n",
		"defaults:\n  readOnly: true\n",
		"defaults:\n  sourceProject: x\n",
		"defaults:\n  timeout: 300\n",
		"defaults:\n  timeout: soon\n",
		"defaults:\n  project: \"\"\n",
		"defaults:\n  dnsProjects: [a, 3]\n",
		"projects:\n  p:\n    namespace: x\n",
		"contexts:\n  c:\n    readOnly: true\n    color: red\n",
		"contexts:\n  c:\n",
		"- a\n",
	}
	for _, d := range docs {
		_, loadErr := Parse("c.yaml", []byte(d))
		// YAML 1.2 as editors read it (yes is a string), the loader's reading too.
		var v any
		if err := yaml.Unmarshal([]byte(d), &v); err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		schemaErr := sch.Validate(inst)
		if (loadErr == nil) != (schemaErr == nil) {
			t.Errorf("disagree on %q:\n  loader: %v\n  schema: %v", d, loadErr, schemaErr)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Example))
	f.Add([]byte("contexts:\n  a: &x\n    readOnly: true\n  b: *x\n"))
	f.Add([]byte("readOnly: yes"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse("c.yaml", b)
		if err == nil && cfg == nil {
			t.Fatal("nil config without an error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "c.yaml") {
			t.Fatalf("an error that does not name the file: %v", err)
		}
	})
}
