package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// TestObserveKeyOnDemo: o on clusterip-unreachable previews the Cloud Run probe job, y creates it in
// the demo world, runs it, deletes it, and the detail pane shows the observations beside the
// predictions; nothing is left. Under --read-only o is disabled with the reason and creates nothing.
func TestObserveKeyOnDemo(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "writable", true: "read-only"}[readOnly], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w, err := sim.Start(ctx, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			prev := app.DemoStarter
			app.DemoStarter = func(context.Context, time.Duration) (app.World, error) { return keptWorld{w}, nil }
			t.Cleanup(func() { app.DemoStarter = prev })
			opts := app.NewOptions()
			opts.Demo, opts.ReadOnly, opts.JournalDir = true, readOnly, t.TempDir()
			if err := opts.Complete(); err != nil {
				t.Fatal(err)
			}
			s, err := app.Build(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			cfg := sessionConfig(s)
			cfg.keys, cfg.noColor = defaultKeyMap(), true
			h := newHarness(t, cfg, 140, 50)
			h.init()
			h.waitFor("every check to finish", allDone(h))
			h.m.selected, h.m.userMoved = "clusterip-unreachable", true
			h.key("o")
			if readOnly {
				if !strings.Contains(h.status(), "disabled: read-only") || h.m.screen == screenConfirm {
					t.Fatalf("read-only o: status %q screen %v", h.status(), h.m.screen)
				}
				if len(w.GCP().Jobs()) != 0 {
					t.Fatal("a read-only session created a job")
				}
				return
			}
			h.waitFor("the preview", func() bool { return h.m.screen == screenConfirm && h.m.observeAsk != nil })
			sc := h.screen()
			if !strings.Contains(sc, "Observe clusterip-unreachable live?") || !strings.Contains(sc, "Cloud Run job") || !strings.Contains(sc, "cost:") {
				t.Fatalf("preview:\n%s", sc)
			}
			h.key("y")
			h.waitFor("the observation", func() bool { return len(h.m.observed["clusterip-unreachable"]) > 0 && h.m.observing == "" })
			h.m.screen = screenDetail
			h.m.syncDetail()
			all := strings.Join(h.m.observed["clusterip-unreachable"], "\n")
			if !strings.Contains(all, "Observed from Cloud Run job") || !strings.Contains(all, "agrees") || strings.Contains(all, "disagrees") || !strings.Contains(all, "cleanup: deleted") {
				t.Fatalf("observed:\n%s", all)
			}
			if len(w.GCP().Jobs()) != 0 {
				t.Fatalf("jobs left: %v", w.GCP().Jobs())
			}
			pods, _ := w.Kube().CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "gkedoctor.dev/probe=true"})
			if len(pods.Items) != 0 {
				t.Fatalf("probe pods left: %d", len(pods.Items))
			}
		})
	}
}

type keptWorld struct{ *sim.World }

func (keptWorld) Close() {}
