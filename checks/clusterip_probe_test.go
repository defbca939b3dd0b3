package checks

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// vpcDialer models the VPC for the live probe: mapped addresses go to loopback listeners, blackholed
// ones never answer (a dropped SYN), anything else is refused by the loopback-only guard. Nothing
// leaves 127.0.0.1.
type vpcDialer struct {
	t         *testing.T
	to        map[string]string
	blackhole map[string]bool
}

func (d vpcDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.blackhole[addr] {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if to, ok := d.to[addr]; ok {
		addr = to
	}
	return probe.LoopbackOnlyDialer{OnRefused: func(n, a string) { d.t.Errorf("the probe tried to leave loopback: %s %s", n, a) }}.DialContext(ctx, network, addr)
}

func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestLiveProbeConfirmsOrContradicts(t *testing.T) {
	prev := ProbeTimeout
	ProbeTimeout = 300 * time.Millisecond
	t.Cleanup(func() { ProbeTimeout = prev })

	// In the VPC, the internal LB answers: the probe confirms the configuration's verdict.
	w := newReachWorld(t)
	w.where = InVPC
	w.dialer = vpcDialer{t: t, to: map[string]string{wILBIP + ":80": listen(t)}}
	rs := w.run(nil)
	r := rs["clusterip-unreachable"]
	if !reachable(r) || !hasStep(r, "live TCP probe 10.132.0.6:80", Pass, "predicted reachable, observed connected") {
		t.Fatalf("%s", dump(rs))
	}
	for _, e := range r.Evidence {
		if strings.HasPrefix(e.Step, "live TCP probe 10.132.0.6:80") && e.Command != "nc -vz -w 1 10.132.0.6 80" {
			t.Fatalf("probe command %q", e.Command)
		}
	}

	// Nothing listens behind the LB: configuration says yes, the network says no.
	w.dialer = vpcDialer{t: t, to: map[string]string{wILBIP + ":80": "127.0.0.1:1"}}
	rs = w.run(nil)
	r = rs["clusterip-unreachable"]
	if r.Status != Warn || r.Cause != "live-probe-failed" || !strings.Contains(r.Summary, "refused") {
		t.Fatalf("%s", dump(rs))
	}

	// A ClusterIP from the VPC: the SYN is dropped, as predicted.
	w.deleteService("default", "development-agent-ilb")
	w.dialer = vpcDialer{t: t, blackhole: map[string]bool{"34.118.231.33:80": true}}
	rs = w.run(nil)
	r = rs["clusterip-unreachable"]
	if r.Status != Fail || r.Cause != "target-is-clusterip" || !hasStep(r, "live TCP probe 34.118.231.33:80", Pass, "predicted unreachable, observed timeout") {
		t.Fatalf("%s", dump(rs))
	}

	// Inside the cluster a ClusterIP answers whatever the VPC can do: no probe.
	w.where = InCluster
	rs = w.run(nil)
	if !hasStep(rs["clusterip-unreachable"], "live TCP probe", Skip, "inside the cluster") {
		t.Fatalf("%s", dump(rs))
	}
}
