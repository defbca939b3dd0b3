package dnsmodel

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// The VPC network resolution order, as Cloud DNS applies it to a query from a VM, a connector or
// Direct VPC egress on a network (https://cloud.google.com/dns/docs/vpc-name-res-order) [D]:
//
//  1. an outbound server policy bound to the network (alternativeNameServerConfig): the query goes to
//     one of its alternative name servers, which completes resolution — private zones, response
//     policies and Compute Engine internal names are not consulted ("Names such as .internal are not
//     available when an alternative name server is specified", the dns/v1 schema [V]);
//  2. response policy rules of the policies bound to the network, longest suffix: local data answers,
//     bypassResponsePolicy lets resolution continue;
//  3. private zones bound to the network, from any project (a hub DNS project, a Shared VPC host),
//     longest suffix: authoritative, forwarding and peering zones (a peering zone continues in the
//     target network's order);
//  4. Compute Engine internal DNS, then public DNS.
//
// One server policy per network and one response policy per network are allowed [D]; the model
// takes the first of each it finds and reads every one it is given.

// ResponsePolicy is a Cloud DNS response policy and its rules, with the project it lives in.
type ResponsePolicy struct {
	Project string
	Policy  *dns.ResponsePolicy
	Rules   []*dns.ResponsePolicyRule
	// RulesErr says the rules could not be read: a rule may answer before the zones, so no answer
	// from the zones is predicted for a network the policy is bound to.
	RulesErr error
}

// Name is the policy's name.
func (r ResponsePolicy) Name() string {
	if r.Policy == nil {
		return ""
	}
	return r.Policy.ResponsePolicyName
}

// ServerPolicy is a Cloud DNS server policy with the project it lives in.
type ServerPolicy struct {
	Project string
	Policy  *dns.Policy
}

// Alternative reports whether the policy sends every query to alternative name servers.
func (s ServerPolicy) Alternative() bool {
	c := s.Policy.AlternativeNameServerConfig
	return c != nil && (len(c.TargetNameServers) > 0 || len(c.OutboundEndpoints) > 0)
}

// Unread is a part of the DNS configuration that could not be read: a project's zones, response
// policies or server policies. Whatever it holds may change the answer, so no prediction that
// depends on it passes.
type Unread struct {
	Project    string
	What       string // "managed zones", "response policies", "server policies"
	Permission string // the permission that would let it be read
	Err        error
}

func (u Unread) String() string {
	s := fmt.Sprintf("the %s of project %s", u.What, u.Project)
	if u.Permission != "" {
		s += " (needs " + u.Permission + ")"
	}
	if u.Err != nil {
		s += ": " + u.Err.Error()
	}
	return s
}

// DNSView is what one network sees, in the order Cloud DNS applies it.
type DNSView struct {
	Network string
	// ServerPolicy is the server policy bound to the network (nil: none).
	ServerPolicy *ServerPolicy
	// ResponsePolicies bound to the network.
	ResponsePolicies []ResponsePolicy
	// Zones are the private zones bound to the network (from every project read), most specific
	// first.
	Zones []ZoneRef
	// Unread parts of the configuration.
	Unread []Unread
}

// ZoneRef is a zone with its project.
type ZoneRef struct {
	Project string
	Zone    *dns.ManagedZone
}

// ZoneProject is the project a zone was read from (Model.Project when not recorded).
func (m *Model) ZoneProject(z *dns.ManagedZone) string {
	if p, ok := m.ZoneProjects[z]; ok && p != "" {
		return p
	}
	return m.Project
}

// serverPolicyFor returns the server policy bound to network, if any.
func (m *Model) serverPolicyFor(network string) *ServerPolicy {
	for i := range m.ServerPolicies {
		sp := &m.ServerPolicies[i]
		if sp.Policy == nil {
			continue
		}
		for _, n := range sp.Policy.Networks {
			if n != nil && n.NetworkUrl != "" && gref.Network(n.NetworkUrl, sp.Project) == network {
				return sp
			}
		}
	}
	return nil
}

// responsePoliciesFor returns the response policies bound to network.
func (m *Model) responsePoliciesFor(network string) []ResponsePolicy {
	var out []ResponsePolicy
	for _, rp := range m.ResponsePolicies {
		if rp.Policy == nil {
			continue
		}
		for _, n := range rp.Policy.Networks {
			if n != nil && n.NetworkUrl != "" && gref.Network(n.NetworkUrl, rp.Project) == network {
				out = append(out, rp)
				break
			}
		}
	}
	return out
}

// View returns what a client on network sees, in resolution order.
func (m *Model) View(network string) DNSView {
	network = gref.Network(network, m.Project)
	v := DNSView{Network: network, ServerPolicy: m.serverPolicyFor(network), ResponsePolicies: m.responsePoliciesFor(network), Unread: m.Unread}
	for _, z := range m.Zones {
		if k := KindOf(z); k != KindPublic && VisibleTo(z, network, m.ZoneProject(z)) {
			v.Zones = append(v.Zones, ZoneRef{Project: m.ZoneProject(z), Zone: z})
		}
	}
	sort.SliceStable(v.Zones, func(i, j int) bool {
		return labels(model.Fqdn(v.Zones[i].Zone.DnsName)) > labels(model.Fqdn(v.Zones[j].Zone.DnsName))
	})
	return v
}

// Lines describes the view in resolution order, one line per step, for the evidence.
func (v DNSView) Lines() []string {
	var out []string
	if sp := v.ServerPolicy; sp != nil {
		line := fmt.Sprintf("1. server policy %s (project %s)", sp.Policy.Name, sp.Project)
		if sp.Alternative() {
			line += ": alternative name servers " + altTargetList(sp.Policy) + " answer every query; the steps below are not used"
		} else {
			line += ": no alternative name servers (Cloud DNS resolves as below)"
		}
		if sp.Policy.EnableInboundForwarding {
			line += "; inbound forwarding on (on-premises clients may query this network's resolver; informational)"
		}
		out = append(out, line)
	} else {
		out = append(out, "1. no server policy: the VPC resolver answers")
	}
	if len(v.ResponsePolicies) == 0 {
		out = append(out, "2. no response policy")
	}
	for _, rp := range v.ResponsePolicies {
		line := fmt.Sprintf("2. response policy %s (project %s): ", rp.Name(), rp.Project)
		if rp.RulesErr != nil {
			line += "its rules could not be read: " + rp.RulesErr.Error()
		} else {
			var rs []string
			for _, r := range rp.Rules {
				if r != nil {
					rs = append(rs, RuleString(r))
				}
			}
			line += fmt.Sprintf("%d rule(s)", len(rs))
			if len(rs) > 0 {
				line += ": " + strings.Join(rs, "; ")
			}
		}
		out = append(out, line)
	}
	if len(v.Zones) == 0 {
		out = append(out, "3. no private zone is bound to network "+gref.NetworkName(v.Network))
	}
	for _, z := range v.Zones {
		out = append(out, fmt.Sprintf("3. %s zone %s (%s, project %s)", KindOf(z.Zone), z.Zone.Name, model.Fqdn(z.Zone.DnsName), z.Project))
	}
	out = append(out, "4. Compute Engine internal DNS, then public DNS")
	for _, u := range v.Unread {
		out = append(out, "not read: "+u.String())
	}
	return out
}

// RuleString describes one response policy rule.
func RuleString(r *dns.ResponsePolicyRule) string {
	switch {
	case r.Behavior == "bypassResponsePolicy":
		return fmt.Sprintf("%s %s → bypass (resolution continues)", r.RuleName, model.Fqdn(r.DnsName))
	case r.LocalData != nil && len(r.LocalData.LocalDatas) > 0:
		var ds []string
		for _, rr := range r.LocalData.LocalDatas {
			if rr != nil {
				ds = append(ds, strings.ToUpper(rr.Type)+" "+strings.Join(rr.Rrdatas, ","))
			}
		}
		return fmt.Sprintf("%s %s → local data %s", r.RuleName, model.Fqdn(r.DnsName), strings.Join(ds, "; "))
	}
	return fmt.Sprintf("%s %s → %s", r.RuleName, model.Fqdn(r.DnsName), orBehavior(r.Behavior))
}

func orBehavior(b string) string {
	if b == "" {
		return "no local data and no behavior"
	}
	return "behavior " + b
}

func altTargetList(p *dns.Policy) string {
	var s []string
	if c := p.AlternativeNameServerConfig; c != nil {
		for _, t := range c.TargetNameServers {
			if t != nil {
				s = append(s, t.Ipv4Address+t.Ipv6Address)
			}
		}
		for _, e := range c.OutboundEndpoints {
			if e != nil {
				s = append(s, "outbound endpoint "+e.Name)
			}
		}
	}
	return strings.Join(s, ", ")
}

// ruleMatch finds the rule of rules that applies to name: the longest matching suffix; an exact
// name beats a wildcard of the same suffix ("Each DNS query subject to a Response Policy matches at
// most one ResponsePolicyRule, as identified by the dns_name field with the longest matching
// suffix", the dns/v1 schema [V]).
func ruleMatch(name string, rules []*dns.ResponsePolicyRule) *dns.ResponsePolicyRule {
	var best *dns.ResponsePolicyRule
	bestScore := -1
	for _, r := range rules {
		if r == nil || r.DnsName == "" {
			continue
		}
		d := model.Fqdn(strings.ToLower(r.DnsName))
		score := -1
		switch {
		case strings.HasPrefix(d, "*."):
			suffix := d[2:]
			if name != suffix && InZone(name, suffix) {
				score = 2 * labels(suffix)
			}
		case d == name:
			score = 2*labels(d) + 1
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// responsePolicy applies the response policies bound to network to name. It returns true when the
// prediction is complete (a rule answered, or the rules could not be read); false lets resolution
// continue to the zones (no rule, or a bypass rule, which it records).
func (m *Model) responsePolicy(p *Prediction, name, network string, depth int) bool {
	rps := m.responsePoliciesFor(network)
	for _, rp := range rps {
		if rp.RulesErr != nil {
			p.Situation = SitUnpredicted
			p.Via = "response policy " + rp.Name()
			p.Reason = fmt.Sprintf("the rules of response policy %s (project %s), bound to network %s, could not be read (%v): a rule may answer before the zones, so the answer is not predicted",
				rp.Name(), rp.Project, gref.NetworkName(network), rp.RulesErr)
			p.Incomplete = append(p.Incomplete, Unread{Project: rp.Project, What: "response policy rules of " + rp.Name(), Permission: "dns.responsePolicyRules.list", Err: rp.RulesErr})
			return true
		}
	}
	for _, rp := range rps {
		r := ruleMatch(name, rp.Rules)
		if r == nil {
			continue
		}
		rp := rp
		if r.Behavior == "bypassResponsePolicy" {
			p.Bypassed = append(p.Bypassed, fmt.Sprintf("rule %s (%s) of response policy %s bypasses the policy for this name", r.RuleName, model.Fqdn(r.DnsName), rp.Name()))
			return false
		}
		p.Rule, p.RulePolicy, p.Situation = r, &rp, SitResponsePolicy
		p.Via = fmt.Sprintf("response policy %s rule %s (%s, project %s), answered before any zone", rp.Name(), r.RuleName, model.Fqdn(r.DnsName), rp.Project)
		if r.LocalData == nil || len(r.LocalData.LocalDatas) == 0 {
			p.Situation = SitUnpredicted
			p.Reason = fmt.Sprintf("response policy %s rule %s matches the name with %s; not modelled", rp.Name(), r.RuleName, orBehavior(r.Behavior))
			return true
		}
		var cname string
		for _, rr := range r.LocalData.LocalDatas {
			if rr == nil {
				continue
			}
			switch strings.ToUpper(rr.Type) {
			case "A":
				p.RRSet, p.Owner = rr, model.Fqdn(rr.Name)
				for _, d := range rr.Rrdatas {
					if a, err := netip.ParseAddr(strings.TrimSpace(d)); err == nil {
						p.IPs = append(p.IPs, a.Unmap())
					}
				}
				p.Outcome = probe.OutcomeAnswer
				p.Reason = fmt.Sprintf("response policy %s rule %s answers A %s from local data, before any zone", rp.Name(), r.RuleName, strings.Join(rr.Rrdatas, ", "))
				return true
			case "CNAME":
				if len(rr.Rrdatas) > 0 {
					cname = model.Fqdn(rr.Rrdatas[0])
				}
			}
		}
		if cname != "" && depth < maxDepth {
			inner := m.predict(cname, network, depth+1, true)
			p.Outcome, p.IPs, p.RRSet, p.Owner, p.RRSetZone, p.Targets, p.Err = inner.Outcome, inner.IPs, inner.RRSet, inner.Owner, inner.RRSetZone, inner.Targets, inner.Err
			p.CNAMEs = append([]string{cname}, inner.CNAMEs...)
			if inner.Situation != SitAnswer {
				p.Situation = inner.Situation
			}
			p.Reason = fmt.Sprintf("response policy %s rule %s answers CNAME %s from local data; %s", rp.Name(), r.RuleName, cname, inner.Reason)
			return true
		}
		// Local data without an A record: the name exists with other types only [U: Cloud DNS does not
		// document the empty answer; RPZ local data behaves so].
		p.Outcome = probe.OutcomeNoData
		p.Reason = fmt.Sprintf("response policy %s rule %s answers the name from local data that holds no A record (NODATA), before any zone", rp.Name(), r.RuleName)
		return true
	}
	return false
}

// serverPolicy applies an outbound server policy bound to network: the query goes to the
// alternative name servers and nothing else in the VPC's order is used. It returns false when no
// such policy is bound.
func (m *Model) serverPolicy(p *Prediction, network string) bool {
	sp := m.serverPolicyFor(network)
	if sp == nil || !sp.Alternative() {
		return false
	}
	p.ServerPolicy, p.Situation = sp, SitServerPolicy
	p.Via = fmt.Sprintf("outbound server policy %s (project %s)", sp.Policy.Name, sp.Project)
	c := sp.Policy.AlternativeNameServerConfig
	var ts []*dns.ManagedZoneForwardingConfigNameServerTarget
	for _, t := range c.TargetNameServers {
		if t != nil {
			ts = append(ts, &dns.ManagedZoneForwardingConfigNameServerTarget{
				Ipv4Address: t.Ipv4Address, Ipv6Address: t.Ipv6Address, ForwardingPath: strings.ToUpper(t.ForwardingPath)})
		}
	}
	reachable, unknown, why := m.judgeTargets(p, ts, len(c.OutboundEndpoints) > 0, network)
	p.Reason = fmt.Sprintf("outbound server policy %s (project %s) sends every query from network %s to the alternative name servers %s: private zones and response policies are not consulted, so the answer is whatever %s",
		sp.Policy.Name, sp.Project, gref.NetworkName(network), altTargetList(sp.Policy), plural(len(p.Targets), "that server says", "those servers say"))
	if len(p.Targets) > 0 && reachable == 0 && unknown == 0 {
		p.Outcome = probe.OutcomeServFail
		p.Reason = fmt.Sprintf("outbound server policy %s (project %s) sends every query from network %s to %s, which the Cloud DNS forwarder (35.199.192.0/19) cannot reach, so every name gets SERVFAIL",
			sp.Policy.Name, sp.Project, gref.NetworkName(network), altTargetList(sp.Policy))
	}
	if len(why) > 0 {
		p.Reason += " (" + strings.Join(why, "; ") + ")"
	}
	return true
}

// OverriddenBy says whether something answers network's queries before its private zones, so that
// creating, changing or deleting a zone changes nothing for its clients: an outbound server policy.
// The sentence names it; "" when the zones are used.
func (m *Model) OverriddenBy(network string) string {
	network = gref.Network(network, m.Project)
	if sp := m.serverPolicyFor(network); sp != nil && sp.Alternative() {
		return fmt.Sprintf("outbound server policy %s (project %s) sends every query from network %s to alternative name servers %s, so Cloud DNS does not consult the private zones for its clients",
			sp.Policy.Name, sp.Project, gref.NetworkName(network), altTargetList(sp.Policy))
	}
	return ""
}

// RuleFor returns the response policy rule bound to network that matches name (nil: none, or a bypass
// rule), for fixes that would otherwise publish the name in a zone the rule overrides.
func (m *Model) RuleFor(name, network string) (*dns.ResponsePolicyRule, *ResponsePolicy) {
	network = gref.Network(network, m.Project)
	for _, rp := range m.responsePoliciesFor(network) {
		if r := ruleMatch(model.Fqdn(name), rp.Rules); r != nil && r.Behavior != "bypassResponsePolicy" {
			rp := rp
			return r, &rp
		}
	}
	return nil, nil
}

// ZonesNamed returns the zones visible to network with exactly the domain name (any project).
func (m *Model) ZonesNamed(domain, network string) []ZoneRef {
	network = gref.Network(network, m.Project)
	var out []ZoneRef
	for _, z := range m.Zones {
		if KindOf(z) != KindPublic && model.Fqdn(z.DnsName) == model.Fqdn(domain) && VisibleTo(z, network, m.ZoneProject(z)) {
			out = append(out, ZoneRef{Project: m.ZoneProject(z), Zone: z})
		}
	}
	return out
}
