package probe_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
)

func newServer(t *testing.T) *fakedns.Server {
	t.Helper()
	s, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client is a DNS client that fails the test if anything dials off loopback.
func client(t *testing.T) probe.DNSClient {
	return probe.DNSClient{Dialer: probe.LoopbackOnlyDialer{OnRefused: func(network, addr string) {
		t.Errorf("probe tried to dial %s %s", network, addr)
	}}}
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

const svc = "development-agent.default.svc.cluster.local."

func TestDNSOutcomes(t *testing.T) {
	const (
		again  = "Temporary failure in name resolution"
		noname = "Name or service not known"
	)
	cases := []struct {
		name        string
		answer      *fakedns.Answer // nil: the server's default (NXDOMAIN)
		qtype       uint16
		outcome     probe.Outcome
		rcode       string
		ips         []string
		symptom     string
		eai         int
		wantErr     bool
		wantAnswers int
	}{
		{name: "noerror_with_answers", qtype: dns.TypeA,
			answer:  &fakedns.Answer{RRs: []dns.RR{mustRR(t, svc+" 30 IN A 34.118.231.33"), mustRR(t, svc+" 30 IN A 10.132.0.6")}},
			outcome: probe.OutcomeAnswer, rcode: "NOERROR", ips: []string{"34.118.231.33", "10.132.0.6"}, wantAnswers: 2},
		{name: "aaaa_answer", qtype: dns.TypeAAAA,
			answer:  &fakedns.Answer{RRs: []dns.RR{mustRR(t, svc+" 30 IN AAAA fd00::6")}},
			outcome: probe.OutcomeAnswer, rcode: "NOERROR", ips: []string{"fd00::6"}, wantAnswers: 1},
		{name: "nodata", qtype: dns.TypeA, answer: &fakedns.Answer{},
			outcome: probe.OutcomeNoData, rcode: "NOERROR", symptom: "No address associated with hostname", eai: -5},
		{name: "cname_without_target_record_is_nodata", qtype: dns.TypeA,
			answer:  &fakedns.Answer{RRs: []dns.RR{mustRR(t, svc+" 30 IN CNAME gone.example.")}},
			outcome: probe.OutcomeNoData, rcode: "NOERROR", symptom: "No address associated with hostname", eai: -5, wantAnswers: 1},
		{name: "nxdomain", qtype: dns.TypeA,
			outcome: probe.OutcomeNXDomain, rcode: "NXDOMAIN", symptom: noname, eai: -2},
		{name: "servfail", qtype: dns.TypeA, answer: &fakedns.Answer{Rcode: dns.RcodeServerFailure},
			outcome: probe.OutcomeServFail, rcode: "SERVFAIL", symptom: again, eai: -3},
		{name: "refused", qtype: dns.TypeA, answer: &fakedns.Answer{Rcode: dns.RcodeRefused},
			outcome: probe.OutcomeRefused, rcode: "REFUSED", symptom: again, eai: -3},
		{name: "notimp", qtype: dns.TypeA, answer: &fakedns.Answer{Rcode: dns.RcodeNotImplemented},
			outcome: probe.OutcomeError, rcode: "NOTIMP", symptom: again, eai: -3, wantErr: true},
		{name: "formerr", qtype: dns.TypeA, answer: &fakedns.Answer{Rcode: dns.RcodeFormatError},
			outcome: probe.OutcomeError, rcode: "FORMERR", symptom: "Non-recoverable failure in name resolution", eai: -4, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t)
			if c.answer != nil {
				s.Set(svc, c.qtype, *c.answer)
			}
			r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, svc, c.qtype)
			if r.Outcome != c.outcome {
				t.Fatalf("Outcome = %v, want %v (err %v)", r.Outcome, c.outcome, r.Err)
			}
			if r.RcodeName != c.rcode {
				t.Errorf("RcodeName = %q, want %q", r.RcodeName, c.rcode)
			}
			if r.Transport != "udp" || r.Server != s.Addr || r.Name != svc || r.Type != dns.TypeToString[c.qtype] {
				t.Errorf("result header = %q %q %q %q", r.Transport, r.Server, r.Name, r.Type)
			}
			var ips []string
			for _, ip := range r.IPs() {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, c.ips) {
				t.Errorf("IPs() = %v, want %v", ips, c.ips)
			}
			if len(r.Answers) != c.wantAnswers {
				t.Errorf("%d answers, want %d: %+v", len(r.Answers), c.wantAnswers, r.Answers)
			}
			if got := r.Symptom(); got != c.symptom {
				t.Errorf("Symptom() = %q, want %q", got, c.symptom)
			}
			if _, code := r.EAI(); code != c.eai {
				t.Errorf("EAI() code = %d, want %d", code, c.eai)
			}
			if (r.Err != nil) != c.wantErr {
				t.Errorf("Err = %v, want error: %v", r.Err, c.wantErr)
			}
			if r.Duration <= 0 {
				t.Error("Duration not measured")
			}
		})
	}
}

func TestDNSAnswerDataForCNAMEChain(t *testing.T) {
	s := newServer(t)
	s.Set("api.example.", dns.TypeA, fakedns.Answer{RRs: []dns.RR{
		mustRR(t, "api.example. 300 IN CNAME ilb.example."),
		mustRR(t, "ilb.example. 60 IN A 10.132.0.5"),
	}})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, "api.example", dns.TypeA)
	if r.Outcome != probe.OutcomeAnswer {
		t.Fatalf("Outcome = %v (%v)", r.Outcome, r.Err)
	}
	want := []probe.DNSAnswer{
		{Name: "api.example.", Type: "CNAME", TTL: 300, Data: "ilb.example."},
		{Name: "ilb.example.", Type: "A", TTL: 60, Data: "10.132.0.5"},
	}
	if !slices.Equal(r.Answers, want) {
		t.Errorf("Answers = %+v, want %+v", r.Answers, want)
	}
	if got := r.IPs(); len(got) != 1 || got[0] != netip.MustParseAddr("10.132.0.5") {
		t.Errorf("IPs() = %v", got)
	}
}

func TestDNSSendsEDNS0WithRecursionDesired(t *testing.T) {
	type seen struct {
		opt *dns.OPT
		rd  bool
	}
	got := make(chan seen, 1)
	srv := newRawServer(t, func(req *dns.Msg) []byte {
		select {
		case got <- seen{req.IsEdns0(), req.RecursionDesired}:
		default:
		}
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeNameError)
		b, _ := m.Pack()
		return b
	})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), srv, svc, dns.TypeA)
	if r.Outcome != probe.OutcomeNXDomain {
		t.Fatalf("Outcome = %v (%v)", r.Outcome, r.Err)
	}
	q := <-got
	opt, rd := q.opt, q.rd
	if opt == nil || opt.UDPSize() != 1232 {
		t.Errorf("EDNS0 OPT = %v, want bufsize 1232", opt)
	}
	if !rd {
		t.Error("RD not set")
	}
}

// newRawServer answers every UDP query on loopback with reply(query).
func newRawServer(t *testing.T, reply func(*dns.Msg) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			if b := reply(req); b != nil {
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNSTruncatedFallsBackToTCP(t *testing.T) {
	s := newServer(t)
	s.Set(svc, dns.TypeA, fakedns.Answer{Truncate: true, RRs: []dns.RR{mustRR(t, svc+" 30 IN A 10.132.0.6")}})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, svc, dns.TypeA)
	if r.Transport != "tcp" {
		t.Fatalf("Transport = %q, want tcp", r.Transport)
	}
	if r.Outcome != probe.OutcomeAnswer || len(r.IPs()) != 1 || r.IPs()[0].String() != "10.132.0.6" {
		t.Fatalf("Outcome %v, answers %+v, err %v", r.Outcome, r.Answers, r.Err)
	}
	q := s.Queries()
	if len(q) != 2 || q[0].Proto != "udp" || q[1].Proto != "tcp" {
		t.Errorf("server saw %+v, want udp then tcp", q)
	}
	if !strings.HasSuffix(r.Dig(), " +tcp") {
		t.Errorf("Dig() = %q, want +tcp", r.Dig())
	}
}

func TestDNSLargeAnswerIsTruncatedAndRetriedOverTCP(t *testing.T) {
	s := newServer(t)
	var rrs []dns.RR
	for i := range 150 {
		rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: svc, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
			A: net.IPv4(10, 4, byte(i/200), byte(i%200+1))})
	}
	s.Set(svc, dns.TypeA, fakedns.Answer{RRs: rrs})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, svc, dns.TypeA)
	if r.Transport != "tcp" || len(r.IPs()) != 150 {
		t.Fatalf("Transport %q with %d IPs (err %v); want tcp with 150", r.Transport, len(r.IPs()), r.Err)
	}
}

func TestDNSTruncatedButTCPBroken(t *testing.T) {
	// UDP answers truncated; nothing listens on TCP: a firewall that lets only
	// udp/53 through looks like this.
	addr := newRawServer(t, func(req *dns.Msg) []byte {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Truncated = true
		b, _ := m.Pack()
		return b
	})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), addr, svc, dns.TypeA)
	if r.Transport != "tcp" || r.Outcome != probe.OutcomeError || r.Err == nil {
		t.Fatalf("got %q %v %v; want tcp error", r.Transport, r.Outcome, r.Err)
	}
	if !strings.Contains(r.Err.Error(), "truncated") {
		t.Errorf("error %q does not say the UDP reply was truncated", r.Err)
	}
}

func TestDNSTimeoutReturnsPromptly(t *testing.T) {
	s := newServer(t)
	s.Set(svc, dns.TypeA, fakedns.Answer{Drop: true})
	start := time.Now()
	r := client(t).Query(ctxTimeout(t, 300*time.Millisecond), s.Addr, svc, dns.TypeA)
	elapsed := time.Since(start)
	if r.Outcome != probe.OutcomeTimeout {
		t.Fatalf("Outcome = %v (%v), want timeout", r.Outcome, r.Err)
	}
	if elapsed > 2500*time.Millisecond {
		t.Errorf("took %v with a 300ms deadline", elapsed)
	}
	if r.Symptom() != "Temporary failure in name resolution" {
		t.Errorf("Symptom() = %q", r.Symptom())
	}
}

func TestDNSDefaultPerAttemptTimeout(t *testing.T) {
	s := newServer(t)
	s.Set(svc, dns.TypeA, fakedns.Answer{Drop: true})
	c := client(t)
	c.Timeout = 200 * time.Millisecond
	start := time.Now()
	r := c.Query(context.Background(), s.Addr, svc, dns.TypeA)
	if r.Outcome != probe.OutcomeTimeout {
		t.Fatalf("Outcome = %v (%v), want timeout", r.Outcome, r.Err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("took %v with a 200ms per-attempt timeout", d)
	}
}

func TestDNSCancelledContextIsNotATimeout(t *testing.T) {
	s := newServer(t)
	s.Set(svc, dns.TypeA, fakedns.Answer{Drop: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r := client(t).Query(ctx, s.Addr, svc, dns.TypeA)
	if r.Outcome != probe.OutcomeError || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Outcome = %v (%v), want error", r.Outcome, r.Err)
	}
}

func TestDNSMalformedReply(t *testing.T) {
	t.Run("udp", func(t *testing.T) {
		s := newServer(t)
		s.Set(svc, dns.TypeA, fakedns.Answer{Malformed: true})
		r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, svc, dns.TypeA)
		if r.Outcome != probe.OutcomeMalformed || r.Err == nil {
			t.Fatalf("Outcome = %v (%v), want malformed with an error", r.Outcome, r.Err)
		}
		if r.Symptom() == "" {
			t.Error("no symptom for a malformed reply")
		}
	})
	t.Run("tcp_after_truncation", func(t *testing.T) {
		s := newServer(t)
		s.SetHandler(func(q dns.Question, proto string) (fakedns.Answer, bool) {
			if proto == "udp" {
				return fakedns.Answer{Truncate: true}, true
			}
			return fakedns.Answer{Malformed: true}, true
		})
		r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, svc, dns.TypeA)
		if r.Outcome != probe.OutcomeMalformed || r.Transport != "tcp" {
			t.Fatalf("Outcome = %v over %s (%v), want malformed over tcp", r.Outcome, r.Transport, r.Err)
		}
	})
	t.Run("wrong_id", func(t *testing.T) {
		addr := newRawServer(t, func(req *dns.Msg) []byte {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Id = req.Id + 1
			b, _ := m.Pack()
			return b
		})
		r := client(t).Query(ctxTimeout(t, 5*time.Second), addr, svc, dns.TypeA)
		if r.Outcome != probe.OutcomeMalformed || !strings.Contains(r.Err.Error(), "ID") {
			t.Fatalf("Outcome = %v (%v), want malformed naming the ID", r.Outcome, r.Err)
		}
	})
	t.Run("other_question", func(t *testing.T) {
		addr := newRawServer(t, func(req *dns.Msg) []byte {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Question[0].Name = "elsewhere.example."
			b, _ := m.Pack()
			return b
		})
		r := client(t).Query(ctxTimeout(t, 5*time.Second), addr, svc, dns.TypeA)
		if r.Outcome != probe.OutcomeMalformed {
			t.Fatalf("Outcome = %v (%v), want malformed", r.Outcome, r.Err)
		}
	})
}

func TestDNSNamesAreCaseInsensitive(t *testing.T) {
	s := newServer(t)
	s.Set("Environment-Manager.Default.svc.Cluster.Local", dns.TypeA,
		fakedns.Answer{RRs: []dns.RR{mustRR(t, "environment-manager.default.svc.cluster.local. 30 IN A 34.118.233.158")}})
	r := client(t).Query(ctxTimeout(t, 5*time.Second), s.Addr, "ENVIRONMENT-MANAGER.default.SVC.cluster.local", dns.TypeA)
	if r.Outcome != probe.OutcomeAnswer || r.IPs()[0].String() != "34.118.233.158" {
		t.Fatalf("Outcome = %v, answers %+v", r.Outcome, r.Answers)
	}
}

func TestDNSNothingListening(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	r := client(t).Query(ctxTimeout(t, 2*time.Second), addr, svc, dns.TypeA)
	// Linux reports the ICMP port unreachable as ECONNREFUSED; elsewhere it
	// may surface as a timeout. Either way: no crash, a failure symptom.
	if r.Outcome != probe.OutcomeError && r.Outcome != probe.OutcomeTimeout {
		t.Fatalf("Outcome = %v (%v)", r.Outcome, r.Err)
	}
	if r.Symptom() != "Temporary failure in name resolution" {
		t.Errorf("Symptom() = %q", r.Symptom())
	}
}

func TestDNSBadInputs(t *testing.T) {
	for _, c := range []struct{ server, name string }{
		{"", svc},
		{"127.0.0.1:99999", svc},
		{"127.0.0.1:53", ""},
		{"127.0.0.1:53", "bad..name"},
		{"http://127.0.0.1", svc},
	} {
		r := client(t).Query(ctxTimeout(t, time.Second), c.server, c.name, dns.TypeA)
		if r.Outcome != probe.OutcomeError || r.Err == nil {
			t.Errorf("Query(%q, %q) = %v, %v; want an error", c.server, c.name, r.Outcome, r.Err)
		}
	}
}

func TestDNSLoopbackGuardStopsTheVPCResolver(t *testing.T) {
	var refused []string
	c := probe.DNSClient{Dialer: probe.LoopbackOnlyDialer{
		Inner: dialerFunc(func(context.Context, string, string) (net.Conn, error) {
			t.Fatal("inner dialer called")
			return nil, nil
		}),
		OnRefused: func(network, addr string) { refused = append(refused, network+" "+addr) },
	}}
	r := c.Query(ctxTimeout(t, time.Second), probe.VPCResolver, svc, dns.TypeA)
	if r.Outcome != probe.OutcomeError || !errors.Is(r.Err, probe.ErrNotLoopback) {
		t.Fatalf("Outcome = %v (%v), want ErrNotLoopback", r.Outcome, r.Err)
	}
	if len(refused) != 1 || refused[0] != "udp 169.254.169.254:53" {
		t.Errorf("refused = %v", refused)
	}
}

func TestDNSPackageFunctionUsesRealSockets(t *testing.T) {
	s := newServer(t)
	s.Set(svc, dns.TypeA, fakedns.Answer{RRs: []dns.RR{mustRR(t, svc+" 30 IN A 34.118.231.33")}})
	r := probe.DNS(ctxTimeout(t, 5*time.Second), s.Addr, svc, dns.TypeA)
	if r.Outcome != probe.OutcomeAnswer {
		t.Fatalf("Outcome = %v (%v)", r.Outcome, r.Err)
	}
}

func TestDig(t *testing.T) {
	cases := []struct {
		r    probe.DNSResult
		want string
	}{
		{probe.DNSResult{Server: "169.254.169.254:53", Name: svc, Type: "A", Transport: "udp"},
			"dig @169.254.169.254 " + svc + " A"},
		{probe.DNSResult{Server: "127.0.0.1:5353", Name: "x.example.", Type: "AAAA", Transport: "tcp"},
			"dig @127.0.0.1 -p 5353 x.example. AAAA +tcp"},
		{probe.DNSResult{Server: "[::1]:53", Name: "x.example.", Type: "A"},
			"dig @::1 x.example. A"},
		{probe.DNSResult{Server: "127.0.0.1:53", Name: "x;rm -rf.example.", Type: "A"},
			"dig @127.0.0.1 'x;rm -rf.example.' A"},
	}
	for _, c := range cases {
		if got := c.r.Dig(); got != c.want {
			t.Errorf("Dig() = %q, want %q", got, c.want)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	want := map[probe.Outcome]string{
		probe.OutcomeAnswer: "answer", probe.OutcomeNoData: "nodata", probe.OutcomeNXDomain: "nxdomain",
		probe.OutcomeServFail: "servfail", probe.OutcomeRefused: "refused", probe.OutcomeTimeout: "timeout",
		probe.OutcomeMalformed: "malformed", probe.OutcomeError: "error", probe.Outcome(0): "unknown",
	}
	for o, s := range want {
		if o.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), s)
		}
		if b, _ := o.MarshalText(); string(b) != s {
			t.Errorf("MarshalText = %q", b)
		}
	}
}

type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialerFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
