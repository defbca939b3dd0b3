package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

// World is a running demo world (internal/sim): the same clients as production, pointed at
// in-process servers on loopback.
type World interface {
	Target() checks.Target
	KubeClient(readOnly bool) kubernetes.Interface
	GCPEndpoint() string
	Resolver() string
	Dialer() checks.Dialer
	Close()
}

// DemoStarter starts the demo world; the command wires internal/sim in (so this package and its tests
// do not depend on the simulator).
var DemoStarter func(ctx context.Context, latency time.Duration) (World, error)

// DemoWorldStarter starts a named layout of the demo world (--world); nil in builds without it.
var DemoWorldStarter func(ctx context.Context, latency time.Duration, world string) (World, error)

// Session is one run's wiring.
type Session struct {
	Options *Options
	Env     *checks.Env
	Inv     *inventory.Inventory
	Applier *fixes.Applier
	Journal *fixes.Journal
	World   World
	KubeErr error // why there is no Kubernetes client (nil when there is one)
	GCPErr  error // why there are no Google clients
	// ReadOnlyWhy says why the session is read-only (zero when it is not): the TUI's header shows
	// Short, refusals say Long. The guards themselves only know read-only or not.
	ReadOnlyWhy ReadOnlyReason
	closers     []func()
}

// Close releases the session (stops the demo world).
func (s *Session) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Build creates the session. Only problems with explicit input are errors; missing credentials or
// kubeconfig are recorded and make the dependent checks skip.
func Build(ctx context.Context, o *Options) (*Session, error) {
	s := &Session{Options: o}
	if o.ReadOnly {
		s.ReadOnlyWhy = o.ReadOnlyWhy
		if s.ReadOnlyWhy.Short == "" {
			s.ReadOnlyWhy = flagReadOnly
		}
	}
	var (
		kc      kubernetes.Interface
		kdyn    dynamic.Interface
		kcfg    *rest.Config
		g       *gcp.Clients
		target  checks.Target
		where   = detectWhere()
		dialer  checks.Dialer
		resolv  string
		why     string
		vpcView bool         // the resolver answers as the VPC does for the client
		waits   checks.Waits // zero: production waits
		gcpOpts = gcp.Options{ReadOnly: o.ReadOnly, UserAgent: "gkedoctor/" + version.Version}
	)
	if o.Resolver != "" {
		r, err := probe.ChooseResolver(o.Resolver, probe.HostEnvironment{})
		if err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
		resolv, why, vpcView = r.Addr, r.Why, true // the user says it is the resolver that matters
	}
	if o.Demo {
		if DemoStarter == nil {
			return nil, fmt.Errorf("this build has no demo world")
		}
		start := DemoStarter
		if o.DemoWorld != "" && o.DemoWorld != "seed" {
			if DemoWorldStarter == nil {
				return nil, fmt.Errorf("this build has no demo world %q", o.DemoWorld)
			}
			start = func(ctx context.Context, latency time.Duration) (World, error) {
				return DemoWorldStarter(ctx, latency, o.DemoWorld)
			}
		}
		w, err := start(ctx, o.DemoLatency)
		if err != nil {
			return nil, fmt.Errorf("start the demo world: %w", err)
		}
		s.World = w
		s.closers = append(s.closers, w.Close)
		target = w.Target()
		if o.Project != "" {
			target.Project = o.Project
		}
		kc = w.KubeClient(o.ReadOnly)
		// The dynamic client on the same state, for custom resources (Knative's), when the world has one.
		if dw, ok := w.(interface {
			KubeDynamic(readOnly bool) dynamic.Interface
		}); ok {
			kdyn = dw.KubeDynamic(o.ReadOnly)
		}
		if rw, ok := w.(interface {
			KubeREST(readOnly bool) *rest.Config
		}); ok {
			kcfg = rw.KubeREST(o.ReadOnly)
		}
		gcpOpts.Endpoint = w.GCPEndpoint()
		where, dialer = checks.DemoWorld, w.Dialer()
		if resolv == "" {
			resolv, why = w.Resolver(), "the demo world's VPC resolver (plays 169.254.169.254)"
		}
		// The simulated VPC's resolver answers as the VPC does, and its controllers in seconds.
		vpcView = resolv == w.Resolver() || vpcView
		waits = checks.Waits{ILB: time.Minute, Poll: 100 * time.Millisecond}
	} else {
		target = checks.Target{Project: o.Project, Location: o.Location, Cluster: o.Cluster,
			Namespace: o.namespace(), Context: o.resolved.Context}
		if o.KubeconfigOverride != nil {
			// In process, from the entry the setup screen built: the same client, the same guard.
			c, err := kubeFromOverride(o)
			if err != nil {
				s.KubeErr = err
			} else {
				kc, kcfg = c.Clientset, c.Config
				if d, err := dynamic.NewForConfig(c.Config); err == nil {
					kdyn = d
				}
			}
		} else if o.kubeResolveErr != nil {
			s.KubeErr = o.kubeResolveErr
		} else {
			c, err := kube.New(o.Kube, o.ReadOnly)
			if err != nil {
				if _, usage := err.(*kube.UsageError); usage {
					return nil, err
				}
				s.KubeErr = err
			} else {
				kc, kcfg = c.Clientset, c.Config
				// Custom resources through the same configuration, so behind the same read-only guard.
				if d, err := dynamic.NewForConfig(c.Config); err == nil {
					kdyn = d
				}
				if c.Context != "" {
					target.Context = c.Context
				}
			}
		}
		if !o.NoGCP { // under --no-gcp the endpoint is not used, so it cannot fail the run
			ep, err := gcp.EndpointFromEnv()
			if err != nil {
				return nil, &UsageError{Msg: err.Error()}
			}
			gcpOpts.Endpoint = ep
		}
		if where != checks.Laptop {
			dialer = &net.Dialer{Timeout: 3 * time.Second}
		}
		if resolv == "" {
			if r, err := probe.ChooseResolver("", probe.HostEnvironment{}); err == nil {
				resolv, why, vpcView = r.Addr, r.Why, r.Addr == probe.VPCResolver
			} else {
				why = err.Error()
			}
		}
	}
	if o.NoGCP {
		s.GCPErr = apierr.NotConfiguredf("drop --no-gcp", "Google APIs are off (--no-gcp)")
	} else {
		c, err := gcp.New(ctx, gcpOpts)
		if err != nil {
			s.GCPErr = err
		} else {
			g = c
		}
	}
	if kc == nil && s.KubeErr == nil {
		s.KubeErr = apierr.NotConfiguredf("gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig", "no Kubernetes client")
	}
	s.Inv = inventory.New(inventory.Scope{Project: target.Project, Location: target.Location, Cluster: target.Cluster}, kc, s.KubeErr, g, s.GCPErr)
	if kdyn != nil {
		s.Inv.SetDynamic(kdyn)
	}
	sourceProjects := o.SourceProjects
	if sp, ok := s.World.(interface{ SourceProjects() []string }); ok && len(sourceProjects) == 0 {
		// A demo layout whose clients live in other projects (shared-vpc's app project).
		sourceProjects = sp.SourceProjects()
	}
	dnsProjects := o.DNSProjects
	if dp, ok := s.World.(interface{ DNSProjects() []string }); ok && len(dnsProjects) == 0 {
		// A demo layout with a hub DNS project (shared-vpc's): the operator would name it.
		dnsProjects = dp.DNSProjects()
	}
	s.Env = &checks.Env{
		Target:          target,
		Targets:         checks.Targets{CloudRunService: o.CloudRunService, SourceProjects: sourceProjects, AppEngineService: o.AppEngineService, Services: o.services, Workload: o.Workload, TokenFile: o.TokenFile, DNSNames: o.DNSNames, DNSProjects: dnsProjects, Peers: o.Peers, InternalGateway: o.InternalGateway},
		Inv:             s.Inv,
		Resolver:        resolv,
		ResolverWhy:     why,
		Dialer:          dialer,
		Where:           where,
		ReadOnly:        o.ReadOnly,
		ResolverSeesVPC: vpcView,
		Waits:           waits,
		Now:             time.Now,
		FixDeps:         &fixes.Deps{Kube: kc, GCP: g},
		KubeREST:        kcfg,
	}
	if op, ok := s.World.(interface {
		CarryOut(ctx context.Context, adviceID string) (string, error)
	}); ok {
		// The simulated world has its own people: they carry out advice the operator says is done.
		s.Env.FixDeps.CarryOut = op.CarryOut
	}
	s.Journal = JournalFor(o)
	s.Applier = &fixes.Applier{Journal: s.Journal, ReadOnly: o.ReadOnly, Deps: s.Env.FixDeps,
		Target: fixes.Target{Project: target.Project, Location: target.Location, Cluster: target.Cluster, Context: target.Context, Demo: o.Demo}}
	return s, nil
}

// JournalFor is the journal of o: --journal-dir (tests), else the XDG state directory, its
// journal-demo/ sibling under --demo (the demo world is new in every process: its fixes never mix
// with real ones). Without HOME or XDG_STATE_HOME the journal is unusable (fixes.ErrNoStateDir):
// fixes and undo refuse, read-only commands never notice.
func JournalFor(o *Options) *fixes.Journal {
	if o.JournalDir != "" {
		return fixes.OpenJournal(o.JournalDir)
	}
	dir, err := fixes.DefaultDir()
	if err != nil {
		return fixes.UnusableJournal(err)
	}
	if o.Demo {
		dir = fixes.DemoDir(dir)
	}
	return fixes.OpenJournal(dir)
}

// detectWhere tells laptop, VPC (GCE/Cloud Shell) and in-cluster apart without touching the network.
func detectWhere() checks.Where {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return checks.InCluster
	}
	if (probe.HostEnvironment{}).OnGCE() {
		return checks.InVPC
	}
	return checks.Laptop
}

// kubeFromOverride builds the Kubernetes client from o.KubeconfigOverride's current context.
func kubeFromOverride(o *Options) (*kube.Client, error) {
	cfg, err := clientcmd.NewDefaultClientConfig(*o.KubeconfigOverride, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig entry %s: %w", o.KubeconfigOverride.CurrentContext, err)
	}
	return kube.FromConfig(cfg, o.resolved, o.ReadOnly)
}
