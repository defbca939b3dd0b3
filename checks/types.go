// Package checks holds the Check interface, the registry, the embedded catalogue and the engine that
// runs checks concurrently and reports their progress. Each check lives in a file named after its id
// (clusterip-unreachable in clusterip_unreachable.go, …) that holds its registration and its decision
// list; a family's shared facts live beside them (reach.go and path.go for reachability, dns_facts.go
// for DNS, source.go for the client's network). Checks read facts through internal/inventory and the
// one network model (internal/model, internal/firewall, internal/dnsmodel), never a client directly.
package checks

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// Status of a check or of one evidence step.
type Status string

const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Warn  Status = "warn"
	Skip  Status = "skip"
	Error Status = "error"
)

// Glyph is the symbol shown before a status word: ✓ pass, ✗ fail, ! warn, – skip, ⊘ error. Always
// print the word after it, so no colour and screen readers lose nothing.
func (s Status) Glyph() string {
	switch s {
	case Pass:
		return "✓"
	case Fail:
		return "✗"
	case Warn:
		return "!"
	case Skip:
		return "–"
	case Error:
		return "⊘"
	}
	return "?"
}

// Statuses in display order.
var Statuses = []Status{Pass, Fail, Warn, Skip, Error}

// Evidence is one thing a check looked at, with the command a person could run to see it too.
type Evidence struct {
	Step    string `json:"step"`
	Status  Status `json:"status"`
	Detail  string `json:"detail,omitempty"`
	Command string `json:"command,omitempty"`
}

// Result is what a check found.
type Result struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Status   Status        `json:"status"`
	Cause    string        `json:"cause"`
	Summary  string        `json:"summary"`
	Evidence []Evidence    `json:"evidence"`
	Fixes    []*fixes.Plan `json:"fixes"`
	Path     []string      `json:"path,omitempty"` // the path analysed: source → … → target
	Duration time.Duration `json:"-"`
	Parent   string        `json:"parent,omitempty"` // the primary check a supporting check belongs to
}

// Pass builds a passing result.
func PassResult(summary string) Result { return Result{Status: Pass, Summary: summary} }

// maxSummaries is how many per-target sentences a summary carries; the evidence has every one.
const maxSummaries = 3

// JoinSummaries makes one summary of per-target sentences: the first maxSummaries, then how many
// more there are — a check over 200 Services says what is wrong with the first few and counts the
// rest instead of repeating one sentence 200 times (the evidence lists each target).
func JoinSummaries(sums []string) string {
	if len(sums) <= maxSummaries {
		return strings.Join(sums, "; ")
	}
	return fmt.Sprintf("%s; and %d more like these (the evidence lists each)", strings.Join(sums[:maxSummaries], "; "), len(sums)-maxSummaries)
}

// FailResult builds a failing result with a machine cause and a sentence for people.
func FailResult(cause, summary string, plans ...*fixes.Plan) Result {
	return Result{Status: Fail, Cause: cause, Summary: summary, Fixes: plans}
}

// WarnResult builds a warning.
func WarnResult(cause, summary string, plans ...*fixes.Plan) Result {
	return Result{Status: Warn, Cause: cause, Summary: summary, Fixes: plans}
}

// SkipResult builds a skip; the reason is mandatory and becomes the summary.
func SkipResult(cause, reason string) Result {
	if reason == "" {
		reason = "skipped (no reason given: this is a bug in the check)"
	}
	return Result{Status: Skip, Cause: cause, Summary: reason}
}

// ErrorResult builds an error result: the check itself broke.
func ErrorResult(err error) Result {
	return Result{Status: Error, Cause: "check-error", Summary: err.Error()}
}

// FromErr turns a failed fact lookup into the honest result: skip when we could not look (permission,
// nothing configured, API disabled), error otherwise. The message names the permission or the command
// that would fix it.
func FromErr(what string, err error) Result {
	if err == nil {
		return ErrorResult(fmt.Errorf("%s: FromErr called without an error", what))
	}
	msg := fmt.Sprintf("could not %s: %v", what, err)
	if e, ok := apierr.As(err); ok {
		switch e.Kind {
		case apierr.Permission:
			p := e.Permission
			if p == "" {
				p = "a permission"
			}
			// The project the permission is missing on: in a Shared VPC it is often not the
			// cluster's (the host project's firewall, the app project's Cloud Run services).
			if proj := gref.ProjectOf(e.Resource); proj != "" {
				p += " on project " + proj
			}
			return SkipResult("missing-permission", fmt.Sprintf("could not %s: missing %s", what, p))
		case apierr.NotConfigured:
			return SkipResult("not-configured", msg)
		case apierr.APIDisabled:
			return SkipResult("api-disabled", msg)
		case apierr.Unauthenticated:
			return SkipResult("unauthenticated", msg)
		case apierr.NotFound:
			return SkipResult("not-found", msg)
		}
	}
	return ErrorResult(fmt.Errorf("%s", msg))
}

// Where the tool runs decides which live probes it can do.
type Where string

const (
	Laptop    Where = "laptop"
	InVPC     Where = "in VPC"
	InCluster Where = "in cluster"
	DemoWorld Where = "demo VPC (simulated)"
)

// Target is what the run is about.
type Target struct {
	Project   string `json:"project"`
	Location  string `json:"location"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Context   string `json:"context"`
}

// NamespacedName is a Service given with --service NS/NAME.
type NamespacedName struct{ Namespace, Name string }

func (n NamespacedName) String() string { return n.Namespace + "/" + n.Name }

// ParseNamespacedName parses NS/NAME (or NAME, in defaultNS).
func ParseNamespacedName(s, defaultNS string) (NamespacedName, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return NamespacedName{Namespace: defaultNS, Name: parts[0]}, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return NamespacedName{Namespace: parts[0], Name: parts[1]}, nil
	}
	return NamespacedName{}, fmt.Errorf("%q is not NAMESPACE/NAME", s)
}

// Targets are the optional things the user pointed the tool at.
type Targets struct {
	CloudRunService string
	// SourceProjects is --source-project (repeatable): projects whose Cloud Run services are
	// discovered as clients besides the cluster's project (a Shared VPC's service projects).
	SourceProjects []string
	// AppEngineService is --app-engine-service S[/VERSION]: an App Engine standard client.
	AppEngineService string
	Services         []NamespacedName
	Workload         string // KIND/NS/NAME
	// TokenFile is --token-file: the token a failing client sends (claims decoded locally, sent to
	// TokenReview; never printed or journaled).
	TokenFile string
	DNSNames  []string
	// DNSProjects are --dns-project: more projects whose Cloud DNS zones, response policies and
	// server policies may apply to the client's network (a hub DNS project).
	DNSProjects []string
	Peers       []string
	// InternalGateway is --internal: a fix that puts a gateway on a load balancer makes it internal
	// (knative-gateway-address recommends the internal variant).
	InternalGateway bool
}

// Dialer opens TCP connections for live probes (production: net.Dialer; demo: the simulated VPC).
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Env is everything a check may use: the target, the inventory of facts, the probe settings.
type Env struct {
	Target   Target
	Targets  Targets
	Inv      *inventory.Inventory
	Resolver string // host:port for live DNS probes; "" when none
	// ResolverWhy says why Resolver was chosen ("from --resolver", "running on GCE: the VPC
	// resolver", "the system resolver …"), or why there is none; DNS checks show it and use it to
	// tell whether the resolver sees what the VPC sees.
	ResolverWhy string
	Dialer      Dialer // nil when live TCP probes cannot be made from here
	Where       Where
	// ResolverSeesVPC says Resolver answers as the VPC resolver does for the client (a resolver the
	// user named with --resolver, the VPC resolver itself, or a simulated VPC's), so its answers may
	// decide a DNS verdict; otherwise they are shown and never decide.
	ResolverSeesVPC bool
	// Waits are how long fixes wait for their effect; zero fields mean the production defaults.
	Waits    Waits
	ReadOnly bool
	Now      func() time.Time
	FixDeps  *fixes.Deps // clients for plans' appliers and undoers
	// KubeREST is the Kubernetes client's configuration (the kubeconfig's transport: proxy, CA, client
	// certificate, exec plugin, and the read-only guard), for probes that speak raw HTTP to the API
	// server (the WebSocket handshakes); nil when there is no cluster.
	KubeREST *rest.Config
	deps     *depRunner
}

// Waits bound a fix's wait for its effect (an internal LB's IP, a Cloud Run revision): a network
// whose controllers answer in seconds (a simulated one, a test's) sets shorter ones.
type Waits struct {
	ILB, Poll time.Duration
}

// ilb returns the internal-LB wait and poll interval, with the production defaults for zero fields.
func (w Waits) ilb() (wait, poll time.Duration) {
	wait, poll = ILBWaitTimeout, ILBPollInterval
	if w.ILB > 0 {
		wait = w.ILB
	}
	if w.Poll > 0 {
		poll = w.Poll
	}
	return wait, poll
}

// CanProbeVPC reports whether live probes to VPC-internal addresses are possible from here.
func (e *Env) CanProbeVPC() bool { return e.Dialer != nil && e.Where != Laptop }

// Dep returns the result of another check in this run, running it once if it has not run yet.
// Primary checks use it to build on their supporting checks without doing the work twice.
func (e *Env) Dep(ctx context.Context, id string) Result {
	if e.deps == nil {
		c, ok := Lookup(id)
		if !ok {
			return ErrorResult(fmt.Errorf("dependency %q is not registered", id))
		}
		return runOne(ctx, e, c, nil, 0)
	}
	return e.deps.get(ctx, e, id)
}

// Check is one diagnosis: a small decision tree over facts.
type Check interface {
	ID() string
	Run(ctx context.Context, env *Env, rec *Recorder) Result
}

// Recorder collects evidence as a check goes, and streams each step to the engine's listeners.
type Recorder struct {
	id       string
	mu       sync.Mutex // a check abandoned at its timeout may still record while the engine reads
	evidence []Evidence
	emit     func(Event)
}

// NewRecorder returns a recorder that only collects (for unit tests of a check).
func NewRecorder(id string) *Recorder { return &Recorder{id: id} }

// Step records one piece of evidence.
func (r *Recorder) Step(step string, st Status, detail, command string) {
	ev := Evidence{Step: step, Status: st, Detail: detail, Command: command}
	r.mu.Lock()
	r.evidence = append(r.evidence, ev)
	r.mu.Unlock()
	if r.emit != nil {
		r.emit(Event{Kind: EventStep, CheckID: r.id, Step: &ev, Time: time.Now()})
	}
}

// Evidence returns what was recorded so far.
func (r *Recorder) Evidence() []Evidence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Evidence(nil), r.evidence...)
}

// CheckFunc adapts a function to Check.
type CheckFunc struct {
	CheckID string
	Fn      func(ctx context.Context, env *Env, rec *Recorder) Result
}

func (c CheckFunc) ID() string { return c.CheckID }
func (c CheckFunc) Run(ctx context.Context, env *Env, rec *Recorder) Result {
	return c.Fn(ctx, env, rec)
}
