package probe_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/probe"
)

func fuzzQuery() *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion("development-agent.default.svc.cluster.local.", dns.TypeA)
	q.Id = 0x1234
	q.SetEdns0(probe.EDNSBufSize, false)
	return q
}

func FuzzParseAnswer(f *testing.F) {
	q := fuzzQuery()
	add := func(m *dns.Msg) {
		if b, err := m.Pack(); err == nil {
			f.Add(b)
		}
	}
	for _, rc := range []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeFormatError} {
		m := new(dns.Msg)
		m.SetRcode(q, rc)
		add(m)
	}
	ans := new(dns.Msg)
	ans.SetReply(q)
	a, _ := dns.NewRR("development-agent.default.svc.cluster.local. 30 IN A 34.118.231.33")
	c, _ := dns.NewRR("development-agent.default.svc.cluster.local. 30 IN CNAME x.example.")
	ans.Answer = []dns.RR{c, a}
	add(ans)
	tc := new(dns.Msg)
	tc.SetReply(q)
	tc.Truncated = true
	add(tc)
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xc0, 0xff})
	f.Add([]byte("\x12\x34\x83\x80 not dns at all"))

	f.Fuzz(func(t *testing.T, wire []byte) {
		for _, query := range []*dns.Msg{q, nil} {
			r := probe.ParseAnswer(query, wire)
			if r.Outcome < probe.OutcomeAnswer || r.Outcome > probe.OutcomeError {
				t.Fatalf("outcome %d out of range", r.Outcome)
			}
			if r.Outcome == probe.OutcomeAnswer && (r.Rcode != dns.RcodeSuccess || len(r.Answers) == 0) {
				t.Fatalf("answer with rcode %d and %d records", r.Rcode, len(r.Answers))
			}
			if (r.Outcome == probe.OutcomeMalformed || r.Outcome == probe.OutcomeError) && r.Err == nil {
				t.Fatalf("%v without an error", r.Outcome)
			}
			if r.Outcome != probe.OutcomeAnswer && r.Symptom() == "" {
				t.Fatalf("%v without a symptom", r.Outcome)
			}
			_ = r.Dig()
			_ = r.Outcome.String()
			for _, ip := range r.IPs() {
				if !ip.IsValid() || ip != netip.MustParseAddr(ip.String()) {
					t.Fatalf("bad IP %v", ip)
				}
			}
		}
	})
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{
		"development-agent.default.svc.cluster.local", "A.B.", "", ".", "..", "a..b", "http://x.y:80/z",
		"10.0.0.1", "::1", strings.Repeat("a", 64), strings.Repeat("a.", 130), "_srv._tcp.x", "bücher.de", "a\x00b", "-a", "a-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := probe.NormalizeName(s)
		if err != nil {
			if got != "" {
				t.Fatalf("error with a result %q", got)
			}
			return
		}
		if !strings.HasSuffix(got, ".") || len(got) > 254 || got != strings.ToLower(got) {
			t.Fatalf("NormalizeName(%q) = %q", s, got)
		}
		if _, ok := dns.IsDomainName(got); !ok {
			t.Fatalf("NormalizeName(%q) = %q, which miekg/dns rejects", s, got)
		}
		again, err := probe.NormalizeName(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
		m := new(dns.Msg)
		m.SetQuestion(got, dns.TypeA)
		if _, err := m.Pack(); err != nil {
			t.Fatalf("%q does not pack: %v", got, err)
		}
	})
}

func FuzzParseServerAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.2", "10.0.0.2:53", "[fd00::1]:53", "fd00::1", "dns.internal", "dns.internal:5353",
		"", ":53", "[::1]", "a:b:c", "udp://x", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := probe.ParseServerAddr(s)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("ParseServerAddr(%q) = %q, which does not split: %v", s, addr, err)
		}
		again, err := probe.ParseServerAddr(addr)
		if err != nil || again != addr {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, addr, again, err)
		}
	})
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 10.0.0.1\nsearch a b\n")
	f.Add("nameserver\n#x\n;y\nnameserver fe80::1%eth0")
	f.Fuzz(func(t *testing.T, s string) {
		for _, ns := range probe.ParseResolvConf(strings.NewReader(s)) {
			if _, err := probe.ParseServerAddr(ns); err != nil {
				t.Fatalf("nameserver %q from resolv.conf is not a server address: %v", ns, err)
			}
		}
	})
}
