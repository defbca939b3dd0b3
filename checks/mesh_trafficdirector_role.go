package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// mesh-trafficdirector-role (FAILURE-MODES §7a): a Cloud Run service joined to Cloud Service Mesh
// needs its service account to hold trafficdirector.networks.getConfigs (roles/trafficdirector.client)
// on the mesh's project, or its Envoy sidecar's xDS stream is denied. For each mesh-enabled service
// the decisions, in order:
//
//  1. the effective service account is known (none named: the Compute Engine default SA)
//  2. the mesh project's IAM policy can be read                      (else skip, naming the permission)
//  3. the SA's own unconditional bindings hold a role with the permission             → pass
//  4. a group/domain binding or a conditional grant might hold it                     → noted
//  5. the folders' and organisation's policies grant it                               → pass
//  6. nothing grants it: fail (trafficdirector-role-missing), or warn
//     (trafficdirector-role-unverified) when something that could grant it was not readable.

func init() {
	Register(CheckFunc{CheckID: "mesh-trafficdirector-role", Fn: runMeshTrafficDirectorRole})
}

const (
	// PermTrafficDirectorGetConfigs is what Envoy's xDS stream needs on the mesh project.
	PermTrafficDirectorGetConfigs = "trafficdirector.networks.getConfigs"
	// RoleTrafficDirectorClient grants it (with trafficdirector.networks.reportMetrics).
	RoleTrafficDirectorClient = "roles/trafficdirector.client"
	// AnnotationRunMesh is the v1 (Knative-style) revision annotation that joins a service to a mesh.
	AnnotationRunMesh = "run.googleapis.com/mesh"
)

// meshClient is one mesh-enabled Cloud Run service and the verdict on its service account.
type meshClient struct {
	Svc         *run.GoogleCloudRunV2Service
	Name        string
	Location    string
	Project     string // the Cloud Run service's project
	Mesh        string // projects/P/locations/global/meshes/M
	MeshProject string
	SA          string
	SAFrom      string // how the SA was found, for people
	DefaultSA   bool

	Status   Status
	Cause    string
	Summary  string
	Evidence []Evidence
	Err      error
	// GrantedBy names the binding that grants the permission, on a pass.
	GrantedBy string
	// unverified collects what could have granted the permission but could not be confirmed.
	unverified []string
	missing    []missingFact
}

// missingFact is something that could grant the permission and could not be read.
type missingFact struct {
	What string
	Err  error
}

func (c *meshClient) step(st Status, step, detail, cmd string) {
	c.Evidence = append(c.Evidence, Evidence{Step: step, Status: st, Detail: detail, Command: cmd})
}

func (c *meshClient) label() string { return fmt.Sprintf("Cloud Run %s (%s)", c.Name, c.Location) }

func (c *meshClient) member() string { return "serviceAccount:" + c.SA }

// meshOf returns the mesh a service joins: template.serviceMesh.mesh, else the annotation on the
// template or the service.
func meshOf(s *run.GoogleCloudRunV2Service) string {
	if s == nil {
		return ""
	}
	if t := s.Template; t != nil {
		if t.ServiceMesh != nil && t.ServiceMesh.Mesh != "" {
			return t.ServiceMesh.Mesh
		}
		if m := t.Annotations[AnnotationRunMesh]; m != "" {
			return m
		}
	}
	return s.Annotations[AnnotationRunMesh]
}

// meshServices finds the mesh-enabled Cloud Run services: the one named with --cloud-run-service, or
// every service of the location.
func meshServices(ctx context.Context, env *Env) ([]*run.GoogleCloudRunV2Service, int, error) {
	inv := env.Inv
	location := gref.Region(inv.Scope.Location)
	var all []*run.GoogleCloudRunV2Service
	if env.Targets.CloudRunService != "" {
		project, loc, name := CloudRunRef(env.Targets.CloudRunService, inv.Scope.Project, location)
		s, err := inv.RunService(ctx, project, loc, name)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, s)
	} else {
		if inv.Scope.Project == "" || location == "" {
			return nil, 0, apierr.NotConfiguredf("--project and --location (or a gke_ context), or --cloud-run-service", "no Cloud Run location to look in")
		}
		var err error
		if all, err = inv.RunServices(ctx, inv.Scope.Project, location); err != nil {
			return nil, 0, err
		}
	}
	var out []*run.GoogleCloudRunV2Service
	for _, s := range all {
		if meshOf(s) != "" {
			out = append(out, s)
		}
	}
	return out, len(all), nil
}

func runMeshTrafficDirectorRole(ctx context.Context, env *Env, rec *Recorder) Result {
	svcs, n, err := meshServices(ctx, env)
	if err != nil {
		return FromErr("find the Cloud Run services in a mesh", err)
	}
	if len(svcs) == 0 {
		where := "--cloud-run-service " + env.Targets.CloudRunService
		if env.Targets.CloudRunService == "" {
			where = fmt.Sprintf("%d Cloud Run service(s) in %s", n, gref.Region(env.Inv.Scope.Location))
		}
		return SkipResult("not-applicable", fmt.Sprintf("not applicable: no Cloud Run service joined to Cloud Service Mesh (%s; none has template.serviceMesh.mesh or the %s annotation)", where, AnnotationRunMesh))
	}
	var clients []*meshClient
	for _, s := range svcs {
		clients = append(clients, meshClientFor(ctx, env, s))
	}
	r := combineFindings(rec, clients, func(c *meshClient) (Status, string, string, []Evidence, error) {
		return c.Status, c.Cause, c.Summary, c.Evidence, c.Err
	}, func(n int) string {
		var s []string
		for _, c := range clients {
			s = append(s, fmt.Sprintf("%s runs as %s, which holds %s on mesh project %s (%s)", c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject, c.GrantedBy))
		}
		return strings.Join(s, "; ")
	})
	seen := map[string]bool{}
	for _, c := range clients {
		if c.Status != Fail && c.Status != Warn {
			continue
		}
		p := meshRolePlan(ctx, env, c)
		if !seen[p.ID] {
			seen[p.ID] = true
			r.Fixes = append(r.Fixes, p)
		}
	}
	return r
}

// meshClientFor decides one service with the decision list.
func meshClientFor(ctx context.Context, env *Env, s *run.GoogleCloudRunV2Service) *meshClient {
	c := &meshClient{Svc: s, Mesh: meshOf(s), Project: gref.ProjectOf(s.Name), Location: gref.LocationOf(s.Name), Name: gref.ShortName(s.Name)}
	if c.Project == "" {
		c.Project = env.Inv.Scope.Project
	}
	c.MeshProject = gref.ProjectOf(c.Mesh)
	c.step(Pass, "mesh of "+c.label(), fmt.Sprintf("joined to %s (mesh project %s)", c.Mesh, orPlaceholder(c.MeshProject, "?")),
		fmt.Sprintf("gcloud run services describe %s --region %s --project %s --format='value(template.serviceMesh.mesh,template.serviceAccount)'", c.Name, c.Location, c.Project))
	for _, decide := range []func(context.Context, *Env) bool{
		c.decideMeshProject,
		c.decideServiceAccount,
		c.decideProjectPolicy,
		c.decideInherited,
	} {
		if decide(ctx, env) {
			return c
		}
	}
	c.verdict()
	return c
}

// decideMeshProject: the mesh reference names its project.
func (c *meshClient) decideMeshProject(context.Context, *Env) bool {
	if c.MeshProject != "" {
		return false
	}
	c.Status, c.Cause = Skip, "not-applicable"
	c.Summary = fmt.Sprintf("%s names the mesh %q, which is not projects/PROJECT/locations/global/meshes/MESH: the mesh project is unknown", c.label(), c.Mesh)
	return true
}

// decideServiceAccount: the service account the revision runs as, or the Compute Engine default one.
func (c *meshClient) decideServiceAccount(ctx context.Context, env *Env) bool {
	if c.Svc.Template != nil && c.Svc.Template.ServiceAccount != "" {
		c.SA, c.SAFrom = c.Svc.Template.ServiceAccount, "template.serviceAccount"
		c.step(Pass, "service account of "+c.label(), c.SA+" (template.serviceAccount)", "")
		return false
	}
	num, err := env.Inv.ProjectNumber(ctx, c.Project)
	if err != nil {
		c.Err, c.Status = err, Skip
		r := FromErr("find the Compute Engine default service account of project "+c.Project+" (the service names none)", err)
		c.Cause, c.Summary = r.Cause, r.Summary
		c.step(Skip, "service account of "+c.label(), "template.serviceAccount is empty (the Compute Engine default service account); "+err.Error(), "gcloud projects describe "+c.Project+" --format='value(projectNumber)'")
		return true
	}
	c.SA, c.SAFrom, c.DefaultSA = fmt.Sprintf("%d-compute@developer.gserviceaccount.com", num), "the Compute Engine default (template.serviceAccount is empty)", true
	c.step(Pass, "service account of "+c.label(), c.SA+": template.serviceAccount is empty, so the revision runs as the Compute Engine default service account", "gcloud projects describe "+c.Project+" --format='value(projectNumber)'")
	return false
}

func policyCommand(project string) string {
	return fmt.Sprintf("gcloud projects get-iam-policy %s --flatten='bindings[].members' --format='table(bindings.role,bindings.members,bindings.condition.title)'", project)
}

// decideProjectPolicy: the mesh project's policy, read; the SA's bindings and the groups/domains that
// might include it.
func (c *meshClient) decideProjectPolicy(ctx context.Context, env *Env) bool {
	pol, err := env.Inv.IamPolicy(ctx, c.MeshProject)
	if err != nil {
		c.Err, c.Status = err, Skip
		r := FromErr("read the IAM policy of mesh project "+c.MeshProject, err)
		c.Cause, c.Summary = r.Cause, r.Summary
		c.step(Skip, "IAM policy of mesh project "+c.MeshProject, err.Error(), policyCommand(c.MeshProject))
		return true
	}
	if by := c.grantIn(ctx, env, pol, "project "+c.MeshProject); by != "" {
		c.GrantedBy = by
		c.Status = Pass
		c.Summary = fmt.Sprintf("%s runs as %s, which holds %s on mesh project %s (%s)", c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject, by)
		c.step(Pass, "IAM policy of mesh project "+c.MeshProject, "granted by "+by+" (IAM deny policies are not read)", policyCommand(c.MeshProject))
		return true
	}
	c.step(Fail, "IAM policy of mesh project "+c.MeshProject, fmt.Sprintf("no binding of %s grants %s", c.member(), PermTrafficDirectorGetConfigs), policyCommand(c.MeshProject))
	return false
}

// decideInherited: bindings on the project's folders and organisation apply too.
func (c *meshClient) decideInherited(ctx context.Context, env *Env) bool {
	cmd := "gcloud projects get-ancestors " + c.MeshProject
	anc, err := env.Inv.Ancestry(ctx, c.MeshProject)
	if err != nil {
		c.noteMissing("the folders and organisation above project "+c.MeshProject, err)
		c.step(Skip, "inherited bindings", "could not read the project's ancestry, so bindings on its folders and organisation are unknown: "+err.Error(), cmd)
		return false
	}
	var looked []string
	for _, a := range anc {
		if a.Type != "folder" && a.Type != "organization" {
			continue
		}
		what := a.Type + " " + a.Id
		pcmd := fmt.Sprintf("gcloud resource-manager folders get-iam-policy %s", a.Id)
		if a.Type == "organization" {
			pcmd = fmt.Sprintf("gcloud organizations get-iam-policy %s", a.Id)
		}
		pol, err := env.Inv.AncestorIamPolicy(ctx, a.Type, a.Id)
		if err != nil {
			c.noteMissing("the IAM policy of "+what, err)
			c.step(Skip, "inherited bindings from "+what, err.Error(), pcmd)
			continue
		}
		looked = append(looked, what)
		if by := c.grantIn(ctx, env, pol, what); by != "" {
			c.GrantedBy = by + ", inherited"
			c.Status = Pass
			c.Summary = fmt.Sprintf("%s runs as %s, which holds %s on mesh project %s through %s (inherited)", c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject, by)
			c.step(Pass, "inherited bindings from "+what, "granted by "+by, pcmd)
			return true
		}
		c.step(Pass, "inherited bindings from "+what, "no binding grants it", pcmd)
	}
	if len(looked) == 0 && len(c.missing) == 0 {
		c.step(Pass, "inherited bindings", "project "+c.MeshProject+" has no folder or organisation above it", cmd)
	}
	return false
}

// verdict: nothing grants the permission where gkedoctor could look.
func (c *meshClient) verdict() {
	if len(c.unverified) > 0 || len(c.missing) > 0 {
		c.Status, c.Cause = Warn, "trafficdirector-role-unverified"
		var why []string
		for _, m := range c.missing {
			why = append(why, m.describe())
		}
		why = append(why, c.unverified...)
		c.Summary = fmt.Sprintf("%s runs as %s; no binding gkedoctor could read grants it %s on mesh project %s, but it could not confirm the rest: %s",
			c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject, strings.Join(why, "; "))
		if len(c.missing) > 0 {
			c.Err = c.missing[0].Err
		}
		return
	}
	c.Status, c.Cause = Fail, "trafficdirector-role-missing"
	c.Summary = fmt.Sprintf("%s runs as %s, which holds no role with %s on mesh project %s (neither %s nor a custom role, not inherited): its Envoy sidecar's configuration stream is denied (\"Permission '%s' denied\")",
		c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject, RoleTrafficDirectorClient, PermTrafficDirectorGetConfigs)
}

func (c *meshClient) noteMissing(what string, err error) {
	c.missing = append(c.missing, missingFact{What: what, Err: err})
}

// describe says what could not be read and the permission that would let gkedoctor read it.
func (m missingFact) describe() string {
	if e, ok := apierr.As(m.Err); ok && e.Kind == apierr.Permission && e.Permission != "" {
		return fmt.Sprintf("could not read %s (missing %s)", m.What, e.Permission)
	}
	return fmt.Sprintf("could not read %s: %v", m.What, m.Err)
}

// grantIn looks in one policy for a binding that grants the SA the permission: its own member, or
// allAuthenticatedUsers / allUsers, with a role that holds it (roles/trafficdirector.client, or any
// role whose includedPermissions list it, read through iam roles.get). Conditional grants and
// group/domain bindings are recorded as unverified. It returns the grant, for people, or "".
func (c *meshClient) grantIn(ctx context.Context, env *Env, pol *crm.Policy, where string) string {
	member := c.member()
	domain := ""
	if i := strings.LastIndexByte(c.SA, '@'); i >= 0 {
		domain = c.SA[i+1:]
	}
	bindings := append([]*crm.Binding(nil), pol.Bindings...)
	sort.SliceStable(bindings, func(i, j int) bool {
		return bindings[i].Role == RoleTrafficDirectorClient && bindings[j].Role != RoleTrafficDirectorClient
	})
	for _, b := range bindings {
		if b == nil {
			continue
		}
		direct, maybe := false, ""
		for _, m := range b.Members {
			switch {
			case m == member || m == "allAuthenticatedUsers" || m == "allUsers":
				direct = true
			case strings.HasPrefix(m, "group:"), strings.HasPrefix(m, "principalSet:"):
				maybe = m
			case m == "domain:"+domain:
				direct = true
			}
		}
		if !direct && maybe == "" {
			continue
		}
		holds, err := c.roleHolds(ctx, env, b.Role)
		switch {
		case err != nil:
			c.noteMissing("the role "+b.Role+" (bound to "+orPlaceholder(maybe, member)+" on "+where+")", err)
			c.step(Skip, "role "+b.Role, "could not read its permissions: "+err.Error(), roleCommand(b.Role))
			continue
		case !holds:
			continue
		}
		grant := fmt.Sprintf("%s on %s", b.Role, where)
		switch {
		case !direct:
			c.unverified = append(c.unverified, fmt.Sprintf("%s grants it to %s, whose members gkedoctor cannot read", grant, maybe))
		case b.Condition != nil:
			c.unverified = append(c.unverified, fmt.Sprintf("%s grants it only under the IAM condition %q (%s), which gkedoctor does not evaluate", grant, orPlaceholder(b.Condition.Title, "untitled"), b.Condition.Expression))
		default:
			return grant
		}
	}
	return ""
}

// roleHolds reports whether role grants trafficdirector.networks.getConfigs. roles/trafficdirector.client
// does ([V]); any other role is read for its includedPermissions (a deleted or disabled custom role
// grants nothing).
func (c *meshClient) roleHolds(ctx context.Context, env *Env, role string) (bool, error) {
	if role == RoleTrafficDirectorClient {
		return true, nil
	}
	r, err := env.Inv.Role(ctx, role)
	if err != nil {
		return false, err
	}
	if r.Deleted || r.Stage == "DISABLED" {
		return false, nil
	}
	for _, p := range r.IncludedPermissions {
		if p == PermTrafficDirectorGetConfigs {
			return true, nil
		}
	}
	return false, nil
}

func roleCommand(role string) string {
	switch {
	case strings.HasPrefix(role, "projects/"):
		parts := strings.Split(role, "/")
		return fmt.Sprintf("gcloud iam roles describe %s --project %s", parts[len(parts)-1], parts[1])
	case strings.HasPrefix(role, "organizations/"):
		parts := strings.Split(role, "/")
		return fmt.Sprintf("gcloud iam roles describe %s --organization %s", parts[len(parts)-1], parts[1])
	}
	return "gcloud iam roles describe " + role
}

// meshRolePlan grants roles/trafficdirector.client on the mesh project to the SA: applied by the
// tool when the caller may set the policy, advice otherwise. Granting it to the Compute Engine
// default service account reaches every workload that runs as it, so that asks once more.
func meshRolePlan(ctx context.Context, env *Env, c *meshClient) *fixes.Plan {
	o := fixes.IAMBinding{Project: c.MeshProject, Role: RoleTrafficDirectorClient, Member: c.member(),
		Why: fmt.Sprintf("%s's Envoy sidecar fetches its configuration from Traffic Director as %s, which needs %s on the mesh project %s.", c.label(), c.SA, PermTrafficDirectorGetConfigs, c.MeshProject)}
	if c.DefaultSA {
		o.Affects = fmt.Sprintf("%s is the Compute Engine default service account of %s: every VM, Cloud Run service and function that runs as it gets the role too (a dedicated service account for %s is narrower)", c.SA, c.Project, c.Name)
	}
	const setPerm = "resourcemanager.projects.setIamPolicy"
	if got, err := env.Inv.TestIamPermissions(ctx, c.MeshProject, setPerm); err == nil && !slices.Contains(got, setPerm) {
		o.Advice = true
		o.AdviceWhy = fmt.Sprintf("Your credentials lack %s on %s, so gkedoctor cannot make the grant: ask an owner of the project to run the command.", setPerm, c.MeshProject)
	}
	p := fixes.NewIAMBindingPlan(env.FixDeps, o)
	p.Check = "mesh-trafficdirector-role"
	judged := []string{"every workload that runs as " + c.SA + " gets the role"}
	pol, err := env.Inv.IamPolicy(ctx, c.MeshProject)
	if err != nil {
		return p.Judge(judged, fixes.Unread{Fact: "the IAM policy of project " + c.MeshProject, Permission: "resourcemanager.projects.getIamPolicy on " + c.MeshProject})
	}
	return p.Judge(append(judged, bindingMembers(pol, RoleTrafficDirectorClient, c.MeshProject)))
}

// bindingMembers lists who holds role on the project today (the binding the grant adds a member to).
func bindingMembers(pol *crm.Policy, role, project string) string {
	var members []string
	for _, b := range pol.Bindings {
		if b.Role == role && b.Condition == nil {
			members = append(members, b.Members...)
		}
	}
	if len(members) == 0 {
		return "the binding's members: none (" + role + " on " + project + " is granted to no one yet)"
	}
	return "the binding's members (" + role + " on " + project + "): " + strings.Join(members, ", ")
}
