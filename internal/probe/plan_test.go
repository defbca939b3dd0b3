package probe_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
)

// TestRunPlanOnTheWire runs one plan of every kind against real servers on loopback: a DNS server
// answering one name and failing another, a TCP listener and a closed port, an HTTP server, and one
// endpoint that upgrades WebSockets and one that answers 200 (the seed's "Handshake status 200 OK").
func TestRunPlanOnTheWire(t *testing.T) {
	d := newServer(t)
	d.Set("development-agent.default.svc.cluster.local.", dns.TypeA, fakedns.Answer{RRs: []dns.RR{mustRR(t, "development-agent.default.svc.cluster.local. 30 IN A 127.0.0.1")}})
	d.Set("broken.internal.", dns.TypeA, fakedns.Answer{Rcode: dns.RcodeServerFailure})

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
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Sec-WebSocket-Accept", base64.StdEncoding.EncodeToString(sum[:]))
		w.WriteHeader(http.StatusSwitchingProtocols)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html><title>hi</title></html>")) })
	hs := httptest.NewServer(mux)
	defer hs.Close()
	wsBase := "ws" + strings.TrimPrefix(hs.URL, "http")

	plan := probe.Plan{SchemaVersion: 1, TimeoutMillis: 3000, Probes: []probe.Probe{
		{Kind: "dns", ID: "ok", Name: "development-agent.default.svc.cluster.local"},
		{Kind: "dns", ID: "servfail", Name: "broken.internal"},
		{Kind: "tcp", ID: "open", Addr: ln.Addr().String()},
		{Kind: "tcp", ID: "closed", Addr: closedAddr},
		{Kind: "http", ID: "http", URL: hs.URL + "/ok"},
		{Kind: "websocket", ID: "ws", URL: wsBase + "/ws"},
		{Kind: "websocket", ID: "ws200", URL: wsBase + "/plain"},
	}}
	if err := plan.Validate(); err != nil {
		t.Fatal(err)
	}
	refused := false
	v := probe.Vantage{Name: "test", Resolver: d.Addr, Dialer: probe.LoopbackOnlyDialer{OnRefused: func(string, string) { refused = true }}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := probe.Run(ctx, plan, v)
	if refused {
		t.Fatal("a probe dialled off loopback")
	}
	want := map[string]struct {
		outcome string
		ok      bool
	}{
		"ok": {"answer", true}, "servfail": {"servfail", false}, "open": {"connected", true}, "closed": {"refused", false},
		"http": {"2xx", true}, "ws": {"upgraded", true}, "ws200": {"2xx", false},
	}
	if len(rep.Results) != len(plan.Probes) {
		t.Fatalf("%d results for %d probes", len(rep.Results), len(plan.Probes))
	}
	for _, r := range rep.Results {
		w := want[r.ID]
		if r.Outcome != w.outcome || r.OK != w.ok {
			t.Errorf("%s: outcome %q ok %v, want %q %v (%s; %s)", r.ID, r.Outcome, r.OK, w.outcome, w.ok, r.Detail, r.Error)
		}
		if r.Detail == "" || r.Command == "" {
			t.Errorf("%s: no detail or command: %+v", r.ID, r)
		}
	}
	if got := rep.Results[0].Answers; len(got) != 1 || got[0] != "A 127.0.0.1" {
		t.Errorf("answers = %v", got)
	}
	if rep.Results[6].Status != 200 {
		t.Errorf("ws200 status = %d", rep.Results[6].Status)
	}
	// The result is the versioned JSON document the launcher reads back.
	b, _ := json.Marshal(rep)
	var back probe.Report
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != probe.ResultKind || back.SchemaVersion != 1 || len(back.Results) != 7 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestPlanValidation(t *testing.T) {
	for _, tc := range []struct{ plan, want string }{
		{`{"schemaVersion":2,"probes":[]}`, "schemaVersion 2"},
		{`{"schemaVersion":1,"probes":[]}`, "no probes"},
		{`{"schemaVersion":1,"probes":[{"kind":"ping","addr":"a:1"}]}`, `unknown kind "ping"`},
		{`{"schemaVersion":1,"probes":[{"kind":"tcp","addr":"10.0.0.1:99999"}]}`, "1 to 65535"},
		{`{"schemaVersion":1,"probes":[{"kind":"tcp","addr":"10.0.0.1"}]}`, "HOST:PORT"},
		{`{"schemaVersion":1,"probes":[{"kind":"dns","name":"a..b"}]}`, "dns name"},
		{`{"schemaVersion":1,"probes":[{"kind":"dns","name":"a.b","type":"MX2"}]}`, "dns type"},
		{`{"schemaVersion":1,"probes":[{"kind":"http","url":"ftp://x/"}]}`, "http:// or https://"},
		{`{"schemaVersion":1,"probes":[{"kind":"http","url":"http://u:p@x/"}]}`, "credentials"},
		{`{"schemaVersion":1,"probes":[{"kind":"tcp","addr":"a:1"}],"extra":1}`, "unknown field"},
		{`{"schemaVersion":1,`, "not valid JSON"},
		{`{"schemaVersion":1,"probes":[{"kind":"tcp","addr":"a:1"}],"timeoutMillis":-5}`, "timeoutMillis"},
	} {
		_, err := probe.ParsePlan(strings.NewReader(tc.plan))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.plan, err, tc.want)
		}
	}
	big := `{"schemaVersion":1,"probes":[` + strings.Repeat(`{"kind":"tcp","addr":"a:1"},`, 65) + `{"kind":"tcp","addr":"a:1"}]}`
	if _, err := probe.ParsePlan(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("66 probes: %v", err)
	}
}

// TestRunCancelled: a cancelled run reports every probe as not run, and returns at once.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := probe.Run(ctx, probe.Plan{SchemaVersion: 1, Probes: []probe.Probe{{Kind: "tcp", Addr: "127.0.0.1:9"}}}, probe.Vantage{Dialer: probe.LoopbackOnlyDialer{}})
	if len(rep.Results) != 1 || rep.Results[0].Outcome != "cancelled" || rep.Results[0].OK {
		t.Fatalf("%+v", rep.Results)
	}
}
