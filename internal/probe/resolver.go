package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// VPCResolver is the resolver every GCE VM uses: the metadata server, which
// applies the VPC's Cloud DNS configuration (server policies, response
// policies, private and forwarding zones, internal DNS).
const VPCResolver = "169.254.169.254:53"

// Default paths read by HostEnvironment.
const (
	DefaultDMIProductNamePath = "/sys/class/dmi/id/product_name"
	DefaultResolvConfPath     = "/etc/resolv.conf"
)

// Resolver is the DNS server the live DNS probes query, and why it was chosen
// (shown to the user next to the results).
type Resolver struct {
	Addr string // HOST:PORT
	Why  string
}

// Environment is what ChooseResolver needs to know about the machine it runs
// on. Neither method may use the network.
type Environment interface {
	// OnGCE reports whether this is a Compute Engine VM (or Cloud Shell, GKE
	// node, Cloud Workstation), where the VPC resolver is reachable.
	OnGCE() bool
	// SystemResolvers lists the nameserver addresses the system uses, in order.
	SystemResolvers() []string
}

// HostEnvironment reads the local machine's files. Empty paths mean the
// defaults; tests point them at temporary files.
type HostEnvironment struct {
	DMIProductNamePath string
	ResolvConfPath     string
}

// OnGCE reads the DMI product name, which Compute Engine sets to "Google
// Compute Engine" (older images: "Google"). Reading a file keeps the check
// offline; asking the metadata server would be a network probe.
func (h HostEnvironment) OnGCE() bool {
	path := h.DMIProductNamePath
	if path == "" {
		path = DefaultDMIProductNamePath
	}
	b, err := readSmall(path)
	if err != nil {
		return false
	}
	return strings.Contains(string(b), "Google")
}

// SystemResolvers parses resolv.conf's nameserver lines.
func (h HostEnvironment) SystemResolvers() []string {
	path := h.ResolvConfPath
	if path == "" {
		path = DefaultResolvConfPath
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return ParseResolvConf(io.LimitReader(f, 1<<20))
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4096))
}

// ParseResolvConf returns the addresses of the "nameserver" lines, in order,
// skipping comments and entries that are not IP addresses (as glibc does).
func ParseResolvConf(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil || !validZone(ip.Zone()) {
			continue
		}
		out = append(out, ip.String())
	}
	return out
}

// StaticEnvironment is a fixed Environment for tests and the demo world.
type StaticEnvironment struct {
	GCE       bool
	Resolvers []string
}

// OnGCE implements Environment.
func (s StaticEnvironment) OnGCE() bool { return s.GCE }

// SystemResolvers implements Environment.
func (s StaticEnvironment) SystemResolvers() []string { return s.Resolvers }

// ChooseResolver picks the DNS server for live probes: the --resolver flag
// when given (HOST[:PORT], port 53 by default), else the VPC resolver when
// running on GCE, else the first system nameserver. A nil env means the local
// machine.
func ChooseResolver(flag string, env Environment) (Resolver, error) {
	if strings.TrimSpace(flag) != "" {
		addr, err := ParseServerAddr(flag)
		if err != nil {
			return Resolver{}, fmt.Errorf("--resolver: %w", err)
		}
		return Resolver{Addr: addr, Why: "from --resolver"}, nil
	}
	if env == nil {
		env = HostEnvironment{}
	}
	if env.OnGCE() {
		return Resolver{Addr: VPCResolver, Why: "running on GCE: the VPC resolver"}, nil
	}
	for _, ns := range env.SystemResolvers() {
		addr, err := ParseServerAddr(ns)
		if err != nil {
			continue
		}
		return Resolver{Addr: addr, Why: "the system resolver (first nameserver in resolv.conf); " +
			"not on GCE, so answers may differ from what the VPC sees"}, nil
	}
	return Resolver{}, errors.New("no DNS resolver found: not on GCE and no nameserver in resolv.conf; pass --resolver HOST[:PORT]")
}

// ParseServerAddr validates a DNS server address given as HOST or HOST:PORT
// (IPv6 as [ADDR]:PORT or a bare ADDR) and returns HOST:PORT, with port 53
// when none is given.
func ParseServerAddr(s string) (string, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("invalid DNS server %q: %s; want HOST[:PORT], e.g. 10.0.0.2, 10.0.0.2:53 or [fd00::1]:53", orig, why)
	}
	if s == "" {
		return bad("empty")
	}
	if strings.Contains(s, "://") {
		return bad("a URL")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if !validZone(ap.Addr().Zone()) {
			return bad("bad IPv6 zone")
		}
		if ap.Port() == 0 {
			return bad("port 0")
		}
		return ap.String(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if !validZone(ip.Zone()) {
			return bad("bad IPv6 zone")
		}
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	host, port := s, "53"
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return bad("cannot split host and port")
		}
		host, port = h, p
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !validZone(ip.Zone()) {
			return bad("bad IPv6 zone")
		}
		return net.JoinHostPort(ip.String(), port), nil
	}
	if !validHostname(host) {
		return bad(fmt.Sprintf("%q is neither an IP address nor a host name", host))
	}
	return net.JoinHostPort(strings.TrimSuffix(host, "."), port), nil
}

// validZone accepts the IPv6 zones an interface name or index can produce.
// netip accepts any bytes after '%', which would not survive a round trip
// through HOST:PORT.
func validZone(z string) bool {
	for _, c := range z {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
