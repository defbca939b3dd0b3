// Package app turns what the user asked for (flags) into a Session: the clients, the target, the
// inventory, the check environment and the fix applier. Commands and the TUI share it; it holds the
// Complete/Validate logic so the cobra commands stay thin.
package app

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/gkedoctor/gkedoctor/checks"
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

	// filled by Complete
	resolved       kube.Resolved
	kubeResolveErr error
	services       []checks.NamespacedName
}

// NewOptions returns options with kubectl's flags.
func NewOptions() *Options {
	kf := genericclioptions.NewConfigFlags(true)
	// kubectl's --cluster names a kubeconfig cluster entry; here --cluster is the GKE cluster (DESIGN
	// §1). The kubeconfig cluster is chosen through --context, as usual.
	kf.ClusterName = nil
	return &Options{Kube: kf, Timeout: 5 * time.Minute}
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

// Complete fills defaults: the kubeconfig context and namespace, and project/location/cluster from a
// GKE context name when the flags do not give them. Explicitly named but broken input is returned as
// an error (a *kube.UsageError); an absent kubeconfig is remembered, not an error.
func (o *Options) Complete() error {
	if o.Demo {
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
	if p, l, c, ok := ParseGKEContext(res.Context); ok {
		// A context named like GKE's but holding something that is not an id is not GKE's: its parts
		// are not used (and never sent to an API).
		if o.Project == "" && validProject(p) {
			o.Project = p
		}
		if o.Location == "" && validLocation(l) {
			o.Location = l
		}
		if o.Cluster == "" && validCluster(c) {
			o.Cluster = c
		}
	}
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
	if o.resolved.Namespace != "" {
		return o.resolved.Namespace
	}
	return "default"
}

// UsageError is a problem with what the user configured (a bad key-bindings file, say): the command
// exits 2 with its one-line message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }
