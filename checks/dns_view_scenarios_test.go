package checks

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	clouddns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakedns"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// DNS beyond one project (issue 12): zones of a hub DNS project, of a Shared VPC host project and of
// a peering target's project; response policies and server policies bound to the client's network;
// every forwarding target class. Each scenario runs through the real dns/v1 client against the fake
// Google API server and client-go against the real kube-apiserver.

const (
	dwHub       = "acme-dns-hub"
	dwHost      = "acme-host"
	dwHostNet   = "https://www.googleapis.com/compute/v1/projects/acme-host/global/networks/shared"
	dwProducer  = "acme-producer"
	dwProdNet   = "https://www.googleapis.com/compute/v1/projects/acme-producer/global/networks/services"
	dwHubZone   = "corp-internal"
	dwPolicy    = "overrides"
	dwSrvPolicy = "onprem-resolvers"
)

func (w *dnsWorld) addResponsePolicy(project string, rules ...*clouddns.ResponsePolicyRule) {
	w.t.Helper()
	w.fake.AddResponsePolicy(project, &clouddns.ResponsePolicy{ResponsePolicyName: dwPolicy, Networks: []*clouddns.ResponsePolicyNetwork{{NetworkUrl: dwNetURL}}})
	for _, r := range rules {
		if !w.fake.AddResponsePolicyRule(project, dwPolicy, r) {
			w.t.Fatal("rule not seeded")
		}
	}
}

func dwLocalData(rule, name, typ string, data ...string) *clouddns.ResponsePolicyRule {
	return &clouddns.ResponsePolicyRule{RuleName: rule, DnsName: name, LocalData: &clouddns.ResponsePolicyRuleLocalData{
		LocalDatas: []*clouddns.ResourceRecordSet{{Name: name, Type: typ, Ttl: 60, Rrdatas: data}}}}
}

func (w *dnsWorld) addServerPolicy(project string, targets ...string) {
	p := &clouddns.Policy{Name: dwSrvPolicy, Networks: []*clouddns.PolicyNetwork{{NetworkUrl: dwNetURL}},
		AlternativeNameServerConfig: &clouddns.PolicyAlternativeNameServerConfig{}}
	for _, t := range targets {
		p.AlternativeNameServerConfig.TargetNameServers = append(p.AlternativeNameServerConfig.TargetNameServers,
			&clouddns.PolicyAlternativeNameServerConfigTargetNameServer{Ipv4Address: t})
	}
	w.fake.AddDNSPolicy(project, p)
}

func (w *dnsWorld) addHubZone(domain string, records map[string]string) {
	w.t.Helper()
	w.fake.AddManagedZone(dwHub, dwZone(dwHubZone, domain, dwNetURL))
	for name, ip := range records {
		if err := w.fake.AddRRSet(dwHub, dwHubZone, &clouddns.ResourceRecordSet{Name: name, Type: "A", Ttl: 30, Rrdatas: []string{ip}}); err != nil {
			w.t.Fatal(err)
		}
	}
}

func TestDNSMultiProjectView(t *testing.T) {
	hubFlag := func(_ *dnsWorld, e *Env) { e.Targets.DNSProjects = []string{dwHub} }
	noClient := func(w *dnsWorld) {
		w.fake.AddCluster(dwProject, dwRegion, &container.Cluster{Name: dwCluster, Network: "default",
			NetworkConfig: &container.NetworkConfig{Network: "projects/dev-orchestra/global/networks/default"}, ServicesIpv4Cidr: "34.118.224.0/20"})
	}
	cases := []struct {
		name    string
		setup   func(w *dnsWorld)
		env     func(w *dnsWorld, e *Env)
		noSeed  bool // the scenario has no Cloud Run client
		check   string
		status  Status
		cause   string
		summary string // substring; {ns} is the test's namespace
		step    string // an evidence detail substring
		fix     string // a fix id that must be offered...
		advice  bool   // ...as advice (refused as a plan), or as an applicable plan
		noFix   string // a fix id that must not be offered
		noApply bool   // no applicable (non-advice) fix at all
		fixSays string // in the fix's description
	}{
		{
			// A hub DNS project's zone, bound to the client's network, answers: found with --dns-project.
			name: "hub_zone_answers_with_dns_project", check: "dns-servfail", status: Pass, env: hubFlag,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addHubZone(fixes.DefaultOwnedDomain, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "resolves to 10.132.0.6 from the VPC", step: "1 zone(s) in project acme-dns-hub (--dns-project)",
		},
		{
			// The same world without the flag: the hub is not read, and the name under .internal is NXDOMAIN.
			name: "hub_zone_unseen_without_dns_project", check: "dns-servfail", status: Fail, cause: "no-record",
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addHubZone(fixes.DefaultOwnedDomain, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "NXDOMAIN",
		},
		{
			// The hub's zones cannot be listed: a name the cluster project's zone answers well is not a
			// pass; the skip names the project and the permission.
			name: "unreadable_hub_is_skip_never_pass", check: "dns-servfail", status: Skip, cause: "unverifiable", env: hubFlag,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
				w.fake.InjectFault(fakegcp.Fault{Method: "GET", PathRegexp: regexp.MustCompile(`/projects/acme-dns-hub/managedZones$`), Permission: "dns.managedZones.list"})
			},
			summary: "the managed zones of project acme-dns-hub (needs dns.managedZones.list)", step: "what it holds may answer the client instead",
		},
		{
			// The stale-record check on the same unread view: its record passes no more than dns-servfail.
			name: "unreadable_response_policies_name_the_permission", check: "dns-servfail", status: Skip, cause: "unverifiable", env: hubFlag,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): dwILBIP})
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
				w.fake.InjectFault(fakegcp.Fault{Method: "GET", PathRegexp: regexp.MustCompile(`/projects/acme-dns-hub/responsePolicies$`), Status: 403})
			},
			summary: "the response policies of project acme-dns-hub (needs dns.responsePolicies.list)",
		},
		{
			// Shared VPC: the client is on the host project's network; the host project's zones are read
			// without any flag, and the delete plan targets the zone's own project.
			name: "shared_vpc_host_zone_is_read", check: "dns-servfail", status: Fail, cause: "forwarding-to-clusterip",
			setup: func(w *dnsWorld) {
				w.fake.AddNetwork(dwHost, &compute.Network{Name: "shared"})
				w.fake.AddCluster(dwProject, dwRegion, &container.Cluster{Name: dwCluster, Network: "shared",
					NetworkConfig: &container.NetworkConfig{Network: "projects/acme-host/global/networks/shared"}, ServicesIpv4Cidr: "34.118.224.0/20"})
				z := dwZone(dwFwdZone, "cluster.local.", dwHostNet)
				z.ForwardingConfig = &clouddns.ManagedZoneForwardingConfig{TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: dwKubeDNSIP}}}
				w.fake.AddManagedZone(dwHost, z)
			},
			noSeed: true,
			env: func(w *dnsWorld, e *Env) {
				e.Targets = Targets{Services: []NamespacedName{{Namespace: w.ns, Name: "development-agent"}}}
			},
			summary: "the ClusterIP of Service kube-system/kube-dns", step: "project acme-host (the host project of network shared)",
			fix: "delete-forwarding-zone/" + dwFwdZone,
		},
		{
			// A peering zone continues in the producer network's view; its project is read because the
			// zone targets it.
			name: "peering_into_a_producer_project", check: "dns-servfail", status: Pass,
			setup: func(w *dnsWorld) {
				pz := dwZone("to-services", "services.example.", dwNetURL)
				pz.PeeringConfig = &clouddns.ManagedZonePeeringConfig{TargetNetwork: &clouddns.ManagedZonePeeringConfigTargetNetwork{NetworkUrl: dwProdNet}}
				w.fake.AddManagedZone(dwProject, pz)
				w.fake.AddManagedZone(dwProducer, dwZone("services", "services.example.", dwProdNet))
				if err := w.fake.AddRRSet(dwProducer, "services", &clouddns.ResourceRecordSet{Name: "db.services.example.", Type: "A", Ttl: 30, Rrdatas: []string{"10.9.0.4"}}); err != nil {
					w.t.Fatal(err)
				}
				noClient(w)
			},
			noSeed:  true,
			env:     func(_ *dnsWorld, e *Env) { e.Targets = Targets{DNSNames: []string{"db.services.example"}} },
			summary: "db.services.example resolves to 10.9.0.4", step: "which peering zone to-services targets",
		},
		{
			// The incident's own workaround: a response policy rule with local data answers the cluster
			// name with the internal load balancer's IP, before the broken forwarding zone.
			name: "response_policy_local_data_is_a_workaround", check: "dns-servfail", status: Pass,
			setup: func(w *dnsWorld) {
				w.addForwardingZone(dwKubeDNSIP)
				w.addILB(dwILBIP)
				w.addResponsePolicy(dwProject, dwLocalData("dev-agent", w.devName(), "A", dwILBIP))
			},
			summary: "resolves to 10.132.0.6", step: "2. response policy overrides (project dev-orchestra): 1 rule(s)",
		},
		{
			name: "response_policy_rule_holding_a_clusterip", check: "dns-servfail", status: Fail, cause: "answer-is-clusterip",
			setup: func(w *dnsWorld) {
				w.addResponsePolicy(dwHub, dwLocalData("dev-agent", w.devName(), "A", w.clusterIP()))
				w.fake.AddManagedZone(dwHub, dwZone("unused", "unused.example.")) // the hub exists
			},
			env:     hubFlag,
			summary: "response policy overrides rule dev-agent",
		},
		{
			name: "response_policy_rule_without_an_address", check: "dns-servfail", status: Fail, cause: "response-policy-nodata",
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addResponsePolicy(dwProject, dwLocalData("dev-agent", w.devName(), "TXT", `"blocked"`))
			},
			summary: "NODATA",
		},
		{
			// A bypass rule exempts the name from a wildcard: resolution continues to the zones.
			name: "bypass_rule_lets_the_forwarding_zone_answer", check: "dns-servfail", status: Fail, cause: "forwarding-to-clusterip",
			setup: func(w *dnsWorld) {
				w.addForwardingZone(dwKubeDNSIP)
				w.addResponsePolicy(dwProject, dwLocalData("all", "*.svc.cluster.local.", "A", "10.0.0.1"),
					&clouddns.ResponsePolicyRule{RuleName: "dev-agent", DnsName: w.devName(), Behavior: "bypassResponsePolicy"})
			},
			summary: "the ClusterIP of Service kube-system/kube-dns", step: "bypasses the policy for this name",
			fix: "delete-forwarding-zone/" + dwFwdZone,
		},
		{
			// Alternative name servers on premises answer everything: not judged from configuration,
			// and no zone fix is offered.
			name: "server_policy_to_on_prem_is_warn", check: "dns-servfail", status: Warn, cause: "server-policy",
			setup: func(w *dnsWorld) {
				w.addForwardingZone(dwKubeDNSIP)
				w.addServerPolicy(dwProject, "192.168.50.10")
			},
			summary: "private zones and response policies are not consulted", fix: "server-policy/" + dwSrvPolicy, advice: true,
			noFix: "delete-forwarding-zone/" + dwFwdZone, noApply: true,
		},
		{
			// Alternative name servers at the kube-dns ClusterIP: every name is SERVFAIL, and the owned
			// zone the other failures would get is refused (advice): no zone answers while the policy is
			// in place.
			name: "server_policy_to_a_clusterip_refuses_zone_fixes", check: "dns-servfail", status: Fail, cause: "server-policy",
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addServerPolicy(dwProject, dwKubeDNSIP)
			},
			summary: "SERVFAIL", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName), advice: true, noApply: true,
			fixSays: "outbound server policy onprem-resolvers (project dev-orchestra) sends every query",
		},
		{
			// A hub zone of the owned zone's name already answers for the network: no second zone in the
			// cluster project; the plan is refused as advice that adds the records to the hub's zone.
			name: "cluster_scope_fix_judged_against_the_hub_zone", check: "dns-servfail", status: Fail, cause: "cluster-scope", env: hubFlag,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addHubZone(fixes.DefaultOwnedDomain, nil)
			},
			summary: "runs kube-dns", fix: fixes.OwnedZonePlanID(fixes.DefaultOwnedZoneName), advice: true,
			fixSays: "zone corp-internal in project acme-dns-hub already answers gkedoctor.internal.",
		},
		{
			// A stale record in the hub's zone: the update plan writes in the hub project.
			name: "stale_record_in_a_hub_zone", check: "dns-stale-record", status: Fail, cause: "record-old-lb-ip", env: hubFlag,
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				z := dwZone(dwHubZone, fixes.DefaultOwnedDomain, dwNetURL)
				z.Labels = map[string]string{fixes.OwnedLabelKey: fixes.OwnedLabelValue}
				w.fake.AddManagedZone(dwHub, z)
				if err := w.fake.AddRRSet(dwHub, dwHubZone, &clouddns.ResourceRecordSet{Name: w.ownedName(), Type: "A", Ttl: 60, Rrdatas: []string{"10.132.0.7"}}); err != nil {
					w.t.Fatal(err)
				}
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "which no forwarding rule holds any more", step: "(project acme-dns-hub)",
			fix: "update-record/" + dwHubZone + "/development-agent.{ns}.gkedoctor.internal",
		},
		{
			// A stale record behind a response policy rule that answers first: changing it changes
			// nothing for the client, so the update is advice.
			name: "stale_record_behind_a_rule_is_advice", check: "dns-stale-record", status: Fail, cause: "record-old-lb-ip",
			setup: func(w *dnsWorld) {
				w.addILB(dwILBIP)
				w.addOwnedZone(dwNetURL, map[string]string{w.ownedName(): "10.132.0.7"})
				w.addResponsePolicy(dwProject, dwLocalData("own", w.ownedName(), "A", dwILBIP))
				w.seedGCP("http://" + strings.TrimSuffix(w.ownedName(), ".") + ":80")
			},
			summary: "overridden by response policy overrides", fix: "update-record/gkedoctor-internal/development-agent.{ns}.gkedoctor.internal", advice: true,
			fixSays: "answers the client before the zone",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newDNSWorld(t)
			tc.setup(w)
			if !w.seeded() && !tc.noSeed {
				w.seedGCP("")
			}
			env := w.env()
			if tc.env != nil {
				tc.env(w, env)
			}
			before := w.dnsMutations()
			res := dnsRun(t, env, tc.check)
			sub := strings.ReplaceAll(tc.summary, "{ns}", w.ns)
			if res.Status != tc.status || res.Cause != tc.cause || !strings.Contains(res.Summary, sub) {
				t.Fatalf("want %s/%s with %q%s", tc.status, tc.cause, sub, dnsDump(res))
			}
			if tc.step != "" && !dnsHasDetail(res, tc.step) {
				t.Errorf("no evidence step says %q%s", tc.step, dnsDump(res))
			}
			if tc.fix != "" {
				p := fixByID(res, strings.ReplaceAll(tc.fix, "{ns}", w.ns))
				switch {
				case p == nil:
					t.Errorf("fix %s not offered: %v", tc.fix, dnsFixIDs(res))
				case p.Advice != tc.advice:
					t.Errorf("fix %s: advice %v, want %v (%s)", tc.fix, p.Advice, tc.advice, p.Description)
				case tc.advice && p.Apply != nil:
					t.Errorf("advice %s can be applied", tc.fix)
				case !strings.Contains(p.Description, tc.fixSays):
					t.Errorf("fix %s does not say %q: %s", tc.fix, tc.fixSays, p.Description)
				}
			}
			if tc.noFix != "" && fixByID(res, strings.ReplaceAll(tc.noFix, "{ns}", w.ns)) != nil {
				t.Errorf("fix %s offered", tc.noFix)
			}
			if tc.noApply {
				for _, p := range res.Fixes {
					if !p.Advice {
						t.Errorf("an applicable fix is offered: %s (%s)", p.ID, p.Title)
					}
				}
			}
			if tc.status == Pass && len(res.Fixes) != 0 {
				t.Errorf("a passing check offers fixes: %v", dnsFixIDs(res))
			}
			if got := w.dnsMutations(); len(got) != len(before) {
				t.Errorf("a check wrote to Cloud DNS: %v", got)
			}
		})
	}
}

// Forwarding target classes (issue 12): only a zone whose every target exists only inside the
// cluster is offered for deletion; an on-premises forwarder with no matching ingress rule, a public
// resolver, or a mix with a ClusterIP is warn ("a live query decides") and is never deleted or
// changed.
func TestDNSForwardingTargetClasses(t *testing.T) {
	allowSSH := &compute.Firewall{Name: "allow-ssh", Network: dwNetURL, Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"22"}}}}
	cases := []struct {
		name    string
		targets []string
		status  Status
		cause   string
		summary string
		deleted bool // the delete plan is offered
	}{
		{name: "clusterip", targets: []string{dwKubeDNSIP}, status: Fail, cause: "forwarding-to-clusterip", summary: "cannot reach", deleted: true},
		{name: "in_vpc_closed", targets: []string{"10.132.0.40"}, status: Fail, cause: "forwarding-target-closed", summary: "implied deny-ingress"},
		{name: "on_prem_no_ingress_rule", targets: []string{"192.168.50.10"}, status: Warn, cause: "forwarding-unverified", summary: "reached over Cloud VPN or Interconnect"},
		{name: "public_resolver", targets: []string{"8.8.8.8"}, status: Warn, cause: "forwarding-unverified", summary: "over the internet"},
		{name: "clusterip_and_on_prem", targets: []string{dwKubeDNSIP, "192.168.50.10"}, status: Warn, cause: "forwarding-unverified", summary: "a live query decides"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newDNSWorld(t)
			z := dwZone(dwFwdZone, "cluster.local.", dwNetURL)
			z.ForwardingConfig = &clouddns.ManagedZoneForwardingConfig{}
			for _, ip := range tc.targets {
				z.ForwardingConfig.TargetNameServers = append(z.ForwardingConfig.TargetNameServers, &clouddns.ManagedZoneForwardingConfigNameServerTarget{Ipv4Address: ip})
			}
			w.fake.AddManagedZone(dwProject, z)
			w.fake.AddFirewall(dwProject, allowSSH)
			w.seedGCP("")
			res := w.run("dns-servfail")
			if res.Status != tc.status || res.Cause != tc.cause || !strings.Contains(res.Summary, tc.summary) {
				t.Fatalf("want %s/%s with %q%s", tc.status, tc.cause, tc.summary, dnsDump(res))
			}
			if got := fixByID(res, "delete-forwarding-zone/"+dwFwdZone) != nil; got != tc.deleted {
				t.Errorf("delete plan offered: %v, want %v (%v)", got, tc.deleted, dnsFixIDs(res))
			}
			if tc.status == Warn && len(res.Fixes) != 0 {
				t.Errorf("a verdict a live query must decide offers fixes: %v", dnsFixIDs(res))
			}
		})
	}
}

func dnsHasDetail(r Result, sub string) bool {
	for _, e := range r.Evidence {
		if strings.Contains(e.Detail, sub) || strings.Contains(e.Step, sub) {
			return true
		}
	}
	return false
}

// What configuration cannot judge, a live query decides: behind an outbound server policy to an
// on-premises resolver (warn from configuration), real DNS on the wire from a loopback resolver
// settles the verdict either way, and the evidence still shows the policy.
func TestDNSServerPolicyLiveQueryDecides(t *testing.T) {
	t.Parallel()
	up, err := fakedns.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name   string
		answer fakedns.Answer
		status Status
		cause  string
	}{
		{name: "answers_the_ilb", status: Pass},
		{name: "servfail", answer: fakedns.Answer{Rcode: dns.RcodeServerFailure}, status: Fail, cause: "observed-servfail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newDNSWorld(t)
			w.addForwardingZone(dwKubeDNSIP)
			w.addServerPolicy(dwProject, "192.168.50.10")
			w.seedGCP("")
			ans := tc.answer
			if tc.status == Pass {
				ans = fakedns.Answer{RRs: []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: w.devName(), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(dwILBIP)}}}
			}
			up.Set(w.devName(), dns.TypeA, ans)
			w.resolver = up.Addr
			res := w.run("dns-servfail")
			if res.Status != tc.status || res.Cause != tc.cause {
				t.Fatalf("want %s/%s%s", tc.status, tc.cause, dnsDump(res))
			}
			if !hasStep(res, "predict "+w.devName(), Skip, "outbound server policy onprem-resolvers") {
				t.Errorf("the prediction does not name the server policy%s", dnsDump(res))
			}
		})
	}
}
