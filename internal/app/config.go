package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/config"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The config file (internal/config) feeds Complete: flags always beat it, it beats what the kubeconfig
// context's name says (for everything but a context entry's own values), and the built-in defaults.
// Its read-only rules decide whether the session is read-only; that decision is o.ReadOnly, which
// Build hands to the Kubernetes and Google read-only guards, the check environment and the fix
// applier — the one switch, below every UI.

// ReadOnlyReason says why a session is read-only: Short for a header ("context gke_prod_… (config.yaml:7)"),
// Long for a refusal (one sentence naming the file, the line and the rule).
type ReadOnlyReason struct {
	Short string
	Long  string
}

// Reason for --read-only.
var flagReadOnly = ReadOnlyReason{Short: "--read-only", Long: "started with --read-only: nothing can be changed from this session"}

// ForceReadOnly makes the session read-only for a command's own reason (audit, a dry run), unless it
// already is (then the first reason stands).
func (o *Options) ForceReadOnly(short, long string) {
	if o.ReadOnly {
		return
	}
	o.ReadOnly = true
	o.ReadOnlyWhy = ReadOnlyReason{Short: short, Long: long}
}

// Config returns the config file Complete read (nil when there is none) and where it was looked for.
func (o *Options) Config() (*config.File, config.Location) { return o.config, o.configLoc }

// Overridden is the read-only rule --write set aside ("" when none did).
func (o *Options) Overridden() string { return o.overridden }

// loadConfig reads the config file once: --config, $GKEDOCTOR_CONFIG, then the XDG location. Its
// errors are usage errors naming the file and line.
func (o *Options) loadConfig() error {
	if o.configLoaded {
		return nil
	}
	o.configLoc = config.Locate(o.ConfigPath)
	f, err := config.Load(o.configLoc)
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	if err := validateConfigValues(f); err != nil {
		return &UsageError{Msg: err.Error()}
	}
	o.config, o.configLoaded = f, true
	return nil
}

// validateConfigValues judges every value in the file with the rule of the flag it stands for, so a
// bad value anywhere is found when the file is read, not when its context is used.
func validateConfigValues(f *config.File) error {
	if f == nil {
		return nil
	}
	if err := validateDefaults(f, &f.Defaults); err != nil {
		return err
	}
	for _, r := range f.Contexts {
		if err := validateDefaults(f, &r.Defaults); err != nil {
			return err
		}
	}
	for _, r := range f.Projects {
		if !strings.Contains(r.Pattern, "*") && !validProject(r.Pattern) {
			return &config.Error{Path: f.Path, Line: r.Line, Key: r.Key, Msg: fmt.Sprintf("%q is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter), nor a pattern with *", r.Pattern)}
		}
	}
	return nil
}

func validateDefaults(f *config.File, d *config.Defaults) error {
	type one struct {
		key  string
		line int
		flag string
		set  func(o *Options)
	}
	var checks []one
	str := func(s config.Setting[string], flag string, set func(o *Options, v string)) {
		if s.Set {
			checks = append(checks, one{s.Key, s.Line, flag, func(o *Options) { set(o, s.Value) }})
		}
	}
	list := func(s config.Setting[[]string], flag string, set func(o *Options, v []string)) {
		if s.Set {
			checks = append(checks, one{s.Key, s.Line, flag, func(o *Options) { set(o, s.Value) }})
		}
	}
	str(d.Project, "--project", func(o *Options, v string) { o.Project = v })
	str(d.Location, "--location", func(o *Options, v string) { o.Location = v })
	str(d.Cluster, "--cluster", func(o *Options, v string) { o.Cluster = v })
	str(d.Namespace, "--namespace", func(o *Options, v string) { o.Kube.Namespace = &v })
	str(d.CloudRunService, "--cloud-run-service", func(o *Options, v string) { o.CloudRunService = v })
	str(d.Resolver, "--resolver", func(o *Options, v string) { o.Resolver = v })
	list(d.SourceProjects, "--source-project", func(o *Options, v []string) { o.SourceProjects = v })
	list(d.DNSProjects, "--dns-project", func(o *Options, v []string) { o.DNSProjects = v })
	for _, c := range checks {
		tmp := NewOptions()
		c.set(tmp)
		// The flags' own validators: one rule for a value, whether it came from a flag or the file.
		if err := tmp.ValidateInput(); err != nil {
			msg := strings.TrimPrefix(err.Error(), c.flag+" ")
			return &config.Error{Path: f.Path, Line: c.line, Key: c.key, Msg: msg}
		}
	}
	return nil
}

// source names where an effective value came from, for `config view`.
type source struct {
	value string
	from  string
}

func (o *Options) setSource(key, value, from string) {
	if o.sources == nil {
		o.sources = map[string]source{}
	}
	o.sources[key] = source{value: value, from: from}
}

func (o *Options) fromConfig(key string, line int) string {
	return fmt.Sprintf("config %s (%s)", o.config.Where(line), key)
}

// applyConfig fills what the flags left unset: the context's entry first, then (for project,
// location and cluster) the context's GKE name, then the file's defaults. The namespace: the
// context's entry, then the kubeconfig context's own namespace, then the defaults.
func (o *Options) applyConfig(res kube.Resolved, rule *config.Rule) {
	var ctxD, globalD *config.Defaults
	if rule != nil {
		ctxD = &rule.Defaults
	}
	if o.config != nil {
		globalD = &o.config.Defaults
	}
	gkeP, gkeL, gkeC, gke := ParseGKEContext(res.Context)
	fromName := fmt.Sprintf("the kubeconfig context's name %q", res.Context)
	strField := func(key, flag string, v *string, pick func(*config.Defaults) config.Setting[string], fromCtxName string, ctxNameOK bool) {
		if *v != "" {
			o.setSource(key, *v, "flag "+flag)
			return
		}
		if ctxD != nil {
			if s := pick(ctxD); s.Set {
				*v = s.Value
				o.setSource(key, *v, o.fromConfig(s.Key, s.Line))
				return
			}
		}
		if ctxNameOK {
			*v = fromCtxName
			o.setSource(key, *v, fromName)
			return
		}
		if globalD != nil {
			if s := pick(globalD); s.Set {
				*v = s.Value
				o.setSource(key, *v, o.fromConfig(s.Key, s.Line))
				return
			}
		}
		o.setSource(key, "", "")
	}
	// A context named like GKE's but holding something that is not an id is not GKE's: its parts
	// are not used (and never sent to an API).
	strField("project", "--project", &o.Project, func(d *config.Defaults) config.Setting[string] { return d.Project }, gkeP, gke && validProject(gkeP))
	strField("location", "--location", &o.Location, func(d *config.Defaults) config.Setting[string] { return d.Location }, gkeL, gke && validLocation(gkeL))
	strField("cluster", "--cluster", &o.Cluster, func(d *config.Defaults) config.Setting[string] { return d.Cluster }, gkeC, gke && validCluster(gkeC))
	strField("cloudRunService", "--cloud-run-service", &o.CloudRunService, func(d *config.Defaults) config.Setting[string] { return d.CloudRunService }, "", false)
	strField("resolver", "--resolver", &o.Resolver, func(d *config.Defaults) config.Setting[string] { return d.Resolver }, "", false)

	listField := func(key, flag string, v *[]string, pick func(*config.Defaults) config.Setting[[]string]) {
		if len(*v) > 0 {
			o.setSource(key, strings.Join(*v, ","), "flag "+flag)
			return
		}
		for _, d := range []*config.Defaults{ctxD, globalD} {
			if d == nil {
				continue
			}
			if s := pick(d); s.Set {
				*v = append([]string(nil), s.Value...)
				o.setSource(key, strings.Join(*v, ","), o.fromConfig(s.Key, s.Line))
				return
			}
		}
		o.setSource(key, "", "")
	}
	listField("sourceProjects", "--source-project", &o.SourceProjects, func(d *config.Defaults) config.Setting[[]string] { return d.SourceProjects })
	listField("dnsProjects", "--dns-project", &o.DNSProjects, func(d *config.Defaults) config.Setting[[]string] { return d.DNSProjects })

	// --timeout has a built-in default, so "given" is the flag set's word, not a non-zero value.
	timeoutGiven := o.Timeout != defaultTimeout
	if o.FlagChanged != nil {
		timeoutGiven = o.FlagChanged("timeout")
	}
	o.setSource("timeout", o.Timeout.String(), "built-in default")
	if timeoutGiven {
		o.setSource("timeout", o.Timeout.String(), "flag --timeout")
	} else {
		for _, d := range []*config.Defaults{ctxD, globalD} {
			if d != nil && d.Timeout.Set {
				o.Timeout = d.Timeout.Value
				o.setSource("timeout", o.Timeout.String(), o.fromConfig(d.Timeout.Key, d.Timeout.Line))
				break
			}
		}
	}

	// The namespace.
	o.configNamespace = ""
	switch {
	case o.Kube != nil && o.Kube.Namespace != nil && *o.Kube.Namespace != "":
		o.setSource("namespace", *o.Kube.Namespace, "flag --namespace")
	case ctxD != nil && ctxD.Namespace.Set:
		o.configNamespace = ctxD.Namespace.Value
		o.setSource("namespace", o.configNamespace, o.fromConfig(ctxD.Namespace.Key, ctxD.Namespace.Line))
	case res.KubeconfigNamespace != "":
		o.setSource("namespace", res.KubeconfigNamespace, fmt.Sprintf("the kubeconfig context %q", res.Context))
	case globalD != nil && globalD.Namespace.Set:
		o.configNamespace = globalD.Namespace.Value
		o.setSource("namespace", o.configNamespace, o.fromConfig(globalD.Namespace.Key, globalD.Namespace.Line))
	default:
		o.setSource("namespace", o.namespace(), "built-in default")
	}
}

const defaultTimeout = 5 * time.Minute

// projectsInScope are the projects a session may write to: the cluster's, each --source-project and
// each --dns-project.
func (o *Options) projectsInScope() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range append(append([]string{o.Project}, o.SourceProjects...), o.DNSProjects...) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// decideReadOnly applies the read-only rules. --read-only (or a command's own reason) wins; else a
// context or project entry that says readOnly decides — read-only when either says true, so an entry
// for the cluster cannot unlock a project marked read-only; else the file's top-level readOnly.
// --write sets a read-only decision aside (and `config view` says which rule it set aside).
func (o *Options) decideReadOnly(ctxName string, rule *config.Rule) {
	o.overridden = ""
	if o.ReadOnly {
		if o.ReadOnlyWhy.Short == "" {
			o.ReadOnlyWhy = flagReadOnly
		}
		o.setSource("readOnly", "true", o.ReadOnlyWhy.Short)
		return
	}
	f := o.config
	if f == nil {
		o.setSource("readOnly", "false", "built-in default")
		return
	}
	var why *ReadOnlyReason
	said := false
	if rule != nil && rule.ReadOnly.Set {
		said = true
		if rule.ReadOnly.Value {
			why = &ReadOnlyReason{
				// The entry's key: a pattern is often shorter than the name, and the header shows the name.
				Short: fmt.Sprintf("context %s (%s)", rule.Pattern, f.ShortWhere(rule.ReadOnly.Line)),
				Long:  fmt.Sprintf("the config %s marks kubeconfig context %q read-only (%s: true)", f.Where(rule.ReadOnly.Line), ctxName, rule.ReadOnly.Key),
			}
		}
	}
	for _, p := range o.projectsInScope() {
		r := f.MatchProject(p)
		if r == nil || !r.ReadOnly.Set {
			continue
		}
		said = true
		if r.ReadOnly.Value && why == nil {
			why = &ReadOnlyReason{
				Short: fmt.Sprintf("project %s (%s)", p, f.ShortWhere(r.ReadOnly.Line)),
				Long:  fmt.Sprintf("the config %s marks project %q read-only (%s: true)", f.Where(r.ReadOnly.Line), p, r.ReadOnly.Key),
			}
		}
	}
	if !said && f.ReadOnly.Set && f.ReadOnly.Value {
		why = &ReadOnlyReason{
			Short: fmt.Sprintf("default (%s)", f.ShortWhere(f.ReadOnly.Line)),
			Long:  fmt.Sprintf("the config %s makes every context read-only (readOnly: true) and no entry for this context or project says otherwise", f.Where(f.ReadOnly.Line)),
		}
	}
	if why == nil {
		from := "built-in default"
		switch {
		case rule != nil && rule.ReadOnly.Set:
			from = o.fromConfig(rule.ReadOnly.Key, rule.ReadOnly.Line)
		case f.ReadOnly.Set:
			from = o.fromConfig("readOnly", f.ReadOnly.Line)
		}
		o.setSource("readOnly", "false", from)
		return
	}
	if o.Write {
		o.overridden = why.Long
		o.setSource("readOnly", "false", "flag --write (sets aside: "+why.Long+")")
		return
	}
	why.Long += "; pass --write to change things anyway"
	o.ReadOnly, o.ReadOnlyWhy = true, *why
	o.setSource("readOnly", "true", why.Long)
}

// Setting is one effective value and where it came from, for `gkedoctor config view`.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// Effective lists the values Complete settled on, in a fixed order, each with its source.
func (o *Options) Effective() []Setting {
	keys := []string{"context", "readOnly", "project", "location", "cluster", "namespace", "cloudRunService", "sourceProjects", "dnsProjects", "resolver", "timeout"}
	out := make([]Setting, 0, len(keys))
	for _, k := range keys {
		s, ok := o.sources[k]
		if k == "context" {
			s = source{value: o.resolved.Context, from: "kubeconfig"}
			if o.Kube != nil && o.Kube.Context != nil && *o.Kube.Context != "" {
				s.from = "flag --context"
			} else if o.resolved.Context != "" {
				s.from = "kubeconfig current-context"
			} else {
				s.from = "no kubeconfig"
			}
			ok = true
		}
		if !ok {
			continue
		}
		from := s.from
		if from == "" {
			from = "unset"
			if k == "resolver" {
				from = "unset: the VPC resolver on GCE, else the system resolver"
			}
		}
		out = append(out, Setting{Key: k, Value: s.value, Source: from})
	}
	return out
}
