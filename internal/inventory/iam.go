package inventory

import (
	"context"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	iam "google.golang.org/api/iam/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// The permissions the IAM reads need, named when a 403 does not say.
const (
	PermProjectsGetIamPolicy      = "resourcemanager.projects.getIamPolicy"
	PermFoldersGetIamPolicy       = "resourcemanager.folders.getIamPolicy"
	PermOrganizationsGetIamPolicy = "resourcemanager.organizations.getIamPolicy"
	PermProjectsGet               = "resourcemanager.projects.get"
	PermRolesGet                  = "iam.roles.get"
)

// Role returns an IAM role with its includedPermissions: a predefined role (roles/R, which anyone may
// read) or a custom one (projects/P/roles/R, organizations/O/roles/R; a 403 names iam.roles.get).
func (i *Inventory) Role(ctx context.Context, name string) (*iam.Role, error) {
	return Memo(ctx, i, KeyIAM+"role/"+name, func(ctx context.Context) (*iam.Role, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var r *iam.Role
		switch {
		case strings.HasPrefix(name, "projects/"):
			r, err = g.IAM.Projects.Roles.Get(name).Context(ctx).Do()
		case strings.HasPrefix(name, "organizations/"):
			r, err = g.IAM.Organizations.Roles.Get(name).Context(ctx).Do()
		default:
			r, err = g.IAM.Roles.Get(name).Context(ctx).Do()
		}
		return r, gcp.MapWith(err, "get IAM role", name, PermRolesGet)
	})
}

// Ancestry returns a project's ancestors, the project first, then its folders (nearest first) and
// its organisation (projects.getAncestry; a 403 names resourcemanager.projects.get).
func (i *Inventory) Ancestry(ctx context.Context, project string) ([]*crm.ResourceId, error) {
	return Memo(ctx, i, KeyIAM+"ancestry/"+project, func(ctx context.Context) ([]*crm.ResourceId, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		r, err := g.CRM.Projects.GetAncestry(project, &crm.GetAncestryRequest{}).Context(ctx).Do()
		if err != nil {
			return nil, gcp.MapWith(err, "get the ancestry of project", project, PermProjectsGet)
		}
		var out []*crm.ResourceId
		for _, a := range r.Ancestor {
			if a != nil && a.ResourceId != nil {
				out = append(out, a.ResourceId)
			}
		}
		return out, nil
	})
}

// AncestorIamPolicy returns the IAM policy of a folder ("folder", ID) or an organisation
// ("organization", ID), as version 3, in the v1 shape. A 403 names
// resourcemanager.folders.getIamPolicy or resourcemanager.organizations.getIamPolicy.
func (i *Inventory) AncestorIamPolicy(ctx context.Context, typ, id string) (*crm.Policy, error) {
	return Memo(ctx, i, KeyIAM+typ+"/"+id, func(ctx context.Context) (*crm.Policy, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		switch typ {
		case "folder":
			p, err := g.CRMv2.Folders.GetIamPolicy("folders/"+id, &crmv2.GetIamPolicyRequest{Options: &crmv2.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
			if err != nil {
				return nil, gcp.MapWith(err, "get IAM policy", "folders/"+id, PermFoldersGetIamPolicy)
			}
			out := &crm.Policy{Etag: p.Etag, Version: p.Version}
			for _, b := range p.Bindings {
				nb := &crm.Binding{Role: b.Role, Members: b.Members}
				if b.Condition != nil {
					nb.Condition = &crm.Expr{Expression: b.Condition.Expression, Title: b.Condition.Title, Description: b.Condition.Description}
				}
				out.Bindings = append(out.Bindings, nb)
			}
			return out, nil
		default:
			p, err := g.CRM.Organizations.GetIamPolicy("organizations/"+id, &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
			return p, gcp.MapWith(err, "get IAM policy", "organizations/"+id, PermOrganizationsGetIamPolicy)
		}
	})
}

// ProjectNumber returns a project's number (projects.get; a 403 names resourcemanager.projects.get):
// the Compute Engine default service account is PROJECT_NUMBER-compute@developer.gserviceaccount.com.
func (i *Inventory) ProjectNumber(ctx context.Context, project string) (int64, error) {
	return Memo(ctx, i, KeyIAM+"project/"+project, func(ctx context.Context) (int64, error) {
		g, err := i.GCP()
		if err != nil {
			return 0, err
		}
		p, err := g.CRM.Projects.Get(project).Context(ctx).Do()
		if err != nil {
			return 0, gcp.MapWith(err, "get project", project, PermProjectsGet)
		}
		return p.ProjectNumber, nil
	})
}

// TestIamPermissions returns which of perms the caller holds on a project (testIamPermissions, a
// read): a fix asks before it offers to write what the caller may not.
func (i *Inventory) TestIamPermissions(ctx context.Context, project string, perms ...string) ([]string, error) {
	return Memo(ctx, i, KeyIAM+"test/"+project+"/"+strings.Join(perms, ","), func(ctx context.Context) ([]string, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		r, err := g.CRM.Projects.TestIamPermissions(project, &crm.TestIamPermissionsRequest{Permissions: perms}).Context(ctx).Do()
		if err != nil {
			return nil, gcp.Map(err, "test IAM permissions on project", project)
		}
		return r.Permissions, nil
	})
}
