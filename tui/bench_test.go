package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// The budgets (DESIGN §6): first frame within 100 ms, every key handled and redrawn within 16 ms, with
// 50 checks and long evidence. These are benchmarks (make bench), not timed tests.

const benchChecks = 50

func benchCatalogue() []checks.Info {
	var out []checks.Info
	parent := ""
	for i := 0; i < benchChecks; i++ {
		info := checks.Info{
			ID: fmt.Sprintf("bench-check-%02d", i), Kind: "primary", FailureMode: fmt.Sprintf("%d. A failure mode with a long name", i/5+1),
			Title:       fmt.Sprintf("Benchmark check %d looks at a long chain of facts across the cluster and the project", i),
			Good:        strings.Repeat("What good looks like, said at length for the benchmark. ", 6),
			Explanation: strings.Repeat("The explanation of this check, long enough to wrap many times in the detail pane. ", 12),
			Causes:      []checks.Cause{{ID: "cause-a", Title: "The first cause", Explanation: strings.Repeat("Why this cause happens. ", 8)}},
		}
		if i%5 == 0 {
			parent = info.ID
		} else {
			info.Kind, info.Parent = "supporting", parent
		}
		out = append(out, info)
	}
	return out
}

func benchResult(id string) checks.Result {
	var ev []checks.Evidence
	for s := 0; s < 30; s++ {
		st := checks.Pass
		if s%7 == 6 {
			st = checks.Fail
		}
		ev = append(ev, checks.Evidence{
			Step:    fmt.Sprintf("step %d of %s: looked at object number %d in namespace default and compared it with the configuration", s, id, s),
			Status:  st,
			Detail:  strings.Repeat("a long detail line with addresses 10.132.0.6 and 34.118.231.33 and names; ", 5),
			Command: fmt.Sprintf("kubectl -n default get service development-agent-%d -o jsonpath='{.status.loadBalancer.ingress[0].ip}' --request-timeout 10s", s),
		})
	}
	diff := fixes.Diff(strings.Repeat("spec:\n  type: ClusterIP\n", 10), strings.Repeat("spec:\n  type: LoadBalancer\n", 10))
	plans := []*fixes.Plan{
		{ID: id + "/a", Title: "Create an internal LoadBalancer Service beside the ClusterIP one", Diff: diff, Reversible: true,
			Commands: []string{strings.Repeat("kubectl apply -f - ", 6)}, Apply: func(context.Context, fixes.Snapshot) (fixes.Outcome, error) { return fixes.Outcome{}, nil }},
		{ID: id + "/b", Title: "Advice: point the client at the load balancer", Advice: true, Commands: []string{"gcloud run services update x"}},
	}
	r := checks.FailResult("cause-a", strings.Repeat("The check found the first cause and says so in a long sentence. ", 3), plans...)
	r.ID, r.Evidence, r.Duration = id, ev, 1234*time.Millisecond
	r.Path = []string{"gke-connectivity-tester4", "my-vpc-connector", "34.118.231.33:80"}
	return r
}

func benchConfig() config {
	cat := benchCatalogue()
	lookup := func(id string) (checks.Check, bool) {
		return checks.CheckFunc{CheckID: id, Fn: func(context.Context, *checks.Env, *checks.Recorder) checks.Result {
			return checks.PassResult("ok")
		}}, true
	}
	return config{
		env: &checks.Env{Target: checks.Target{Project: "dev-orchestra", Location: "europe-west1", Cluster: "dev-orchestra-cluster",
			Namespace: "default", Context: "demo"}, Where: checks.DemoWorld},
		applier: noApplier{}, catalogue: cat, lookup: lookup, keys: defaultKeyMap(), now: func() time.Time { return fixedNow },
		exportDirs: func() []string { return nil },
	}
}

// BenchmarkFirstFrame: model construction, Init and the first View at 120x40 with 50 checks.
func BenchmarkFirstFrame(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cfg := benchConfig()
		m := newModel(ctx, cfg)
		_ = m.Init()
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = m.View()
	}
}

// BenchmarkKeyToRedraw: one key (moving the selection, so the detail pane re-renders a check with 30
// evidence steps and its fixes) and the redraw, with 50 finished checks, all unfolded.
func BenchmarkKeyToRedraw(b *testing.B) {
	m := newModel(context.Background(), benchConfig())
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	for _, r := range m.rows {
		m.Update(checkDoneMsg{id: r.id(), result: benchResult(r.id())})
		r.expanded = true
	}
	m.userMoved = true
	down, up := keyPress("down"), keyPress("up")
	n := len(m.visible())
	_ = m.View()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := down
		if (i/(n-1))%2 == 1 {
			k = up
		}
		m.Update(k)
		_ = m.View()
	}
}

// BenchmarkKeyToRedrawScroll: scrolling the detail pane of a long check.
func BenchmarkKeyToRedrawScroll(b *testing.B) {
	m := newModel(context.Background(), benchConfig())
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	for _, r := range m.rows {
		m.Update(checkDoneMsg{id: r.id(), result: benchResult(r.id())})
	}
	m.Update(keyPress("enter"))
	down, up := keyPress("down"), keyPress("up")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := down
		if (i/100)%2 == 1 {
			k = up
		}
		m.Update(k)
		_ = m.View()
	}
}
