package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

// keptWorld is one demo world shared by several commands of a test: Close is left to the test.
type keptWorld struct{ *sim.World }

func (keptWorld) Close() {}

type checkReport struct {
	Results      []struct{ ID, Status string }
	Observations []struct {
		From, Vantage, Error, Created, Cleanup, Journal string
		Compared                                        []struct {
			Check, Predicted, Observed, Verdict, Detail string
			Probe                                       struct{ ID string }
		}
		ConnectivityTests []struct {
			Result, Predicted, Verdict, Destination, Cleanup string
		}
	}
}

func runCheck(t *testing.T, args ...string) (int, checkReport, string) {
	t.Helper()
	code, out, stderr := run(t, append([]string{"check", "--demo", "-o", "json"}, args...)...)
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, stderr %s, output not JSON: %v\n%s", code, stderr, err, out)
	}
	return code, rep, stderr
}

// assertAgreesAndCleanedUp: every prediction agrees with what was observed, and everything the
// vantage points created is gone (in the world and in the journal).
func assertAgreesAndCleanedUp(t *testing.T, w *sim.World, rep checkReport, wantFrom ...string) (predictions int) {
	t.Helper()
	froms := map[string]bool{}
	for _, o := range rep.Observations {
		froms[o.From] = true
		if o.Error != "" {
			t.Errorf("%s: %s", o.Vantage, o.Error)
		}
		if o.Created != "" && o.Cleanup != "deleted" {
			t.Errorf("%s: cleanup %q", o.Vantage, o.Cleanup)
		}
		for _, c := range o.Compared {
			if c.Predicted != "" {
				predictions++
				if c.Verdict != "agrees" {
					t.Errorf("%s: %s: predicted %s, observed %s (%s)", o.Vantage, c.Probe.ID, c.Predicted, c.Observed, c.Detail)
				}
			}
		}
		for _, ct := range o.ConnectivityTests {
			predictions++
			if ct.Verdict != "agrees" || ct.Cleanup != "deleted" {
				t.Errorf("connectivity test to %s: %s vs predicted %s (%s), cleanup %s", ct.Destination, ct.Result, ct.Predicted, ct.Verdict, ct.Cleanup)
			}
		}
	}
	for _, f := range wantFrom {
		if !froms[f] {
			t.Errorf("no observation from %s: %+v", f, rep.Observations)
		}
	}
	if jobs := w.GCP().Jobs(); len(jobs) != 0 {
		t.Errorf("Cloud Run jobs left: %v", jobs)
	}
	if cts := w.GCP().ConnectivityTests(); len(cts) != 0 {
		t.Errorf("connectivity tests left: %v", cts)
	}
	pods, err := w.Kube().CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: "gkedoctor.dev/probe=true"})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("probe pods left: %v %d", err, len(pods.Items))
	}
	return predictions
}

// TestCheckDemoVantagePoints is issue 13's demo criterion: `check --demo --from cloud-run --from
// cluster --connectivity-test` runs the probes inside the simulated network; the observations agree
// with the predictions on the seed story before and after the fixes, and everything created is gone.
func TestCheckDemoVantagePoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{OnNonLoopback: func(n, a string) { t.Errorf("dial off loopback: %s %s", n, a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	prev := app.DemoStarter
	app.DemoStarter = func(context.Context, time.Duration) (app.World, error) { return keptWorld{w}, nil }
	t.Cleanup(func() { app.DemoStarter = prev })
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)

	code, rep, stderr := runCheck(t, "--from", "cloud-run", "--from", "cluster", "--connectivity-test")
	if code != ExitFindings {
		t.Errorf("before the fixes: exit %d (the seed's checks fail); stderr %s", code, stderr)
	}
	if n := assertAgreesAndCleanedUp(t, w, rep, "cloud-run", "cluster", "connectivity-test"); n < 3 {
		t.Errorf("only %d predictions compared before the fixes", n)
	}

	code, _, stderr = run(t, "fix", "--demo", "--yes", "-o", "json", "clusterip-unreachable", "dns-servfail", "point-client-at-owned-names/gke-connectivity-tester4")
	if code != 0 && code != ExitFindings {
		t.Fatalf("fix: exit %d: %s", code, stderr)
	}
	_, rep, _ = runCheck(t, "clusterip-unreachable", "dns-servfail", "--from", "cloud-run", "--connectivity-test")
	for _, r := range rep.Results {
		if r.Status != "pass" {
			t.Errorf("after the fixes %s is %s", r.ID, r.Status)
		}
	}
	if n := assertAgreesAndCleanedUp(t, w, rep, "cloud-run", "connectivity-test"); n < 2 {
		t.Errorf("only %d predictions compared after the fixes", n)
	}
	reachable := 0
	for _, o := range rep.Observations {
		for _, c := range o.Compared {
			if c.Predicted == "reachable" && c.Observed == "connected" {
				reachable++
			}
		}
	}
	if reachable == 0 {
		t.Errorf("after the fixes no connection from the Cloud Run job was predicted and observed: %+v", rep.Observations)
	}
	// Every creation was journaled, and every one is undone.
	entries, err := fixes.OpenJournal(filepath.Join(state, "gkedoctor", "journal-demo")).List()
	if err != nil {
		t.Fatal(err)
	}
	probes := 0
	for _, e := range entries {
		if strings.HasPrefix(e.FixID, "probe-") || strings.HasPrefix(e.FixID, "connectivity-test/") {
			probes++
			if e.State != fixes.StateUndone {
				t.Errorf("journal %s (%s) is %s, not undone", e.ID, e.FixID, e.State)
			}
		}
	}
	if probes < 4 {
		t.Errorf("%d vantage creations journaled", probes)
	}
}

func TestCheckRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--demo"}, "check needs --from"},
		{[]string{"check", "--demo", "--from", "laptop"}, "valid vantage points"},
		{[]string{"check", "--demo", "--from", "cluster", "--read-only"}, "--read-only forbids"},
		{[]string{"check", "--demo", "--from", "cluster", "-o", "junit"}, "valid formats are text, json"},
		{[]string{"audit", "--demo", "--from", "cluster"}, "use gkedoctor check"},
		{[]string{"audit", "--demo", "--connectivity-test"}, "use gkedoctor check"},
		{[]string{"check", "--demo", "--from", "cluster", "--probe-service-account", "Bad_SA"}, "--probe-service-account"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != ExitUsage || !strings.Contains(oneStderrLine(t, stderr), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
	// --dry-run says what would be created and creates nothing, even under --read-only.
	prev := app.DemoStarter
	app.DemoStarter = sim.DemoStarter
	t.Cleanup(func() { app.DemoStarter = prev })
	code, out, stderr := run(t, "check", "--demo", "--from", "cluster", "--from", "cloud-run", "--dry-run", "--read-only")
	if code == ExitUsage || !strings.Contains(out, "Will create a pod") || !strings.Contains(out, "Will create a Cloud Run job") || !strings.Contains(out, "--dry-run: nothing created") || strings.Contains(out, "Observed from") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
}
