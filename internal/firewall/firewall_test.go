package firewall

import (
	"net/netip"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

var connector = netip.MustParsePrefix("192.168.99.0/28")

// nodes is a GKE node as the firewall sees it: the GKE node tag and the node pool's service account.
var nodes = Endpoint{Tags: []string{"gke-dev-orchestra-cluster-f5e836d0-node"}, ServiceAccounts: []string{"nodes@dev-orchestra.iam.gserviceaccount.com"}}

func pkt(port int) Packet {
	return Packet{Network: "projects/dev-orchestra/global/networks/default", Instance: nodes,
		Peer: Endpoint{Ranges: []netip.Prefix{connector}, Tags: []string{"vpc-connector"}}, Protocol: "tcp", Port: port}
}

func allow(name string, prio int64, src []string, ports ...string) Rule {
	return Rule{Name: name, Network: "default", Priority: prio, Allow: true, SourceRanges: src,
		TargetTags: []string{"gke-dev-orchestra-cluster-f5e836d0-node"}, Protocols: []Protocol{{IPProtocol: "tcp", Ports: ports}}}
}

func deny(name string, prio int64, src []string, ports ...string) Rule {
	r := allow(name, prio, src, ports...)
	r.Allow = false
	return r
}

func TestEvaluate(t *testing.T) {
	conn := []string{"192.168.99.0/28"}
	cases := []struct {
		name    string
		rules   []Rule
		p       Packet
		allowed bool
		rule    string // deciding rule
	}{
		{"no rules: implied deny", nil, pkt(80), false, "implied-deny-ingress"},
		{"allow covers the range and port", []Rule{allow("allow-80", 1000, conn, "80")}, pkt(80), true, "allow-80"},
		{"other port", []Rule{allow("allow-80", 1000, conn, "80")}, pkt(8080), false, "implied-deny-ingress"},
		{"port range", []Rule{allow("allow-range", 1000, conn, "8000-9000")}, pkt(8080), true, "allow-range"},
		{"reversed port range is no range", []Rule{allow("bad", 1000, conn, "9000-8000")}, pkt(8080), false, "implied-deny-ingress"},
		{"no ports means all ports", []Rule{allow("all-tcp", 1000, conn)}, pkt(443), true, "all-tcp"},
		{"protocol all", []Rule{{Name: "any", Allow: true, Priority: 1000, SourceRanges: conn, Protocols: []Protocol{{IPProtocol: "all"}}}}, pkt(1), true, "any"},
		{"protocol by number", []Rule{{Name: "six", Allow: true, Priority: 1000, SourceRanges: conn, Protocols: []Protocol{{IPProtocol: "6", Ports: []string{"80"}}}}}, pkt(80), true, "six"},
		{"udp does not allow tcp", []Rule{{Name: "udp", Allow: true, Priority: 1000, SourceRanges: conn, Protocols: []Protocol{{IPProtocol: "udp"}}}}, pkt(80), false, "implied-deny-ingress"},
		{"wider source range covers", []Rule{allow("wide", 1000, []string{"192.168.0.0/16"}, "80")}, pkt(80), true, "wide"},
		{"other source range", []Rule{allow("vms", 1000, []string{"10.132.0.0/20"}, "80")}, pkt(80), false, "implied-deny-ingress"},
		{"higher-priority deny shadows allow", []Rule{allow("allow-80", 1000, conn, "80"), deny("deny-all", 900, []string{"0.0.0.0/0"})}, pkt(80), false, "deny-all"},
		{"lower-priority deny loses", []Rule{allow("allow-80", 1000, conn, "80"), deny("deny-all", 2000, []string{"0.0.0.0/0"})}, pkt(80), true, "allow-80"},
		{"equal priority: deny wins", []Rule{allow("a-allow", 1000, conn, "80"), deny("z-deny", 1000, conn, "80")}, pkt(80), false, "z-deny"},
		{"disabled deny is ignored", []Rule{allow("allow-80", 1000, conn, "80"), func() Rule { r := deny("off", 1, conn); r.Disabled = true; return r }()}, pkt(80), true, "allow-80"},
		{"egress rules do not decide ingress", []Rule{{Name: "eg", Direction: "EGRESS", Allow: true, Priority: 1, Protocols: []Protocol{{IPProtocol: "all"}}}}, pkt(80), false, "implied-deny-ingress"},
		{"other target tag", []Rule{{Name: "other-tag", Allow: true, Priority: 1000, SourceRanges: conn, TargetTags: []string{"web"}, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), false, "implied-deny-ingress"},
		{"no target means all instances", []Rule{{Name: "all-inst", Allow: true, Priority: 1000, SourceRanges: conn, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), true, "all-inst"},
		{"target service account", []Rule{{Name: "by-sa", Allow: true, Priority: 1000, SourceRanges: conn, TargetServiceAccounts: []string{"NODES@dev-orchestra.iam.gserviceaccount.com"}, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), true, "by-sa"},
		{"source tag of the connector", []Rule{{Name: "by-tag", Allow: true, Priority: 1000, SourceTags: []string{"vpc-connector"}, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), true, "by-tag"},
		{"source service account does not match a connector", []Rule{{Name: "by-ssa", Allow: true, Priority: 1000, SourceServiceAccounts: []string{"x@y"}, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), false, "implied-deny-ingress"},
		{"no source at all means every source", []Rule{{Name: "open", Allow: true, Priority: 1000, Protocols: []Protocol{{IPProtocol: "tcp"}}}}, pkt(80), true, "open"},
		{"other network", []Rule{func() Rule {
			r := allow("elsewhere", 1000, conn, "80")
			r.Network = "projects/dev-orchestra/global/networks/other"
			return r
		}()}, pkt(80), false, "implied-deny-ingress"},
		{"network URL of the same network", []Rule{func() Rule {
			r := allow("url", 1000, conn, "80")
			r.Network = "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"
			return r
		}()}, pkt(80), true, "url"},
		{"half the range allowed", []Rule{allow("half", 1000, []string{"192.168.99.0/29"}, "80")}, pkt(80), false, "implied-deny-ingress"},
		{"destination range excludes the node", []Rule{func() Rule {
			r := allow("dst", 1000, conn, "80")
			r.DestinationRanges = []string{"10.9.0.0/16"}
			return r
		}()},
			func() Packet {
				p := pkt(80)
				p.Instance.Ranges = []netip.Prefix{netip.MustParsePrefix("10.132.0.7/32")}
				return p
			}(), false, "implied-deny-ingress"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(tc.rules, tc.p)
			if v.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", v.Allowed, tc.allowed, v.Segments)
			}
			if got := v.Deciding().Name; got != tc.rule {
				t.Fatalf("deciding rule %q, want %q", got, tc.rule)
			}
		})
	}
}

func TestSegmentsAndShadowing(t *testing.T) {
	rules := []Rule{allow("allow-80", 1000, []string{"192.168.99.0/28"}, "80"), deny("deny-upper", 900, []string{"192.168.99.8/29"}, "80")}
	v := Evaluate(rules, pkt(80))
	if v.Allowed || len(v.Segments) != 2 {
		t.Fatalf("got %+v", v)
	}
	if s := v.Segments[0]; !s.Allowed || s.String() != "192.168.99.0/29" || s.Rule.Name != "allow-80" {
		t.Fatalf("first segment %+v (%s)", s, s)
	}
	b := v.Blocked()
	if len(b) != 1 || b[0].String() != "192.168.99.8/29" || b[0].Rule.Name != "deny-upper" {
		t.Fatalf("blocked %+v", b)
	}
	d, sh := v.Shadowing()
	if d.Name != "deny-upper" || len(sh) != 1 || sh[0].Name != "allow-80" {
		t.Fatalf("shadowing %v %v", d, sh)
	}
	if !strings.Contains(d.String(), "ingress deny, priority 900") {
		t.Fatalf("rule string %q", d.String())
	}
	if s := (Rule{Implied: true}).String(); !strings.Contains(s, "implied deny-ingress") {
		t.Fatal(s)
	}
}

func TestOrderDoesNotMatter(t *testing.T) {
	rules := []Rule{allow("b", 1000, []string{"192.168.99.0/28"}, "80"), allow("a", 1000, []string{"192.168.0.0/16"}, "80")}
	v1 := Evaluate(rules, pkt(80))
	v2 := Evaluate([]Rule{rules[1], rules[0]}, pkt(80))
	if v1.Deciding().Name != "a" || v2.Deciding().Name != "a" {
		t.Fatalf("%s %s", v1.Deciding().Name, v2.Deciding().Name)
	}
}

func TestFromCompute(t *testing.T) {
	r := FromCompute(&compute.Firewall{Name: "d", Priority: 10, Denied: []*compute.FirewallDenied{{IPProtocol: "tcp", Ports: []string{"22"}}}, SourceRanges: []string{"0.0.0.0/0"}})
	if r.Allow || r.Priority != 10 || len(r.Protocols) != 1 || r.Protocols[0].Ports[0] != "22" {
		t.Fatalf("%+v", r)
	}
	if FromCompute(nil).Disabled != true || len(FromComputeList([]*compute.Firewall{nil, {Name: "x"}})) != 1 {
		t.Fatal("nil rules")
	}
}

func TestParsePorts(t *testing.T) {
	for s, want := range map[string][2]int{"80": {80, 80}, "8000-9000": {8000, 9000}, " 443 ": {443, 443}} {
		lo, hi, ok := ParsePorts(s)
		if !ok || lo != want[0] || hi != want[1] {
			t.Errorf("%q: %d %d %v", s, lo, hi, ok)
		}
	}
	for _, s := range []string{"", "x", "80-", "-80", "9-8", "70000", "+80", "080"} {
		if _, _, ok := ParsePorts(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestSplitNetwork(t *testing.T) {
	for in, want := range map[string][2]string{
		"default":                              {"", "default"},
		"global/networks/default":              {"", "default"},
		"projects/host/global/networks/shared": {"host", "shared"},
		"https://www.googleapis.com/compute/v1/projects/p/global/networks/n": {"p", "n"},
	} {
		p, n := gref.SplitNetwork(in)
		if p != want[0] || n != want[1] {
			t.Errorf("%s: %s %s", in, p, n)
		}
	}
}

// TestParsedCriteriaFollowTheRule: a rule from FromCompute carries its parsed ports and ranges, and
// a copy whose ranges, protocols or direction were replaced is decided on the new values.
func TestParsedCriteriaFollowTheRule(t *testing.T) {
	r := FromCompute(&compute.Firewall{Name: "a", Network: "default", Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"192.168.99.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "8000-9000"}}}})
	if r.m == nil {
		t.Fatal("FromCompute attached no parsed criteria")
	}
	p := pkt(8500)
	if v := Evaluate([]Rule{r}, p); !v.Allowed {
		t.Fatalf("tcp:8500 from the connector: %+v", v)
	}
	moved := r
	moved.SourceRanges = []string{"10.9.0.0/28"}
	if v := Evaluate([]Rule{moved}, p); v.Allowed {
		t.Fatalf("the copy's new source range was not used: %+v", v)
	}
	narrowed := r
	narrowed.Protocols = []Protocol{{IPProtocol: "tcp", Ports: []string{"80"}}}
	if v := Evaluate([]Rule{narrowed}, p); v.Allowed {
		t.Fatalf("the copy's new ports were not used: %+v", v)
	}
	egress := r
	egress.Direction = Egress
	if v := Evaluate([]Rule{egress}, p); v.Allowed {
		t.Fatalf("the copy's new direction was not used: %+v", v)
	}
	if v := Evaluate([]Rule{r}, p); !v.Allowed {
		t.Fatalf("the original changed with its copies: %+v", v)
	}
}
