package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// harness drives a Model the way a Program would, but synchronously from the test goroutine: commands
// run in goroutines and their messages come back through msgs, so every Update happens here and the
// test can look at the model between messages. Spinner ticks and the mailbox listener are real.
type harness struct {
	t      *testing.T
	m      *Model
	ctx    context.Context
	msgs   chan tea.Msg
	quit   bool
	clip   []string
	inFlow sync.WaitGroup
}

func newHarness(t *testing.T, cfg config, w, h int) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{t: t, ctx: ctx, msgs: make(chan tea.Msg, 1024)}
	t.Cleanup(func() {
		cancel()
		hs.inFlow.Wait()
	})
	hs.m = newModel(ctx, cfg)
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

func (h *harness) init() { h.exec(h.m.Init()) }

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	h.inFlow.Add(1)
	go func() {
		defer h.inFlow.Done()
		msg := cmd()
		if msg == nil {
			return
		}
		select {
		case h.msgs <- msg:
		case <-h.ctx.Done():
		}
	}()
}

func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.exec(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	if s := fmt.Sprintf("%T", msg); s == "tea.setClipboardMsg" {
		h.clip = append(h.clip, fmt.Sprint(msg))
		return
	}
	_, cmd := h.m.Update(msg)
	h.exec(cmd)
}

func (h *harness) key(keys ...string) {
	for _, k := range keys {
		h.send(keyPress(k))
	}
}

// waitFor processes messages until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// drain processes messages until none arrives for a while (spinner ticks aside).
func (h *harness) drain(quiet time.Duration) {
	for {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-time.After(quiet):
			return
		}
	}
}

func (h *harness) screen() string { return ansi.Strip(h.m.render()) }

func (h *harness) status() string { return h.m.status.text }

func (h *harness) row(id string) *row { return h.m.byID[id] }

func (h *harness) statusOf(id string) checks.Status {
	r := h.row(id)
	if r == nil || r.result == nil || r.state != stateDone {
		return ""
	}
	return r.result.Status
}

// keyPress builds the key message whose String() is s, as the terminal would send it.
func keyPress(s string) tea.KeyPressMsg {
	named := map[string]rune{
		"enter": tea.KeyEnter, "tab": tea.KeyTab, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"left": tea.KeyLeft, "right": tea.KeyRight, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "backspace": tea.KeyBackspace, "space": tea.KeySpace,
	}
	var mod tea.KeyMod
	base := s
	for {
		switch {
		case strings.HasPrefix(base, "ctrl+") && len(base) > 5:
			mod |= tea.ModCtrl
			base = base[5:]
			continue
		case strings.HasPrefix(base, "shift+") && len(base) > 6:
			mod |= tea.ModShift
			base = base[6:]
			continue
		case strings.HasPrefix(base, "alt+") && len(base) > 4:
			mod |= tea.ModAlt
			base = base[4:]
			continue
		}
		break
	}
	if code, ok := named[base]; ok {
		k := tea.KeyPressMsg{Code: code, Mod: mod}
		if base == "space" {
			k.Text = " "
		}
		return k
	}
	r := []rune(base)
	k := tea.KeyPressMsg{Code: r[0], Mod: mod}
	if mod == 0 {
		k.Text = base
	}
	return k
}

func TestKeyPressStrings(t *testing.T) {
	for _, s := range []string{"f", "R", "?", "/", "enter", "tab", "shift+tab", "esc", "ctrl+c", "ctrl+u", "space", "up", "pgdown", "G", "1"} {
		if got := keyPress(s).String(); got != s {
			t.Errorf("keyPress(%q).String() = %q", s, got)
		}
	}
}

// world is the test's stand-in for a cluster: a flag a fix sets and an undo clears, and knobs that
// make a check fail in different ways.
type world struct {
	mu        sync.Mutex
	ilb       bool          // the fix's effect
	effective bool          // whether Wait sees the effect (false: "applied but not yet effective")
	applyErr  error         // Apply fails with this
	gate      chan struct{} // when set, Apply waits for it (so a test can look at a fix in progress)
	snapshots atomic.Int32
	applies   atomic.Int32
	waits     atomic.Int32
	undos     atomic.Int32
}

func (w *world) hasILB() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ilb
}

func (w *world) setILB(v bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ilb = v
}

var (
	undoOnce   sync.Once
	undoWorlds sync.Map // world id → *world
	worldSeq   atomic.Int32
)

// registerUndo registers the undo action type once; each world is found by its id in the params.
func registerUndo() {
	undoOnce.Do(func() {
		fixes.RegisterUndoer("tui-test-remove-ilb", func(_ context.Context, _ *fixes.Deps, params json.RawMessage) error {
			var p struct{ World int32 }
			if err := json.Unmarshal(params, &p); err != nil {
				return err
			}
			v, ok := undoWorlds.Load(p.World)
			if !ok {
				return errors.New("no such test world")
			}
			w := v.(*world)
			w.undos.Add(1)
			w.setILB(false)
			return nil
		})
	})
}

func newWorld() (*world, int32) {
	registerUndo()
	w := &world{effective: true}
	id := worldSeq.Add(1)
	undoWorlds.Store(id, w)
	return w, id
}

// plan builds the fix for the test cluster. Its funcs count their calls: the read-only walk asserts
// none ran.
func (w *world) plan(id int32, opts ...func(*fixes.Plan)) *fixes.Plan {
	p := &fixes.Plan{
		ID:    "create-internal-lb/default/development-agent",
		Title: "Create an internal LoadBalancer Service development-agent-ilb beside development-agent",
		Diff: fixes.Diff("", "apiVersion: v1\nkind: Service\nmetadata:\n  name: development-agent-ilb\n  annotations:\n"+
			"    networking.gke.io/load-balancer-type: Internal\nspec:\n  type: LoadBalancer\n  ports:\n  - port: 80"),
		Reversible:    true,
		JudgedAgainst: []string{"Service default/development-agent selects 2 pod(s), 2 ready", "the LB is regional (global access off)"},
		Commands: []string{"kubectl -n default expose service development-agent --name development-agent-ilb --type LoadBalancer " +
			"--port 80 --overrides '{\"metadata\":{\"annotations\":{\"networking.gke.io/load-balancer-type\":\"Internal\"}}}'"},
		WaitTimeout: 5 * time.Minute,
		Snapshot: func(context.Context) (fixes.Snapshot, error) {
			w.snapshots.Add(1)
			return fixes.Snapshot{
				Prior: []fixes.Object{{API: "kubernetes", Kind: "Service", Name: "default/development-agent-ilb", Absent: true}},
				Undo:  []fixes.UndoAction{fixes.NewUndo("tui-test-remove-ilb", map[string]int32{"World": id})},
			}, nil
		},
		Apply: func(ctx context.Context, _ fixes.Snapshot) (fixes.Outcome, error) {
			w.applies.Add(1)
			w.mu.Lock()
			gate, err := w.gate, w.applyErr
			w.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return fixes.Outcome{}, ctx.Err()
				}
			}
			if err != nil {
				return fixes.Outcome{}, err
			}
			w.setILB(true)
			return fixes.Outcome{Message: "created Service default/development-agent-ilb"}, nil
		},
		Wait: func(ctx context.Context, progress func(string)) (string, error) {
			w.waits.Add(1)
			progress("waiting for status.loadBalancer.ingress")
			w.mu.Lock()
			eff := w.effective
			w.mu.Unlock()
			if !eff {
				return "no ingress IP yet", context.DeadlineExceeded
			}
			return "ingress IP 10.132.0.6", nil
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// testCatalogue is a small, fixed catalogue (the real one changes as checks land; goldens must not).
func testCatalogue() []checks.Info {
	return []checks.Info{
		{ID: "clusterip-unreachable", Kind: "primary", FailureMode: "1. ClusterIP unreachable from the VPC",
			Title: "Cloud Run / VPC client can reach the GKE Services it calls",
			Good:  "Every GKE Service a VPC client calls is exposed on an address routable in the VPC (an internal load balancer), and the path to it is open.",
			Explanation: "A Service's ClusterIP is a virtual address that exists only inside the cluster's nodes: packets from Cloud Run, " +
				"App Engine or a VM are not routed to it and the connection times out.",
			Requires: checks.Requires{APIs: []string{"container.googleapis.com", "run.googleapis.com"}, Permissions: []string{"container.clusters.get"}, RBAC: []string{"get,list services"}},
			Causes: []checks.Cause{{ID: "target-is-clusterip", Title: "The client targets a ClusterIP or a *.svc.cluster.local name",
				Explanation: "A ClusterIP is only reachable from inside the cluster. Expose the Service with an internal load balancer."}}},
		{ID: "run-vpc-egress", Kind: "supporting", Parent: "clusterip-unreachable", FailureMode: "1. ClusterIP unreachable from the VPC",
			Title: "Cloud Run VPC access and egress route the target through the VPC", Good: "The Cloud Run service has VPC access."},
		{ID: "ilb-provisioned", Kind: "supporting", Parent: "clusterip-unreachable", FailureMode: "1. ClusterIP unreachable from the VPC",
			Title: "Internal load balancer provisioned for the target Service", Good: "A LoadBalancer Service marked internal has an ingress IP."},
		{ID: "dns-servfail", Kind: "primary", FailureMode: "2. DNS from the VPC",
			Title: "*.svc.cluster.local (or the chosen name) resolves from the VPC",
			Good:  "The names the client uses resolve from its network to addresses it can connect to.",
			Explanation: "From the VPC, names are answered by Cloud DNS; a forwarding zone whose target is the kube-dns ClusterIP " +
				"cannot be reached by the forwarder (SERVFAIL).",
			Causes: []checks.Cause{{ID: "forwarding-to-clusterip", Title: "A forwarding zone targets the kube-dns ClusterIP",
				Explanation: "Cloud DNS forwards from 35.199.192.0/19 to targets in the VPC; a ClusterIP is not one."}}},
		{ID: "sa-token-401", Kind: "primary", FailureMode: "4. 401 with a ServiceAccount token",
			Title: "ServiceAccount tokens are accepted by the API server", Good: "The workload's token authenticates."},
		{ID: "pod-egress-cross-project", Kind: "primary", FailureMode: "6. Pod egress to a peered project",
			Title: "Pods reach private IPs of a peered project", Good: "Pod traffic reaches the peer."},
	}
}

// testChecks are the runnable checks of the test catalogue (pod-egress-cross-project stays planned).
type testChecks struct {
	w       *world
	id      int32
	plans   func() []*fixes.Plan // the clusterip check's plans (default: the ILB fix)
	dnsFail bool
	delay   time.Duration
}

// The test checks are registered in the real registry (the engine resolves dependencies through it);
// each dispatches to the checks of the running test, so every test gets its own world.
var (
	registerOnce sync.Once
	activeChecks atomic.Pointer[testChecks]
	testCheckIDs = []string{"clusterip-unreachable", "run-vpc-egress", "ilb-provisioned", "dns-servfail", "sa-token-401"}
)

func (tc *testChecks) activate() {
	activeChecks.Store(tc)
	registerOnce.Do(func() {
		for _, id := range testCheckIDs {
			id := id
			checks.Register(checks.CheckFunc{CheckID: id, Fn: func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
				tc := activeChecks.Load()
				if tc == nil {
					return checks.ErrorResult(errors.New("no active test"))
				}
				return tc.fn(id)(ctx, env, rec)
			}})
		}
	})
}

// lookup is the model's view of the registry: the test checks, and nothing else (so
// pod-egress-cross-project stays planned whatever the real registry holds).
func (tc *testChecks) lookup(id string) (checks.Check, bool) {
	for _, x := range testCheckIDs {
		if x == id {
			return checks.Lookup(id)
		}
	}
	return nil, false
}

func (tc *testChecks) fn(id string) func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
	fn := map[string]func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result{
		"clusterip-unreachable": func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
			env.Dep(ctx, "ilb-provisioned")
			rec.Step("Cloud Run service gke-connectivity-tester4 calls http://development-agent.default.svc.cluster.local:80", checks.Pass,
				"via connector my-vpc-connector, egress ALL_TRAFFIC", "gcloud run services describe gke-connectivity-tester4 --region europe-west1")
			if tc.w.hasILB() {
				rec.Step("internal load balancer development-agent-ilb has IP 10.132.0.6", checks.Pass, "", "kubectl -n default get service development-agent-ilb")
				return checks.PassResult("development-agent is reachable from the VPC through its internal load balancer 10.132.0.6:80")
			}
			rec.Step("development-agent resolves to ClusterIP 34.118.231.33", checks.Fail,
				"34.118.231.33 is in the cluster's services range 34.118.224.0/20: only the nodes route it", "kubectl -n default get service development-agent -o wide")
			plans := []*fixes.Plan{tc.w.plan(tc.id)}
			if tc.plans != nil {
				plans = tc.plans()
			}
			r := checks.FailResult("target-is-clusterip", "Cloud Run calls development-agent on its ClusterIP 34.118.231.33, which is not routable from the VPC.", plans...)
			r.Path = []string{"gke-connectivity-tester4", "my-vpc-connector", "34.118.231.33:80"}
			return r
		},
		"run-vpc-egress": func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
			rec.Step("gke-connectivity-tester4 egress is ALL_TRAFFIC", checks.Pass, "", "gcloud run services describe gke-connectivity-tester4")
			return checks.PassResult("egress all-traffic through my-vpc-connector")
		},
		"ilb-provisioned": func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
			if tc.w.hasILB() {
				return checks.PassResult("development-agent-ilb has ingress 10.132.0.6")
			}
			return checks.FailResult("no-ilb", "no internal LoadBalancer Service selects the development-agent pods")
		},
		"dns-servfail": func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
			if tc.delay > 0 {
				select {
				case <-time.After(tc.delay):
				case <-ctx.Done():
				}
			}
			rec.Step("development-agent.default.svc.cluster.local from the VPC resolver", checks.Fail, "SERVFAIL after 2.1s",
				"dig @169.254.169.254 development-agent.default.svc.cluster.local")
			if !tc.dnsFail {
				return checks.PassResult("resolves")
			}
			return checks.FailResult("forwarding-to-clusterip", "gke-cluster-dns-forwarding forwards cluster.local. to the kube-dns ClusterIP 34.118.224.10, which Cloud DNS cannot reach.",
				&fixes.Plan{ID: "advice/dns", Title: "Use a private zone you own instead", Advice: true, Commands: []string{"gcloud dns managed-zones create svc-internal --visibility private --networks default --dns-name svc.internal."}})
		},
		"sa-token-401": func(ctx context.Context, env *checks.Env, rec *checks.Recorder) checks.Result {
			return checks.SkipResult("no-workload", "no workload given: pass --workload KIND/NS/NAME")
		},
	}[id]
	if fn == nil {
		return func(context.Context, *checks.Env, *checks.Recorder) checks.Result {
			return checks.ErrorResult(fmt.Errorf("no test check %s", id))
		}
	}
	return fn
}

// spyApplier records every call before handing it to the real Applier.
type spyApplier struct {
	next    applier
	applies atomic.Int32
	undos   atomic.Int32
}

func (s *spyApplier) Apply(ctx context.Context, p *fixes.Plan, progress func(string)) (*fixes.Applied, error) {
	s.applies.Add(1)
	return s.next.Apply(ctx, p, progress)
}

func (s *spyApplier) Undo(ctx context.Context, e *fixes.Entry) error {
	s.undos.Add(1)
	return s.next.Undo(ctx, e)
}

var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// testConfig wires a model to the test world: a real Applier and journal in a temp dir behind a spy.
func testConfig(t *testing.T, readOnly bool) (config, *testChecks, *spyApplier) {
	t.Helper()
	w, id := newWorld()
	tc := &testChecks{w: w, id: id, dnsFail: true}
	tc.activate()
	target := fixes.Target{Project: "dev-orchestra", Location: "europe-west1", Cluster: "dev-orchestra-cluster", Demo: true}
	j := fixes.OpenJournal(t.TempDir())
	spy := &spyApplier{next: &fixes.Applier{Journal: j, ReadOnly: readOnly, Target: target}}
	env := &checks.Env{
		Target: checks.Target{Project: "dev-orchestra", Location: "europe-west1", Cluster: "dev-orchestra-cluster",
			Namespace: "default", Context: "demo"},
		Where: checks.DemoWorld, ReadOnly: readOnly, ResolverSeesVPC: true,
	}
	dir := t.TempDir()
	cfg := config{
		env: env, applier: spy, journal: j, target: target, invalidate: func() {},
		catalogue: testCatalogue(), lookup: tc.lookup, keys: defaultKeyMap(),
		engine: &checks.Engine{Concurrency: 4, Timeout: 10 * time.Second}, runTimeout: 20 * time.Second,
		readOnly: readOnly, noColor: true, now: func() time.Time { return fixedNow },
		exportDirs: func() []string { return []string{dir} },
	}
	return cfg, tc, spy
}
