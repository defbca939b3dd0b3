// Package unbound runs a real third-party recursive resolver, Unbound (the
// Debian "unbound" package), on a free loopback port for tests. It plays the
// part of a VPC resolver in front of the demo world's DNS: forward zones to a
// fakedns server (or to a dead port, which is how a Cloud DNS forwarding zone
// that targets a kube-dns ClusterIP behaves: SERVFAIL), local zones and local
// data. Probes then see what a real resolver does, not what we assumed.
//
// Everything stays on loopback: Unbound listens on 127.0.0.1, sends from
// 127.0.0.1, forwards only to loopback addresses (Start refuses others), has
// no root hints in use, and refuses names outside the configured zones.
package unbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// RequireEnv, when set to 1, turns a missing unbound binary from a skipped
// test into a failed one (CI sets it so that a broken install cannot pass).
const RequireEnv = "GKEDOCTOR_REQUIRE_TESTBIN"

// PathEnv overrides where the unbound binary is looked up.
const PathEnv = "GKEDOCTOR_UNBOUND"

// Config is what the resolver serves.
type Config struct {
	// LocalData are resource records in zone-file form, e.g.
	// "ilb.example.internal. 60 IN A 10.132.0.6".
	LocalData []string
	// LocalZones maps a zone ("example.internal.") to an Unbound local-zone
	// type ("static", "transparent", "refuse", ...). In a static zone, names
	// without local data are NXDOMAIN.
	LocalZones map[string]string
	// ForwardZones maps a zone ("cluster.local.") to the servers it is
	// forwarded to, as "127.0.0.1@PORT" (or "127.0.0.1", port 53). Only
	// loopback addresses are accepted.
	ForwardZones map[string][]string
	// MaxUpstreamRTT bounds how long Unbound waits on an unresponsive forward
	// target before answering SERVFAIL (Unbound's infra-cache-max-rtt).
	// Zero means 400ms: SERVFAIL for a dead target arrives in about a second.
	MaxUpstreamRTT time.Duration
	// NoCache caps cached TTLs at zero so every query reaches the forward
	// targets; use it when a test changes upstream answers between queries.
	NoCache bool
	// Verbosity is Unbound's log verbosity (0-5); zero means 1.
	Verbosity int
	// Listen is the address to serve on, "127.x.y.z:PORT"; empty means
	// 127.0.0.1 on a free port. A fixed address is for tests that need the
	// resolver where a stub resolver looks (port 53).
	Listen string
}

// Resolver is a running Unbound.
type Resolver struct {
	// Addr is "127.0.0.1:PORT", UDP and TCP.
	Addr string

	cmd      *exec.Cmd
	dir      string
	conf     string
	log      *limitedBuffer
	done     chan struct{} // closed when the process has been reaped
	waitErr  error
	stopOnce sync.Once
}

// Available reports the unbound binary to use, if any: $GKEDOCTOR_UNBOUND,
// then PATH, then the sbin directories that are not always on PATH.
func Available() (path string, ok bool) {
	if p := os.Getenv(PathEnv); p != "" {
		if isExecutable(p) {
			return p, true
		}
		return "", false
	}
	if p, err := exec.LookPath("unbound"); err == nil {
		return p, true
	}
	for _, p := range []string{"/usr/sbin/unbound", "/usr/local/sbin/unbound", "/opt/homebrew/sbin/unbound"} {
		if isExecutable(p) {
			return p, true
		}
	}
	return "", false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Require returns the unbound binary, or skips the test (naming `make test`,
// which installs it), or fails it when GKEDOCTOR_REQUIRE_TESTBIN=1.
func Require(t testing.TB) string {
	t.Helper()
	p, ok := Available()
	if ok {
		return p
	}
	msg := "unbound is not installed; run `make test` (it installs test dependencies with hack/install-test-deps.sh) or `apt-get install unbound`"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + " (" + RequireEnv + "=1 makes this an error)")
	}
	t.Skip(msg)
	return ""
}

// StartT starts a resolver for a test (skipping as Require does) and stops it
// when the test ends. On failure it fails the test with Unbound's log.
func StartT(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("unbound log:\n%s", r.Log())
		}
	})
	return r
}

// Start writes a configuration, starts unbound on a free loopback port and
// waits until it answers. ctx bounds the start-up only; the process runs
// until Stop (or until this process dies: it gets SIGKILL then).
func Start(ctx context.Context, cfg Config) (*Resolver, error) {
	bin, ok := Available()
	if !ok {
		return nil, errors.New("unbound: binary not found (install the unbound package; `make test` does)")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}

	// discard-timeout (Debian's 1.17.1 backports it from 1.20; default
	// 1.9s) silently drops replies that took longer than that, including the
	// SERVFAIL for a dead forward target. Turn it off where it exists.
	withOptional := true
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		r, err := startOnce(ctx, bin, cfg, withOptional)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		var se *startError
		if !errors.As(err, &se) {
			break
		}
		switch {
		case withOptional && strings.Contains(se.log, "discard-timeout"):
			withOptional = false // an Unbound without the option
		case cfg.Listen == "" && (strings.Contains(se.log, "address already in use") || strings.Contains(se.log, "could not open ports")):
			// Lost the race for the port we picked; pick another.
		default:
			return nil, err
		}
	}
	return nil, lastErr
}

type startError struct {
	msg string
	log string
}

func (e *startError) Error() string {
	return fmt.Sprintf("unbound: %s\n--- unbound log ---\n%s", e.msg, e.log)
}

func startOnce(ctx context.Context, bin string, cfg Config, optional bool) (*Resolver, error) {
	host, port := "127.0.0.1", 0
	if cfg.Listen != "" {
		ap, err := netip.ParseAddrPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("unbound: listen address %q: %w", cfg.Listen, err)
		}
		host, port = ap.Addr().String(), int(ap.Port())
	} else {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	dir, err := os.MkdirTemp("", "gkedoctor-unbound-")
	if err != nil {
		return nil, fmt.Errorf("unbound: temp dir: %w", err)
	}
	conf := cfg.render(dir, host, port, optional)
	confPath := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("unbound: write config: %w", err)
	}

	r := &Resolver{
		Addr: net.JoinHostPort(host, strconv.Itoa(port)),
		dir:  dir,
		conf: conf,
		log:  &limitedBuffer{max: 256 << 10},
		done: make(chan struct{}),
	}
	cmd := exec.Command(bin, "-d", "-c", confPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Stop signals the whole group
		Pdeathsig: syscall.SIGKILL, // no orphan if the test binary dies
	}
	r.cmd = cmd

	// Pdeathsig fires when the thread that forked the child exits, not the
	// process, so fork from a goroutine locked to its thread and keep that
	// thread until the child is reaped.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(r.done)
			return
		}
		started <- nil
		r.waitErr = cmd.Wait()
		close(r.done)
	}()
	if err := <-started; err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("unbound: start %s: %w", bin, err)
	}

	if err := r.waitReady(ctx); err != nil {
		r.Stop()
		return nil, &startError{msg: err.Error(), log: r.Log()}
	}
	return r, nil
}

// waitReady polls with a query for "localhost." (answered by Unbound's
// built-in local zone, so it needs no upstream) until it gets a reply.
func (r *Resolver) waitReady(ctx context.Context) error {
	c := &dns.Client{Net: "udp", Timeout: 250 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("localhost.", dns.TypeA)
	for {
		select {
		case <-r.done:
			return fmt.Errorf("exited during start-up (%v)", r.waitErr)
		default:
		}
		qctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		_, _, err := c.ExchangeContext(qctx, m, r.Addr)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering on %s: %w", r.Addr, ctx.Err())
		case <-r.done:
			return fmt.Errorf("exited during start-up (%v)", r.waitErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop terminates Unbound's process group (SIGTERM, then SIGKILL after two
// seconds), waits for it and removes its files. It is safe to call twice.
func (r *Resolver) Stop() {
	r.stopOnce.Do(func() {
		if r.cmd != nil && r.cmd.Process != nil {
			pgid := r.cmd.Process.Pid
			select {
			case <-r.done:
			default:
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				select {
				case <-r.done:
				case <-time.After(2 * time.Second):
					_ = syscall.Kill(-pgid, syscall.SIGKILL)
					<-r.done
				}
			}
		}
		_ = os.RemoveAll(r.dir)
	})
}

// Pid is the Unbound process id.
func (r *Resolver) Pid() int {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Log returns what Unbound has written so far (the last 256 KiB).
func (r *Resolver) Log() string { return r.log.String() }

// ConfigText returns the generated unbound.conf.
func (r *Resolver) ConfigText() string { return r.conf }

// freePort finds a loopback port free for both UDP and TCP. Unbound binds it
// a moment later; Start retries on the rare collision.
func freePort() (int, error) {
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("unbound: find a free port: %w", err)
		}
		pc, err := net.ListenPacket("udp4", l.Addr().String())
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if err == nil {
			_ = pc.Close()
			return port, nil
		}
		lastErr = err
	}
	return 0, fmt.Errorf("unbound: no loopback port free for UDP and TCP: %w", lastErr)
}

var localZoneTypes = []string{
	"deny", "refuse", "static", "transparent", "typetransparent", "redirect", "inform", "inform_deny",
	"inform_redirect", "always_transparent", "block_a", "always_refuse", "always_nxdomain", "always_null",
	"noview", "nodefault",
}

func (c Config) validate() error {
	for _, d := range c.LocalData {
		if strings.ContainsAny(d, "\n\r\x00") || strings.Contains(d, `"`) && strings.Contains(d, "'") {
			return fmt.Errorf("unbound: local-data %q: contains a newline or both kinds of quote", d)
		}
		if _, err := dns.NewRR(d); err != nil {
			return fmt.Errorf("unbound: local-data %q: %w", d, err)
		}
	}
	for zone, typ := range c.LocalZones {
		if err := checkZoneName(zone); err != nil {
			return fmt.Errorf("unbound: local-zone: %w", err)
		}
		if !slices.Contains(localZoneTypes, typ) {
			return fmt.Errorf("unbound: local-zone %q: unknown type %q (one of %s)", zone, typ, strings.Join(localZoneTypes, ", "))
		}
	}
	for zone, addrs := range c.ForwardZones {
		if err := checkZoneName(zone); err != nil {
			return fmt.Errorf("unbound: forward-zone: %w", err)
		}
		if len(addrs) == 0 {
			return fmt.Errorf("unbound: forward-zone %q: no forward address", zone)
		}
		for _, a := range addrs {
			if err := checkForwardAddr(a); err != nil {
				return fmt.Errorf("unbound: forward-zone %q: %w", zone, err)
			}
		}
	}
	if c.Listen != "" {
		ap, err := netip.ParseAddrPort(c.Listen)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() || ap.Port() == 0 {
			return fmt.Errorf("unbound: listen address %q: want 127.x.y.z:PORT", c.Listen)
		}
	}
	if c.Verbosity < 0 || c.Verbosity > 5 {
		return fmt.Errorf("unbound: verbosity %d out of 0-5", c.Verbosity)
	}
	return nil
}

func checkZoneName(z string) error {
	if z == "." {
		return nil
	}
	if _, ok := dns.IsDomainName(z); !ok || z == "" || strings.ContainsAny(z, "\"'\\ \t\n\r") {
		return fmt.Errorf("zone name %q is not a plain DNS name", z)
	}
	return nil
}

// checkForwardAddr accepts "IP" or "IP@PORT" with a loopback IPv4 address: the
// test environment must not send anything off the machine.
func checkForwardAddr(a string) error {
	host, port, hasPort := strings.Cut(a, "@")
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return fmt.Errorf("forward address %q: only 127.0.0.0/8 addresses are allowed in tests", a)
	}
	if hasPort {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("forward address %q: bad port", a)
		}
	}
	return nil
}

func quote(s string) string {
	if strings.Contains(s, `"`) {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

func (c Config) render(dir, host string, port int, optional bool) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	verbosity := c.Verbosity
	if verbosity == 0 {
		verbosity = 1
	}
	maxRTT := c.MaxUpstreamRTT
	if maxRTT <= 0 {
		maxRTT = 400 * time.Millisecond
	}

	line("# generated by gkedoctor internal/testenv/unbound")
	line("server:")
	line("\tinterface: %s", host)
	line("\tport: %d", port)
	line("\tdo-daemonize: no")
	line("\tchroot: \"\"")
	line("\tusername: \"\"")
	line("\tdirectory: %s", quote(dir))
	line("\tpidfile: %s", quote(filepath.Join(dir, "unbound.pid")))
	line("\tuse-syslog: no")
	line("\tlogfile: \"\"")
	line("\tlog-time-ascii: yes")
	line("\tverbosity: %d", verbosity)
	line("\tnum-threads: 1")
	line("\tso-reuseport: no")
	line("\tdo-ip4: yes")
	line("\tdo-ip6: no")
	line("\tdo-udp: yes")
	line("\tdo-tcp: yes")
	line("\taccess-control: 127.0.0.0/8 allow")
	line("\t# forward targets are fakedns servers on loopback")
	line("\tdo-not-query-localhost: no")
	line("\toutgoing-interface: 127.0.0.1")
	line("\toutgoing-range: 128")
	line("\tnum-queries-per-thread: 64")
	line("\t# no DNSSEC: nothing here is signed and no trust anchor is needed")
	line("\tmodule-config: \"iterator\"")
	line("\t# give up on an unresponsive target fast: SERVFAIL within about a second")
	line("\tinfra-cache-max-rtt: %d", maxRTT.Milliseconds())
	line("\tinfra-host-ttl: 1")
	if c.NoCache {
		line("\tcache-max-ttl: 0")
		line("\tcache-max-negative-ttl: 0")
	} else {
		line("\tcache-max-negative-ttl: 1")
	}
	line("\tedns-buffer-size: 1232")
	line("\tminimal-responses: yes")
	line("\tqname-minimisation: no")
	if optional {
		line("\tdiscard-timeout: 0")
	}

	_, userRoot := c.LocalZones["."]
	_, fwdRoot := c.ForwardZones["."]
	if !userRoot && !fwdRoot {
		line("\t# names outside the configured zones are refused at once: no root")
		line("\t# hints, no recursion, no traffic beyond loopback")
		line("\tlocal-zone: \".\" refuse")
	}
	for _, zone := range sortedKeys(c.LocalZones) {
		line("\tlocal-zone: %s %s", quote(zone), c.LocalZones[zone])
	}
	for _, zone := range sortedKeys(c.ForwardZones) {
		if _, ok := c.LocalZones[zone]; ok || zone == "." {
			continue
		}
		// Lets queries under a forward zone through the "." refuse zone.
		line("\tlocal-zone: %s transparent", quote(zone))
	}
	for _, d := range c.LocalData {
		line("\tlocal-data: %s", quote(d))
	}
	line("remote-control:")
	line("\tcontrol-enable: no")
	for _, zone := range sortedKeys(c.ForwardZones) {
		line("forward-zone:")
		line("\tname: %s", quote(zone))
		for _, a := range c.ForwardZones[zone] {
			line("\tforward-addr: %s", a)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if over := l.buf.Len() - l.max; over > 0 {
		l.buf.Next(over)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
