package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// DefaultTCPTimeout bounds a TCP connect probe when the context has no
// deadline: long enough for any healthy path inside a region, short enough
// that a silently dropped SYN (a firewall, a ClusterIP seen from outside the
// cluster) is reported quickly.
const DefaultTCPTimeout = 3 * time.Second

// Dialer opens connections. *net.Dialer implements it; the demo world
// supplies one that models the VPC, and tests wrap theirs in
// LoopbackOnlyDialer.
//
// A simulated dialer reports outcomes the way the kernel would: an error
// wrapping syscall.ECONNREFUSED for "refused", syscall.EHOSTUNREACH or
// syscall.ENETUNREACH for "unreachable", and blocking until ctx is done (or
// returning os.ErrDeadlineExceeded) for "timeout".
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// TCPOutcome classifies a TCP connect probe.
type TCPOutcome string

// The outcomes of a TCP connect probe.
const (
	TCPConnected   TCPOutcome = "connected"
	TCPTimeout     TCPOutcome = "timeout"     // no answer to the SYN: dropped by a firewall or unroutable
	TCPRefused     TCPOutcome = "refused"     // RST: the host is there, nothing listens on the port
	TCPUnreachable TCPOutcome = "unreachable" // ICMP unreachable, or no route from here
	TCPError       TCPOutcome = "error"       // bad address, refused by a guard, anything else
)

// TCPResult is what one TCP connect probe saw.
type TCPResult struct {
	Addr     string // HOST:PORT
	OK       bool
	Outcome  TCPOutcome
	Duration time.Duration
	Timeout  time.Duration // the connect deadline that applied
	Err      error
}

// TCP opens and closes one TCP connection to addr (HOST:PORT) through dialer
// (nil means a net.Dialer). The context's deadline bounds it; without one,
// DefaultTCPTimeout does.
func TCP(ctx context.Context, dialer Dialer, addr string) TCPResult {
	start := time.Now()
	res := TCPResult{Addr: addr, Timeout: DefaultTCPTimeout}
	if dl, ok := ctx.Deadline(); ok {
		res.Timeout = time.Until(dl)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTCPTimeout)
		defer cancel()
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		res.Outcome, res.Err = TCPError, fmt.Errorf("tcp probe: address %q: want HOST:PORT: %w", addr, err)
		res.Duration = time.Since(start)
		return res
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		res.Outcome, res.Err = TCPError, fmt.Errorf("tcp probe: address %q: port %q is not a number from 1 to 65535", addr, port)
		res.Duration = time.Since(start)
		return res
	}
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	res.Duration = time.Since(start)
	if err != nil {
		if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
			err = cerr
		}
		res.Outcome = classifyDialErr(ctx, err)
		res.Err = fmt.Errorf("tcp connect %s: %w", addr, err)
		return res
	}
	_ = conn.Close()
	res.OK, res.Outcome = true, TCPConnected
	return res
}

func classifyDialErr(ctx context.Context, err error) TCPOutcome {
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotLoopback), errors.Is(err, context.Canceled):
		return TCPError
	case errors.Is(err, syscall.ECONNREFUSED):
		return TCPRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.ENETDOWN):
		return TCPUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return TCPTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return TCPTimeout
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return TCPTimeout
	}
	return TCPError
}

// Command returns the nc command that repeats this probe.
func (r TCPResult) Command() string {
	host, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		host, port = r.Addr, ""
	}
	secs := int(math.Ceil(r.Timeout.Seconds()))
	if secs < 1 {
		secs = int(DefaultTCPTimeout / time.Second)
	}
	cmd := "nc -vz -w " + strconv.Itoa(secs) + " " + shellQuote(host)
	if port != "" {
		cmd += " " + shellQuote(port)
	}
	return cmd
}

// ErrNotLoopback is returned by LoopbackOnlyDialer for any address outside
// 127.0.0.0/8 and ::1.
var ErrNotLoopback = errors.New("refused to dial a non-loopback address")

// LoopbackOnlyDialer dials only loopback IP literals (127.0.0.0/8, ::1) and
// refuses everything else before any packet is sent. Host names are refused
// too: resolving one would itself be traffic. Tests and the demo wrap their
// dialers in it so that nothing can reach a real network.
type LoopbackOnlyDialer struct {
	// Inner dials the allowed addresses; nil means a net.Dialer.
	Inner Dialer
	// OnRefused, if set, is called for every refused address, so a test can
	// fail loudly (t.Errorf) when anything tries to leave loopback.
	OnRefused func(network, addr string)
}

// DialContext implements Dialer.
func (d LoopbackOnlyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if !IsLoopbackAddr(addr) {
		if d.OnRefused != nil {
			d.OnRefused(network, addr)
		}
		return nil, fmt.Errorf("loopback-only dialer: %s %s: %w", network, addr, ErrNotLoopback)
	}
	inner := d.Inner
	if inner == nil {
		inner = &net.Dialer{}
	}
	return inner.DialContext(ctx, network, addr)
}

// IsLoopbackAddr reports whether addr (HOST:PORT) names a loopback IP
// literal.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.WithZone("").Unmap().IsLoopback()
}
