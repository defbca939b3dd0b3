package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/sim"
)

func withDemo(t *testing.T) {
	prev := app.DemoStarter
	app.DemoStarter = sim.DemoStarter
	t.Cleanup(func() { app.DemoStarter = prev })
	t.Setenv("XDG_STATE_HOME", t.TempDir())
}

func runStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	code := Execute(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

func validateAgainst(t *testing.T, schema []byte, name string, out string) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	url := "https://github.com/gkedoctor/gkedoctor/internal/report/schema/" + name
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
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("does not match %s: %v\n%s", name, err, out)
	}
}

const pyNXDOMAIN = `Traceback (most recent call last):
  File "/usr/local/lib/python3.11/socket.py", line 962, in getaddrinfo
    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):
socket.gaierror: [Errno -2] Name or service not known

requests.exceptions.ConnectionError: HTTPConnectionPool(host='orders.shop.svc.cluster.local', port=8080): Max retries exceeded with url: /v1/orders (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7fa1b8e2c550>: Failed to establish a new connection: [Errno -2] Name or service not known'))`

func TestTriageExplainsAndOffersTheAuditCommand(t *testing.T) {
	code, out, errOut := run(t, "triage", "websocket._exceptions.WebSocketBadStatusException: Handshake status 200 OK")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"websocket-handshake — 5. WebSocket exec handshake", `matched "websocket._exceptions.WebSocketBadStatusException: Handshake status 200 OK"`,
		"shared-client-stream", "intermediary-answered", "gkedoctor audit websocket-handshake\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// stdin, by "-" and by no argument at all
	for _, args := range [][]string{{"triage", "-"}, {"triage"}} {
		code, out, _ = runStdin(t, pyNXDOMAIN, args...)
		if code != 0 || !strings.Contains(out, "gkedoctor audit dns-servfail --service shop/orders --dns-name orders.shop.svc.cluster.local") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}

func TestTriageUnknownTextSaysSoAndListsTheChecks(t *testing.T) {
	code, out, _ := run(t, "triage", "ModuleNotFoundError: No module named 'numpy'")
	if code != 0 || !strings.Contains(out, "Recognised no known error") || !strings.Contains(out, "clusterip-unreachable") ||
		!strings.Contains(out, "gkedoctor audit\n") || strings.Contains(out, "matched") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "triage", "-o", "json", "all good")
	validateAgainst(t, report.TriageSchemaJSON, "triage-v1.schema.json", out)
	var j TriageJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 || j.Recognised || len(j.Checks) != 0 || len(j.Available) < 6 || j.Command != "" {
		t.Errorf("exit %d %v: %+v", code, err, j)
	}
	withDemo(t)
	// --run with nothing recognised runs nothing: exit 3, as an audit that could check nothing.
	if code, out, _ := run(t, "triage", "--run", "--demo", "all good"); code != 3 || !strings.Contains(out, "Recognised no known error") {
		t.Errorf("--run on unknown text: exit %d\n%s", code, out)
	}
}

func TestTriageBadInput(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"triage"}, "no text"},
		{"  \n", []string{"triage", "-"}, "no text"},
		{"", []string{"triage", "-o", "junit", "x"}, "unknown output format"},
	} {
		code, _, errOut := runStdin(t, tc.stdin, tc.args...)
		if code != 2 || !strings.Contains(oneStderrLine(t, errOut), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
}

func TestTriageJSON(t *testing.T) {
	code, out, _ := runStdin(t, pyNXDOMAIN, "triage", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	validateAgainst(t, report.TriageSchemaJSON, "triage-v1.schema.json", out)
	var j TriageJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if !j.Recognised || j.Mode != "triage" || len(j.Matches) != 1 || j.Matches[0].Signature != "dns-nxdomain" ||
		strings.Join(j.Checks, ",") != "dns-servfail" || strings.Join(j.Targets.Services, ",") != "shop/orders" ||
		strings.Join(j.Extracted.Hosts, ",") != "orders.shop.svc.cluster.local" {
		t.Errorf("%+v", j)
	}
}

// --run runs exactly the checks that fit on the demo world, read-only, and the extracted targets reach
// them: the DNS check queries the name the traceback named, and the token check reads the pod the
// Java client's URL named.
func TestTriageRunOnTheDemoWorld(t *testing.T) {
	withDemo(t)
	code, out, errOut := runStdin(t, pyNXDOMAIN, "triage", "--run", "--demo", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d (want 1: the demo's DNS fails)\n%s\n%s", code, out, errOut)
	}
	if errOut != "" {
		t.Fatalf("stderr: %s", errOut)
	}
	validateAgainst(t, report.SchemaJSON, "report-v1.schema.json", out)
	var rep struct {
		Mode     string `json:"mode"`
		ReadOnly bool   `json:"readOnly"`
		Triage   struct {
			Checks  []string `json:"checks"`
			Targets struct {
				DNSNames []string `json:"dnsNames"`
			} `json:"targets"`
		} `json:"triage"`
		Results []struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Evidence []struct {
				Step, Detail string
			} `json:"evidence"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "triage" || !rep.ReadOnly || len(rep.Results) != 1 || rep.Results[0].ID != "dns-servfail" ||
		strings.Join(rep.Triage.Checks, ",") != "dns-servfail" || strings.Join(rep.Triage.Targets.DNSNames, ",") != "orders.shop.svc.cluster.local" {
		t.Fatalf("report: %+v", rep)
	}
	reached := false
	for _, e := range rep.Results[0].Evidence {
		reached = reached || strings.Contains(e.Step+e.Detail, "orders.shop.svc.cluster.local")
	}
	if !reached {
		t.Errorf("no evidence of dns-servfail names the extracted orders.shop.svc.cluster.local: %+v", rep.Results[0].Evidence)
	}

	java := `io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: GET at: https://34.118.224.1/api/v1/namespaces/default/pods/triage-probe-0. Message: Unauthorized. Received status: Status(apiVersion=v1, code=401, reason=Unauthorized, status=Failure).`
	code, out, _ = runStdin(t, java, "triage", "--run", "--demo")
	if !strings.Contains(out, "gkedoctor audit sa-token-401 --workload pod/default/triage-probe-0") || !strings.Contains(out, "sa-token-401") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "pod/default/triage-probe-0") || !strings.Contains(out[strings.Index(out, "gkedoctor [RO]"):], "triage-probe-0") {
		t.Errorf("the check's report does not name the extracted pod:\n%s", out)
	}
}

// --triage and --guided open different first screens: asking for both is a usage error, on the root
// command and on demo, before any session starts.
func TestTriageFlag_notWithGuided(t *testing.T) {
	for _, args := range [][]string{{"--guided", "--triage"}, {"demo", "--triage", "--guided"}} {
		code, _, stderr := runStdin(t, "", args...)
		if code != ExitUsage || !strings.Contains(stderr, "[guided triage]") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
