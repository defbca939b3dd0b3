package model

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

func TestParseMasqConfig(t *testing.T) {
	cases := []struct {
		name, raw string
		wantErr   string // substring; "" means it parses
		line      int
		check     func(t *testing.T, c MasqConfig)
	}{
		{name: "empty is the defaults", raw: "\n", check: func(t *testing.T, c MasqConfig) {
			if c.NonMasqSet || c.Resync() != time.Minute {
				t.Errorf("%+v", c)
			}
		}},
		{name: "yaml", raw: "nonMasqueradeCIDRs:\n  - 172.16.0.0/16\n  - 10.132.0.1/20\nmasqLinkLocal: true\nresyncInterval: 30s\n", check: func(t *testing.T, c MasqConfig) {
			if !c.NonMasqSet || len(c.NonMasqueradeCIDRs) != 2 || c.NonMasqueradeCIDRs[1] != netip.MustParsePrefix("10.132.0.0/20") || !c.MasqLinkLocal || c.Resync() != 30*time.Second {
				t.Errorf("%+v", c)
			}
		}},
		{name: "json", raw: `{"nonMasqueradeCIDRs": ["10.0.0.0/8"], "resyncInterval": "1m"}`, check: func(t *testing.T, c MasqConfig) {
			if len(c.NonMasqueradeCIDRs) != 1 || c.Resync() != time.Minute {
				t.Errorf("%+v", c)
			}
		}},
		{name: "empty list masquerades everything", raw: "nonMasqueradeCIDRs: []\n", check: func(t *testing.T, c MasqConfig) {
			if !c.NonMasqSet || len(c.NonMasqueradeCIDRs) != 0 {
				t.Errorf("%+v", c)
			}
		}},
		{name: "keys match case-insensitively, unknown keys are ignored", raw: "NonMasqueradeCidrs: [10.0.0.0/8]\nnonMasqCIDRs: [1.2.3.0/24]\n", check: func(t *testing.T, c MasqConfig) {
			if len(c.NonMasqueradeCIDRs) != 1 || len(c.Ignored) != 1 || c.Ignored[0] != "nonMasqCIDRs" {
				t.Errorf("%+v", c)
			}
		}},
		{name: "yaml syntax error has its line", raw: "resyncInterval: 60s\nnonMasqueradeCIDRs: 10.0.0.0/8: x\n", wantErr: "line 2", line: 2},
		{name: "bad cidr has its line", raw: "nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.2.0.0/33\n", wantErr: `"10.2.0.0/33"`, line: 3},
		{name: "bad duration", raw: "resyncInterval: soon\n", wantErr: "resyncInterval", line: 1},
		{name: "not a map", raw: "- 10.0.0.0/8\n", wantErr: "not a map", line: 1},
		{name: "over the cidr limit", raw: "cidrLimit: 1\nnonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n", wantErr: "exceed the limit of 1", line: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseMasqConfig(tc.raw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			var pe *MasqParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) || pe.Line != tc.line {
				t.Fatalf("err = %v (line %v), want %q on line %d", err, pe, tc.wantErr, tc.line)
			}
		})
	}
}

func TestMasqConfigYAMLRoundTrips(t *testing.T) {
	c := MasqConfig{NonMasqueradeCIDRs: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/16")}, NonMasqSet: true, ResyncInterval: 90 * time.Second}
	back, err := ParseMasqConfig(c.YAML())
	if err != nil || len(back.NonMasqueradeCIDRs) != 1 || back.Resync() != 90*time.Second || back.MasqLinkLocal {
		t.Fatalf("%q → %+v, %v", c.YAML(), back, err)
	}
}

func TestIPMasqDecide(t *testing.T) {
	peer := netip.MustParsePrefix("10.2.0.0/16")
	parse := func(raw string) *IPMasq {
		m := &IPMasq{DaemonSet: true, AllReserved: true, ConfigMap: true, HasConfig: true, Raw: raw, SNATKnown: true}
		m.Config, m.ParseErr = ParseMasqConfig(raw)
		return m
	}
	cases := []struct {
		name       string
		m          *IPMasq
		known      bool
		keeps      bool
		whyContain string
	}{
		{"defaults with the agent", &IPMasq{DaemonSet: true, AllReserved: true, SNATKnown: true}, true, true, "10.0.0.0/8"},
		{"RFC 1918 defaults without the flag", &IPMasq{DaemonSet: true, SNATKnown: true}, true, true, "10.0.0.0/8"},
		{"ConfigMap without the config key", &IPMasq{DaemonSet: true, ConfigMap: true, Keys: []string{"ip-masq-agent.yaml"}, SNATKnown: true}, true, true, "10.0.0.0/8"},
		{"custom list covering the peer", parse("nonMasqueradeCIDRs: [10.0.0.0/8]\n"), true, true, "10.0.0.0/8"},
		{"custom list not covering the peer", parse("nonMasqueradeCIDRs: [172.16.0.0/16, 10.132.0.0/20]\n"), true, false, "node IP"},
		{"malformed", parse("nonMasqueradeCIDRs: [\n"), false, false, "does not parse"},
		{"no DaemonSet, SNAT on", &IPMasq{SNATKnown: true}, true, true, "GKE's default"},
		{"no DaemonSet, SNAT disabled", &IPMasq{SNATKnown: true, SNATDisabled: true}, true, true, "nothing masquerades"},
		{"DaemonSet unreadable", &IPMasq{DaemonSetErr: &apierr.Error{Kind: apierr.Permission, Permission: "get daemonsets"}}, false, false, "could not be read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.m.Decide(peer)
			if d.Known != tc.known || d.KeepsPodIP != tc.keeps || !strings.Contains(d.Why, tc.whyContain) {
				t.Fatalf("got known=%v keeps=%v why=%q", d.Known, d.KeepsPodIP, d.Why)
			}
		})
	}
	if d := parse("nonMasqueradeCIDRs: [\n").Decide(peer); d.IfDefaults == nil || !d.IfDefaults.KeepsPodIP {
		t.Errorf("a configuration that does not parse should say what the defaults do: %+v", d)
	}
}

func TestSubtract(t *testing.T) {
	got := Subtract([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")})
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := "10.0.0.0/15 10.3.0.0/16 10.4.0.0/14 10.8.0.0/13 10.16.0.0/12 10.32.0.0/11 10.64.0.0/10 10.128.0.0/9"
	if strings.Join(s, " ") != want {
		t.Fatalf("got %v, want %s", s, want)
	}
	if len(Subtract([]netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})) != 0 {
		t.Error("a covered prefix should vanish")
	}
	if got := Subtract([]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); len(got) != 1 {
		t.Errorf("disjoint: %v", got)
	}
}

func TestIsPUPI(t *testing.T) {
	for s, want := range map[string]bool{"10.2.0.0/16": false, "100.64.0.0/16": false, "240.0.0.0/8": false, "5.0.0.0/16": true, "34.118.224.0/20": true, "192.0.2.0/24": false} {
		if got := IsPUPI(netip.MustParsePrefix(s)); got != want {
			t.Errorf("IsPUPI(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestNetworkFromAndRoutes(t *testing.T) {
	n := NetworkFrom(&compute.Network{Name: "default", SelfLink: "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
		Peerings: []*compute.NetworkPeering{{Name: "to-partner", Network: "https://www.googleapis.com/compute/v1/projects/partner/global/networks/pv", State: "ACTIVE", ExportCustomRoutes: true}}}, "p")
	pe, ok := n.PeeringTo("projects/partner/global/networks/pv")
	if !ok || !pe.Active() || pe.PeerProject != "partner" || pe.PeerNetwork != "pv" || !pe.ExportCustomRoutes {
		t.Fatalf("%+v", n.Peerings)
	}
	n.Routes = RoutesFrom([]*compute.Route{
		{Name: "pods-a", Network: "global/networks/default", DestRange: "172.16.0.0/24", NextHopInstance: "zones/z/instances/node-a"},
		{Name: "tagged", Network: "default", DestRange: "172.16.1.0/24", NextHopInstance: "zones/z/instances/node-b", Tags: []string{"x"}},
		{Name: "other-net", Network: "other", DestRange: "172.16.2.0/24", NextHopInstance: "zones/z/instances/node-c"},
		{Name: "default-route", Network: "default", DestRange: "0.0.0.0/0", NextHopGateway: "global/gateways/default-internet-gateway"},
	}, n.Ref)
	in := n.RoutesWithin(netip.MustParsePrefix("172.16.0.0/16"))
	if len(in) != 2 || !in[0].Exchangeable() || in[1].Exchangeable() || in[0].Instance != "node-a" {
		t.Fatalf("%+v", in)
	}
	routes := []PeeringRoute{{Dest: netip.MustParsePrefix("172.16.0.0/24")}, {Dest: netip.MustParsePrefix("172.16.1.0/24")}}
	if !CoveredBy(routes, netip.MustParsePrefix("172.16.0.0/23")) || CoveredBy(routes, netip.MustParsePrefix("172.16.0.0/22")) {
		t.Error("CoveredBy")
	}
	if r, ok := Covering(routes, netip.MustParsePrefix("172.16.1.7/32")); !ok || r.Dest.String() != "172.16.1.0/24" {
		t.Errorf("Covering: %+v %v", r, ok)
	}
}

func FuzzParseMasqConfig(f *testing.F) {
	for _, s := range []string{"", "nonMasqueradeCIDRs: [10.0.0.0/8]\n", `{"resyncInterval":"5s"}`, "nonMasqueradeCIDRs:\n - x\n", "cidrLimit: -1", "- a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseMasqConfig(raw)
		if err != nil {
			var pe *MasqParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(c.NonMasqueradeCIDRs) > c.CidrLimit {
			t.Fatalf("over the limit: %+v", c)
		}
		if _, err := ParseMasqConfig(c.YAML()); err != nil {
			t.Fatalf("the rendered configuration does not parse: %v\n%s", err, c.YAML())
		}
	})
}
