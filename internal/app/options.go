// Package app turns what the user asked for (flags) into a Session: the clients, the target, the
// inventory, the check environment and the fix applier. Commands and the TUI share it; it holds the
// Complete/Validate logic so the cobra commands stay thin.
package app

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/config"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Options are the flags shared by every command that touches a cluster or project (DESIGN §1).
type Options struct {
	Kube *genericclioptions.ConfigFlags

	Project, Location, Cluster string

	CloudRunService string
	// SourceProjects is --source-project (repeatable): more projects whose Cloud Run services are
	// discovered as clients.
	SourceProjects []string
	// AppEngineService is --app-engine-service S[/VERSION]: an App Engine standard client.
	AppEngineService string
	Services         []string
	Workload         string
	TokenFile        string
	DNSNames         []string
	// DNSProjects is --dns-project P (repeatable): more projects whose Cloud DNS zones, response
	// policies and server policies may apply to the client's network (a hub DNS project).
	DNSProjects []string
	Peers       []string
	// InternalGateway is --internal: gateway fixes put the gateway on an internal load balancer.
	InternalGateway bool

	ReadOnly bool
	Resolver string
	Timeout  time.Duration
	NoGCP    bool
	Demo     bool
	// DemoWorld is --world: the demo world's layout ("" or "seed", "shared-vpc").
	DemoWorld string
	// DemoLatency scales the demo world's simulated delays (0 in tests).
	DemoLatency time.Duration

	// OpenTriage is the root's --triage: the TUI opens on the triage screen.
	OpenTriage bool

	// JournalDir overrides the journal location (tests).
	JournalDir string

	// ConfigPath is --config: the config file to read instead of $GKEDOCTOR_CONFIG or the XDG one.
	ConfigPath string
	// Write is --write: open read-write even where the config marks the context or project read-only.
	Write bool
	// FlagChanged tells whether a flag was given on the command line (cobra's Flags().Changed); nil
	// in tests that build Options directly (then a non-default value counts as given).
	FlagChanged func(name string) bool
	// ReadOnlyWhy says why the session is read-only (set by Complete, or by ForceReadOnly).
	ReadOnlyWhy ReadOnlyReason

	// KubeconfigOverride, when set, is the kubeconfig the session connects with instead of the files
	// (its current context): the setup screen's in-process connection to a GKE cluster picked from
	// the Google APIs, the entry gcloud's get-credentials would write, written nowhere.
	KubeconfigOverride *clientcmdapi.Config

	// filled by Complete
	resolved       kube.Resolved
	kubeResolveErr error
	services       []checks.NamespacedName

	config          *config.File
	configLoc       config.Location
	configLoaded    bool
	configNamespace string
	overridden      string
	sources         map[string]source
}

// NewOptions returns options with kubectl's flags.
func NewOptions() *Options {
	kf := genericclioptions.NewConfigFlags(true)
	// kubectl's --cluster names a kubeconfig cluster entry; here --cluster is the GKE cluster (DESIGN
	// §1). The kubeconfig cluster is chosen through --context, as usual.
	kf.ClusterName = nil
	return &Options{Kube: kf, Timeout: defaultTimeout}
}

// ParseGKEContext splits a gke_PROJECT_LOCATION_CLUSTER context name. Project ids cannot contain
// underscores, locations neither, so the cluster is everything after the second underscore.
func ParseGKEContext(name string) (project, location, cluster string, ok bool) {
	rest, found := strings.CutPrefix(name, "gke_")
	if !found {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, "_", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// Complete fills defaults: the kubeconfig context and namespace, the config file's defaults (its
// entry for the context, then project/location/cluster from a GKE context name, then its global
// defaults) where the flags do not give them, and whether the session is read-only (config.go).
// Explicitly named but broken input is returned as an error (a *kube.UsageError, or a *UsageError
// naming the config file and line); an absent kubeconfig is remembered, not an error. The demo
// world ignores the config file: its target is fixed and nothing in it is real.
func (o *Options) Complete() error {
	if o.Demo {
		o.decideReadOnly("", nil)
		return nil
	}
	if err := o.loadConfig(); err != nil {
		return err
	}
	o.kubeResolveErr = nil // Complete may run again after the setup screen chose a context
	if kc := o.KubeconfigOverride; kc != nil {
		res := kube.Resolved{Context: kc.CurrentContext, Namespace: "default"}
		if c := kc.Contexts[kc.CurrentContext]; c != nil && c.Namespace != "" {
			res.Namespace, res.KubeconfigNamespace = c.Namespace, c.Namespace
		}
		o.resolved = res
		rule := o.config.MatchContext(res.Context)
		o.applyConfig(res, rule)
		o.decideReadOnly(res.Context, rule)
		return nil
	}
	res, err := kube.ResolveContext(o.Kube)
	if err != nil {
		if _, usage := err.(*kube.UsageError); usage {
			return err
		}
		o.kubeResolveErr = err
	}
	o.resolved = res
	rule := o.config.MatchContext(res.Context)
	o.applyConfig(res, rule)
	o.decideReadOnly(res.Context, rule)
	return nil
}

// Validate checks the flags' syntax; each problem is one clear error.
func (o *Options) Validate() error {
	if err := o.ValidateInput(); err != nil {
		return err
	}
	if err := o.validateEnvironment(); err != nil {
		return err
	}
	ns := o.namespace()
	o.services = nil
	for _, s := range o.Services {
		n, err := checks.ParseNamespacedName(s, ns)
		if err != nil {
			return fmt.Errorf("--service %w", err)
		}
		o.services = append(o.services, n)
	}
	if o.Workload != "" {
		if _, err := inventory.ParseWorkloadRef(o.Workload); err != nil {
			return fmt.Errorf("--workload %w", err)
		}
	}
	// --app-engine-service, --token-file, --resolver, --peer, --dns-name and --timeout: ValidateInput (validate.go).
	return nil
}

// validatePeer checks --peer CIDR|IP[:PORT] with the parser pod-egress-cross-project uses.
func validatePeer(p string) error {
	_, err := checks.ParsePeer(p)
	return err
}

func (o *Options) namespace() string {
	if o.Kube != nil && o.Kube.Namespace != nil && *o.Kube.Namespace != "" {
		return *o.Kube.Namespace
	}
	if o.configNamespace != "" {
		return o.configNamespace
	}
	if o.resolved.Namespace != "" {
		return o.resolved.Namespace
	}
	return "default"
}

// UsageError is a problem with what the user configured (a bad key-bindings file, say): the command
// exits 2 with its one-line message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// UseContext switches to the kubeconfig context name (the setup screen's choice). kubectl's flags
// cache their loader on first use, so they are rebuilt around name, every other value the user gave
// kept.
func (o *Options) UseContext(name string) {
	nf := genericclioptions.NewConfigFlags(true)
	nf.ClusterName = nil // see NewOptions
	if old := o.Kube; old != nil {
		nf.CacheDir, nf.KubeConfig, nf.AuthInfoName, nf.Namespace, nf.APIServer = old.CacheDir, old.KubeConfig, old.AuthInfoName, old.Namespace, old.APIServer
		nf.TLSServerName, nf.Insecure, nf.CertFile, nf.KeyFile, nf.CAFile = old.TLSServerName, old.Insecure, old.CertFile, old.KeyFile, old.CAFile
		nf.BearerToken, nf.Impersonate, nf.ImpersonateUID, nf.ImpersonateGroup = old.BearerToken, old.Impersonate, old.ImpersonateUID, old.ImpersonateGroup
		nf.ImpersonateUserExtra, nf.Username, nf.Password, nf.Timeout = old.ImpersonateUserExtra, old.Username, old.Password, old.Timeout
		nf.DisableCompression, nf.ProxyURL, nf.WrapConfigFn = old.DisableCompression, old.ProxyURL, old.WrapConfigFn
	}
	nf.Context = &name
	o.Kube = nf
}
