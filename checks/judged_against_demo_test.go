package checks_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// Every plan states its blast radius (issue 12, "Fixes that must not harm"): the demo world is walked
// like its story (run every check, apply the first applicable fix of the first failing check, again)
// in both layouts, and every plan any check offers on the way, advice included, must say what it was
// judged against. Carried-out records are statements, not plans, and are left out.
func TestEveryDemoPlanStatesWhatItWasJudgedAgainst(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the demo world")
	}
	for _, world := range []string{"", sim.WorldSharedVPC} {
		name := world
		if name == "" {
			name = "seed"
		}
		t.Run(name, func(t *testing.T) {
			s := demoWorldSession(t, world)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			eng := &checks.Engine{Timeout: time.Minute}
			seen := map[string]bool{}
			applied := map[string]bool{}
			for round := 0; round < 12; round++ {
				s.Inv.Invalidate()
				rs := eng.Run(ctx, s.Env, checks.Registered(), nil)
				var next *fixes.Plan
				for _, r := range rs {
					for _, p := range r.Fixes {
						if p.CarriedOut {
							continue
						}
						seen[r.ID+" "+p.ID] = true
						assertJudged(t, r.ID, p)
						if next == nil && r.Status == checks.Fail && !p.Advice && !p.Alternative && !applied[p.ID] {
							next = p
						}
					}
				}
				if next == nil {
					break
				}
				applied[next.ID] = true
				if _, err := s.Applier.Apply(ctx, next, nil); err != nil {
					t.Logf("apply %s: %v (the walk goes on)", next.ID, err)
				}
			}
			var ids []string
			for id := range seen {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			if len(ids) < 3 {
				t.Fatalf("the walk saw too few plans to mean anything: %v", ids)
			}
			t.Logf("%d plans seen, %d applied:\n%s", len(ids), len(applied), strings.Join(ids, "\n"))
		})
	}
}

// assertJudged fails when a plan says nothing of what it was judged against, or says it in blanks.
func assertJudged(t *testing.T, check string, p *fixes.Plan) {
	t.Helper()
	if p.CarriedOut {
		return
	}
	if len(p.JudgedAgainst) == 0 {
		t.Errorf("%s: plan %s (%q, advice=%v) states nothing it was judged against", check, p.ID, p.Title, p.Advice)
		return
	}
	for _, j := range p.JudgedAgainst {
		if strings.TrimSpace(j) == "" {
			t.Errorf("%s: plan %s has a blank judged-against line: %q", check, p.ID, p.JudgedAgainst)
		}
	}
}

// demoWorldSession is demoSession on a named layout of the demo world.
func demoWorldSession(t *testing.T, world string) *app.Session {
	t.Helper()
	if world == "" {
		s, _, _ := demoSession(t, nil)
		return s
	}
	prev := app.DemoWorldStarter
	app.DemoWorldStarter = func(ctx context.Context, latency time.Duration, name string) (app.World, error) {
		return sim.Start(ctx, sim.Options{Latency: latency, World: name, OnNonLoopback: func(network, addr string) {
			t.Errorf("the demo tried to leave loopback: %s %s", network, addr)
		}})
	}
	t.Cleanup(func() { app.DemoWorldStarter = prev })
	s, _, _ := demoSession(t, func(o *app.Options) { o.DemoWorld = world })
	return s
}
