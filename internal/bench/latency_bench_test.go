package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

const injected = 50 * time.Millisecond

// session builds a read-only demo session whose Google APIs answer after 50 ms. Live TCP probes are
// off (a laptop's view) so the wall time measures the API calls, not connect timeouts.
func session(b *testing.B, w *sim.World) *app.Session {
	b.Helper()
	app.DemoStarter = func(ctx context.Context, latency time.Duration) (app.World, error) { return nopClose{w}, nil }
	o := app.NewOptions()
	o.Demo, o.ReadOnly, o.JournalDir = true, true, b.TempDir()
	if err := o.Validate(); err != nil {
		b.Fatal(err)
	}
	s, err := app.Build(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	s.Env.Dialer, s.Env.Where = nil, checks.Laptop
	return s
}

// nopClose keeps the world running across sessions.
type nopClose struct{ *sim.World }

func (nopClose) Close() {}

func runChecks(b *testing.B, w *sim.World, list []checks.Check) (time.Duration, []checks.Result) {
	s := session(b, w)
	defer s.Close()
	start := time.Now()
	rs := checks.DefaultEngine().Run(context.Background(), s.Env, list, nil)
	return time.Since(start), rs
}

var latencyOnce sync.Once

// BenchmarkAuditUnderAPILatency runs the whole audit of the demo world with 50 ms injected on every
// Google API call, and compares its wall time with its longest dependent chain: the slowest single
// check run alone on a fresh inventory (its own chain of calls, dependencies included). Target
// (DESIGN §6): within 1.5x. It also counts repeated GETs of one object in one run (target: none).
func BenchmarkAuditUnderAPILatency(b *testing.B) {
	w, err := sim.Start(context.Background(), sim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.GCP().SetLatency(injected)
	all := checks.Registered()
	var longest time.Duration
	var longestID string
	for _, c := range all {
		d, _ := runChecks(b, w, []checks.Check{c})
		if d > longest {
			longest, longestID = d, c.ID()
		}
	}
	var wall time.Duration
	var dups []string
	for i := 0; i < b.N; i++ {
		w.GCP().ResetRequests()
		d, rs := runChecks(b, w, all)
		wall = d
		for _, r := range rs {
			if r.Status == checks.Error {
				b.Fatalf("%s broke: %s", r.ID, r.Summary)
			}
		}
		dups = duplicateGETs(w)
	}
	ratio := wall.Seconds() / longest.Seconds()
	b.ReportMetric(ratio, "audit/longest-chain")
	b.ReportMetric(float64(len(dups)), "repeated-GETs")
	latencyOnce.Do(func() {
		fmt.Printf("\nGoogle API latency %s: audit of %d checks %s; longest chain (%s alone) %s; ratio %.2f (target ≤ 1.5); repeated GETs of one object: %d %v\n",
			injected, len(all), wall.Round(time.Millisecond), longestID, longest.Round(time.Millisecond), ratio, len(dups), dups)
	})
}

// duplicateGETs lists the GET requests made more than once with the same path and query.
func duplicateGETs(w *sim.World) []string {
	seen := map[string]int{}
	for _, r := range w.GCP().Requests() {
		if r.Method != "GET" || strings.Contains(r.Path, "/operations/") {
			continue
		}
		seen[r.Path+"?"+r.Query.Encode()]++
	}
	var out []string
	for k, n := range seen {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	sort.Strings(out)
	return out
}
