package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// Options configure a world.
type Options struct {
	// Latency is the simulated latency of every Google API call, and the scale of every simulated
	// delay: a controller step that takes T in production takes T×Latency/10s here (an internal LB that
	// takes a minute to provision takes 1.8 s at the demo's 300 ms). 0, as in tests, makes every
	// controller act at once (within a few milliseconds, on its own goroutine).
	Latency time.Duration
	// World is the layout: WorldSeed ("" too) or WorldSharedVPC.
	World string
	// OnNonLoopback, if set, is called whenever anything in the world tries to dial an address outside
	// loopback (the dial is refused either way). Tests set it to fail loudly.
	OnNonLoopback func(network, addr string)
}

// World is a running demo world. It implements app.World. Create it with Start, stop it with Close.
type World struct {
	opts Options
	lay  layout

	gcp        *fakegcp.Server
	vpcDNS     *fakedns.Server // the VPC resolver (169.254.169.254 as seen by a client in network default)
	clusterDNS *fakedns.Server // the cluster's DNS, as pods see it
	kube       *kubeSide
	exec       *execServer
	backends   *backends
	loopback   probe.LoopbackOnlyDialer

	probesOnce sync.Once
	probes     *probePods // gkedoctor's probe pods and their output (probes.go)

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // server goroutines
	loopsWG sync.WaitGroup // controller goroutines
	closeMu sync.Mutex
	closed  bool

	lb   *lbController
	eps  *endpointsController
	cdns *dnsController
	masq *masqAgent
	work *workloads
	run  *runTracker
	crs  *crStore // custom resources (seed 002's Knative objects), knative.go
	kn   *knativeController
}

var _ app.World = (*World)(nil)

// DemoStarter starts a world for the product's --demo mode (app.DemoStarter).
func DemoStarter(ctx context.Context, latency time.Duration) (app.World, error) {
	return DemoWorldStarter(ctx, latency, WorldSeed)
}

// DemoWorldStarter starts the named layout for --demo --world (app.DemoWorldStarter).
func DemoWorldStarter(ctx context.Context, latency time.Duration, world string) (app.World, error) {
	w, err := Start(ctx, Options{Latency: latency, World: world})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Start builds and starts a world. ctx bounds the start-up only; the world runs until Close.
func Start(ctx context.Context, o Options) (w *World, err error) {
	if o.Latency < 0 {
		return nil, fmt.Errorf("sim: negative latency %v", o.Latency)
	}
	if err := CheckWorld(o.World); err != nil {
		return nil, err
	}
	w = &World{opts: o, lay: seedLayout()}
	if o.World == WorldSharedVPC {
		w.lay = sharedVPCLayout()
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.loopback = probe.LoopbackOnlyDialer{Inner: &net.Dialer{}, OnRefused: o.OnNonLoopback}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	step := func(what string, f func() error) {
		if err != nil {
			return
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("sim: start: %w", cerr)
			return
		}
		if ferr := f(); ferr != nil {
			err = fmt.Errorf("sim: %s: %w", what, ferr)
		}
	}

	step("start the Google API server", func() error {
		w.gcp = fakegcp.New()
		w.gcp.SetLatency(o.Latency)
		w.gcp.SetOperationDelay(w.after(20 * time.Second))
		if err := seedGCP(w.gcp); err != nil {
			return err
		}
		if w.lay.name == WorldSharedVPC {
			return seedSharedVPC(w.gcp)
		}
		return nil
	})
	step("start the backends", func() error {
		w.backends = newBackends(w)
		return w.backends.start()
	})
	step("start the Kubernetes side", func() error {
		var kerr error
		w.kube, kerr = newKubeSide(w)
		if kerr == nil {
			w.crs = newCRStore(w)
			w.kube.installKnativeDiscovery()
		}
		return kerr
	})
	step("start the DNS servers", func() error {
		var derr error
		if w.vpcDNS, derr = fakedns.Start(); derr != nil {
			return derr
		}
		w.vpcDNS.SetHandler(w.vpcAnswer)
		if w.clusterDNS, derr = fakedns.Start(); derr != nil {
			return derr
		}
		w.clusterDNS.SetHandler(w.clusterAnswer)
		return nil
	})
	step("start the API server's exec endpoint", func() error {
		var eerr error
		w.exec, eerr = startExecServer(w)
		return eerr
	})
	step("start the controllers", func() error {
		w.run = newRunTracker(w)
		w.eps = &endpointsController{w: w}
		w.lb = newLBController(w)
		w.cdns = &dnsController{w: w}
		w.masq = newMasqAgent(w)
		w.work = newWorkloads(w)
		w.kn = &knativeController{w: w}
		// First syncs happen here, synchronously, so the world is whole when Start returns.
		w.eps.reconcile(time.Now())
		w.cdns.syncNow()
		w.masq.reconcile(time.Now())
		w.run.recordAll()
		// Every loop exists before any goroutine starts: their reconciles kick one another.
		w.eps.loop, w.lb.loop, w.cdns.loop, w.masq.loop, w.work.loop, w.kn.loop = newLoop(), newLoop(), newLoop(), newLoop(), newLoop(), newLoop()
		w.startLoop(w.eps.loop, w.eps.reconcile)
		w.startLoop(w.lb.loop, w.lb.reconcile)
		w.startLoop(w.cdns.loop, w.cdns.reconcile)
		w.startLoop(w.masq.loop, w.masq.reconcile)
		w.startLoop(w.work.loop, w.work.reconcile)
		w.startLoop(w.kn.loop, w.kn.reconcile)
		w.startLoop(newLoop(), w.kube.trimActions)
		w.gcp.OnMutation(w.onGCPMutation)
		w.gcp.SetJobRunner(w.runProbeJob)
		w.gcp.SetReachability(w.analyseConnectivity)
		return nil
	})
	return w, err
}

// Close stops every server and goroutine of the world. Dials blocked on an unreachable address end.
// It is safe to call more than once.
func (w *World) Close() {
	w.closeMu.Lock()
	if w.closed {
		w.closeMu.Unlock()
		return
	}
	w.closed = true
	w.closeMu.Unlock()
	w.cancel()
	w.loopsWG.Wait() // the controllers first: they use the servers
	if w.kube != nil {
		w.kube.close()
	}
	if w.exec != nil {
		w.exec.close()
	}
	if w.backends != nil {
		w.backends.close()
	}
	for _, d := range []*fakedns.Server{w.vpcDNS, w.clusterDNS} {
		if d != nil {
			d.Close()
		}
	}
	if w.gcp != nil {
		w.gcp.Close()
	}
	w.wg.Wait()
}

// --- app.World ---

// Target is what the demo's run is about.
func (w *World) Target() checks.Target {
	return checks.Target{Project: Project, Location: Region, Cluster: Cluster, Namespace: "default", Context: Context}
}

// KubeClient returns a client on the world's Kubernetes state; with readOnly every write is refused
// with an *apierr.Error of kind ReadOnly (reads, watches and the review APIs pass), as internal/kube's
// guard does. Both are client-go fake clientsets (clientset.go) sharing one object tracker (the writable one's Tracker()); each
// keeps its own action log.
func (w *World) KubeClient(readOnly bool) kubernetes.Interface {
	if readOnly {
		return demoClientset{clientset: w.kube.ro, k: w.kube}
	}
	return demoClientset{clientset: w.kube.rw, k: w.kube}
}

// GCPEndpoint is the base URL of the fake Google API server (for gcp.Options.Endpoint).
func (w *World) GCPEndpoint() string { return w.gcp.URL }

// Resolver is the VPC resolver's HOST:PORT on loopback.
func (w *World) Resolver() string { return w.vpcDNS.Addr }

// Dialer is the network as the Cloud Run client gke-connectivity-tester4 sees it.
func (w *World) Dialer() checks.Dialer { return w.DialerFrom(SourceCloudRun) }

// --- accessors for tests and the TUI ---

// GCP is the fake Google API server (seed it, inject faults, read its request log).
func (w *World) GCP() *fakegcp.Server { return w.gcp }

// DNS is the VPC resolver.
func (w *World) DNS() *fakedns.Server { return w.vpcDNS }

// ClusterDNS is the cluster's DNS server (what pods query).
func (w *World) ClusterDNS() *fakedns.Server { return w.clusterDNS }

// Kube is a writable client on the world's Kubernetes state (the same as KubeClient(false)).
func (w *World) Kube() kubernetes.Interface { return w.kube.rw }

// ExecURL is the base URL (http://127.0.0.1:PORT) of the loopback server playing the API server's
// streaming endpoints: GET /api/v1/namespaces/NS/pods/NAME/exec.
func (w *World) ExecURL() string { return w.exec.url }

// Addrs lists the loopback addresses every server of the world listens on (tests assert they are all
// loopback).
func (w *World) Addrs() []string {
	out := []string{hostPort(w.gcp.URL), w.vpcDNS.Addr, w.clusterDNS.Addr, hostPort(w.exec.url)}
	return append(out, w.backends.addrs()...)
}

// LegacyToken is the token in orchestrai-sa's legacy token Secret: issued before the ServiceAccount
// was re-created, so kube-apiserver rejects it with "ServiceAccount UID (…) does not match claim (…)".
func (w *World) LegacyToken() string { return w.kube.legacyToken }

// --- internals ---

// after scales a production delay to the world's.
func (w *World) after(real time.Duration) time.Duration {
	if w.opts.Latency <= 0 {
		return 0
	}
	return time.Duration(float64(real) * float64(w.opts.Latency) / float64(10*time.Second))
}

// loop runs a level-triggered reconcile function on its own goroutine: at start, when kicked, and when
// the time it returned comes.
type loop struct{ kick chan struct{} }

// Kick asks for a reconcile soon (never blocks).
func (l *loop) Kick() {
	if l == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func newLoop() *loop { return &loop{kick: make(chan struct{}, 1)} }

func (w *World) startLoop(l *loop, reconcile func(now time.Time) time.Time) {
	w.loopsWG.Add(1)
	go func() {
		defer w.loopsWG.Done()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			if w.ctx.Err() != nil {
				return
			}
			if next := reconcile(time.Now()); !next.IsZero() {
				timer.Reset(max(time.Until(next), 0))
			}
			select {
			case <-w.ctx.Done():
				timer.Stop()
				return
			case <-l.kick:
			case <-timer.C:
			}
			timer.Stop()
		}
	}()
}

// kickKube tells the controllers that watch Kubernetes objects that something changed.
func (w *World) kickKube() {
	if w.eps == nil || w.lb == nil || w.cdns == nil || w.masq == nil || w.work == nil || w.kn == nil {
		return // still starting: the first syncs run after the seeding
	}
	for _, l := range []*loop{w.eps.loop, w.lb.loop, w.cdns.loop, w.masq.loop, w.work.loop, w.kn.loop} {
		l.Kick()
	}
}

// onGCPMutation is called by the fake Google API server after each mutating request.
func (w *World) onGCPMutation(m fakegcp.Mutation) {
	switch {
	case m.API == "dns" && m.Project == Project, m.API == "container" && m.Project == Project:
		w.cdns.noteMutation(m)
	case m.API == "run":
		w.run.noteMutation(m)
	case m.API == "compute" && m.Kind == "Firewall":
		w.lb.noteFirewallChange()
	}
}

var errWorldClosed = errors.New("sim: the demo world is closed")

func hostPort(u string) string {
	for _, p := range []string{"http://", "https://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			return u[len(p):]
		}
	}
	return u
}
