package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts:
- {name: gke_acme-prod_europe-west1_main, context: {cluster: c, user: u}}
- {name: gke_acme-dev_europe-west1_dev, context: {cluster: c, user: u}}
- {name: kind-dev, context: {cluster: c, user: u, namespace: team}}
current-context: gke_acme-prod_europe-west1_main
`

const testConfigFile = `readOnly: false
defaults:
  project: acme-default
  location: us-central1
  namespace: apps
  sourceProjects: [acme-run-apps]
  timeout: 10m
contexts:
  "gke_acme-prod_*":
    readOnly: true
  gke_acme-dev_europe-west1_dev:
    project: acme-dev-override
    namespace: devns
    timeout: 2m
  kind-dev:
    readOnly: false
    resolver: 127.0.0.1:5353
projects:
  acme-shared:
    readOnly: true
`

// options builds Options as the command line would, for a context (and flags set by the caller).
func configOptions(t *testing.T, cfg, ctxName string, flags func(o *Options)) *Options {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.Kube.KubeConfig = &kc
	if ctxName != "" {
		o.Kube.Context = &ctxName
	}
	o.ConfigPath = cf
	if flags != nil {
		flags(o)
	}
	return o
}

func TestConfig_precedence(t *testing.T) {
	t.Run("prod: the context's name beats defaults; the pattern makes it read-only", func(t *testing.T) {
		o := configOptions(t, testConfigFile, "", nil)
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if o.Project != "acme-prod" || o.Location != "europe-west1" || o.Cluster != "main" {
			t.Errorf("target %s/%s/%s", o.Project, o.Location, o.Cluster)
		}
		if o.namespace() != "apps" || o.Timeout != 10*time.Minute || strings.Join(o.SourceProjects, ",") != "acme-run-apps" {
			t.Errorf("defaults: ns %s timeout %s source %v", o.namespace(), o.Timeout, o.SourceProjects)
		}
		if !o.ReadOnly || o.ReadOnlyWhy.Short != "context gke_acme-prod_* (config.yaml:10)" {
			t.Errorf("read-only %v %+v", o.ReadOnly, o.ReadOnlyWhy)
		}
		for _, want := range []string{"config.yaml:10", `contexts."gke_acme-prod_*".readOnly`, `"gke_acme-prod_europe-west1_main"`, "--write"} {
			if !strings.Contains(o.ReadOnlyWhy.Long, want) {
				t.Errorf("the reason %q does not say %q", o.ReadOnlyWhy.Long, want)
			}
		}
	})
	t.Run("a context entry beats the context's name and the defaults", func(t *testing.T) {
		o := configOptions(t, testConfigFile, "gke_acme-dev_europe-west1_dev", nil)
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if o.Project != "acme-dev-override" || o.Location != "europe-west1" || o.namespace() != "devns" || o.Timeout != 2*time.Minute || o.ReadOnly {
			t.Errorf("got %s %s ns %s timeout %s ro %v", o.Project, o.Location, o.namespace(), o.Timeout, o.ReadOnly)
		}
	})
	t.Run("flags beat everything", func(t *testing.T) {
		ns := "flagns"
		o := configOptions(t, testConfigFile, "gke_acme-dev_europe-west1_dev", func(o *Options) {
			o.Project, o.Kube.Namespace, o.Timeout, o.SourceProjects = "acme-flag", &ns, time.Minute, []string{"acme-flag-src"}
			o.FlagChanged = func(name string) bool { return name == "timeout" }
		})
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if o.Project != "acme-flag" || o.namespace() != "flagns" || o.Timeout != time.Minute || strings.Join(o.SourceProjects, ",") != "acme-flag-src" {
			t.Errorf("got %s ns %s timeout %s source %v", o.Project, o.namespace(), o.Timeout, o.SourceProjects)
		}
		// --timeout given with the built-in default's value still beats the file.
		o = configOptions(t, testConfigFile, "", func(o *Options) { o.FlagChanged = func(name string) bool { return name == "timeout" } })
		if err := o.Complete(); err != nil || o.Timeout != defaultTimeout {
			t.Errorf("--timeout 5m: %s %v", o.Timeout, err)
		}
	})
	t.Run("the kubeconfig context's namespace beats defaults, not the context entry", func(t *testing.T) {
		o := configOptions(t, testConfigFile, "kind-dev", nil)
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if o.namespace() != "team" || o.Resolver != "127.0.0.1:5353" || o.Project != "acme-default" || o.ReadOnly {
			t.Errorf("ns %s resolver %s project %s ro %v", o.namespace(), o.Resolver, o.Project, o.ReadOnly)
		}
	})
	t.Run("a read-only project in scope wins over a context entry saying false", func(t *testing.T) {
		o := configOptions(t, testConfigFile, "kind-dev", func(o *Options) { o.DNSProjects = []string{"acme-shared"} })
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if !o.ReadOnly || o.ReadOnlyWhy.Short != "project acme-shared (config.yaml:20)" {
			t.Errorf("ro %v %+v", o.ReadOnly, o.ReadOnlyWhy)
		}
	})
	t.Run("the global default, and an entry that says otherwise", func(t *testing.T) {
		cfg := "readOnly: true\ncontexts:\n  kind-dev:\n    readOnly: false\n"
		o := configOptions(t, cfg, "", nil)
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if !o.ReadOnly || o.ReadOnlyWhy.Short != "default (config.yaml:1)" {
			t.Errorf("global: ro %v %+v", o.ReadOnly, o.ReadOnlyWhy)
		}
		o = configOptions(t, cfg, "kind-dev", nil)
		if err := o.Complete(); err != nil || o.ReadOnly {
			t.Errorf("kind-dev: ro %v %v", o.ReadOnly, err)
		}
	})
	t.Run("--write sets the rule aside and says which", func(t *testing.T) {
		o := configOptions(t, testConfigFile, "", func(o *Options) { o.Write = true })
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if o.ReadOnly || !strings.Contains(o.Overridden(), `contexts."gke_acme-prod_*".readOnly`) {
			t.Errorf("ro %v overridden %q", o.ReadOnly, o.Overridden())
		}
	})
	t.Run("--read-only and a command's own reason stand", func(t *testing.T) {
		o := configOptions(t, "contexts:\n  kind-dev:\n    readOnly: false\n", "kind-dev", func(o *Options) { o.ReadOnly = true })
		if err := o.Complete(); err != nil || !o.ReadOnly || o.ReadOnlyWhy != flagReadOnly {
			t.Errorf("--read-only: %v %+v %v", o.ReadOnly, o.ReadOnlyWhy, err)
		}
		o = configOptions(t, testConfigFile, "", nil)
		o.ForceReadOnly("audit", "audit is read-only by construction")
		if err := o.Complete(); err != nil || o.ReadOnlyWhy.Short != "audit" {
			t.Errorf("audit: %+v %v", o.ReadOnlyWhy, err)
		}
	})
	t.Run("the demo world ignores the file", func(t *testing.T) {
		o := configOptions(t, "readOnly: [broken\n", "", func(o *Options) { o.Demo = true })
		if err := o.Complete(); err != nil || o.ReadOnly || o.Project != "" {
			t.Errorf("demo: %v ro %v project %q", err, o.ReadOnly, o.Project)
		}
	})
}

func TestConfig_valuesAreJudgedByTheFlagsRules(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"defaults:\n  project: Acme_Prod\n", `config.yaml:2: defaults.project: "Acme_Prod" is not a Google Cloud project id`},
		{"contexts:\n  kind-dev:\n    location: Europe\n", `config.yaml:3: contexts.kind-dev.location: "Europe" is not a Google Cloud region or zone`},
		{"defaults:\n  resolver: \"10.0.0.2:0\"\n", `config.yaml:2: defaults.resolver: "10.0.0.2:0": port "0" is not a number from 1 to 65535`},
		{"defaults:\n  sourceProjects: [ok-project, Bad]\n", `config.yaml:2: defaults.sourceProjects: "Bad" is not a Google Cloud project id`},
		{"defaults:\n  namespace: Team_A\n", `config.yaml:2: defaults.namespace: "Team_A" is not a Kubernetes namespace name`},
		{"projects:\n  Acme:\n    readOnly: true\n", `config.yaml:2: projects.Acme: "Acme" is not a Google Cloud project id`},
		{"contexts:\n  prod:\n    readOnly: yes\n", `config.yaml:3: contexts.prod.readOnly: want true or false, got "yes"`},
	} {
		o := configOptions(t, tc.doc, "", nil)
		err := o.Complete()
		ue, ok := err.(*UsageError)
		if !ok {
			t.Errorf("%q: %v (%T), want a usage error", tc.doc, err, err)
			continue
		}
		if !strings.Contains(ue.Msg, tc.want) || !strings.HasPrefix(ue.Msg, o.ConfigPath+":") {
			t.Errorf("%q:\n  %s\nwant it to name the file and say\n  %s", tc.doc, ue.Msg, tc.want)
		}
	}
}

func TestConfig_effectiveSaysWhereEachValueCameFrom(t *testing.T) {
	o := configOptions(t, testConfigFile, "gke_acme-dev_europe-west1_dev", func(o *Options) { o.Cluster = "flag-cluster" })
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, s := range o.Effective() {
		got[s.Key] = s
	}
	for key, want := range map[string][2]string{
		"context":   {"gke_acme-dev_europe-west1_dev", "flag --context"},
		"readOnly":  {"false", "config.yaml:1 (readOnly)"},
		"project":   {"acme-dev-override", "config.yaml:12 (contexts.gke_acme-dev_europe-west1_dev.project)"},
		"location":  {"europe-west1", `the kubeconfig context's name "gke_acme-dev_europe-west1_dev"`},
		"cluster":   {"flag-cluster", "flag --cluster"},
		"namespace": {"devns", "config.yaml:13"},
		"timeout":   {"2m0s", "config.yaml:14"},
		"resolver":  {"", "unset"},
	} {
		s, ok := got[key]
		if !ok || s.Value != want[0] || !strings.Contains(s.Source, want[1]) {
			t.Errorf("%s: %+v, want %q from %q", key, s, want[0], want[1])
		}
	}
}
