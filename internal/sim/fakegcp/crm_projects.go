package fakegcp

import (
	"sort"
	"strings"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// crmProjectRoutes serve Cloud Resource Manager v1 projects.list: the projects the caller can see.
func (s *Server) crmProjectRoutes() []route {
	return []route{r("cloudresourcemanager", "GET", "v1/projects", s.listProjects)}
}

// listProjects answers projects.list: every project that exists (anything seeded in it), sorted by id,
// paginated by pageSize/pageToken, leaving out the projects the caller may not see (those where
// DenyPermissions took resourcemanager.projects.get, as the real API does). A filter is accepted only
// in the forms the tool sends ("" or "lifecycleState:ACTIVE": every fake project is ACTIVE); any other
// is answered 400 so an unsimulated filter shows up instead of passing silently.
func (s *Server) listProjects(c *call) (any, *apiError) {
	if f := strings.TrimSpace(c.query("filter")); f != "" && f != "lifecycleState:ACTIVE" {
		return nil, errInvalid("fakegcp does not simulate the projects.list filter %q.", f)
	}
	s.mu.Lock()
	var ids []string
	for p := range s.projects {
		if !s.denied[p]["resourcemanager.projects.get"] {
			ids = append(ids, p)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	items := make([]*crm.Project, 0, len(ids))
	for _, p := range ids {
		items = append(items, &crm.Project{ProjectId: p, Name: p, ProjectNumber: projectNumber(p), LifecycleState: "ACTIVE",
			CreateTime: rfc3339(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))})
	}
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &crm.ListProjectsResponse{Projects: page, NextPageToken: next}, nil
}
