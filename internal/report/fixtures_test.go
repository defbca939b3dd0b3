package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// A fixed clock and target so rendered output is stable.
var (
	fixtureStart  = time.Date(2026, 3, 14, 3, 7, 9, 0, time.UTC)
	fixtureTarget = checks.Target{
		Project:   "dev-orchestra",
		Location:  "europe-west1",
		Cluster:   "dev-orchestra-cluster",
		Namespace: "default",
		Context:   "gke_dev-orchestra_europe-west1_dev-orchestra-cluster",
	}
)

// fixture is one run to render. build gives a fresh report each time (renderers must not mutate it,
// but a test that did would otherwise poison the next).
type fixture struct {
	name    string
	mode    string
	results func() []checks.Result
	// adjust sets what the caller sets after New (where, readOnly, notTested).
	adjust func(*Report)
}

func (f fixture) build() *Report {
	mode := f.mode
	if mode == "" {
		mode = "audit"
	}
	r := New(mode, "v0.3.0", fixtureTarget, fixtureStart, 3210*time.Millisecond, f.results())
	if f.adjust != nil {
		f.adjust(r)
	}
	return r
}

func laptop(r *Report) {
	r.Where = string(checks.Laptop)
	r.NotTested = []string{
		"live connections to VPC-internal addresses (the tool is not running in the VPC): reachability verdicts come from configuration",
	}
}

func allStatusesResults() []checks.Result {
	return []checks.Result{
		{
			ID: "run-vpc-egress", Title: "Cloud Run egress goes through the VPC", Status: checks.Pass,
			Cause: "should-be-dropped-on-pass", Summary: "gke-connectivity-tester4 sends all traffic through my-vpc-connector.",
			Parent:   "clusterip-unreachable",
			Duration: 120 * time.Millisecond,
			Evidence: []checks.Evidence{{
				Step: "Cloud Run egress setting", Status: checks.Pass, Detail: "vpcAccess.egress=ALL_TRAFFIC",
				Command: "gcloud run services describe gke-connectivity-tester4 --region europe-west1 --format='value(template.vpcAccess)'",
			}},
		},
		{
			ID: "clusterip-unreachable", Title: "Cloud Run → GKE Service reachable", Status: checks.Fail,
			Cause:    "clusterip-target",
			Summary:  "Cloud Run calls development-agent.default.svc.cluster.local, a ClusterIP (34.118.231.33) that is only routable inside the cluster.",
			Path:     []string{"Cloud Run gke-connectivity-tester4", "connector my-vpc-connector", "ClusterIP 34.118.231.33"},
			Duration: 1240 * time.Millisecond,
			Evidence: []checks.Evidence{
				{Step: "target address", Status: checks.Fail, Detail: "34.118.231.33 is in the services range 34.118.224.0/20",
					Command: "kubectl get service development-agent -n default -o wide"},
				{Step: "internal load balancer", Status: checks.Fail, Detail: "no Service of type LoadBalancer selects app=development-agent"},
				{Step: "connector", Status: checks.Pass, Detail: "my-vpc-connector READY (192.168.99.0/28)",
					Command: "gcloud compute networks vpc-access connectors describe my-vpc-connector --region europe-west1"},
			},
			Fixes: []*fixes.Plan{
				{ID: "create-internal-lb/default/development-agent", Title: "Expose development-agent on an internal LoadBalancer",
					Reversible: true,
					Commands: []string{
						"kubectl expose service development-agent -n default --name development-agent-ilb --type LoadBalancer",
						"kubectl annotate service development-agent-ilb -n default networking.gke.io/load-balancer-type=Internal",
					}},
				{ID: "advice/use-ilb-address", Title: "Point the client at the internal LB address, not the ClusterIP",
					Advice: true, Commands: []string{}},
			},
		},
		{
			ID: "dns-stale-record", Title: "DNS records point where the client can connect", Status: checks.Warn,
			Cause:    "managed-zone-hand-edit",
			Summary:  "An A record in the GKE-managed zone was edited by hand; the controller will rewrite it to the ClusterIP.",
			Duration: 40 * time.Millisecond,
			Evidence: []checks.Evidence{{Step: "record", Status: checks.Warn, Detail: "development-agent.default.svc.cluster.local. A 10.132.0.6",
				Command: "gcloud dns record-sets list --zone gke-dev-orchestra-cluster-dns"}},
			Fixes: []*fixes.Plan{{ID: "private-zone/development-agent", Title: "Publish the LB IP in a private zone you own",
				Destructive: true, VPCWide: true, Reversible: true, Affects: "every client of the default network",
				Commands: []string{"gcloud dns managed-zones create internal-apps --dns-name internal.example. --visibility private --networks default"}}},
		},
		{
			ID: "sa-token-401", Title: "ServiceAccount token accepted", Status: checks.Skip, Cause: "not-configured",
			Summary:  "no --workload given: name the workload whose token to test (--workload deployment/default/orchestrai).",
			Duration: 0,
		},
		{
			ID: "websocket-handshake", Title: "exec/attach upgrade to 101", Status: checks.Error, Cause: "check-timeout",
			Summary:  "the check did not finish within 2m0s: context deadline exceeded",
			Duration: 2 * time.Minute,
		},
	}
}

func fixtures() []fixture {
	return []fixture{
		{name: "all_statuses", results: allStatusesResults, adjust: laptop},
		{name: "empty", results: func() []checks.Result { return nil }},
		{name: "fixes_with_commands", mode: "fix", results: func() []checks.Result {
			return []checks.Result{{
				ID: "pod-egress-cross-project", Title: "Pods reach the peered project", Status: checks.Fail,
				Cause:    "custom-routes-not-exchanged",
				Summary:  "Pod range 172.16.0.0/16 is not exported over the peering to partner-vpc, and ip-masq-agent keeps pod IPs.",
				Duration: 800 * time.Millisecond,
				Evidence: []checks.Evidence{
					{Step: "peering routes", Status: checks.Fail, Detail: "exportCustomRoutes=false on default → partner-vpc",
						Command: "gcloud compute networks peerings list --network default --format=json | jq '.[].peerings[] | {name, exportCustomRoutes}'"},
					{Step: "ip-masq-agent", Status: checks.Warn,
						Detail:  "nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 172.16.0.0/12",
						Command: "kubectl get configmap ip-masq-agent -n kube-system -o yaml 2>&1 || echo `none`"},
				},
				Fixes: []*fixes.Plan{
					{ID: "export-custom-routes/default/partner-vpc", Title: "Export custom routes over the peering", Reversible: true, VPCWide: true,
						Affects:       "all peers of network default",
						JudgedAgainst: []string{"every custom route of network default (exported to partner-vpc)", "every custom route of network partner-vpc (imported into default)"},
						Commands: []string{
							"gcloud compute networks peerings update default-to-partner --network default --export-custom-routes",
							"gcloud compute networks peerings update partner-to-default --network partner-vpc --import-custom-routes --project partner-data",
						}},
					{ID: "ip-masq-agent/partner", Title: "Masquerade traffic to 10.2.0.0/16", Reversible: true, Alternative: true,
						Commands: []string{"kubectl apply -f - <<'EOF'\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ip-masq-agent, namespace: kube-system}\ndata:\n  config: |\n    nonMasqueradeCIDRs: [172.16.0.0/16]\nEOF"}},
					nil, // a nil plan must be dropped, not crash
				},
			}}
		}, adjust: func(r *Report) { r.Where = string(checks.InVPC); r.ReadOnly = false }},
		{name: "unicode", results: func() []checks.Result {
			return []checks.Result{{
				ID: "knative-gateway-address", Title: "Knative gateway → 内部アドレス", Status: checks.Warn, Cause: "gateway-external",
				Summary:  "Der Gateway-Dienst hat nur eine externe Adresse — «interne» Clients erreichen ihn nicht. 🚦",
				Duration: 5 * time.Millisecond,
				Evidence: []checks.Evidence{{Step: "Gateway «istio-ingress»", Status: checks.Warn, Detail: "EXTERNAL-IP 35.0.0.1 ≠ interne IP",
					Command: "kubectl get svc -n istio-system -l app=istio-ingressgateway"}},
			}, {
				ID: "mesh-trafficdirector-role", Title: "Mesh role", Status: checks.Pass, Summary: "ok ✓ 完了", Duration: 9 * time.Millisecond,
			}}
		}, adjust: func(r *Report) { r.Where = string(checks.DemoWorld) }},
		{name: "secrets", results: func() []checks.Result {
			return []checks.Result{{
				ID: "sa-token-401", Title: "ServiceAccount token accepted", Status: checks.Fail, Cause: "sa-recreated",
				Summary:  "The token Secret orchestrai-sa-token-x7k2p predates ServiceAccount orchestrai-sa (UID changed): the API server answers 401.",
				Duration: 300 * time.Millisecond,
				Evidence: []checks.Evidence{
					{Step: "TokenReview", Status: checks.Fail,
						Detail:  "token eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLWJ5dGVz rejected",
						Command: "curl -sk -H 'Authorization: Bearer sk8sOpaqueT0ken1234567890abcdef' https://10.132.0.2/api"},
					{Step: "ADC", Status: checks.Pass, Detail: "access token ya29.a0AfB_byC-FAKE_TOKEN_VALUE-0123456789 valid for 3412s",
						Command: "gcloud auth print-access-token"},
					{Step: "webhook URL", Status: checks.Warn, Detail: "https://hooks.example.com/notify?channel=ops&token=s3cr3tV4lue&x=1",
						Command: "kubectl create secret generic db --from-literal=password=hunter2"},
					{Step: "signing key", Status: checks.Fail,
						Detail: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtest\nabcdef\n-----END RSA PRIVATE KEY-----"},
					{Step: "escape", Status: checks.Warn, Detail: "annotation value \x1b[31mred\x1b[0m\x07 from the cluster"},
				},
			}}
		}, adjust: laptop},
		{name: "invalid_status", results: func() []checks.Result {
			return []checks.Result{{ID: "vpc-connector-ready", Status: "ok", Summary: "looks fine",
				Evidence: []checks.Evidence{{Step: "state", Status: "", Detail: "READY"}}}}
		}},
	}
}

// secretValues must never appear in redacted output of the "secrets" fixture.
var secretValues = []string{
	"eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9", "c2lnbmF0dXJlLWJ5dGVz", "sk8sOpaqueT0ken1234567890abcdef",
	"ya29.", "FAKE_TOKEN_VALUE", "s3cr3tV4lue", "hunter2", "MIIEowIBAAKCAQEAtest", "abcdef\n",
}

// compileSchema compiles the committed schema with formats asserted (date-time too).
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		t.Fatalf("parse embedded schema: %v", err)
	}
	const url = "https://github.com/gkedoctor/gkedoctor/internal/report/schema/report-v1.schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// ansiRE matches CSI sequences (colour, cursor) and OSC sequences (hyperlinks, titles).
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)`)

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test -update to create it): %v", path, err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from golden at line %d (run go test -update if intended):\n got: %q\nwant: %q\n--- full output ---\n%s", path, i+1, g, w, got)
		}
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                "plain",
		"\x1b[1;31mred\x1b[0m":                 "red",
		"\x1b[2mdim\x1b[0m and \x1b[32m":       "dim and ",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07": "link",
	} {
		if got := stripANSI(in); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}
