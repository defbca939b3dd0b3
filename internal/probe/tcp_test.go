package probe_test

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/probe"
)

func guarded(t *testing.T) probe.Dialer {
	return probe.LoopbackOnlyDialer{OnRefused: func(network, addr string) {
		t.Errorf("tried to dial %s %s", network, addr)
	}}
}

func TestTCPConnected(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := probe.TCP(ctxTimeout(t, 5*time.Second), guarded(t), l.Addr().String())
	if !r.OK || r.Outcome != probe.TCPConnected || r.Err != nil {
		t.Fatalf("%+v", r)
	}
	if r.Duration <= 0 {
		t.Error("Duration not measured")
	}
}

func TestTCPRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := probe.TCP(ctxTimeout(t, 5*time.Second), guarded(t), addr)
	if r.OK || r.Outcome != probe.TCPRefused || !errors.Is(r.Err, syscall.ECONNREFUSED) {
		t.Fatalf("%+v", r)
	}
}

func TestTCPTimeoutWhenTheDialerBlocks(t *testing.T) {
	blocking := dialerFunc(func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	start := time.Now()
	r := probe.TCP(ctxTimeout(t, 200*time.Millisecond), probe.LoopbackOnlyDialer{Inner: blocking}, "127.0.0.1:9")
	if r.OK || r.Outcome != probe.TCPTimeout {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 200ms deadline", d)
	}
	if r.Command() != "nc -vz -w 1 127.0.0.1 9" {
		t.Errorf("Command() = %q", r.Command())
	}
}

func TestTCPDefaultTimeoutApplies(t *testing.T) {
	var deadline time.Time
	d := dialerFunc(func(ctx context.Context, _, _ string) (net.Conn, error) {
		deadline, _ = ctx.Deadline()
		return nil, os.ErrDeadlineExceeded
	})
	r := probe.TCP(context.Background(), d, "10.132.0.6:80")
	if r.Outcome != probe.TCPTimeout {
		t.Fatalf("%+v", r)
	}
	if left := time.Until(deadline); deadline.IsZero() || left > probe.DefaultTCPTimeout {
		t.Errorf("dial deadline %v away, want <= %v", left, probe.DefaultTCPTimeout)
	}
	if r.Command() != "nc -vz -w 3 10.132.0.6 80" {
		t.Errorf("Command() = %q", r.Command())
	}
}

func TestTCPUnreachableAndOtherErrors(t *testing.T) {
	cases := []struct {
		err  error
		want probe.TCPOutcome
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, probe.TCPUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, probe.TCPUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, probe.TCPRefused},
		{errors.New("simulated: something odd"), probe.TCPError},
	}
	for _, c := range cases {
		d := dialerFunc(func(context.Context, string, string) (net.Conn, error) { return nil, c.err })
		r := probe.TCP(ctxTimeout(t, time.Second), d, "10.2.0.1:443")
		if r.Outcome != c.want || r.OK || !errors.Is(r.Err, c.err) {
			t.Errorf("%v: got %+v, want %s", c.err, r, c.want)
		}
	}
}

func TestTCPBadAddress(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:0", "127.0.0.1:65536"} {
		r := probe.TCP(ctxTimeout(t, time.Second), dialerFunc(func(context.Context, string, string) (net.Conn, error) {
			t.Fatalf("dialed %q", addr)
			return nil, nil
		}), addr)
		if r.Outcome != probe.TCPError || r.Err == nil {
			t.Errorf("%q: %+v", addr, r)
		}
	}
}

func TestLoopbackOnlyDialerRefusesWithoutDialing(t *testing.T) {
	var refused []string
	d := probe.LoopbackOnlyDialer{
		Inner: dialerFunc(func(context.Context, string, string) (net.Conn, error) {
			t.Fatal("inner dialer called for a non-loopback address")
			return nil, nil
		}),
		OnRefused: func(network, addr string) { refused = append(refused, addr) },
	}
	for _, addr := range []string{"10.0.0.1:80", "169.254.169.254:53", "[2001:db8::1]:80", "[::ffff:10.0.0.1]:80",
		"localhost:80", "example.com:443", "0.0.0.0:80", "garbage"} {
		conn, err := d.DialContext(context.Background(), "tcp", addr)
		if conn != nil || !errors.Is(err, probe.ErrNotLoopback) {
			t.Errorf("%s: conn %v err %v; want ErrNotLoopback", addr, conn, err)
		}
	}
	if len(refused) != 8 {
		t.Errorf("OnRefused called %d times", len(refused))
	}
	r := probe.TCP(context.Background(), d, "10.0.0.1:80")
	if r.Outcome != probe.TCPError || !errors.Is(r.Err, probe.ErrNotLoopback) {
		t.Errorf("TCP through the guard: %+v", r)
	}
}

func TestLoopbackOnlyDialerAllowsLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:1", "127.1.2.3:1", "[::1]:1", "[::ffff:127.0.0.1]:1"} {
		if !probe.IsLoopbackAddr(addr) {
			t.Errorf("%s not loopback", addr)
		}
	}
	var called bool
	d := probe.LoopbackOnlyDialer{Inner: dialerFunc(func(context.Context, string, string) (net.Conn, error) {
		called = true
		return nil, errors.New("stub")
	})}
	_, _ = d.DialContext(context.Background(), "udp", "127.0.0.1:53")
	if !called {
		t.Error("inner dialer not called for loopback")
	}
}
