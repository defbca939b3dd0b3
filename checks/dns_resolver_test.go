package checks

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/testenv/unbound"
)

// dnsNoGCPEnv is the environment of `gkedoctor audit dns-servfail --no-gcp --dns-name NAME --resolver
// ADDR` with no kubeconfig: no cluster, no Google APIs, one resolver.
func dnsNoGCPEnv(resolver string, names ...string) *Env {
	inv := inventory.New(inventory.Scope{}, nil, nil, nil, apierr.NotConfiguredf("drop --no-gcp", "Google APIs are off (--no-gcp)"))
	return &Env{Inv: inv, Targets: Targets{DNSNames: names}, Resolver: resolver, ResolverWhy: "from --resolver", ResolverSeesVPC: true,
		Where: Laptop, ReadOnly: true, Now: time.Now}
}

func dnsRun(t *testing.T, env *Env, id string) Result {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("%s is not registered", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return (&Engine{Timeout: 20 * time.Second}).Run(ctx, env, []Check{c}, nil)[0]
}

func dnsDump(r Result) string {
	var b strings.Builder
	b.WriteString("\n" + string(r.Status) + " " + r.Cause + ": " + r.Summary + "\n")
	for _, e := range r.Evidence {
		b.WriteString("  " + string(e.Status) + " " + e.Step + ": " + e.Detail + "\n")
	}
	for _, p := range r.Fixes {
		b.WriteString("  fix " + p.ID + ": " + p.Title + "\n")
	}
	return b.String()
}

// deadUDPPort returns a loopback port nothing listens on.
func deadUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	return port
}

// Against a real third-party resolver (Unbound from Debian, on loopback), through the check as
// `--no-gcp --dns-name … --resolver <unbound>` runs it.
func TestDNSServfailAgainstUnbound(t *testing.T) {
	t.Parallel()
	r := unbound.StartT(t, unbound.Config{
		// The seed's forwarding zone: cluster.local. to the kube-dns ClusterIP, which nothing
		// answers from where the resolver sits (here: a dead loopback port).
		ForwardZones: map[string][]string{"cluster.local.": {"127.0.0.1@" + strconv.Itoa(deadUDPPort(t))}},
		LocalZones:   map[string]string{"gkedoctor.internal.": "static"},
		LocalData:    []string{"development-agent.default.gkedoctor.internal. 60 IN A 10.132.0.6"},
	})
	t.Run("forward_zone_to_dead_target_is_servfail", func(t *testing.T) {
		res := dnsRun(t, dnsNoGCPEnv(r.Addr, "development-agent.default.svc.cluster.local"), "dns-servfail")
		if res.Status != Fail || res.Cause != "observed-servfail" {
			t.Fatalf("want fail/observed-servfail%s", dnsDump(res))
		}
		for _, want := range []string{"SERVFAIL", `"Temporary failure in name resolution"`, r.Addr} {
			if !strings.Contains(res.Summary, want) {
				t.Errorf("summary lacks %q%s", want, dnsDump(res))
			}
		}
		if !hasStep(res, "query development-agent.default.svc.cluster.local.", Fail, "SERVFAIL") {
			t.Errorf("no query evidence%s", dnsDump(res))
		}
		for _, e := range res.Evidence {
			if strings.HasPrefix(e.Step, "query") && !strings.HasPrefix(e.Command, "dig @127.0.0.1 -p ") {
				t.Errorf("query step without its dig command: %+v", e)
			}
		}
	})
	t.Run("local_zone_with_the_record_passes", func(t *testing.T) {
		res := dnsRun(t, dnsNoGCPEnv(r.Addr, "development-agent.default.gkedoctor.internal"), "dns-servfail")
		if res.Status != Pass || !strings.Contains(res.Summary, "10.132.0.6") {
			t.Fatalf("want pass with 10.132.0.6%s", dnsDump(res))
		}
	})
	t.Run("missing_name_is_nxdomain_name_or_service_not_known", func(t *testing.T) {
		res := dnsRun(t, dnsNoGCPEnv(r.Addr, "environment-manager.default.gkedoctor.internal"), "dns-servfail")
		if res.Status != Fail || res.Cause != "observed-nxdomain" {
			t.Fatalf("want fail/observed-nxdomain%s", dnsDump(res))
		}
		for _, want := range []string{"NXDOMAIN", `"Name or service not known"`, "EAI_NONAME"} {
			if !strings.Contains(res.Summary, want) {
				t.Errorf("summary lacks %q%s", want, dnsDump(res))
			}
		}
	})
	t.Run("dns_stale_record_skips_without_cloud_dns", func(t *testing.T) {
		res := dnsRun(t, dnsNoGCPEnv(r.Addr, "development-agent.default.gkedoctor.internal"), "dns-stale-record")
		if res.Status != Skip || !strings.Contains(res.Summary, "--no-gcp") {
			t.Fatalf("want a skip naming --no-gcp%s", dnsDump(res))
		}
	})
}

// Every outcome of the loopback DNS server, through the check.
func TestDNSServfailOutcomesAgainstFakeDNS(t *testing.T) {
	t.Parallel()
	srv, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	a := func(name, ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}
	}
	srv.Set("ok.example.internal.", dns.TypeA, fakedns.Answer{RRs: []dns.RR{a("ok.example.internal.", "10.132.0.6")}})
	srv.Set("clusterip.example.internal.", dns.TypeA, fakedns.Answer{RRs: []dns.RR{a("clusterip.example.internal.", "34.118.231.33")}})
	srv.Set("big.example.internal.", dns.TypeA, fakedns.Answer{Truncate: true, RRs: []dns.RR{a("big.example.internal.", "10.132.0.5")}})
	srv.Set("servfail.example.internal.", dns.TypeA, fakedns.Answer{Rcode: dns.RcodeServerFailure})
	srv.Set("refused.example.internal.", dns.TypeA, fakedns.Answer{Rcode: dns.RcodeRefused})
	srv.Set("nodata.example.internal.", dns.TypeA, fakedns.Answer{Rcode: dns.RcodeSuccess})
	srv.Set("silent.example.internal.", dns.TypeA, fakedns.Answer{Drop: true})
	srv.Set("garbage.example.internal.", dns.TypeA, fakedns.Answer{Malformed: true})
	cases := []struct {
		name    string
		status  Status
		cause   string
		summary string
	}{
		{"ok.example.internal", Pass, "", "resolves to 10.132.0.6"},
		{"big.example.internal", Pass, "", "resolves to 10.132.0.5"}, // truncated over UDP, answered over TCP
		{"clusterip.example.internal", Warn, "answer-is-clusterip", "GKE's default services range"},
		{"servfail.example.internal", Fail, "observed-servfail", "Temporary failure in name resolution"},
		{"missing.example.internal", Fail, "observed-nxdomain", "Name or service not known"},
		{"nodata.example.internal", Fail, "observed-nodata", "No address associated with hostname"},
		{"refused.example.internal", Fail, "observed-no-answer", "REFUSED"},
		{"silent.example.internal", Fail, "observed-no-answer", "timeout"},
		{"garbage.example.internal", Fail, "observed-no-answer", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := dnsRun(t, dnsNoGCPEnv(srv.Addr, tc.name), "dns-servfail")
			if res.Status != tc.status || res.Cause != tc.cause || !strings.Contains(res.Summary, tc.summary) {
				t.Fatalf("want %s/%s with %q%s", tc.status, tc.cause, tc.summary, dnsDump(res))
			}
		})
	}
	t.Run("no_resolver_no_facts_is_a_skip", func(t *testing.T) {
		env := dnsNoGCPEnv("", "ok.example.internal")
		env.ResolverWhy = "no DNS resolver found"
		res := dnsRun(t, env, "dns-servfail")
		if res.Status != Skip || !strings.Contains(res.Summary, "--no-gcp") || !strings.Contains(res.Summary, "--resolver") {
			t.Fatalf("want a skip naming --no-gcp and --resolver%s", dnsDump(res))
		}
	})
	t.Run("no_names_is_a_skip", func(t *testing.T) {
		res := dnsRun(t, dnsNoGCPEnv(srv.Addr), "dns-servfail")
		if res.Status != Skip || !strings.Contains(res.Summary, "--dns-name") {
			t.Fatalf("want a skip naming --dns-name%s", dnsDump(res))
		}
	})
	t.Run("system_resolver_is_not_the_vpc_view", func(t *testing.T) {
		env := dnsNoGCPEnv(srv.Addr, "servfail.example.internal")
		env.ResolverWhy = "the system resolver (first nameserver in resolv.conf); not on GCE, so answers may differ from what the VPC sees"
		env.ResolverSeesVPC = false
		res := dnsRun(t, env, "dns-servfail")
		if res.Status != Skip || !hasStep(res, "query servfail.example.internal.", Skip, "not used for the verdict") {
			t.Fatalf("a laptop's resolver decided the VPC's verdict%s", dnsDump(res))
		}
	})
}
