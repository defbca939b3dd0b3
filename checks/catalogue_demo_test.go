package checks_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// The catalogue at run time: every check run over the demo world (as it starts, and with --no-gcp,
// where most checks skip) reports only causes its catalogue entry, its parent's or the shared list
// know; and a primary check run alone pulls in exactly its catalogue's supporting checks (or, when
// it cannot look, none).
func TestCatalogueHoldsOverTheDemoWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo world")
	}
	for _, noGCP := range []bool{false, true} {
		name := "demo"
		if noGCP {
			name = "demo-no-gcp"
		}
		t.Run(name, func(t *testing.T) {
			s, _, ctx := demoSession(t, func(o *app.Options) { o.NoGCP = noGCP })
			eng := &checks.Engine{Timeout: time.Minute}
			rs := eng.Run(ctx, s.Env, checks.Registered(), nil)
			causes := map[string]bool{}
			for _, r := range rs {
				if !checks.KnownCause(r.ID, r.Cause) {
					t.Errorf("%s reported cause %q (%s: %s), which neither its catalogue entry, its parent's nor checks.SharedCauses lists", r.ID, r.Cause, r.Status, r.Summary)
				}
				if info, _ := checks.InfoFor(r.ID); r.Parent != info.Parent {
					t.Errorf("%s: result parent %q, catalogue parent %q", r.ID, r.Parent, info.Parent)
				}
				causes[r.ID+"/"+r.Cause] = true
			}
			if !noGCP && !causes["clusterip-unreachable/target-is-clusterip"] {
				t.Errorf("the demo world should start with the seed's failure; got %v", causes)
			}
			for _, c := range checks.Registered() {
				info, _ := checks.InfoFor(c.ID())
				if info.Kind != "primary" {
					continue
				}
				s.Inv.Invalidate()
				var mu sync.Mutex
				started := map[string]bool{}
				eng.Run(ctx, s.Env, []checks.Check{c}, func(ev checks.Event) {
					if ev.Kind == checks.EventStarted && ev.CheckID != c.ID() {
						mu.Lock()
						started[ev.CheckID] = true
						mu.Unlock()
					}
				})
				var got []string
				for id := range started {
					got = append(got, id)
				}
				sort.Strings(got)
				want := checks.Supporting(c.ID())
				sort.Strings(want)
				// With nothing to look at (--no-gcp) a primary may stop before it consults any.
				if (len(got) > 0 || !noGCP) && strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s run alone ran %v as its dependencies; the catalogue's supporting checks are %v", c.ID(), got, want)
				}
			}
		})
	}
}

// demoSession builds the product's own session on a new demo world (app.Build with --demo), with
// the options edit sets; the world must never leave loopback.
func demoSession(t *testing.T, edit func(o *app.Options)) (*app.Session, *sim.World, context.Context) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", "")
	var world *sim.World
	prev := app.DemoStarter
	app.DemoStarter = func(ctx context.Context, latency time.Duration) (app.World, error) {
		w, err := sim.Start(ctx, sim.Options{Latency: latency, OnNonLoopback: func(network, addr string) {
			t.Errorf("the demo tried to leave loopback: %s %s", network, addr)
		}})
		world = w
		return w, err
	}
	t.Cleanup(func() { app.DemoStarter = prev })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	o := app.NewOptions()
	o.Demo, o.JournalDir = true, t.TempDir()
	if edit != nil {
		edit(o)
	}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := app.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, world, ctx
}
