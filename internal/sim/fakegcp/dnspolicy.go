package fakegcp

import (
	"strings"

	dns "google.golang.org/api/dns/v1"
)

// Cloud DNS server policies (dns/v1 policies) and response policies with their rules (dns/v1
// responsePolicies, responsePolicies/{p}/rules): list, get and create, as the discovery document
// shapes them. A policy binds networks by URL, which may name a network of another project (Shared
// VPC, a hub DNS project): the fake keeps the URL as given.

// dnsPolicyState holds the policies of every project.
type dnsPolicyState struct {
	policies map[string]*dns.Policy             // key(project, name)
	rps      map[string]*dns.ResponsePolicy     // key(project, name)
	rules    map[string]*dns.ResponsePolicyRule // key(project, policy, rule)
}

func newDNSPolicyState() *dnsPolicyState {
	return &dnsPolicyState{policies: map[string]*dns.Policy{}, rps: map[string]*dns.ResponsePolicy{},
		rules: map[string]*dns.ResponsePolicyRule{}}
}

func (s *Server) dnsPolicyRoutes() []route {
	const p = "dns/v1/projects/{project}/"
	const api = "dns"
	return []route{
		r(api, "GET", p+"policies", s.listDNSPolicies),
		r(api, "POST", p+"policies", s.createDNSPolicy),
		r(api, "GET", p+"policies/{policy}", s.getDNSPolicy),
		r(api, "GET", p+"responsePolicies", s.listResponsePolicies),
		r(api, "POST", p+"responsePolicies", s.createResponsePolicy),
		r(api, "GET", p+"responsePolicies/{rp}", s.getResponsePolicy),
		r(api, "GET", p+"responsePolicies/{rp}/rules", s.listResponsePolicyRules),
		r(api, "POST", p+"responsePolicies/{rp}/rules", s.createResponsePolicyRule),
		r(api, "GET", p+"responsePolicies/{rp}/rules/{rule}", s.getResponsePolicyRule),
	}
}

// --- seeding ---

// AddDNSPolicy seeds (or replaces) a server policy; nil or unnamed policies are ignored.
func (s *Server) AddDNSPolicy(project string, p *dns.Policy) {
	if p == nil || p.Name == "" {
		return
	}
	p = clone(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.fillDNSPolicy(p)
	s.dnsPol.policies[key(project, p.Name)] = p
}

// AddResponsePolicy seeds (or replaces) a response policy; nil or unnamed policies are ignored.
func (s *Server) AddResponsePolicy(project string, rp *dns.ResponsePolicy) {
	if rp == nil || rp.ResponsePolicyName == "" {
		return
	}
	rp = clone(rp)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.fillResponsePolicy(rp)
	s.dnsPol.rps[key(project, rp.ResponsePolicyName)] = rp
}

// AddResponsePolicyRule seeds (or replaces) a rule of an existing response policy; it reports
// whether the policy exists.
func (s *Server) AddResponsePolicyRule(project, policy string, rule *dns.ResponsePolicyRule) bool {
	if rule == nil || rule.RuleName == "" {
		return false
	}
	rule = clone(rule)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dnsPol.rps[key(project, policy)]; !ok {
		return false
	}
	fillRule(rule)
	s.putRule(project, policy, rule)
	return true
}

func (s *Server) fillDNSPolicy(p *dns.Policy) {
	p.Kind = "dns#policy"
	if p.Id == 0 {
		p.Id = s.id() % 10_000_000_000_000_000
	}
	for _, n := range p.Networks {
		if n != nil {
			n.Kind = "dns#policyNetwork"
		}
	}
	if c := p.AlternativeNameServerConfig; c != nil {
		c.Kind = "dns#policyAlternativeNameServerConfig"
		for _, t := range c.TargetNameServers {
			if t != nil {
				t.Kind = "dns#policyAlternativeNameServerConfigTargetNameServer"
			}
		}
	}
}

func (s *Server) fillResponsePolicy(rp *dns.ResponsePolicy) {
	rp.Kind = "dns#responsePolicy"
	if rp.Id == 0 {
		rp.Id = int64(s.id() % 1_000_000_000_000_000)
	}
	for _, n := range rp.Networks {
		if n != nil {
			n.Kind = "dns#responsePolicyNetwork"
		}
	}
}

func fillRule(rule *dns.ResponsePolicyRule) {
	rule.Kind = "dns#responsePolicyRule"
	rule.DnsName = fqdn(rule.DnsName)
	if rule.LocalData != nil {
		for _, rr := range rule.LocalData.LocalDatas {
			if rr != nil {
				rr.Kind, rr.Name, rr.Type = "dns#resourceRecordSet", fqdn(rr.Name), strings.ToUpper(rr.Type)
				if rr.Ttl == 0 {
					rr.Ttl = 300
				}
			}
		}
	}
}

// putRule stores a rule. Callers hold s.mu.
func (s *Server) putRule(project, policy string, rule *dns.ResponsePolicyRule) {
	s.dnsPol.rules[key(project, policy, rule.RuleName)] = rule
}

func dnsPolicyPath(project, name string) string { return "projects/" + project + "/policies/" + name }
func responsePolicyPath(project, name string) string {
	return "projects/" + project + "/responsePolicies/" + name
}

// --- server policies ---

func (s *Server) listDNSPolicies(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	var items []*dns.Policy
	for _, k := range keysWithPrefix(s.dnsPol.policies, p) {
		items = append(items, clone(s.dnsPol.policies[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.PoliciesListResponse{Kind: "dns#policiesListResponse", Policies: page, NextPageToken: next}, nil
}

func (s *Server) getDNSPolicy(c *call) (any, *apiError) {
	p, n := c.v("project"), c.v("policy")
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.dnsPol.policies[key(p, n)]
	if !ok {
		return nil, errNotFound(dnsPolicyPath(p, n))
	}
	return clone(pol), nil
}

// createDNSPolicy creates a server policy. One server policy per network: a second one bound to a
// network that already has one is 400, as Cloud DNS answers.
func (s *Server) createDNSPolicy(c *call) (any, *apiError) {
	pol := &dns.Policy{}
	if err := c.decode(pol, true); err != nil {
		return nil, err
	}
	if !zoneNameRE().MatchString(pol.Name) {
		return nil, errInvalid("Invalid value for 'entity.policy.name': '%s'", pol.Name)
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dnsPol.policies[key(p, pol.Name)]; ok {
		return nil, errAlreadyExists(dnsPolicyPath(p, pol.Name))
	}
	for _, n := range pol.Networks {
		if n == nil {
			continue
		}
		for _, k := range keysWithPrefix(s.dnsPol.policies) {
			for _, m := range s.dnsPol.policies[k].Networks {
				if m != nil && normalizeLink(p, "networks", m.NetworkUrl) == normalizeLink(p, "networks", n.NetworkUrl) {
					return nil, errInvalid("The network '%s' is already bound to policy '%s'.", n.NetworkUrl, s.dnsPol.policies[k].Name)
				}
			}
		}
	}
	s.markProject(p)
	pol.Id = 0
	s.fillDNSPolicy(pol)
	s.dnsPol.policies[key(p, pol.Name)] = pol
	c.mutated("Policy", p, "", pol.Name, "")
	return clone(pol), nil
}

// --- response policies ---

func (s *Server) listResponsePolicies(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	var items []*dns.ResponsePolicy
	for _, k := range keysWithPrefix(s.dnsPol.rps, p) {
		items = append(items, clone(s.dnsPol.rps[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.ResponsePoliciesListResponse{ResponsePolicies: page, NextPageToken: next}, nil
}

func (s *Server) getResponsePolicy(c *call) (any, *apiError) {
	p, n := c.v("project"), c.v("rp")
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, ok := s.dnsPol.rps[key(p, n)]
	if !ok {
		return nil, errNotFound(responsePolicyPath(p, n))
	}
	return clone(rp), nil
}

func (s *Server) createResponsePolicy(c *call) (any, *apiError) {
	rp := &dns.ResponsePolicy{}
	if err := c.decode(rp, true); err != nil {
		return nil, err
	}
	if !zoneNameRE().MatchString(rp.ResponsePolicyName) {
		return nil, errInvalid("Invalid value for 'entity.responsePolicy.responsePolicyName': '%s'", rp.ResponsePolicyName)
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dnsPol.rps[key(p, rp.ResponsePolicyName)]; ok {
		return nil, errAlreadyExists(responsePolicyPath(p, rp.ResponsePolicyName))
	}
	s.markProject(p)
	rp.Id = 0
	s.fillResponsePolicy(rp)
	s.dnsPol.rps[key(p, rp.ResponsePolicyName)] = rp
	c.mutated("ResponsePolicy", p, "", rp.ResponsePolicyName, "")
	return clone(rp), nil
}

// --- response policy rules ---

func (s *Server) listResponsePolicyRules(c *call) (any, *apiError) {
	p, rp := c.v("project"), c.v("rp")
	s.mu.Lock()
	if _, ok := s.dnsPol.rps[key(p, rp)]; !ok {
		s.mu.Unlock()
		return nil, errNotFound(responsePolicyPath(p, rp))
	}
	var items []*dns.ResponsePolicyRule
	for _, k := range keysWithPrefix(s.dnsPol.rules, p, rp) {
		items = append(items, clone(s.dnsPol.rules[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.ResponsePolicyRulesListResponse{ResponsePolicyRules: page, NextPageToken: next}, nil
}

func (s *Server) getResponsePolicyRule(c *call) (any, *apiError) {
	p, rp, n := c.v("project"), c.v("rp"), c.v("rule")
	s.mu.Lock()
	defer s.mu.Unlock()
	rule, ok := s.dnsPol.rules[key(p, rp, n)]
	if !ok {
		return nil, errNotFound(responsePolicyPath(p, rp) + "/rules/" + n)
	}
	return clone(rule), nil
}

// createResponsePolicyRule creates a rule: a dnsName, and either localData or a behavior
// (bypassResponsePolicy), not both; local data must be named as the rule is.
func (s *Server) createResponsePolicyRule(c *call) (any, *apiError) {
	rule := &dns.ResponsePolicyRule{}
	if err := c.decode(rule, true); err != nil {
		return nil, err
	}
	if !zoneNameRE().MatchString(rule.RuleName) {
		return nil, errInvalid("Invalid value for 'entity.responsePolicyRule.ruleName': '%s'", rule.RuleName)
	}
	if rule.DnsName == "" {
		return nil, errInvalid("Invalid value for 'entity.responsePolicyRule.dnsName': ''")
	}
	hasData := rule.LocalData != nil && len(rule.LocalData.LocalDatas) > 0
	if hasData == (rule.Behavior != "" && rule.Behavior != "behaviorUnspecified") {
		return nil, errInvalid("A response policy rule needs exactly one of 'localData' and 'behavior'.")
	}
	if rule.Behavior != "" && rule.Behavior != "behaviorUnspecified" && rule.Behavior != "bypassResponsePolicy" {
		return nil, errInvalid("Invalid value for 'entity.responsePolicyRule.behavior': '%s'", rule.Behavior)
	}
	if hasData {
		for _, rr := range rule.LocalData.LocalDatas {
			if rr == nil || !strings.EqualFold(fqdn(rr.Name), fqdn(rule.DnsName)) {
				return nil, errInvalid("Local data must be named %s, as the rule is.", fqdn(rule.DnsName))
			}
		}
	}
	p, rp := c.v("project"), c.v("rp")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dnsPol.rps[key(p, rp)]; !ok {
		return nil, errNotFound(responsePolicyPath(p, rp))
	}
	if _, ok := s.dnsPol.rules[key(p, rp, rule.RuleName)]; ok {
		return nil, errAlreadyExists(responsePolicyPath(p, rp) + "/rules/" + rule.RuleName)
	}
	fillRule(rule)
	s.putRule(p, rp, rule)
	c.mutated("ResponsePolicyRule", p, rp, rule.RuleName, "")
	return clone(rule), nil
}
