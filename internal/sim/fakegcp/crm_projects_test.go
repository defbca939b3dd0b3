package fakegcp_test

import (
	"strings"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	container "google.golang.org/api/container/v1"
)

// projects.list through the real client: every page, sorted, without the projects the caller may not
// see; an unsimulated filter is refused, not ignored.
func TestListProjects(t *testing.T) {
	s, a := newFake(t)
	for _, p := range []string{"zeta", "alpha", "mid", "hidden"} {
		s.AddCluster(p, "europe-west1", &container.Cluster{Name: "c"})
	}
	s.DenyPermissions("hidden", "resourcemanager.projects.get")
	s.SetPageSize(2)
	var ids []string
	pages := 0
	err := a.crm.Projects.List().Filter("lifecycleState:ACTIVE").Pages(ctxT(t), func(r *crm.ListProjectsResponse) error {
		pages++
		for _, p := range r.Projects {
			if p.LifecycleState != "ACTIVE" || p.ProjectNumber == 0 {
				t.Errorf("project %+v", p)
			}
			ids = append(ids, p.ProjectId)
		}
		return nil
	})
	noErr(t, err)
	if got := strings.Join(ids, ","); got != "alpha,mid,zeta" || pages != 2 {
		t.Errorf("projects %s in %d pages, want alpha,mid,zeta in 2", got, pages)
	}
	_, err = a.crm.Projects.List().Filter("name:foo*").Context(ctxT(t)).Do()
	apiErr(t, err, 400)
}
