package cli

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
)

// TestProbeCommand runs `gkedoctor probe` against real servers on loopback, from flags and from a
// plan on stdin: one JSON result, exit 0 when every probe succeeded and 1 when one did not.
func TestProbeCommand(t *testing.T) {
	d, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rr, _ := dns.NewRR("orchestrai.internal.example. 60 IN A 127.0.0.1")
	d.Set("orchestrai.internal.example.", dns.TypeA, fakedns.Answer{RRs: []dns.RR{rr}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	code, out, stderr := run(t, "probe", "--resolver", d.Addr, "--dns", "orchestrai.internal.example", "--tcp", ln.Addr().String(), "--vantage", "test bench")
	if code != 0 {
		t.Fatalf("exit %d; stderr %q; out %s", code, stderr, out)
	}
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if rep.Kind != probe.ResultKind || rep.SchemaVersion != 1 || rep.Vantage != "test bench" || len(rep.Results) != 2 {
		t.Fatalf("%+v", rep)
	}
	if !rep.Results[0].OK || rep.Results[0].Answers[0] != "A 127.0.0.1" || !rep.Results[1].OK {
		t.Fatalf("%+v", rep.Results)
	}

	// A plan on stdin; the NXDOMAIN answer makes the exit 1, and the JSON is still printed.
	ios, in, outBuf, errBuf := iostreams.Test()
	in.WriteString(`{"schemaVersion":1,"probes":[{"kind":"dns","id":"missing","name":"nope.internal.example","resolver":"` + d.Addr + `"}]}`)
	code = Execute(context.Background(), ios, []string{"probe", "--plan", "-"})
	if code != ExitFindings {
		t.Fatalf("plan with a failing probe: exit %d, stderr %q", code, errBuf.String())
	}
	if err := json.Unmarshal(outBuf.Bytes(), &rep); err != nil || rep.Results[0].ID != "missing" || rep.Results[0].Outcome != "nxdomain" {
		t.Fatalf("%v %+v", err, rep)
	}
}

func TestProbeCommandBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "nothing to probe"},
		{[]string{"probe", "--tcp", "10.0.0.1:99999"}, "--tcp"},
		{[]string{"probe", "--tcp", "10.0.0.1"}, "--tcp"},
		{[]string{"probe", "--dns", "a..b"}, "--dns"},
		{[]string{"probe", "--dns", "a.b", "--dns-type", "BOGUS"}, "--dns"},
		{[]string{"probe", "--http", "ftp://x/"}, "--http"},
		{[]string{"probe", "--websocket", "http://"}, "--websocket"},
		{[]string{"probe", "--plan", "-", "--tcp", "a:1"}, "cannot be combined"},
		{[]string{"probe", "--plan", "/nonexistent/plan.json"}, "--plan"},
		{[]string{"probe", "--plan", "/dev/zero"}, "not a regular file"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != ExitUsage || !strings.Contains(oneStderrLine(t, stderr), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}
