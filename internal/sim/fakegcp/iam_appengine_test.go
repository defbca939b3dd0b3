package fakegcp_test

import (
	"context"
	"strings"
	"testing"

	appengine "google.golang.org/api/appengine/v1"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

type iamAPIs struct {
	iam   *iam.Service
	crmv2 *crmv2.Service
	gae   *appengine.APIService
}

func newIAMAPIs(t *testing.T, s *fakegcp.Server) *iamAPIs {
	t.Helper()
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(s.URL + "/"), option.WithoutAuthentication()}
	a := &iamAPIs{}
	var err error
	if a.iam, err = iam.NewService(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if a.crmv2, err = crmv2.NewService(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if a.gae, err = appengine.NewService(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	return a
}

// Roles: predefined ones answer with their permissions, custom ones where they were added; an
// unknown role is 404, a project that does not exist 403.
func TestIAM_Roles(t *testing.T) {
	s, _ := newFake(t)
	a := newIAMAPIs(t, s)
	ctx := ctxT(t)
	r, err := a.iam.Roles.Get("roles/trafficdirector.client").Context(ctx).Do()
	if err != nil || strings.Join(r.IncludedPermissions, ",") != "trafficdirector.networks.getConfigs,trafficdirector.networks.reportMetrics" {
		t.Fatalf("%+v %v", r, err)
	}
	s.AddRole(&iam.Role{Name: "projects/p/roles/meshClient", IncludedPermissions: []string{"trafficdirector.networks.getConfigs"}})
	s.AddRole(&iam.Role{Name: "organizations/7/roles/orgMesh", IncludedPermissions: []string{"x.y.z"}})
	if r, err := a.iam.Projects.Roles.Get("projects/p/roles/meshClient").Context(ctx).Do(); err != nil || r.Stage != "GA" || r.Etag == "" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := a.iam.Organizations.Roles.Get("organizations/7/roles/orgMesh").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = a.iam.Projects.Roles.Get("projects/p/roles/nope").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.iam.Projects.Roles.Get("projects/nowhere/roles/meshClient").Context(ctx).Do()
	apiErr(t, err, 403)
}

// Ancestry and the folders' and organisation's policies; policy versions with conditions.
func TestIAM_AncestryAndPolicyVersions(t *testing.T) {
	s, c := newFake(t)
	a := newIAMAPIs(t, s)
	ctx := ctxT(t)
	s.SetAncestry("p", "folders/42", "organizations/7")
	anc, err := c.crm.Projects.GetAncestry("p", &crm.GetAncestryRequest{}).Context(ctx).Do()
	if err != nil || len(anc.Ancestor) != 3 || anc.Ancestor[1].ResourceId.Type != "folder" || anc.Ancestor[2].ResourceId.Id != "7" {
		t.Fatalf("%+v %v", anc, err)
	}
	s.SetFolderIamPolicy("folders/42", &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"group:g@example.com"}}}})
	if fp, err := a.crmv2.Folders.GetIamPolicy("folders/42", &crmv2.GetIamPolicyRequest{}).Context(ctx).Do(); err != nil || len(fp.Bindings) != 1 {
		t.Fatalf("%+v %v", fp, err)
	}
	if _, err := c.crm.Organizations.GetIamPolicy("organizations/7", &crm.GetIamPolicyRequest{}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = a.crmv2.Folders.GetIamPolicy("folders/99", &crmv2.GetIamPolicyRequest{}).Context(ctx).Do()
	apiErr(t, err, 403)

	cond := &crm.Expr{Title: "t", Expression: "request.time < timestamp(\"2027-01-01T00:00:00Z\")"}
	s.SetIamPolicy("p", &crm.Policy{Version: 3, Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"user:a@example.com"}, Condition: cond}}})
	v1, err := c.crm.Projects.GetIamPolicy("p", &crm.GetIamPolicyRequest{}).Context(ctx).Do()
	if err != nil || v1.Version != 1 || !strings.HasPrefix(v1.Bindings[0].Role, "roles/viewer_withcond_") || v1.Bindings[0].Condition != nil {
		t.Fatalf("version 1 read: %+v %v", v1, err)
	}
	v3, err := c.crm.Projects.GetIamPolicy("p", &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
	if err != nil || v3.Version != 3 || v3.Bindings[0].Condition == nil {
		t.Fatalf("version 3 read: %+v %v", v3, err)
	}
	// Writing back a policy with conditions as version 1 is refused; as version 3 it works.
	v3.Version = 1
	_, err = c.crm.Projects.SetIamPolicy("p", &crm.SetIamPolicyRequest{Policy: v3}).Context(ctx).Do()
	apiErr(t, err, 400)
	v3.Version = 3
	if _, err := c.crm.Projects.SetIamPolicy("p", &crm.SetIamPolicyRequest{Policy: v3}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
}

// App Engine: no application is 404 all the way down; versions list in BASIC and FULL views and
// paginate.
func TestAppEngine_AppsServicesVersions(t *testing.T) {
	s, _ := newFake(t)
	a := newIAMAPIs(t, s)
	ctx := ctxT(t)
	_, err := a.gae.Apps.Get("p").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.gae.Apps.Services.List("p").Context(ctx).Do()
	apiErr(t, err, 404)

	s.AddApp("p", "europe-west")
	for _, id := range []string{"v1", "v2", "v3"} {
		s.AddAppVersion("p", "default", &appengine.Version{Id: id, EnvVariables: map[string]string{"URL": "http://10.0.0.1"},
			VpcAccessConnector: &appengine.VpcAccessConnector{Name: "projects/p/locations/europe-west1/connectors/c", EgressSetting: "ALL_TRAFFIC"}})
	}
	app, err := a.gae.Apps.Get("p").Context(ctx).Do()
	if err != nil || app.LocationId != "europe-west" {
		t.Fatalf("%+v %v", app, err)
	}
	svcs, err := a.gae.Apps.Services.List("p").Context(ctx).Do()
	if err != nil || len(svcs.Services) != 1 || svcs.Services[0].Split.Allocations["v1"] != 1 {
		t.Fatalf("%+v %v", svcs, err)
	}
	basic, err := a.gae.Apps.Services.Versions.List("p", "default").Context(ctx).Do()
	if err != nil || len(basic.Versions) != 3 || basic.Versions[0].EnvVariables != nil || basic.Versions[0].VpcAccessConnector.EgressSetting != "ALL_TRAFFIC" {
		t.Fatalf("basic view: %+v %v", basic, err)
	}
	var all []*appengine.Version
	err = a.gae.Apps.Services.Versions.List("p", "default").View("FULL").PageSize(2).Pages(ctx, func(r *appengine.ListVersionsResponse) error {
		all = append(all, r.Versions...)
		return nil
	})
	if err != nil || len(all) != 3 || all[2].EnvVariables["URL"] != "http://10.0.0.1" || all[0].ServingStatus != "SERVING" || all[0].Env != "standard" {
		t.Fatalf("full view: %d %v", len(all), err)
	}
	if v, err := a.gae.Apps.Services.Versions.Get("p", "default", "v2").View("FULL").Context(ctx).Do(); err != nil || v.Name != "apps/p/services/default/versions/v2" {
		t.Fatalf("%+v %v", v, err)
	}
	_, err = a.gae.Apps.Services.Versions.Get("p", "default", "v9").Context(ctx).Do()
	apiErr(t, err, 404)
}
