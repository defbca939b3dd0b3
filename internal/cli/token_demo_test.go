package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

func demoAudit(t *testing.T, args ...string) (int, fixReport) {
	t.Helper()
	prev := app.DemoStarter
	app.DemoStarter = sim.DemoStarter
	t.Cleanup(func() { app.DemoStarter = prev })
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	code, out, stderr := run(t, append([]string{"audit", "--demo", "-o", "json"}, args...)...)
	var rep fixReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, stderr %s, output not JSON: %v\n%s", code, stderr, err, out)
	}
	return code, rep
}

// Seed 000 phase 2 in the demo world: environment-manager's token Secret predates the re-created
// orchestrai-sa (401), and its Python client shares one ApiClient with stream() ("Handshake status
// 200 OK"). The audit names both causes.
func TestDemoAuditTokenAndWebSocket(t *testing.T) {
	code, rep := demoAudit(t, "sa-token-401", "websocket-handshake")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	want := map[string]string{"sa-token-401": "sa-recreated", "websocket-handshake": "shared-client-stream"}
	for _, r := range rep.Results {
		if r.Status != "fail" || r.Cause != want[r.ID] {
			t.Errorf("%s: %s [%s] %s", r.ID, r.Status, r.Cause, r.Summary)
		}
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results %+v", rep.Results)
	}
}

// The token fix in the demo world: a new token Secret for orchestrai-sa, environment-manager pointed
// at it, the Deployment rolls, and the re-check passes.
func TestDemoFixSAToken401(t *testing.T) {
	code, rep := runDemoFix(t, "sa-token-401")
	st, sum := status(rep, "sa-token-401")
	if st != "pass" {
		t.Fatalf("re-check %s: %s (exit %d, applied %+v)", st, sum, code, rep.Applied)
	}
	if len(rep.Applied) != 1 || rep.Applied[0].State != "applied" || !strings.HasPrefix(rep.Applied[0].FixID, "replace-token-secret/deployment/default/environment-manager") {
		t.Fatalf("applied %+v", rep.Applied)
	}
}

// The exec handshake itself (fix-class: not in audit or --read-only) needs a kubelet, which a bare
// kube-apiserver lacks: it is exercised against the demo world's exec endpoint, where it answers 101
// with v5.channel.k8s.io.
func TestDemoExecHandshakeOutsideReadOnly(t *testing.T) {
	prev := app.DemoStarter
	app.DemoStarter = sim.DemoStarter
	t.Cleanup(func() { app.DemoStarter = prev })
	o := app.NewOptions()
	o.Demo, o.Workload, o.JournalDir = true, "deploy/default/environment-manager", t.TempDir()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := app.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := checks.Lookup("websocket-handshake")
	r := (&checks.Engine{}).Run(context.Background(), s.Env, []checks.Check{c}, nil)[0]
	var exec *checks.Evidence
	for i := range r.Evidence {
		if strings.HasPrefix(r.Evidence[i].Step, "exec handshake on environment-manager-") {
			exec = &r.Evidence[i]
		}
	}
	if exec == nil || exec.Status != checks.Pass || !strings.Contains(exec.Detail, "101 Switching Protocols") || !strings.Contains(exec.Detail, "v5.channel.k8s.io") {
		t.Fatalf("exec evidence %+v in %s [%s] %s", exec, r.Status, r.Cause, r.Summary)
	}
	if r.Cause != "shared-client-stream" {
		t.Fatalf("%s [%s] %s", r.Status, r.Cause, r.Summary)
	}
}
