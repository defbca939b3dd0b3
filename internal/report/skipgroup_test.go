package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
)

// The skip summaries of a first run with nothing configured, as the checks word them.
const (
	noKube  = "load kubeconfig: no kubeconfig found (run: gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig)"
	noPath  = "no Cloud Run source and no target Service (run: --project and --location (or a gke_ context), or --service NS/NAME)"
	noADC   = "load Google credentials: no usable Application Default Credentials: google: could not find default credentials (run: gcloud auth application-default login)"
	denied  = "could not list the firewall rules: missing compute.firewalls.list on project net-host"
	unnamed = "could not read the cluster and its network: the GKE cluster is not named (run: --project, --location and --cluster (or a gke_PROJECT_LOCATION_CLUSTER context))"
)

func TestSkipReason(t *testing.T) {
	for _, tc := range []struct{ summary, reason, remedy string }{
		{"could not discover the Knative APIs: " + noKube, "load kubeconfig: no kubeconfig found",
			"gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig"},
		{"could not discover the path from Cloud Run to the cluster: " + noPath, "no Cloud Run source and no target Service",
			"--project and --location (or a gke_ context), or --service NS/NAME"},
		// The remedy inside the check's own parenthesis: the reason is what the parenthesis holds.
		{"no name to check: no URL of the client names a cluster Service, and no --dns-name or --service was given (" + noPath + ")",
			"no Cloud Run source and no target Service", "--project and --location (or a gke_ context), or --service NS/NAME"},
		{denied, "missing compute.firewalls.list on project net-host", ""},
		{"not applicable: the cluster has no Knative", "not applicable: the cluster has no Knative", ""},
		// Unbalanced text never panics and keeps the whole summary.
		{"could not x: broken (run: never closed", "broken (run: never closed", ""},
	} {
		reason, remedy := skipReason(tc.summary)
		if reason != tc.reason || remedy != tc.remedy {
			t.Errorf("skipReason(%q) = %q, %q; want %q, %q", tc.summary, reason, remedy, tc.reason, tc.remedy)
		}
	}
}

func firstRunReport() *Report {
	res := func(id, summary string) checks.Result {
		return checks.Result{ID: id, Title: id, Status: checks.Skip, Cause: "not-configured", Summary: summary}
	}
	results := []checks.Result{
		res("clusterip-unreachable", "could not discover the path from Cloud Run to the cluster: "+noPath),
		res("run-vpc-egress", "could not discover the path from Cloud Run to the cluster: "+noPath),
		res("dns-servfail", "no name to check: no URL of the client names a cluster Service, and no --dns-name or --service was given ("+noPath+")"),
		res("sa-token-401", "could not read ServiceAccounts and tokens: "+noKube),
		res("websocket-handshake", "could not reach the Kubernetes API server: "+noKube),
		res("knative-gateway-address", "could not discover the Knative APIs: "+noKube),
		res("dns-stale-record", "could not list the Cloud DNS zones: "+noADC),
		res("pod-egress-cross-project", unnamed),
	}
	return New("audit", "test", checks.Target{}, time.Unix(0, 0), time.Second, results)
}

// A first run with nothing configured: one line per reason with the command that fixes it, the
// checks named under it; a reason met once keeps its check's line; JSON keeps one result per check.
func TestTextGroupsSkipsByReason(t *testing.T) {
	var out bytes.Buffer
	if err := NewText(&out, TextOptions{}).Final(firstRunReport()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"  – skip   3 checks skipped: load kubeconfig: no kubeconfig found — run gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT, or pass --kubeconfig\n" +
			"           sa-token-401, websocket-handshake, knative-gateway-address\n",
		"  – skip   3 checks skipped: no Cloud Run source and no target Service — pass --project and --location (or a gke_ context), or --service NS/NAME\n" +
			"           clusterip-unreachable, run-vpc-egress, dns-servfail\n",
		"  – skip   dns-stale-record  could not list the Cloud DNS zones: load Google credentials",
		"  – skip   pod-egress-cross-project  could not read the cluster and its network: the GKE cluster is not named",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text report lacks\n%s\ngot:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "no kubeconfig found"); n != 1 {
		t.Errorf("the kubeconfig reason appears %d times, want once:\n%s", n, got)
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, firstRunReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct{ ID, Summary string }
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 8 || !strings.Contains(doc.Results[3].Summary, "no kubeconfig found") {
		t.Errorf("JSON results changed: %+v", doc.Results)
	}
}
