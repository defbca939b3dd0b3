package fakegcp

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	iam "google.golang.org/api/iam/v1"
)

// IAM beyond the project policy (crm.go): roles (iam v1 roles.get for predefined roles,
// projects.roles.get and organizations.roles.get for custom ones), a project's ancestry
// (cloudresourcemanager v1 projects.getAncestry) and the IAM policies of the folders and the
// organisation above it (v2 folders.getIamPolicy, v1 organizations.getIamPolicy), which is where
// inherited bindings live.
//
// Policy versions follow the API: a policy holding conditional bindings is version 3. getIamPolicy
// asked for version 1 (the default) answers version 1 with each conditional binding's role suffixed
// "_withcond_…" and its condition dropped; setIamPolicy with a version below 3 on a policy that has
// conditions, or that sends conditions, is 400.

type iamState struct {
	roles     map[string]*iam.Role // full name: roles/R, projects/P/roles/R, organizations/O/roles/R
	parents   map[string][]*crm.ResourceId
	folders   map[string]*crm.Policy // folder id → policy
	orgs      map[string]*crm.Policy // organisation id → policy
	orgExists map[string]bool        // organisations that exist
}

func newIAMState() *iamState {
	st := &iamState{roles: map[string]*iam.Role{}, parents: map[string][]*crm.ResourceId{},
		folders: map[string]*crm.Policy{}, orgs: map[string]*crm.Policy{}, orgExists: map[string]bool{}}
	for _, r := range predefinedRoles {
		st.roles[r.Name] = r
	}
	return st
}

// predefinedRoles is the part of Google's role catalogue the demo and the tests use. Only
// roles/trafficdirector.client's permissions matter to the checks (FAILURE-MODES §7a, [V]); the
// others list a few of their permissions so a check can see that they lack it. Tests add more with
// AddRole.
var predefinedRoles = []*iam.Role{
	{Name: "roles/trafficdirector.client", Title: "Traffic Director Client", Description: "Fetch service configurations and report metrics",
		IncludedPermissions: []string{"trafficdirector.networks.getConfigs", "trafficdirector.networks.reportMetrics"}, Stage: "GA"},
	{Name: "roles/run.invoker", Title: "Cloud Run Invoker", Description: "Can invoke Cloud Run services.",
		IncludedPermissions: []string{"run.routes.invoke"}, Stage: "GA"},
	{Name: "roles/logging.logWriter", Title: "Logs Writer", Description: "Provides the permissions to write log entries.",
		IncludedPermissions: []string{"logging.logEntries.create", "logging.logEntries.route"}, Stage: "GA"},
	{Name: "roles/viewer", Title: "Viewer", Description: "View most Google Cloud resources.",
		IncludedPermissions: []string{"resourcemanager.projects.get", "run.services.get", "compute.networks.get"}, Stage: "GA"},
}

func (s *Server) iamRoutes() []route {
	return []route{
		r("iam", "GET", "v1/roles/{role}", s.getPredefinedRole),
		r("iam", "GET", "v1/projects/{project}/roles/{role}", s.getProjectRole),
		r("iam", "GET", "v1/organizations/{org}/roles/{role}", s.getOrgRole),
		r("cloudresourcemanager", "POST", "v1/projects/{project}:getAncestry", s.getAncestry),
		r("cloudresourcemanager", "POST", "v2/folders/{folder}:getIamPolicy", s.getFolderIamPolicy),
		r("cloudresourcemanager", "POST", "v1/organizations/{org}:getIamPolicy", s.getOrgIamPolicy),
	}
}

// AddRole seeds (or replaces) a role: a predefined one (roles/R) or a custom one
// (projects/P/roles/R, organizations/O/roles/R). A custom role's stage defaults to GA and its etag is
// filled in.
func (s *Server) AddRole(r *iam.Role) {
	if r == nil || r.Name == "" {
		return
	}
	r = clone(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Stage == "" {
		r.Stage = "GA"
	}
	if r.Etag == "" && !strings.HasPrefix(r.Name, "roles/") {
		r.Etag = s.etag()
	}
	if p, ok := strings.CutPrefix(r.Name, "projects/"); ok {
		s.markProject(strings.SplitN(p, "/", 2)[0])
	}
	if o, ok := strings.CutPrefix(r.Name, "organizations/"); ok {
		s.iam.orgExists[strings.SplitN(o, "/", 2)[0]] = true
	}
	s.iam.roles[r.Name] = r
}

// SetAncestry makes project sit below ancestors, nearest first: folders ("folders/ID") then an
// organisation ("organizations/ID"). Without it a project has no parent.
func (s *Server) SetAncestry(project string, ancestors ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	var ids []*crm.ResourceId
	for _, a := range ancestors {
		typ, id, ok := strings.Cut(a, "/")
		if !ok {
			continue
		}
		switch typ {
		case "folders":
			ids = append(ids, &crm.ResourceId{Type: "folder", Id: id})
			if _, ok := s.iam.folders[id]; !ok {
				s.iam.folders[id] = &crm.Policy{Etag: emptyPolicyEtag, Version: 1}
			}
		case "organizations":
			ids = append(ids, &crm.ResourceId{Type: "organization", Id: id})
			if _, ok := s.iam.orgs[id]; !ok {
				s.iam.orgs[id] = &crm.Policy{Etag: emptyPolicyEtag, Version: 1}
			}
			s.iam.orgExists[id] = true
		}
	}
	s.iam.parents[project] = ids
}

// SetFolderIamPolicy seeds the IAM policy of a folder (folders/ID or ID).
func (s *Server) SetFolderIamPolicy(folder string, p *crm.Policy) {
	s.setAncestorPolicy(s.iam.folders, strings.TrimPrefix(folder, "folders/"), p)
}

// SetOrgIamPolicy seeds the IAM policy of an organisation (organizations/ID or ID).
func (s *Server) SetOrgIamPolicy(org string, p *crm.Policy) {
	s.setAncestorPolicy(s.iam.orgs, strings.TrimPrefix(org, "organizations/"), p)
}

func (s *Server) setAncestorPolicy(m map[string]*crm.Policy, id string, p *crm.Policy) {
	if p == nil {
		p = &crm.Policy{}
	}
	p = clone(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Etag == "" {
		p.Etag = s.etag()
	}
	m[id] = p
}

func (s *Server) getRole(name string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.iam.roles[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return clone(r), nil
}

func (s *Server) getPredefinedRole(c *call) (any, *apiError) {
	return s.getRole("roles/" + c.v("role"))
}

func (s *Server) getProjectRole(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	exists := s.projects[p]
	s.mu.Unlock()
	if !exists {
		return nil, errNoProject("iam.roles.get", p)
	}
	return s.getRole("projects/" + p + "/roles/" + c.v("role"))
}

func (s *Server) getOrgRole(c *call) (any, *apiError) {
	o := c.v("org")
	s.mu.Lock()
	exists := s.iam.orgExists[o]
	s.mu.Unlock()
	if !exists {
		return nil, errNoProject("iam.roles.get", "organizations/"+o)
	}
	return s.getRole("organizations/" + o + "/roles/" + c.v("role"))
}

func (s *Server) getAncestry(c *call) (any, *apiError) {
	var req crm.GetAncestryRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.projects[p] {
		return nil, errNoProject("resourcemanager.projects.get", p)
	}
	out := &crm.GetAncestryResponse{Ancestor: []*crm.Ancestor{{ResourceId: &crm.ResourceId{Type: "project", Id: p}}}}
	for _, id := range s.iam.parents[p] {
		out.Ancestor = append(out.Ancestor, &crm.Ancestor{ResourceId: clone(id)})
	}
	return out, nil
}

func (s *Server) getFolderIamPolicy(c *call) (any, *apiError) {
	var req crmv2.GetIamPolicyRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	f := c.v("folder")
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.iam.folders[f]
	if !ok {
		return nil, errNoProject("resourcemanager.folders.getIamPolicy", "folders/"+f)
	}
	v := int64(0)
	if req.Options != nil {
		v = req.Options.RequestedPolicyVersion
	}
	return policyForVersion(pol, v), nil
}

func (s *Server) getOrgIamPolicy(c *call) (any, *apiError) {
	var req crm.GetIamPolicyRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	o := c.v("org")
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.iam.orgs[o]
	if !ok {
		return nil, errNoProject("resourcemanager.organizations.getIamPolicy", "organizations/"+o)
	}
	v := int64(0)
	if req.Options != nil {
		v = req.Options.RequestedPolicyVersion
	}
	return policyForVersion(pol, v), nil
}

// hasConditions reports whether a policy has a conditional binding.
func hasConditions(p *crm.Policy) bool {
	for _, b := range p.Bindings {
		if b != nil && b.Condition != nil {
			return true
		}
	}
	return false
}

// policyForVersion is what getIamPolicy answers for requested version v: the policy itself for v 3,
// or for a policy without conditions; otherwise version 1, with conditional bindings' roles suffixed
// "_withcond_" and a digest of the condition, and the conditions dropped (as IAM does).
func policyForVersion(p *crm.Policy, v int64) *crm.Policy {
	out := clone(p)
	if !hasConditions(out) {
		if out.Version == 0 {
			out.Version = 1
		}
		return out
	}
	if v >= 3 {
		out.Version = 3
		return out
	}
	out.Version = 1
	for _, b := range out.Bindings {
		if b.Condition != nil {
			sum := sha256.Sum256([]byte(b.Condition.Expression + "\x00" + b.Condition.Title))
			b.Role += "_withcond_" + hex.EncodeToString(sum[:])[:20]
			b.Condition = nil
		}
	}
	sort.SliceStable(out.Bindings, func(i, j int) bool { return out.Bindings[i].Role < out.Bindings[j].Role })
	return out
}
