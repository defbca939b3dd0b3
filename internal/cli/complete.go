package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Shell completion (cobra's `completion bash|zsh|fish|powershell` scripts call the hidden
// `__complete` command, which calls the functions below). Static values come from the catalogue and
// the flags' own lists; the journal is read from disk; namespaces, Services and workloads come from
// the cluster through the read-only guard with a short deadline, so a slow or unreachable API server
// costs the shell at most completionTimeout. Any error means no completions, never file names.

// completionTimeout bounds every cluster read made for one completion.
var completionTimeout = 2 * time.Second

const noFiles = cobra.ShellCompDirectiveNoFileComp

// completionLimit caps one list (a cluster with 5,000 Services still answers within the deadline).
const completionLimit = 500

// workloadKinds are the KIND values --workload offers (kubectl's short forms; longer ones work too).
var workloadKinds = []string{"deploy", "sts", "ds", "job", "cronjob", "pod"}

// addCompletions registers the dynamic completions on the built command tree.
func addCompletions(root *cobra.Command, o *app.Options) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "audit", "check":
			c.ValidArgsFunction = completeCheckIDs
		case "explain":
			c.ValidArgsFunction = completeExplain
		case "fix":
			c.ValidArgsFunction = completeFixIDs(o)
		case "undo":
			c.ValidArgsFunction = completeJournalIDs(o)
		}
		if f := c.Flags().Lookup("output"); f != nil {
			_ = c.RegisterFlagCompletionFunc("output", fixedValues(formatsFromUsage(f.Usage)...))
		}
		if c.Flags().Lookup("from") != nil {
			_ = c.RegisterFlagCompletionFunc("from", fixedValues("cloud-run", "cluster", "node"))
		}
	}
	_ = root.RegisterFlagCompletionFunc("world", fixedValues(app.DemoWorlds...))
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")
	_ = root.RegisterFlagCompletionFunc("context", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeContexts(o, toComplete), noFiles
	})
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeNamespaces(cmd.Context(), o, toComplete, "", ""), noFiles
	})
	_ = root.RegisterFlagCompletionFunc("service", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeServices(cmd.Context(), o, toComplete)
	})
	_ = root.RegisterFlagCompletionFunc("workload", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeWorkloads(cmd.Context(), o, toComplete)
	})
}

// formatsFromUsage reads the formats from a flag's usage ("output format: text, json, markdown"), so
// the completion and the help cannot disagree.
func formatsFromUsage(usage string) []string {
	_, list, ok := strings.Cut(usage, ":")
	if !ok {
		return nil
	}
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fixedValues(values ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), noFiles
	}
}

// withPrefix keeps the candidates that start with prefix (a candidate may carry "\tdescription").
func withPrefix(candidates []string, prefix string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// checkIDCandidates are the runnable checks, each with its title, minus those already given.
func checkIDCandidates(given []string) []string {
	seen := map[string]bool{}
	for _, a := range given {
		seen[a] = true
	}
	var out []string
	for _, i := range checks.Catalogue() {
		if i.Available && !seen[i.ID] {
			out = append(out, i.ID+"\t"+oneLine(i.Title))
		}
	}
	return out
}

func completeCheckIDs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return withPrefix(checkIDCandidates(args), toComplete), noFiles
}

// completeExplain offers every catalogue id (planned checks have explanations too) and every cause id.
func completeExplain(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	var out []string
	seen := map[string]bool{}
	for _, i := range checks.Catalogue() {
		out = append(out, i.ID+"\t"+oneLine(i.Title))
		seen[i.ID] = true
	}
	for _, i := range checks.Catalogue() {
		for _, c := range i.Causes {
			if !seen[c.ID] {
				seen[c.ID] = true
				out = append(out, c.ID+"\t"+oneLine(c.Title))
			}
		}
	}
	return withPrefix(out, toComplete), noFiles
}

// completeFixIDs offers the check ids (a check id fixes with its recommended fixes) and the fix ids
// the journal remembers. The plans themselves need every check to run, which a completion must not.
func completeFixIDs(o *app.Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		out := checkIDCandidates(args)
		seen := map[string]bool{}
		for _, a := range args {
			seen[a] = true
		}
		for _, e := range journalEntries(o) {
			if e.FixID != "" && !seen[e.FixID] {
				seen[e.FixID] = true
				out = append(out, e.FixID+"\t"+oneLine(e.Title))
			}
		}
		return withPrefix(out, toComplete), noFiles
	}
}

// completeJournalIDs offers the journal's entries that can still be undone, newest first.
func completeJournalIDs(o *app.Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		var out []string
		for _, e := range journalEntries(o) {
			if e.State == fixes.StateUndone || e.State == fixes.StateAborted {
				continue
			}
			out = append(out, e.ID+"\t"+oneLine(e.State+": "+e.Title))
		}
		return withPrefix(out, toComplete), noFiles | cobra.ShellCompDirectiveKeepOrder
	}
}

// journalEntries are the readable entries, newest first; an unusable journal has none.
func journalEntries(o *app.Options) []*fixes.Entry {
	l, err := app.JournalFor(o).Scan()
	if err != nil {
		return nil
	}
	es := l.Entries
	sort.SliceStable(es, func(i, j int) bool { return es[i].CreatedAt.After(es[j].CreatedAt) })
	return es
}

// completeContexts lists the kubeconfig's contexts (the file named by --kubeconfig, else kubectl's).
func completeContexts(o *app.Options, toComplete string) []string {
	raw, err := o.Kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil
	}
	var out []string
	for name := range raw.Contexts {
		out = append(out, name)
	}
	sort.Strings(out)
	return withPrefix(out, toComplete)
}

// completionKube is a read-only client for the context the command line names, with every request
// bounded by completionTimeout.
func completionKube(o *app.Options) (kubernetes.Interface, error) {
	cfg, err := completionConfig(o)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

func completionConfig(o *app.Options) (*rest.Config, error) {
	cfg, err := o.Kube.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = completionTimeout
	cfg.QPS, cfg.Burst = 50, 100
	kube.Guard(cfg, true)
	return cfg, nil
}

func completionContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// completeNamespaces lists the cluster's namespaces as before+NS+suffix ("KIND/" before and "/"
// after when the namespace is the middle of KIND/NS/NAME) that start with toComplete.
func completeNamespaces(ctx context.Context, o *app.Options, toComplete, before, suffix string) []string {
	cs, err := completionKube(o)
	if err != nil {
		return nil
	}
	ctx, cancel := completionContext(ctx)
	defer cancel()
	l, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: completionLimit})
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range l.Items {
		out = append(out, before+n.Name+suffix)
	}
	return withPrefix(out, toComplete)
}

// completeServices completes --service NS/NAME: the namespaces first ("NS/", no space after), then
// the Services of the namespace typed.
func completeServices(ctx context.Context, o *app.Options, toComplete string) ([]string, cobra.ShellCompDirective) {
	ns, _, ok := strings.Cut(toComplete, "/")
	if !ok {
		return completeNamespaces(ctx, o, toComplete, "", "/"), noFiles | cobra.ShellCompDirectiveNoSpace
	}
	cs, err := completionKube(o)
	if err != nil {
		return nil, noFiles
	}
	ctx, cancel := completionContext(ctx)
	defer cancel()
	l, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{Limit: completionLimit})
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, s := range l.Items {
		out = append(out, ns+"/"+s.Name)
	}
	return withPrefix(out, toComplete), noFiles
}

// completeWorkloads completes --workload KIND/NS/NAME one part at a time.
func completeWorkloads(ctx context.Context, o *app.Options, toComplete string) ([]string, cobra.ShellCompDirective) {
	parts := strings.SplitN(toComplete, "/", 3)
	switch len(parts) {
	case 1:
		var out []string
		for _, k := range workloadKinds {
			out = append(out, k+"/")
		}
		return withPrefix(out, toComplete), noFiles | cobra.ShellCompDirectiveNoSpace
	case 2:
		if _, ok := inventory.WorkloadKinds[strings.ToLower(parts[0])]; !ok {
			return nil, noFiles
		}
		return completeNamespaces(ctx, o, toComplete, parts[0]+"/", "/"), noFiles | cobra.ShellCompDirectiveNoSpace
	}
	kind, ns := inventory.WorkloadKinds[strings.ToLower(parts[0])], parts[1]
	if kind == "" || ns == "" {
		return nil, noFiles
	}
	names, err := workloadNames(ctx, o, kind, ns)
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, n := range names {
		out = append(out, parts[0]+"/"+ns+"/"+n)
	}
	return withPrefix(out, toComplete), noFiles
}

// workloadResources are the resources behind --workload's kinds.
var workloadResources = map[string]schema.GroupVersionResource{
	"Deployment":  {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet": {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"DaemonSet":   {Group: "apps", Version: "v1", Resource: "daemonsets"},
	"Job":         {Group: "batch", Version: "v1", Resource: "jobs"},
	"CronJob":     {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"Pod":         {Version: "v1", Resource: "pods"},
}

// workloadNames lists the names of one kind in a namespace (metadata only).
func workloadNames(ctx context.Context, o *app.Options, kind, ns string) ([]string, error) {
	gvr, ok := workloadResources[kind]
	if !ok {
		return nil, fmt.Errorf("no resource for kind %q", kind)
	}
	cfg, err := completionConfig(o)
	if err != nil {
		return nil, err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := completionContext(ctx)
	defer cancel()
	l, err := mc.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{Limit: completionLimit})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range l.Items {
		names = append(names, m.Name)
	}
	return names, nil
}
