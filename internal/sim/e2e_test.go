package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/client-go/kubernetes"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/cli"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/report"
)

// TestAuditDemoJSON runs `gkedoctor audit --demo -o json` in-process, as main wires it, and checks
// the report against the published schema and the seed's verdicts.
func TestAuditDemoJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole audit (the live probes to ClusterIPs wait for their deadlines)")
	}
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", "")

	var rec refusals
	var worlds []*World
	prev := app.DemoStarter
	app.DemoStarter = func(ctx context.Context, latency time.Duration) (app.World, error) {
		w, err := Start(ctx, Options{Latency: latency, OnNonLoopback: rec.hook})
		if err != nil {
			return nil, err
		}
		worlds = append(worlds, w)
		return w, nil
	}
	t.Cleanup(func() { app.DemoStarter = prev })

	ios, _, out, errOut := iostreams.Test()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Execute(ctx, ios, []string{"audit", "--demo", "-o", "json"})
	if code != 0 && code != 1 {
		t.Fatalf("exit code %d; stderr: %s", code, errOut)
	}
	if len(worlds) != 1 {
		t.Fatalf("the audit started %d demo worlds, want 1", len(worlds))
	}

	// Schema-valid, version 1.
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, out)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.SchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://github.com/gkedoctor/gkedoctor/internal/report/schema/report-v1.schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("the report does not match the schema: %v", err)
	}
	var rep struct {
		SchemaVersion int `json:"schemaVersion"`
		Target        struct {
			Project, Location, Cluster string
		} `json:"target"`
		Results []struct {
			ID, Status, Cause, Summary string
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != 1 || rep.Target.Project != Project || rep.Target.Cluster != Cluster {
		t.Errorf("schemaVersion %d, target %+v", rep.SchemaVersion, rep.Target)
	}
	status := map[string]string{}
	for _, r := range rep.Results {
		status[r.ID] = r.Status
		if strings.Contains(r.Summary, probe.ErrNotLoopback.Error()) {
			t.Errorf("%s ran into the loopback guard: %s", r.ID, r.Summary)
		}
	}
	// The seed's verdicts, for the checks registered in this build.
	for id, want := range map[string]string{"clusterip-unreachable": "fail", "dns-servfail": "fail", "dns-stale-record": "fail", "vpc-connector-ready": "pass"} {
		if _, ok := checks.Lookup(id); !ok {
			t.Logf("%s is not registered yet; not asserted", id)
			continue
		}
		if status[id] != want {
			t.Errorf("%s = %q, want %s", id, status[id], want)
		}
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1 (the seed fails)", code)
	}
	if r := rec.get(); len(r) > 0 {
		t.Errorf("the demo tried to leave loopback: %v", r)
	}
	// The audit is read-only: the world saw reads only, on both sides.
	w := worlds[0]
	for _, r := range w.GCP().Requests() {
		if !gcp.Allowed(r.Method, r.Path) { // GETs and the read-only POSTs (getIamPolicy, getAncestry, …)
			t.Errorf("the audit sent %s %s to the Google APIs", r.Method, r.Path)
		}
	}
	for _, cs := range []kubernetes.Interface{w.KubeClient(false), w.KubeClient(true)} {
		for _, a := range cs.(interface{ Actions() []clienttesting.Action }).Actions() {
			switch a.GetVerb() {
			case "get", "list", "watch":
			case "create":
				if a.GetResource().Group == "authentication.k8s.io" || a.GetResource().Group == "authorization.k8s.io" {
					continue
				}
				fallthrough
			default:
				t.Errorf("the audit did %s on %s", a.GetVerb(), a.GetResource().Resource)
			}
		}
	}
}

// TestNothingLeavesLoopback: every server listens on 127.0.0.1, the dialer only ever dials loopback,
// and the guard underneath refuses (and reports) anything else.
func TestNothingLeavesLoopback(t *testing.T) {
	var rec refusals
	w := start(t, Options{OnNonLoopback: rec.hook})
	for _, a := range w.Addrs() {
		if !isLoopbackHostPort(a) {
			t.Errorf("a server of the world listens on %s", a)
		}
	}
	if len(w.Addrs()) < 7 {
		t.Errorf("Addrs lists %d servers, want every one (gcp, 2 DNS, exec, 3 backends)", len(w.Addrs()))
	}
	// Every kind of destination, from every kind of source.
	createILB(t, w, "development-agent")
	for _, src := range []string{SourceCloudRun, SourcePod, SourceNode, "cloud-run/" + MeshService} {
		d := w.DialerFrom(src)
		for _, addr := range []string{DevAgentIP + ":80", FirstILBIP + ":80", "172.16.0.12:8080", "10.132.0.3:22", APIPrivateEndpoint + ":443",
			PeerHost + ":443", "8.8.8.8:53", "34.78.1.1:443", "10.0.0.1:80"} {
			res := dial(t, d, addr, 50*time.Millisecond)
			if res.OK {
				continue
			}
			if res.Outcome == probe.TCPError {
				t.Errorf("%s → %s: %v", src, addr, res.Err)
			}
		}
	}
	if r := rec.get(); len(r) > 0 {
		t.Fatalf("dials left loopback: %v", r)
	}
	// The guard is really there: a backend address that is not loopback is refused and reported.
	_, err := w.loopback.DialContext(context.Background(), "tcp", "10.132.0.6:80")
	if err == nil || len(rec.get()) != 1 {
		t.Fatalf("the guard let 10.132.0.6:80 through (%v) or did not report it (%v)", err, rec.get())
	}
}
