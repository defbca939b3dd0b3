package fakegcp

import (
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// FirewallPolicy is a firewall policy the fake holds, with what it is attached to. Only the
// effective-firewalls reads serve policies (the fake has no firewallPolicies CRUD), so they are
// seeded with AddFirewallPolicy.
type FirewallPolicy struct {
	// Type is HIERARCHY, NETWORK, NETWORK_REGIONAL, SYSTEM_GLOBAL or SYSTEM_REGIONAL.
	Type string
	// Name is the resource name (hierarchical policies have a number; one is made up when empty).
	Name string
	// ShortName (hierarchical) and DisplayName; network policies are known by their Name.
	ShortName   string
	DisplayName string

	// Hierarchical policies: Projects are the projects under the organisation or folder the policy is
	// associated with (empty: every project). Depth is the node's depth in the resource hierarchy:
	// 0 the organisation, 1 a top-level folder, 2 a folder in it, … getEffectiveFirewalls lists
	// hierarchical policies by Depth (then in the order they were added): organisation first, then the
	// folders from the top down, the order the evaluator assumes.
	Projects []string
	Depth    int

	// Network policies: the Project they live in, the Networks (names) they are associated with, the
	// Region of a regional policy, and the association Priority.
	Project  string
	Networks []string
	Region   string
	Priority int64

	Rules []*compute.FirewallPolicyRule
}

func (p *FirewallPolicy) hierarchical() bool { return strings.EqualFold(p.Type, "HIERARCHY") }

func (p *FirewallPolicy) regional() bool {
	return strings.EqualFold(p.Type, "NETWORK_REGIONAL") || strings.EqualFold(p.Type, "SYSTEM_REGIONAL")
}

// appliesTo reports whether the policy is in effect on project/network (in region, for regional
// policies; region "" excludes them).
func (p *FirewallPolicy) appliesTo(project, network, region string) bool {
	if p.hierarchical() {
		if len(p.Projects) == 0 {
			return true
		}
		for _, pr := range p.Projects {
			if pr == project {
				return true
			}
		}
		return false
	}
	if p.Project != project || (p.regional() && p.Region != region) {
		return false
	}
	for _, n := range p.Networks {
		if sameNetwork(project, n, network) {
			return true
		}
	}
	return false
}

// AddFirewallPolicy seeds (or replaces, by Type and Name) a firewall policy. Rules get the API's
// output-only kind; a rule without a direction is INGRESS.
func (s *Server) AddFirewallPolicy(p FirewallPolicy) {
	cp := p
	cp.Type = strings.ToUpper(cp.Type)
	cp.Projects = append([]string(nil), p.Projects...)
	cp.Networks = append([]string(nil), p.Networks...)
	cp.Rules = nil
	for _, r := range p.Rules {
		if r == nil {
			continue
		}
		r = clone(r)
		r.Kind = "compute#firewallPolicyRule"
		if r.Direction == "" {
			r.Direction = "INGRESS"
		}
		cp.Rules = append(cp.Rules, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cp.Name == "" {
		cp.Name = strconv.FormatUint(s.id()%1_000_000_000_000, 10)
	}
	if cp.hierarchical() && cp.DisplayName == "" {
		cp.DisplayName = cp.ShortName
	}
	if cp.Project != "" {
		s.markProject(cp.Project)
	}
	for i, old := range s.fwPolicies {
		if old.Type == cp.Type && old.Name == cp.Name {
			s.fwPolicies[i] = &cp
			return
		}
	}
	s.fwPolicies = append(s.fwPolicies, &cp)
}

// RemoveFirewallPolicy removes a policy by name; it reports whether one existed.
func (s *Server) RemoveFirewallPolicy(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.fwPolicies {
		if p.Name == name {
			s.fwPolicies = append(s.fwPolicies[:i:i], s.fwPolicies[i+1:]...)
			return true
		}
	}
	return false
}

// SetNetworkFirewallPolicyEnforcementOrder sets a network's networkFirewallPolicyEnforcementOrder
// (AFTER_CLASSIC_FIREWALL, BEFORE_CLASSIC_FIREWALL, or "" for the API default); it reports whether
// the network exists.
func (s *Server) SetNetworkFirewallPolicyEnforcementOrder(project, network, order string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.networks[key(project, network)]
	if ok {
		e.net.NetworkFirewallPolicyEnforcementOrder = order
	}
	return ok
}

// effective returns the firewall rules of project/network and the policies in effect on it, in
// the order getEffectiveFirewalls lists them: hierarchical by depth, then the others by type and
// association priority. region "" leaves out regional policies. Callers hold s.mu.
func (s *Server) effective(project, network, region string) ([]*compute.Firewall, []*FirewallPolicy) {
	var fws []*compute.Firewall
	link := globalLink(project, "networks", network)
	for _, k := range keysWithPrefix(s.firewalls, project) {
		if f := s.firewalls[k]; sameNetwork(project, f.Network, link) {
			fws = append(fws, clone(f))
		}
	}
	var ps []*FirewallPolicy
	for _, p := range s.fwPolicies {
		if p.appliesTo(project, link, region) {
			ps = append(ps, p)
		}
	}
	rank := func(p *FirewallPolicy) int {
		switch p.Type {
		case "HIERARCHY":
			return 0
		case "SYSTEM_GLOBAL", "SYSTEM_REGIONAL", "SYSTEM":
			return 1
		case "NETWORK":
			return 2
		}
		return 3
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		if a.hierarchical() {
			return a.Depth < b.Depth
		}
		return a.Priority < b.Priority
	})
	return fws, ps
}

// rulesFor returns copies of the rules of p that apply to network link (targetResources).
func rulesFor(project string, p *FirewallPolicy, link string) []*compute.FirewallPolicyRule {
	var out []*compute.FirewallPolicyRule
	for _, r := range p.Rules {
		if len(r.TargetResources) > 0 {
			in := false
			for _, t := range r.TargetResources {
				if sameNetwork(project, t, link) {
					in = true
				}
			}
			if !in {
				continue
			}
		}
		out = append(out, clone(r))
	}
	return out
}

// EffectiveFirewalls returns what networks.getEffectiveFirewalls answers for project/network (for
// the demo world's simulated network, which must enforce what the API reports); ok is false when
// the network does not exist.
func (s *Server) EffectiveFirewalls(project, network string) (*compute.NetworksGetEffectiveFirewallsResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.networks[key(project, network)]; !ok {
		return nil, false
	}
	link := globalLink(project, "networks", network)
	fws, ps := s.effective(project, network, "")
	resp := &compute.NetworksGetEffectiveFirewallsResponse{Firewalls: fws}
	for _, p := range ps {
		ep := &compute.NetworksGetEffectiveFirewallsResponseEffectiveFirewallPolicy{Name: p.Name, ShortName: p.ShortName,
			DisplayName: p.DisplayName, Type: p.Type, Rules: rulesFor(project, p, link)}
		if !p.hierarchical() {
			ep.Priority = p.Priority
			if ep.ShortName == "" {
				ep.ShortName = p.Name
			}
		}
		resp.FirewallPolicys = append(resp.FirewallPolicys, ep)
	}
	return resp, true
}

// RegionEffectiveFirewalls returns what regionNetworkFirewallPolicies.getEffectiveFirewalls
// answers for project/region/network; ok is false when the network does not exist.
func (s *Server) RegionEffectiveFirewalls(project, region, network string) (*compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.networks[key(project, network)]; !ok {
		return nil, false
	}
	link := globalLink(project, "networks", network)
	fws, ps := s.effective(project, network, region)
	resp := &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse{Firewalls: fws}
	for _, p := range ps {
		ep := &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponseEffectiveFirewallPolicy{Name: p.Name,
			DisplayName: p.DisplayName, Type: p.Type, Rules: rulesFor(project, p, link)}
		if !p.hierarchical() {
			ep.Priority = p.Priority
		}
		if ep.DisplayName == "" {
			ep.DisplayName = p.ShortName
		}
		resp.FirewallPolicys = append(resp.FirewallPolicys, ep)
	}
	return resp, true
}

func (s *Server) getEffectiveFirewalls(c *call) (any, *apiError) {
	p, n := c.v("project"), c.v("network")
	resp, ok := s.EffectiveFirewalls(p, n)
	if !ok {
		return nil, errNotFound(globalPath(p, "networks", n))
	}
	return resp, nil
}

// regionEffectiveFirewalls serves GET projects/P/regions/R/firewallPolicies/getEffectiveFirewalls?network=N;
// network is a name, a partial path or a URL of a network in the project.
func (s *Server) regionEffectiveFirewalls(c *call) (any, *apiError) {
	p, region := c.v("project"), c.v("region")
	ref := c.query("network")
	if ref == "" {
		return nil, errInvalid("Required parameter 'network' not specified.")
	}
	np, _, coll, n, ok := parseLink(normalizeLink(p, "networks", ref))
	if !ok || coll != "networks" || np != p {
		return nil, errInvalid("Invalid value for field 'network': '%s'.", ref)
	}
	resp, ok := s.RegionEffectiveFirewalls(p, region, n)
	if !ok {
		return nil, errNotFound(globalPath(p, "networks", n))
	}
	return resp, nil
}
