package dnsmodel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

const (
	hub     = "acme-dns-hub"
	hostNet = "https://www.googleapis.com/compute/v1/projects/acme-host/global/networks/shared"
	prodNet = "https://www.googleapis.com/compute/v1/projects/acme-producer/global/networks/services"
)

func rpolicy(project, name string, networks []string, rules ...*dns.ResponsePolicyRule) ResponsePolicy {
	p := &dns.ResponsePolicy{ResponsePolicyName: name}
	for _, n := range networks {
		p.Networks = append(p.Networks, &dns.ResponsePolicyNetwork{NetworkUrl: n})
	}
	return ResponsePolicy{Project: project, Policy: p, Rules: rules}
}

func localA(rule, name string, ips ...string) *dns.ResponsePolicyRule {
	return &dns.ResponsePolicyRule{RuleName: rule, DnsName: name, LocalData: &dns.ResponsePolicyRuleLocalData{LocalDatas: []*dns.ResourceRecordSet{a(name, ips...)}}}
}

func bypass(rule, name string) *dns.ResponsePolicyRule {
	return &dns.ResponsePolicyRule{RuleName: rule, DnsName: name, Behavior: "bypassResponsePolicy"}
}

func altPolicy(project, name, network string, targets ...string) ServerPolicy {
	p := &dns.Policy{Name: name, Networks: []*dns.PolicyNetwork{{NetworkUrl: network}}, AlternativeNameServerConfig: &dns.PolicyAlternativeNameServerConfig{}}
	for _, t := range targets {
		p.AlternativeNameServerConfig.TargetNameServers = append(p.AlternativeNameServerConfig.TargetNameServers, &dns.PolicyAlternativeNameServerConfigTargetNameServer{Ipv4Address: t})
	}
	return ServerPolicy{Project: project, Policy: p}
}

// The view across projects and policies, in Cloud DNS's order.
func TestPredictOverTheMultiProjectView(t *testing.T) {
	own := private("own", "gkedoctor.internal.", netURL)
	ownRecords := map[string][]*dns.ResourceRecordSet{"own": {a("api.gkedoctor.internal.", "10.132.0.6")}, "corp": {a("db.corp.example.", "10.8.0.3")},
		"services": {a("db.services.example.", "10.9.0.4")}}
	cases := []struct {
		name      string
		m         func() *Model
		network   string
		query     string
		outcome   probe.Outcome
		situation Situation
		ips       string
		reason    string
		check     func(t *testing.T, p Prediction)
	}{
		{
			// A hub project's zone bound to the host project's network (Shared VPC) answers for it.
			name: "hub_zone_bound_to_the_host_network",
			m: func() *Model {
				corp := private("corp", "corp.example.", hostNet)
				m := newModel(nil, []*dns.ManagedZone{own, corp}, ownRecords)
				m.ZoneProjects = map[*dns.ManagedZone]string{corp: hub}
				return m
			},
			network: hostNet, query: "db.corp.example.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.8.0.3",
			check: func(t *testing.T, p Prediction) {
				if p.Zone == nil || p.Zone.Name != "corp" {
					t.Errorf("zone %v", p.Zone)
				}
			},
		},
		{
			// A peering zone continues in the producer network's view, whose zone lives in its own project.
			name: "peering_into_another_projects_network",
			m: func() *Model {
				pz := private("to-services", "services.example.", hostNet)
				pz.PeeringConfig = &dns.ManagedZonePeeringConfig{TargetNetwork: &dns.ManagedZonePeeringConfigTargetNetwork{NetworkUrl: prodNet}}
				svc := private("services", "services.example.", prodNet)
				m := newModel(nil, []*dns.ManagedZone{pz, svc}, ownRecords)
				m.ZoneProjects = map[*dns.ManagedZone]string{pz: hub, svc: "acme-producer"}
				return m
			},
			network: hostNet, query: "db.services.example.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.9.0.4", reason: "peering zone to-services",
		},
		{
			name: "peering_zone_to_its_own_network_is_guarded",
			m: func() *Model {
				pz := private("loop", "loop.example.", netURL)
				pz.PeeringConfig = &dns.ManagedZonePeeringConfig{TargetNetwork: &dns.ManagedZonePeeringConfigTargetNetwork{NetworkUrl: netURL}}
				return newModel(nil, []*dns.ManagedZone{pz}, nil)
			},
			network: netURL, query: "x.loop.example.", outcome: 0, situation: SitUnpredicted, reason: "targets network default itself",
		},
		{
			// A local-data rule answers before the zone that holds the name.
			name: "response_policy_local_data_answers_before_zones",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(hub, "overrides", []string{netURL}, localA("api", "api.gkedoctor.internal.", "10.132.0.9"))}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitResponsePolicy, ips: "10.132.0.9", reason: "before any zone",
			check: func(t *testing.T, p Prediction) {
				if p.Rule == nil || p.RulePolicy == nil || p.RulePolicy.Project != hub || p.RRSetZone != nil {
					t.Errorf("rule %v policy %v zone %v", p.Rule, p.RulePolicy, p.RRSetZone)
				}
			},
		},
		{
			name: "response_policy_for_another_network_does_not_apply",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(hub, "overrides", []string{otherNW}, localA("api", "api.gkedoctor.internal.", "10.132.0.9"))}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
		},
		{
			// A wildcard rule with an exact bypass for the name: the zone answers.
			name: "bypass_rule_lets_the_zone_answer",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(proj, "block", []string{netURL},
					localA("all", "*.gkedoctor.internal.", "10.0.0.1"), bypass("api", "api.gkedoctor.internal."))}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
			check: func(t *testing.T, p Prediction) {
				if len(p.Bypassed) != 1 || !strings.Contains(p.Bypassed[0], "bypasses") {
					t.Errorf("bypassed %v", p.Bypassed)
				}
			},
		},
		{
			name: "wildcard_rule_covers_names_below_it",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(proj, "block", []string{netURL}, localA("all", "*.gkedoctor.internal.", "10.0.0.1"))}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitResponsePolicy, ips: "10.0.0.1",
		},
		{
			// A rule whose local data holds no A record answers NODATA for the name.
			name: "rule_without_an_a_record_is_nodata",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(proj, "block", []string{netURL}, &dns.ResponsePolicyRule{RuleName: "txt", DnsName: "api.gkedoctor.internal.",
					LocalData: &dns.ResponsePolicyRuleLocalData{LocalDatas: []*dns.ResourceRecordSet{rr("api.gkedoctor.internal.", "TXT", `"blocked"`)}}})}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeNoData, situation: SitResponsePolicy, reason: "NODATA",
		},
		{
			name: "unreadable_rules_are_not_predicted",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				rp := rpolicy(hub, "overrides", []string{netURL})
				rp.RulesErr = errors.New("permission dns.responsePolicyRules.list denied")
				m.ResponsePolicies = []ResponsePolicy{rp}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: 0, situation: SitUnpredicted, reason: "could not be read",
			check: func(t *testing.T, p Prediction) {
				if !strings.Contains(p.IncompleteNote(), "dns.responsePolicyRules.list") {
					t.Errorf("incomplete %q", p.IncompleteNote())
				}
			},
		},
		{
			// An outbound server policy answers instead of every zone and rule.
			name: "server_policy_overrides_the_zones",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ResponsePolicies = []ResponsePolicy{rpolicy(proj, "block", []string{netURL}, localA("api", "api.gkedoctor.internal.", "10.0.0.1"))}
				m.ServerPolicies = []ServerPolicy{altPolicy(hub, "onprem", netURL, "192.168.50.10")}
				m.Subnets, m.SubnetsRead = []netip.Prefix{netip.MustParsePrefix("10.132.0.0/20")}, true
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: 0, situation: SitServerPolicy, reason: "private zones and response policies are not consulted",
			check: func(t *testing.T, p Prediction) {
				if !p.Unjudged() || len(p.Targets) != 1 || p.Targets[0].Class != ClassOutside {
					t.Errorf("targets %+v unjudged %v", p.Targets, p.Unjudged())
				}
			},
		},
		{
			name: "server_policy_to_a_clusterip_is_servfail_for_everything",
			m: func() *Model {
				m := newModel(seedCluster("", "", "", ""), []*dns.ManagedZone{own}, ownRecords)
				m.ServerPolicies = []ServerPolicy{altPolicy(proj, "kube-dns", netURL, "34.118.224.10")}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeServFail, situation: SitServerPolicy, reason: "cannot reach",
		},
		{
			name: "server_policy_on_another_network_does_not_apply",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.ServerPolicies = []ServerPolicy{altPolicy(proj, "onprem", otherNW, "192.168.50.10")}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
		},
		{
			// What could not be read travels with every prediction, even a good answer.
			name: "unread_projects_are_carried",
			m: func() *Model {
				m := newModel(nil, []*dns.ManagedZone{own}, ownRecords)
				m.Unread = []Unread{{Project: hub, What: "managed zones", Permission: "dns.managedZones.list"}}
				return m
			},
			network: netURL, query: "api.gkedoctor.internal.", outcome: probe.OutcomeAnswer, situation: SitAnswer, ips: "10.132.0.6",
			check: func(t *testing.T, p Prediction) {
				if !strings.Contains(p.IncompleteNote(), "the managed zones of project acme-dns-hub (needs dns.managedZones.list)") {
					t.Errorf("incomplete %q", p.IncompleteNote())
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.m().Predict(tc.query, tc.network)
			var ips []string
			for _, ip := range p.IPs {
				ips = append(ips, ip.String())
			}
			if p.Outcome != tc.outcome || p.Situation != tc.situation || strings.Join(ips, ",") != tc.ips || !strings.Contains(p.Reason, tc.reason) {
				t.Fatalf("got %v/%s ips %v reason %q; want %v/%s ips %s reason ~%q", p.Outcome, p.Situation, ips, p.Reason, tc.outcome, tc.situation, tc.ips, tc.reason)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// Forwarding targets are classed; only ClusterIP and routes-based pod targets are "wrong in
// themselves", and only the in-VPC ones are judged by the firewall.
func TestForwardingTargetClasses(t *testing.T) {
	m := newModel(seedCluster("", "", "", ""), nil, nil)
	m.Subnets, m.SubnetsRead = []netip.Prefix{netip.MustParsePrefix("10.132.0.0/20")}, true
	cases := []struct {
		target, path string
		class        TargetClass
		reach        Reach
	}{
		{"34.118.224.10", "", ClassClusterIP, ReachNo},
		{"172.16.3.4", "", ClassPodRoutes, ReachNo},
		{"10.132.0.40", "", ClassInVPC, ReachUnknown}, // the firewall was not read
		{"192.168.50.10", "", ClassOutside, ReachUnknown},
		{"8.8.8.8", "", ClassPublic, ReachUnknown},
		{"8.8.8.8", "PRIVATE", ClassOutside, ReachUnknown},
	}
	for _, tc := range cases {
		v := m.judgeTarget(&dns.ManagedZoneForwardingConfigNameServerTarget{Ipv4Address: tc.target, ForwardingPath: tc.path}, gnet(netURL))
		if v.Class != tc.class || v.Reach != tc.reach {
			t.Errorf("%s (%s): class %s reach %s (%s); want %s %s", tc.target, tc.path, v.Class, v.Reach, v.Why, tc.class, tc.reach)
		}
	}
	m.SubnetsRead = false
	if v := m.judgeTarget(&dns.ManagedZoneForwardingConfigNameServerTarget{Ipv4Address: "192.168.50.10"}, gnet(netURL)); v.Class != ClassUnknown {
		t.Errorf("subnets unread: class %s", v.Class)
	}
}

// The view lists, in order, what a network sees.
func TestViewLines(t *testing.T) {
	corp := private("corp", "corp.example.", hostNet)
	m := newModel(nil, []*dns.ManagedZone{private("own", "gkedoctor.internal.", netURL), corp}, nil)
	m.ZoneProjects = map[*dns.ManagedZone]string{corp: hub}
	m.ResponsePolicies = []ResponsePolicy{rpolicy(hub, "overrides", []string{hostNet}, localA("db", "db.corp.example.", "10.8.0.9"), bypass("www", "www.corp.example."))}
	sp := altPolicy(hub, "inbound", hostNet)
	sp.Policy.AlternativeNameServerConfig, sp.Policy.EnableInboundForwarding = nil, true
	m.ServerPolicies = []ServerPolicy{sp}
	m.Unread = []Unread{{Project: "acme-app", What: "managed zones", Permission: "dns.managedZones.list"}}
	got := strings.Join(m.View(hostNet).Lines(), "\n")
	for _, want := range []string{
		"1. server policy inbound (project acme-dns-hub): no alternative name servers", "inbound forwarding on",
		"2. response policy overrides (project acme-dns-hub): 2 rule(s): db db.corp.example. → local data A 10.8.0.9; www www.corp.example. → bypass",
		"3. private zone corp (corp.example., project acme-dns-hub)",
		"not read: the managed zones of project acme-app (needs dns.managedZones.list)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("view lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "zone own") {
		t.Errorf("a zone of another network is in the view:\n%s", got)
	}
	if m.OverriddenBy(hostNet) != "" {
		t.Error("a server policy without alternative name servers overrides the zones")
	}
}

func gnet(u string) string { return gref.Network(u, proj) }
