package fakegcp

import (
	"strings"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// emptyPolicyEtag is the etag IAM gives a policy with no bindings.
const emptyPolicyEtag = "ACAB"

func (s *Server) crmRoutes() []route {
	const api = "cloudresourcemanager"
	return []route{
		r(api, "GET", "v1/projects/{project}", s.getProject),
		r(api, "POST", "v1/projects/{project}:getIamPolicy", s.getIamPolicy),
		r(api, "POST", "v1/projects/{project}:setIamPolicy", s.setIamPolicy),
		r(api, "POST", "v1/projects/{project}:testIamPermissions", s.testIamPermissions),
	}
}

// SetIamPolicy seeds a project's IAM policy (and makes the project exist). An empty etag gets a
// fresh one.
func (s *Server) SetIamPolicy(project string, p *crm.Policy) {
	if p == nil {
		p = &crm.Policy{}
	}
	p = clone(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	if p.Etag == "" {
		p.Etag = s.etag()
	}
	s.policies[project] = p
}

// IamPolicy returns a copy of a project's IAM policy: an empty one (etag ACAB) for a project that
// exists without a policy, nil for an unknown project.
func (s *Server) IamPolicy(project string) *crm.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _ := s.policyFor(project)
	return clone(p)
}

// DenyPermissions makes testIamPermissions on project leave out perms (the caller lacks them).
func (s *Server) DenyPermissions(project string, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[project] == nil {
		s.denied[project] = map[string]bool{}
	}
	for _, p := range perms {
		s.denied[project][p] = true
	}
}

// policyFor returns the project's policy; ok is false for a project that does not exist. Callers hold s.mu.
func (s *Server) policyFor(project string) (*crm.Policy, bool) {
	if p, ok := s.policies[project]; ok {
		return p, true
	}
	if s.projects[project] {
		return &crm.Policy{Etag: emptyPolicyEtag, Version: 1}, true
	}
	return nil, false
}

// The API answers 403 for a project that does not exist, so callers cannot probe for project ids.
func errNoProject(perm, project string) *apiError {
	e := errPermission(perm, "projects/"+project)
	e.Message = "The caller does not have permission"
	return e
}

func (s *Server) getProject(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.projects[p] {
		return nil, errNoProject("resourcemanager.projects.get", p)
	}
	return &crm.Project{ProjectId: p, Name: p, ProjectNumber: projectNumber(p), LifecycleState: "ACTIVE",
		CreateTime: rfc3339(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}, nil
}

func (s *Server) getIamPolicy(c *call) (any, *apiError) {
	var req crm.GetIamPolicyRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.policyFor(p)
	if !ok {
		return nil, errNoProject("resourcemanager.projects.getIamPolicy", p)
	}
	v := int64(0)
	if req.Options != nil {
		v = req.Options.RequestedPolicyVersion
	}
	return policyForVersion(pol, v), nil
}

// setIamPolicy replaces the policy. A non-empty etag that differs from the current one is 409
// ABORTED (a concurrent change); success sets a new etag. A policy with conditional bindings (before
// or after) must be sent as version 3, else 400. Members must be typed ("user:…",
// "serviceAccount:…", …) and roles named "roles/…" or a custom role path.
func (s *Server) setIamPolicy(c *call) (any, *apiError) {
	var req crm.SetIamPolicyRequest
	if err := c.decode(&req, true); err != nil {
		return nil, err
	}
	if req.Policy == nil {
		return nil, errInvalid("Required field 'policy' not specified.")
	}
	for _, b := range req.Policy.Bindings {
		if b == nil {
			return nil, errInvalid("Invalid value for field 'policy.bindings': null binding.")
		}
		if !strings.HasPrefix(b.Role, "roles/") && !strings.Contains(b.Role, "/roles/") {
			return nil, errInvalid("Role %q is not supported for this resource.", b.Role)
		}
		for _, m := range b.Members {
			if m != "allUsers" && m != "allAuthenticatedUsers" && !strings.Contains(m, ":") {
				return nil, errInvalid("Invalid member '%s' in binding for role '%s': members need a type prefix such as 'serviceAccount:'.", m, b.Role)
			}
		}
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.policyFor(p)
	if !ok {
		return nil, errNoProject("resourcemanager.projects.setIamPolicy", p)
	}
	if req.Policy.Etag != "" && req.Policy.Etag != cur.Etag {
		return nil, errAborted("There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.", req.Policy.Etag, cur.Etag)
	}
	if req.Policy.Version < 3 && (hasConditions(cur) || hasConditions(req.Policy)) {
		return nil, errInvalid("The policy has conditional role bindings: set it with policy version 3 (read it with options.requestedPolicyVersion 3 first).")
	}
	next := clone(req.Policy)
	next.Etag = s.etag()
	if next.Version == 0 {
		next.Version = 1
	}
	s.policies[p] = next
	c.mutated("Policy", p, "", p, "")
	return clone(next), nil
}

func (s *Server) testIamPermissions(c *call) (any, *apiError) {
	var req crm.TestIamPermissionsRequest
	if err := c.decode(&req, true); err != nil {
		return nil, err
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.projects[p] {
		return &crm.TestIamPermissionsResponse{}, nil
	}
	out := &crm.TestIamPermissionsResponse{}
	for _, perm := range req.Permissions {
		if !s.denied[p][perm] {
			out.Permissions = append(out.Permissions, perm)
		}
	}
	return out, nil
}
