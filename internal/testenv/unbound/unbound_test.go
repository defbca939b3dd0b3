package unbound_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gkedoctor/gkedoctor/internal/probe"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/testenv/unbound"
)

const svc = "development-agent.default.svc.cluster.local."

// query probes the resolver through a dialer that fails the test if anything
// leaves loopback.
func query(t *testing.T, addr, name string, qtype uint16) probe.DNSResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := probe.DNSClient{Dialer: probe.LoopbackOnlyDialer{OnRefused: func(network, a string) {
		t.Errorf("probe tried to dial %s %s", network, a)
	}}}
	return c.Query(ctx, addr, name, qtype)
}

func deadPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	return port
}

func fake(t *testing.T) *fakedns.Server {
	t.Helper()
	s, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func fwd(addr string) string { return strings.Replace(addr, ":", "@", 1) }

func TestForwardZoneToDeadTargetIsSERVFAIL(t *testing.T) {
	// A Cloud DNS forwarding zone whose target is the kube-dns ClusterIP: the
	// forwarder cannot reach it and the VPC client gets SERVFAIL.
	r := unbound.StartT(t, unbound.Config{ForwardZones: map[string][]string{
		"cluster.local.": {"127.0.0.1@" + strconv.Itoa(deadPort(t))},
	}})
	start := time.Now()
	res := query(t, r.Addr, svc, dns.TypeA)
	if res.Outcome != probe.OutcomeServFail {
		t.Fatalf("Outcome = %v (%v), want servfail\n%s", res.Outcome, res.Err, r.Log())
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("SERVFAIL took %v", d)
	}
	if res.Symptom() != "Temporary failure in name resolution" {
		t.Errorf("Symptom() = %q", res.Symptom())
	}
}

func TestForwardZoneToSilentServerIsSERVFAIL(t *testing.T) {
	up := fake(t)
	up.SetDefault(fakedns.Answer{Drop: true})
	r := unbound.StartT(t, unbound.Config{ForwardZones: map[string][]string{"cluster.local.": {fwd(up.Addr)}}})
	res := query(t, r.Addr, svc, dns.TypeA)
	if res.Outcome != probe.OutcomeServFail {
		t.Fatalf("Outcome = %v (%v), want servfail", res.Outcome, res.Err)
	}
	if len(up.Queries()) == 0 {
		t.Error("the silent upstream never saw the forwarded query")
	}
}

func TestLocalDataAnswers(t *testing.T) {
	r := unbound.StartT(t, unbound.Config{LocalData: []string{
		"development-agent.gkedoctor.internal. 60 IN A 10.132.0.6",
	}})
	res := query(t, r.Addr, "Development-Agent.gkedoctor.internal", dns.TypeA)
	if res.Outcome != probe.OutcomeAnswer {
		t.Fatalf("Outcome = %v (%v)", res.Outcome, res.Err)
	}
	if ips := res.IPs(); len(ips) != 1 || ips[0].String() != "10.132.0.6" {
		t.Errorf("IPs() = %v", ips)
	}
}

func TestMissingNameInStaticZoneIsNXDOMAIN(t *testing.T) {
	r := unbound.StartT(t, unbound.Config{
		LocalZones: map[string]string{"gkedoctor.internal.": "static"},
		LocalData:  []string{"development-agent.gkedoctor.internal. 60 IN A 10.132.0.6"},
	})
	res := query(t, r.Addr, "environment-manager.gkedoctor.internal.", dns.TypeA)
	if res.Outcome != probe.OutcomeNXDomain {
		t.Fatalf("Outcome = %v (%v), want nxdomain", res.Outcome, res.Err)
	}
	if res.Symptom() != "Name or service not known" {
		t.Errorf("Symptom() = %q", res.Symptom())
	}
	// The name that exists has no AAAA: NODATA from a real resolver.
	res = query(t, r.Addr, "development-agent.gkedoctor.internal.", dns.TypeAAAA)
	if res.Outcome != probe.OutcomeNoData {
		t.Errorf("AAAA: Outcome = %v (%v), want nodata", res.Outcome, res.Err)
	}
}

func TestForwardToAnsweringServer(t *testing.T) {
	up := fake(t)
	up.Set(svc, dns.TypeA, fakedns.Answer{RRs: []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: svc, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
		A:   net.ParseIP("34.118.231.33"),
	}}})
	r := unbound.StartT(t, unbound.Config{ForwardZones: map[string][]string{"cluster.local.": {fwd(up.Addr)}}})
	res := query(t, r.Addr, svc, dns.TypeA)
	if res.Outcome != probe.OutcomeAnswer || len(res.IPs()) != 1 || res.IPs()[0].String() != "34.118.231.33" {
		t.Fatalf("Outcome = %v (%v), answers %+v", res.Outcome, res.Err, res.Answers)
	}
	var seen bool
	for _, q := range up.Queries() {
		seen = seen || q.Name == svc
	}
	if !seen {
		t.Errorf("upstream queries %+v do not include %s", up.Queries(), svc)
	}
	// An NXDOMAIN upstream comes back as NXDOMAIN.
	res = query(t, r.Addr, "nope.default.svc.cluster.local.", dns.TypeA)
	if res.Outcome != probe.OutcomeNXDomain {
		t.Errorf("missing name: Outcome = %v (%v)", res.Outcome, res.Err)
	}
}

func TestLargeAnswerThroughUnboundFallsBackToTCP(t *testing.T) {
	up := fake(t)
	var rrs []dns.RR
	for i := range 120 {
		rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: svc, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
			A: net.IPv4(172, 16, byte(i/200), byte(i%200+1))})
	}
	up.Set(svc, dns.TypeA, fakedns.Answer{RRs: rrs})
	r := unbound.StartT(t, unbound.Config{ForwardZones: map[string][]string{"cluster.local.": {fwd(up.Addr)}}})
	res := query(t, r.Addr, svc, dns.TypeA)
	if res.Outcome != probe.OutcomeAnswer || res.Transport != "tcp" || len(res.IPs()) != 120 {
		t.Fatalf("Outcome = %v over %s with %d IPs (%v)", res.Outcome, res.Transport, len(res.IPs()), res.Err)
	}
}

func TestNamesOutsideConfiguredZonesAreRefused(t *testing.T) {
	r := unbound.StartT(t, unbound.Config{})
	start := time.Now()
	res := query(t, r.Addr, "www.example.com.", dns.TypeA)
	if res.Outcome != probe.OutcomeRefused {
		t.Fatalf("Outcome = %v (%v), want refused", res.Outcome, res.Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	unbound.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := unbound.Start(ctx, unbound.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pid := r.Pid()
	if pid <= 0 {
		t.Fatal("no pid")
	}
	if !strings.Contains(r.ConfigText(), "do-daemonize: no") {
		t.Errorf("config:\n%s", r.ConfigText())
	}
	r.Stop()
	r.Stop()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
	}
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("localhost.", dns.TypeA)
	if _, _, err := c.Exchange(m, r.Addr); err == nil {
		t.Error("still answering after Stop")
	}
}

func TestConfigIsValidatedBeforeStarting(t *testing.T) {
	unbound.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, cfg := range map[string]unbound.Config{
		"non_loopback_forward": {ForwardZones: map[string][]string{"cluster.local.": {"10.0.0.10@53"}}},
		"vpc_resolver_forward": {ForwardZones: map[string][]string{"cluster.local.": {"169.254.169.254"}}},
		"bad_port":             {ForwardZones: map[string][]string{"cluster.local.": {"127.0.0.1@0"}}},
		"no_forward_addr":      {ForwardZones: map[string][]string{"cluster.local.": nil}},
		"bad_zone_type":        {LocalZones: map[string]string{"example.": "bogus"}},
		"injected_zone":        {LocalZones: map[string]string{"example.\"\nserver:": "static"}},
		"bad_local_data":       {LocalData: []string{"not a record"}},
		"newline_local_data":   {LocalData: []string{"a.example. 60 IN A 10.0.0.1\nforward-zone:"}},
	} {
		if r, err := unbound.Start(ctx, cfg); err == nil {
			r.Stop()
			t.Errorf("%s: started", name)
		}
	}
}

// TestNoOrphanWhenTheTestProcessDies starts Unbound from a child copy of
// this test binary, kills that child with SIGKILL (no cleanup runs) and
// checks that Unbound dies with it.
func TestNoOrphanWhenTheTestProcessDies(t *testing.T) {
	if os.Getenv("GKEDOCTOR_UNBOUND_HELPER") == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		r, err := unbound.Start(ctx, unbound.Config{})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("PID", r.Pid())
		time.Sleep(time.Minute) // killed by the parent long before
		os.Exit(0)
	}
	unbound.Require(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOrphanWhenTheTestProcessDies$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GKEDOCTOR_UNBOUND_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pidc := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "PID" {
				n, _ := strconv.Atoi(f[1])
				pidc <- n
				return
			}
		}
		pidc <- 0
	}()
	var pid int
	select {
	case pid = <-pidc:
	case <-time.After(20 * time.Second):
		t.Fatal("helper did not start unbound")
	}
	if pid <= 0 {
		t.Fatal("helper failed to start unbound")
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("unbound %d not running: %v", pid, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
			t.Fatalf("unbound %d outlived its parent (kill 0: %v)", pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
