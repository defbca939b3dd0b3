package dnsmodel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

const (
	proj    = "dev-orchestra"
	netURL  = "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"
	otherNW = "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/other"
	devName = "development-agent.default.svc.cluster.local."
)

func private(name, dnsName string, networks ...string) *dns.ManagedZone {
	z := &dns.ManagedZone{Name: name, DnsName: dnsName, Visibility: "private", PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{}}
	for _, n := range networks {
		z.PrivateVisibilityConfig.Networks = append(z.PrivateVisibilityConfig.Networks, &dns.ManagedZonePrivateVisibilityConfigNetwork{NetworkUrl: n})
	}
	return z
}

func forwarding(name, dnsName string, targets []string, networks ...string) *dns.ManagedZone {
	z := private(name, dnsName, networks...)
	z.ForwardingConfig = &dns.ManagedZoneForwardingConfig{}
	for _, t := range targets {
		z.ForwardingConfig.TargetNameServers = append(z.ForwardingConfig.TargetNameServers, &dns.ManagedZoneForwardingConfigNameServerTarget{Ipv4Address: t})
	}
	return z
}

func clusterBound(name, dnsName, cluster string) *dns.ManagedZone {
	z := private(name, dnsName)
	z.PrivateVisibilityConfig.GkeClusters = []*dns.ManagedZonePrivateVisibilityConfigGKECluster{{GkeClusterName: cluster}}
	return z
}

func a(name string, ips ...string) *dns.ResourceRecordSet {
	return &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: 60, Rrdatas: ips}
}

func rr(name, typ string, data ...string) *dns.ResourceRecordSet {
	return &dns.ResourceRecordSet{Name: name, Type: typ, Ttl: 300, Rrdatas: data}
}

func seedCluster(provider, scope, domain, additive string) *model.Cluster {
	c := &container.Cluster{
		Name: "dev-orchestra-cluster", Location: "europe-west1", Network: "default",
		ServicesIpv4Cidr: "34.118.224.0/20", ClusterIpv4Cidr: "172.16.0.0/16",
		NetworkConfig: &container.NetworkConfig{Network: "projects/dev-orchestra/global/networks/default"},
	}
	if provider != "" {
		c.NetworkConfig.DnsConfig = &container.DNSConfig{ClusterDns: provider, ClusterDnsScope: scope, ClusterDnsDomain: domain, AdditiveVpcScopeDnsDomain: additive}
	}
	return model.ClusterFrom(c, proj)
}

func newModel(c *model.Cluster, zones []*dns.ManagedZone, records map[string][]*dns.ResourceRecordSet) *Model {
	return &Model{Project: proj, Zones: zones, Cluster: c,
		Records: func(z *dns.ManagedZone) ([]*dns.ResourceRecordSet, error) {
			rs, ok := records[z.Name]
			if !ok {
				return nil, errors.New("no records for " + z.Name)
			}
			return rs, nil
		},
		ServiceByIP: func(ip netip.Addr) string {
			if ip.String() == "34.118.224.10" {
				return "kube-system/kube-dns"
			}
			return ""
		},
		// The client's network: one subnet (nodes) with a secondary range (pods).
		Subnets:     []netip.Prefix{netip.MustParsePrefix("10.132.0.0/20"), netip.MustParsePrefix("10.4.0.0/14")},
		SubnetsRead: true,
	}
}

func TestPredict(t *testing.T) {
	gkeZoneName := "gke-dev-orchestra-cluster-f5e836d0-dns"
	clusterName := "projects/dev-orchestra/locations/europe-west1/clusters/dev-orchestra-cluster"
	allowDNS := &compute.Firewall{Name: "allow-dns-forwarder", Network: netURL, Priority: 1000, Direction: "INGRESS",
		SourceRanges: []string{"35.199.192.0/19"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "udp", Ports: []string{"53"}}}}
	tests := []struct {
		name      string
		m         *Model
		query     string
		network   string
		outcome   probe.Outcome
		situation Situation
		ips       string
		reason    string // a substring of Reason
		check     func(t *testing.T, p Prediction)
	}{
		{
			name: "forwarding_zone_to_kube_dns_clusterip_is_servfail",
			m: newModel(seedCluster("", "", "", ""), []*dns.ManagedZone{
				forwarding("gke-cluster-dns-forwarding", "cluster.local.", []string{"34.118.224.10"}, netURL)}, nil),
			query: devName, outcome: probe.OutcomeServFail, situation: SitForwardUnreachable,
			reason: "ClusterIP of Service kube-system/kube-dns",
			check: func(t *testing.T, p Prediction) {
				if len(p.Targets) != 1 || !p.Targets[0].ClusterIP || p.Targets[0].Reach != ReachNo || p.Targets[0].Service != "kube-system/kube-dns" {
					t.Errorf("targets %+v", p.Targets)
				}
			},
		},
		{
			name: "forwarding_to_pod_ip_of_routes_based_cluster_is_servfail",
			m: newModel(seedCluster("", "", "", ""), []*dns.ManagedZone{
				forwarding("fwd", "cluster.local.", []string{"172.16.3.7"}, netURL)}, nil),
			query: devName, outcome: probe.OutcomeServFail, situation: SitForwardUnreachable, reason: "routes-based",
		},
		{
			name: "forwarding_to_vm_without_firewall_rule_is_servfail",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil)
				m.FirewallRead = true
				return m
			}(),
			query: "db.corp.example.", outcome: probe.OutcomeServFail, situation: SitForwardUnreachable, reason: "implied deny-ingress",
		},
		{
			name: "forwarding_to_vm_with_firewall_rule_is_forwarded",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil)
				m.Firewall, m.FirewallRead = firewall.Set{Rules: firewall.FromComputeList([]*compute.Firewall{allowDNS})}, true
				return m
			}(),
			query: "db.corp.example.", outcome: 0, situation: SitForwarded, reason: "allow-dns-forwarder",
		},
		{
			name: "forwarding_hierarchical_deny_above_vpc_allow_is_servfail",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil)
				m.Firewall = firewall.Set{Rules: firewall.FromComputeList([]*compute.Firewall{allowDNS}), Policies: []firewall.Policy{{
					Name: "1234", ShortName: "org-guardrails", Type: firewall.TypeHierarchy,
					Rules: []firewall.Rule{{Priority: 900, Direction: firewall.Ingress, SourceRanges: []string{"35.199.192.0/19"},
						Protocols: []firewall.Protocol{{IPProtocol: "udp"}}}},
				}}}
				m.FirewallRead = true
				return m
			}(),
			query: "db.corp.example.", outcome: probe.OutcomeServFail, situation: SitForwardUnreachable, reason: `hierarchical firewall policy "org-guardrails" rule 900 deny`,
		},
		{
			name: "forwarding_rule_limited_to_target_tags_is_unknown",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil)
				tagged := *allowDNS
				tagged.TargetTags = []string{"dns-vm"}
				m.Firewall, m.FirewallRead = firewall.Set{Rules: firewall.FromComputeList([]*compute.Firewall{&tagged})}, true
				return m
			}(),
			query: "db.corp.example.", outcome: 0, situation: SitForwarded, reason: "target tag dns-vm",
		},
		{
			// An on-premises resolver over Cloud VPN: the VPC firewall does not decide, so neither
			// SERVFAIL nor the ClusterIP cause may be predicted (issue 12: never a delete offered for it).
			name: "forwarding_to_on_prem_outside_the_subnets_is_unknown",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"192.168.50.10"}, netURL)}, nil)
				m.FirewallRead = true // no rule admits 35.199.192.0/19: it does not matter outside the VPC
				return m
			}(),
			query: "db.corp.example.", outcome: 0, situation: SitForwarded, reason: "in no subnet of network default: reached over Cloud VPN or Interconnect",
			check: func(t *testing.T, p Prediction) {
				if len(p.Targets) != 1 || p.Targets[0].Reach != ReachUnknown || p.Targets[0].ClusterIP {
					t.Errorf("targets %+v", p.Targets)
				}
			},
		},
		{
			name: "forwarding_to_vm_subnets_unreadable_is_unknown",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil)
				m.FirewallRead, m.SubnetsRead, m.Subnets, m.SubnetsWhy = true, false, nil, "permission compute.subnetworks.get denied"
				return m
			}(),
			query: "db.corp.example.", outcome: 0, situation: SitForwarded, reason: "subnets could not be read (permission compute.subnetworks.get denied)",
		},
		{
			name:  "forwarding_to_vm_firewall_not_read_is_unknown",
			m:     newModel(nil, []*dns.ManagedZone{forwarding("fwd", "corp.example.", []string{"10.132.0.9"}, netURL)}, nil),
			query: "db.corp.example.", outcome: 0, situation: SitForwarded, reason: "was not read",
		},
		{
			name:  "kube_dns_cluster_without_zones_is_nxdomain",
			m:     newModel(seedCluster(model.ProviderKubeDNS, "", "", ""), nil, nil),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitClusterOnly, reason: "kube-dns",
		},
		{
			name: "cloud_dns_cluster_scope_zone_is_invisible",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeCluster, "cluster.local", ""), []*dns.ManagedZone{
				clusterBound(gkeZoneName, "cluster.local.", clusterName)}, nil),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitClusterOnly, reason: "cluster scope",
			check: func(t *testing.T, p Prediction) {
				if len(p.Unseen) != 1 || !p.Unseen[0].ClusterOnly {
					t.Errorf("unseen %+v", p.Unseen)
				}
			},
		},
		{
			name: "vpc_scope_answers_with_the_clusterip",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeVPC, "cluster.local", ""), []*dns.ManagedZone{private(gkeZoneName, "cluster.local.", netURL)},
				map[string][]*dns.ResourceRecordSet{gkeZoneName: {a(devName, "34.118.231.33")}}),
			query: devName, outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "34.118.231.33",
		},
		{
			name: "vpc_scope_with_custom_domain_asked_cluster_local",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeVPC, "dev.example", ""), []*dns.ManagedZone{private(gkeZoneName, "dev.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{gkeZoneName: {a("development-agent.default.svc.dev.example.", "34.118.231.33")}}),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitWrongDomain, reason: "under dev.example.",
		},
		{
			name: "additive_scope_asked_cluster_local",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeCluster, "cluster.local", "orchestra.example"), []*dns.ManagedZone{
				clusterBound(gkeZoneName, "cluster.local.", clusterName), private("gke-additive", "orchestra.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{"gke-additive": {a("development-agent.default.svc.orchestra.example.", "34.118.231.33")}}),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitWrongDomain, reason: "orchestra.example.",
		},
		{
			name: "additive_scope_asked_additive_domain",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeCluster, "cluster.local", "orchestra.example"), []*dns.ManagedZone{
				private("gke-additive", "orchestra.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{"gke-additive": {a("development-agent.default.svc.orchestra.example.", "34.118.231.33")}}),
			query: "development-agent.default.svc.orchestra.example", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "34.118.231.33",
		},
		{
			name: "zone_bound_to_another_network",
			m: newModel(nil, []*dns.ManagedZone{private("gkedoctor-internal", "gkedoctor.internal.", otherNW)},
				map[string][]*dns.ResourceRecordSet{"gkedoctor-internal": {a("development-agent.default.gkedoctor.internal.", "10.132.0.6")}}),
			query: "development-agent.default.gkedoctor.internal.", outcome: probe.OutcomeNXDomain, situation: SitOtherNetwork, reason: "not to projects/dev-orchestra/global/networks/default",
		},
		{
			name: "vpc_scope_zone_on_the_cluster_network_client_elsewhere",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeVPC, "", ""), []*dns.ManagedZone{private(gkeZoneName, "cluster.local.", otherNW)},
				map[string][]*dns.ResourceRecordSet{gkeZoneName: {a(devName, "34.118.231.33")}}),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitOtherNetwork,
		},
		{
			name: "longest_suffix_wins_over_a_forwarding_zone",
			m: newModel(nil, []*dns.ManagedZone{
				forwarding("fwd", "cluster.local.", []string{"34.118.224.10"}, netURL),
				private("svc", "svc.cluster.local.", netURL)},
				map[string][]*dns.ResourceRecordSet{"svc": {a(devName, "10.132.0.6")}}),
			query: devName, outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
		},
		{
			name: "same_name_forwarding_and_gke_zone_tie_reported",
			m: newModel(seedCluster(model.ProviderCloudDNS, model.ScopeVPC, "", ""), []*dns.ManagedZone{
				private(gkeZoneName, "cluster.local.", netURL),
				forwarding("gke-cluster-dns-forwarding", "cluster.local.", []string{"34.118.224.10"}, netURL)},
				map[string][]*dns.ResourceRecordSet{gkeZoneName: {a(devName, "34.118.231.33")}}),
			query: devName, outcome: probe.OutcomeServFail, situation: SitForwardUnreachable,
			check: func(t *testing.T, p Prediction) {
				if len(p.Shadowed) != 1 || p.Shadowed[0].Name != gkeZoneName || !strings.Contains(p.Via, "not documented") {
					t.Errorf("shadowed %v, via %q", p.Shadowed, p.Via)
				}
			},
		},
		{
			name: "owned_zone_missing_name_is_nxdomain",
			m: newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL)},
				map[string][]*dns.ResourceRecordSet{"own": {a("development-agent.default.gkedoctor.internal.", "10.132.0.6")}}),
			query: "environment-manager.default.gkedoctor.internal.", outcome: probe.OutcomeNXDomain, situation: SitNoRecord,
		},
		{
			name: "name_with_only_txt_is_nodata",
			m: newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL)},
				map[string][]*dns.ResourceRecordSet{"own": {rr("x.gkedoctor.internal.", "TXT", `"hi"`)}}),
			query: "x.gkedoctor.internal.", outcome: probe.OutcomeNoData, situation: SitNoRecord,
		},
		{
			name: "empty_non_terminal_is_nodata",
			m: newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL)},
				map[string][]*dns.ResourceRecordSet{"own": {a("development-agent.default.gkedoctor.internal.", "10.132.0.6")}}),
			query: "default.gkedoctor.internal.", outcome: probe.OutcomeNoData, situation: SitNoRecord,
		},
		{
			name: "wildcard_answers",
			m: newModel(nil, []*dns.ManagedZone{private("mesh", "mesh.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{"mesh": {a("*.mesh.example.", "10.132.0.9")}}),
			query: "api.mesh.example.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.9", reason: "wildcard",
		},
		{
			name: "wildcard_does_not_cover_existing_names",
			m: newModel(nil, []*dns.ManagedZone{private("mesh", "mesh.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{"mesh": {a("*.mesh.example.", "10.132.0.9"), rr("api.mesh.example.", "TXT", `"x"`)}}),
			query: "api.mesh.example.", outcome: probe.OutcomeNoData, situation: SitNoRecord,
		},
		{
			name: "cname_in_zone_followed",
			m: newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL)},
				map[string][]*dns.ResourceRecordSet{"own": {rr("api.gkedoctor.internal.", "CNAME", "ilb.gkedoctor.internal."), a("ilb.gkedoctor.internal.", "10.132.0.6")}}),
			query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
			check: func(t *testing.T, p Prediction) {
				if len(p.CNAMEs) != 1 || p.Owner != "ilb.gkedoctor.internal." {
					t.Errorf("cnames %v owner %s", p.CNAMEs, p.Owner)
				}
			},
		},
		{
			name: "cname_to_another_zone_followed",
			m: newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL), private("b", "b.example.", netURL)},
				map[string][]*dns.ResourceRecordSet{"own": {rr("api.gkedoctor.internal.", "CNAME", "ilb.b.example.")}, "b": {a("ilb.b.example.", "10.132.0.5")}}),
			query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.5",
		},
		{
			name: "peering_zone_resolves_in_the_target_network",
			m: func() *Model {
				pz := private("peer", "partner.example.", netURL)
				pz.PeeringConfig = &dns.ManagedZonePeeringConfig{TargetNetwork: &dns.ManagedZonePeeringConfigTargetNetwork{NetworkUrl: otherNW}}
				return newModel(nil, []*dns.ManagedZone{pz, private("partner", "partner.example.", otherNW)},
					map[string][]*dns.ResourceRecordSet{"partner": {a("db.partner.example.", "10.2.0.1")}})
			}(),
			query: "db.partner.example.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.2.0.1", reason: "peering zone peer",
		},
		{
			name:  "records_unreadable_is_unpredicted",
			m:     newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL)}, nil),
			query: "x.gkedoctor.internal.", outcome: 0, situation: SitUnpredicted, reason: "could not be read",
		},
		{
			name:  "public_name_is_not_predicted",
			m:     newModel(nil, nil, nil),
			query: "example.com.", outcome: 0, situation: SitUnpredicted,
		},
		{
			name:  "non_public_tld_is_nxdomain",
			m:     newModel(nil, nil, nil),
			query: "api.corp.", outcome: probe.OutcomeNXDomain, situation: SitNoZone,
		},
		{
			name:  "short_cluster_name_is_nxdomain",
			m:     newModel(seedCluster("", "", "", ""), nil, nil),
			query: "development-agent.default", outcome: probe.OutcomeNXDomain, situation: SitClusterOnly, reason: "search path",
		},
		{
			name:  "cluster_local_without_cluster_is_nxdomain",
			m:     newModel(nil, nil, nil),
			query: devName, outcome: probe.OutcomeNXDomain, situation: SitClusterOnly,
		},
		{
			name:  "gce_vm_name_is_not_predicted",
			m:     newModel(nil, nil, nil),
			query: "vm-1.europe-west1-b.c.dev-orchestra.internal.", outcome: 0, situation: SitUnpredicted, reason: "Compute Engine",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nw := tc.network
			if nw == "" {
				nw = "default"
			}
			p := tc.m.Predict(tc.query, nw)
			if p.Outcome != tc.outcome || p.Situation != tc.situation {
				t.Fatalf("got %v/%s, want %v/%s\nreason: %s\nvia: %s", p.Outcome, p.Situation, tc.outcome, tc.situation, p.Reason, p.Via)
			}
			var ips []string
			for _, ip := range p.IPs {
				ips = append(ips, ip.String())
			}
			if got := strings.Join(ips, ","); got != tc.ips {
				t.Errorf("IPs %q, want %q", got, tc.ips)
			}
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", p.Reason, tc.reason)
			}
			if p.Reason == "" {
				t.Error("empty reason")
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestGKEManaged(t *testing.T) {
	c := seedCluster(model.ProviderCloudDNS, model.ScopeCluster, "cluster.local", "orchestra.example")
	tests := []struct {
		name    string
		z       *dns.ManagedZone
		managed bool
	}{
		{"cluster_binding", clusterBound("whatever", "x.example.", "projects/p/locations/l/clusters/c"), true},
		{"gke_name", private("gke-dev-orchestra-cluster-f5e836d0-dns", "foo.example.", netURL), true},
		{"gke_description", func() *dns.ManagedZone {
			z := private("z", "foo.example.", netURL)
			z.Description = `Private zone for GKE cluster "dev-orchestra-cluster" with cluster suffix "cluster.local."`
			return z
		}(), true},
		{"goog_label", func() *dns.ManagedZone {
			z := private("z", "foo.example.", netURL)
			z.Labels = map[string]string{"goog-k8s-cluster-name": "dev-orchestra-cluster"}
			return z
		}(), true},
		{"cluster_domain", private("my-zone", "cluster.local.", netURL), true},
		{"under_cluster_domain", private("my-zone", "svc.cluster.local.", netURL), true},
		{"additive_domain", private("my-zone", "orchestra.example.", netURL), true},
		{"user_forwarding_zone_for_cluster_local", forwarding("gke-cluster-dns-forwarding", "cluster.local.", []string{"34.118.224.10"}, netURL), false},
		{"owned_zone", func() *dns.ManagedZone {
			z := private("gkedoctor-internal", "gkedoctor.internal.", netURL)
			z.Labels = map[string]string{"managed-by": "gkedoctor"}
			return z
		}(), false},
		{"forwarding_zone_with_gke_name", forwarding("gke-dev-orchestra-cluster-f5e836d0-dns", "cluster.local.", []string{"10.0.0.1"}, netURL), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := GKEManaged(tc.z, c)
			if got != tc.managed {
				t.Fatalf("GKEManaged = %v (%s), want %v", got, why, tc.managed)
			}
			if got && why == "" {
				t.Error("no reason given")
			}
		})
	}
	// Without any cluster known, cluster.local. is still GKE's domain.
	if got, _ := GKEManaged(private("z", "cluster.local.", netURL)); !got {
		t.Error("cluster.local. zone not recognised without a cluster")
	}
}

func TestForwarderAllowed(t *testing.T) {
	fw := func(name string, prio int64, deny bool, src []string, proto string, ports []string, tags ...string) *compute.Firewall {
		f := &compute.Firewall{Name: name, Network: netURL, Priority: prio, Direction: "INGRESS", SourceRanges: src, TargetTags: tags}
		if deny {
			f.Denied = []*compute.FirewallDenied{{IPProtocol: proto, Ports: ports}}
		} else {
			f.Allowed = []*compute.FirewallAllowed{{IPProtocol: proto, Ports: ports}}
		}
		return f
	}
	tests := []struct {
		name string
		fws  []*compute.Firewall
		want Reach
	}{
		{"none_is_implied_deny", nil, ReachNo},
		{"allow_all_sources_udp_53", []*compute.Firewall{fw("a", 1000, false, []string{"0.0.0.0/0"}, "udp", []string{"53"})}, ReachYes},
		{"allow_port_range", []*compute.Firewall{fw("a", 1000, false, []string{"35.199.192.0/19"}, "udp", []string{"1-1024"})}, ReachYes},
		{"allow_tcp_only_drops_udp_queries", []*compute.Firewall{fw("a", 1000, false, []string{"35.199.192.0/19"}, "tcp", []string{"53"})}, ReachNo},
		{"allow_other_port", []*compute.Firewall{fw("a", 1000, false, []string{"35.199.192.0/19"}, "tcp", []string{"80"})}, ReachNo},
		{"allow_other_source", []*compute.Firewall{fw("a", 1000, false, []string{"10.0.0.0/8"}, "all", nil)}, ReachNo},
		{"allow_part_of_range_drops_the_rest", []*compute.Firewall{fw("a", 1000, false, []string{"35.199.192.0/24"}, "all", nil)}, ReachNo},
		{"allow_tagged_targets", []*compute.Firewall{fw("a", 1000, false, []string{"35.199.192.0/19"}, "udp", nil, "dns")}, ReachUnknown},
		{"deny_before_allow", []*compute.Firewall{fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil), fw("d", 900, true, []string{"0.0.0.0/0"}, "all", nil)}, ReachNo},
		{"deny_wins_at_equal_priority", []*compute.Firewall{fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil), fw("d", 1000, true, []string{"0.0.0.0/0"}, "udp", []string{"53"})}, ReachNo},
		{"allow_before_deny", []*compute.Firewall{fw("a", 100, false, []string{"0.0.0.0/0"}, "all", nil), fw("d", 1000, true, []string{"0.0.0.0/0"}, "all", nil)}, ReachYes},
		{"other_network_ignored", func() []*compute.Firewall {
			f := fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil)
			f.Network = otherNW
			return []*compute.Firewall{f}
		}(), ReachNo},
		{"disabled_ignored", func() []*compute.Firewall {
			f := fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil)
			f.Disabled = true
			return []*compute.Firewall{f}
		}(), ReachNo},
		{"egress_ignored", func() []*compute.Firewall {
			f := fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil)
			f.Direction = "EGRESS"
			return []*compute.Firewall{f}
		}(), ReachNo},
		{"tagged_deny_then_allow_is_unknown", []*compute.Firewall{fw("d", 900, true, []string{"0.0.0.0/0"}, "all", nil, "x"), fw("a", 1000, false, []string{"0.0.0.0/0"}, "all", nil)}, ReachUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := ForwarderAllowed(firewall.Set{Rules: firewall.FromComputeList(tc.fws)}, gref.Network("default", proj), netip.MustParseAddr("10.132.0.9"))
			if got != tc.want || why == "" {
				t.Fatalf("got %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

func TestNormalizeNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"default":                              "projects/dev-orchestra/global/networks/default",
		netURL:                                 "projects/dev-orchestra/global/networks/default",
		"projects/host/global/networks/shared": "projects/host/global/networks/shared",
		"https://compute.googleapis.com/compute/v1/projects/host/global/networks/shared/": "projects/host/global/networks/shared",
		"": "",
	} {
		if got := gref.Network(in, proj); got != want {
			t.Errorf("gref.Network(%q) = %q, want %q", in, got, want)
		}
	}
	if got := gref.NetworkURL("default", proj); got != netURL {
		t.Errorf("NetworkURL = %q", got)
	}
}

func TestFromCluster(t *testing.T) {
	c := model.ClusterFrom(&container.Cluster{Name: "c", Location: "europe-west1", Network: "default",
		IpAllocationPolicy: &container.IPAllocationPolicy{UseIpAliases: true, ServicesIpv4CidrBlock: "34.118.224.0/20", ClusterIpv4CidrBlock: "10.4.0.0/14"},
		NetworkConfig:      &container.NetworkConfig{DnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE", ClusterDnsDomain: "dev.example"}}}, "p")
	if c.Name != "projects/p/locations/europe-west1/clusters/c" || c.Network != "projects/p/global/networks/default" ||
		c.Domain != "dev.example." || !c.VPCNative || c.ServicesCIDR.String() != "34.118.224.0/20" || c.VPCDomain() != "dev.example." {
		t.Fatalf("%+v", c)
	}
	if !c.IsClusterIP(netip.MustParseAddr("34.118.231.33")) || c.IsClusterIP(netip.MustParseAddr("10.132.0.6")) || !c.IsPodIP(netip.MustParseAddr("10.4.1.1")) {
		t.Error("range classification")
	}
	var nilc *model.Cluster
	if nilc.IsClusterIP(netip.MustParseAddr("34.118.231.33")) || nilc.Domains() != nil || nilc.VPCDomain() != "" {
		t.Error("nil cluster")
	}
}

func TestRecordIn(t *testing.T) {
	z := clusterBound("gke", "cluster.local.", "projects/p/locations/l/clusters/c")
	m := newModel(nil, []*dns.ManagedZone{z}, map[string][]*dns.ResourceRecordSet{"gke": {a(devName, "34.118.231.33"), rr("alias.default.svc.cluster.local.", "CNAME", devName)}})
	for _, n := range []string{devName, "alias.default.svc.cluster.local"} {
		got, err := m.RecordIn(z, n)
		if err != nil || got == nil || got.Rrdatas[0] != "34.118.231.33" {
			t.Fatalf("%s: %v %v", n, got, err)
		}
	}
	if got, _ := m.RecordIn(z, "ghost.default.svc.cluster.local."); got != nil {
		t.Errorf("ghost: %v", got)
	}
	p := m.Predict(devName, "default")
	if p.RRSet != nil || len(p.Unseen) != 1 {
		t.Errorf("an unseen zone answered: %+v", p)
	}
	own := private("own", "gkedoctor.internal.", netURL)
	m = newModel(nil, []*dns.ManagedZone{own}, map[string][]*dns.ResourceRecordSet{"own": {a("x.gkedoctor.internal.", "10.132.0.6")}})
	if p := m.Predict("x.gkedoctor.internal", "default"); p.RRSetZone != own || p.Owner != "x.gkedoctor.internal." {
		t.Errorf("RRSetZone %v owner %s", p.RRSetZone, p.Owner)
	}
}

// TestRecordIndexFollowsTheRecords: a zone's record index is built once per record list and built
// again when the list is another one (the records were read again after a fix).
func TestRecordIndexFollowsTheRecords(t *testing.T) {
	z := clusterBound("gke", "cluster.local.", "projects/p/locations/l/clusters/c")
	recs := []*dns.ResourceRecordSet{a(devName, "34.118.231.33"), a("x.deep.default.svc.cluster.local.", "34.118.231.40")}
	m := &Model{Project: "p", Zones: []*dns.ManagedZone{z}}
	m.Records = func(*dns.ManagedZone) ([]*dns.ResourceRecordSet, error) { return recs, nil }
	if got, _ := m.RecordIn(z, devName); got == nil || got.Rrdatas[0] != "34.118.231.33" {
		t.Fatalf("first read: %v", got)
	}
	first := m.index(z, recs)
	if again := m.index(z, recs); again != first {
		t.Fatal("the index of the same record list was built again")
	}
	if !first.names["deep.default.svc.cluster.local."] || first.names["."] {
		t.Fatalf("empty non-terminals: %v", first.names)
	}
	recs = []*dns.ResourceRecordSet{a(devName, "10.132.0.6")}
	if got, _ := m.RecordIn(z, devName); got == nil || got.Rrdatas[0] != "10.132.0.6" {
		t.Fatalf("after the records changed: %v", got)
	}
}
