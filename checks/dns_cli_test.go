package checks_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/cli"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/testenv/unbound"
)

// The command line a person runs from a laptop with nothing but a resolver to ask:
// gkedoctor audit dns-servfail --no-gcp --dns-name NAME --resolver ADDR -o json, in-process, against
// a real Unbound on loopback.
func TestDNSServfailCLIAgainstUnbound(t *testing.T) {
	dead := "127.0.0.1@1" // nothing answers DNS on port 1 of loopback
	r := unbound.StartT(t, unbound.Config{
		ForwardZones: map[string][]string{"cluster.local.": {dead}},
		LocalZones:   map[string]string{"gkedoctor.internal.": "static"},
		LocalData:    []string{"development-agent.default.gkedoctor.internal. 60 IN A 10.132.0.6"},
	})
	// No kubeconfig and no credentials: the checks that need them skip.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", "")
	cases := []struct {
		name, status, cause, summary string
		code                         int
	}{
		{"development-agent.default.svc.cluster.local", "fail", "observed-servfail", "Temporary failure in name resolution", cli.ExitFindings},
		{"development-agent.default.gkedoctor.internal", "pass", "", "10.132.0.6", cli.ExitOK},
		{"ghost.default.gkedoctor.internal", "fail", "observed-nxdomain", "Name or service not known", cli.ExitFindings},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			args := []string{"audit", "dns-servfail", "--no-gcp", "--dns-name", tc.name, "--resolver", r.Addr, "-o", "json"}
			code := cli.Execute(context.Background(), ios, args)
			var rep struct {
				Results []struct {
					ID, Status, Cause, Summary string
					Evidence                   []struct{ Step, Status, Detail, Command string }
				}
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("exit %d, not JSON (%v):\n%s\nstderr: %s", code, err, out, errOut)
			}
			if code != tc.code || len(rep.Results) != 1 {
				t.Fatalf("exit %d (want %d), %d results\n%s\nstderr: %s", code, tc.code, len(rep.Results), out, errOut)
			}
			res := rep.Results[0]
			if res.ID != "dns-servfail" || res.Status != tc.status || res.Cause != tc.cause || !strings.Contains(res.Summary, tc.summary) {
				t.Fatalf("got %s/%s %q, want %s/%s with %q", res.Status, res.Cause, res.Summary, tc.status, tc.cause, tc.summary)
			}
			found := false
			for _, e := range res.Evidence {
				if strings.HasPrefix(e.Step, "query ") && strings.Contains(e.Command, "-p "+strconv.Itoa(port(r.Addr))) {
					found = true
				}
			}
			if !found {
				t.Errorf("no live query with its dig command in the evidence: %+v", res.Evidence)
			}
		})
	}
}

func port(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, _ := strconv.Atoi(addr[i+1:])
	return p
}
