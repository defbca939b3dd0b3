package fakedns

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exchange(t *testing.T, addr, proto, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func TestStartListensOnLoopbackUDPAndTCP(t *testing.T) {
	s := start(t)
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr = %q, want 127.0.0.1:PORT", s.Addr)
	}
	s.Set("svc.example.", dns.TypeA, Answer{RRs: []dns.RR{rr(t, "svc.example. 60 IN A 10.132.0.6")}})
	for _, proto := range []string{"udp", "tcp"} {
		r, err := exchange(t, s.Addr, proto, "svc.example.", dns.TypeA)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.132.0.6" {
			t.Fatalf("%s: reply %v", proto, r)
		}
	}
	q := s.Queries()
	if len(q) != 2 || q[0].Proto != "udp" || q[1].Proto != "tcp" || q[0].Name != "svc.example." || q[0].Type != dns.TypeA {
		t.Fatalf("Queries() = %+v", q)
	}
	if q[0].Time.IsZero() {
		t.Error("query time not recorded")
	}
	s.ResetQueries()
	if len(s.Queries()) != 0 {
		t.Error("ResetQueries did not forget")
	}
}

func TestNamesAreCaseInsensitiveAndFQDN(t *testing.T) {
	s := start(t)
	s.Set("Development-Agent.Default.SVC.cluster.local", dns.TypeA,
		Answer{RRs: []dns.RR{rr(t, "development-agent.default.svc.cluster.local. 30 IN A 34.118.231.33")}})
	r, err := exchange(t, s.Addr, "udp", "development-agent.DEFAULT.svc.Cluster.Local.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("no answer for a differently-cased name: %v", r)
	}
	if got := s.Queries()[0].Name; got != "development-agent.default.svc.cluster.local." {
		t.Errorf("recorded name %q, want lower-case FQDN", got)
	}
}

func TestDefaultIsNXDOMAINAndReplaceable(t *testing.T) {
	s := start(t)
	r, err := exchange(t, s.Addr, "udp", "nothing.example.", dns.TypeA)
	if err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("default reply %v, %v; want NXDOMAIN", r, err)
	}
	s.SetDefault(Answer{Rcode: dns.RcodeRefused})
	r, err = exchange(t, s.Addr, "udp", "nothing.example.", dns.TypeA)
	if err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("after SetDefault %v, %v; want REFUSED", r, err)
	}
}

func TestDefaultFieldSetBeforeQueries(t *testing.T) {
	s := start(t)
	s.Default = Answer{Rcode: dns.RcodeServerFailure}
	s.Set("configured.example.", dns.TypeA, Answer{}) // orders the write before the server's reads
	r, err := exchange(t, s.Addr, "tcp", "x.example.", dns.TypeAAAA)
	if err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("reply %v, %v; want SERVFAIL", r, err)
	}
}

func TestSetOverridesHandlerWhichOverridesDefault(t *testing.T) {
	s := start(t)
	var sawProto string
	s.SetHandler(func(q dns.Question, proto string) (Answer, bool) {
		sawProto = proto
		if strings.HasSuffix(q.Name, ".cluster.local.") {
			return Answer{Rcode: dns.RcodeServerFailure}, true
		}
		return Answer{}, false
	})
	s.Set("static.cluster.local.", dns.TypeA, Answer{Rcode: dns.RcodeRefused})
	cases := []struct {
		name string
		want int
	}{
		{"static.cluster.local.", dns.RcodeRefused},
		{"dynamic.cluster.local.", dns.RcodeServerFailure},
		{"other.example.", dns.RcodeNameError},
	}
	for _, c := range cases {
		r, err := exchange(t, s.Addr, "tcp", c.name, dns.TypeA)
		if err != nil || r.Rcode != c.want {
			t.Errorf("%s: %v, %v; want rcode %d", c.name, r, err, c.want)
		}
	}
	if sawProto != "tcp" {
		t.Errorf("handler saw proto %q, want tcp", sawProto)
	}
	s.Unset("static.cluster.local.", dns.TypeA)
	if r, _ := exchange(t, s.Addr, "udp", "static.cluster.local.", dns.TypeA); r == nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("after Unset: %v; want the handler's SERVFAIL", r)
	}
}

func TestTruncateOverUDPFullOverTCP(t *testing.T) {
	s := start(t)
	s.Set("big.example.", dns.TypeA, Answer{Truncate: true, RRs: []dns.RR{rr(t, "big.example. 60 IN A 10.0.0.1")}})
	r, err := exchange(t, s.Addr, "udp", "big.example.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("udp: TC=%v answers=%d; want TC and none", r.Truncated, len(r.Answer))
	}
	r, err = exchange(t, s.Addr, "tcp", "big.example.", dns.TypeA)
	if err != nil || r.Truncated || len(r.Answer) != 1 {
		t.Fatalf("tcp: %v, %v; want the full answer", r, err)
	}
}

func TestOversizedUDPAnswerIsTruncatedLikeARealServer(t *testing.T) {
	s := start(t)
	var rrs []dns.RR
	for i := range 200 {
		rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: "many.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.IPv4(10, 0, byte(i/250), byte(i%250+1))})
	}
	s.Set("many.example.", dns.TypeA, Answer{RRs: rrs})
	r, err := exchange(t, s.Addr, "udp", "many.example.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated {
		t.Fatalf("200 A records over 512-byte UDP not truncated")
	}
}

func TestDropNeverAnswersAndDelayDelays(t *testing.T) {
	s := start(t)
	s.Set("drop.example.", dns.TypeA, Answer{Drop: true})
	s.Set("slow.example.", dns.TypeA, Answer{Delay: 150 * time.Millisecond})
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("drop.example.", dns.TypeA)
	if _, _, err := c.Exchange(m, s.Addr); err == nil {
		t.Fatal("dropped query was answered")
	}
	m.SetQuestion("slow.example.", dns.TypeA)
	c.Timeout = 5 * time.Second // generous: loaded CI machines are slow
	start := time.Now()
	if _, _, err := c.Exchange(m, s.Addr); err != nil {
		t.Fatalf("delayed query: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answer came after %v, want >= 150ms", d)
	}
}

func TestMalformedWritesGarbageWithTheQueryID(t *testing.T) {
	s := start(t)
	s.Set("bad.example.", dns.TypeA, Answer{Malformed: true})
	for _, proto := range []string{"udp", "tcp"} {
		if _, err := exchange(t, s.Addr, proto, "bad.example.", dns.TypeA); err == nil {
			t.Errorf("%s: garbage parsed as a DNS message", proto)
		}
	}
	conn, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	m := new(dns.Msg)
	m.SetQuestion("bad.example.", dns.TypeA)
	m.Id = 0xBEEF
	b, _ := m.Pack()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n < 12 || buf[0] != 0xBE || buf[1] != 0xEF {
		t.Fatalf("garbage does not carry the query ID: % x", buf[:n])
	}
}

func TestCloseCutsDelaysShortAndIsIdempotent(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	s.Set("slow.example.", dns.TypeA, Answer{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion("slow.example.", dns.TypeA)
		_, _, _ = c.ExchangeContext(ctx, m, s.Addr)
	}()
	deadline := time.Now().Add(2 * time.Second)
	for len(s.Queries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(4 * time.Second):
		t.Fatal("Close blocked on a delayed answer")
	}
}
