package checks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"
	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The mesh role check and its fix through the real cloudresourcemanager, iam and run clients against
// the fake Google API server (seed 001: Cloud Run in Cloud Service Mesh, its service account without
// roles/trafficdirector.client on the mesh project).

const (
	mProject     = "run-project"
	mMeshProject = "mesh-host"
	mRegion      = "europe-west1"
	mService     = "mesh-svc"
	mSA          = "mesh-svc@run-project.iam.gserviceaccount.com"
	mMember      = "serviceAccount:" + mSA
	mMesh        = "projects/" + mMeshProject + "/locations/global/meshes/test-mesh"
	mOps         = "user:ops@example.com"
)

type meshWorld struct {
	t       *testing.T
	srv     *fakegcp.Server
	targets Targets
}

func newMeshWorld(t *testing.T) *meshWorld {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	s.AddRunService(mProject, mRegion, meshRunService(mSA))
	s.AddRunService(mProject, mRegion, &run.GoogleCloudRunV2Service{Name: "plain", Template: &run.GoogleCloudRunV2RevisionTemplate{ServiceAccount: "plain@run-project.iam.gserviceaccount.com"}})
	s.SetIamPolicy(mMeshProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{
		{Role: "roles/owner", Members: []string{mOps}},
		{Role: "roles/run.invoker", Members: []string{mMember}},
	}})
	s.SetIamPolicy(mProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{{Role: "roles/owner", Members: []string{mOps}}}})
	return &meshWorld{t: t, srv: s}
}

func meshRunService(sa string) *run.GoogleCloudRunV2Service {
	return &run.GoogleCloudRunV2Service{Name: mService, Template: &run.GoogleCloudRunV2RevisionTemplate{ServiceAccount: sa,
		ServiceMesh: &run.GoogleCloudRunV2ServiceMesh{Mesh: mMesh},
		Containers:  []*run.GoogleCloudRunV2Container{{Image: "fortio/fortio"}}}}
}

func (w *meshWorld) env(readOnly bool) *Env {
	w.t.Helper()
	g, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.srv.URL, ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	inv := inventory.New(inventory.Scope{Project: mProject, Location: mRegion, Cluster: "c"}, nil, nil, g, nil)
	return &Env{Target: Target{Project: mProject, Location: mRegion}, Targets: w.targets, Inv: inv, Where: Laptop,
		ReadOnly: readOnly, Now: time.Now, FixDeps: &fixes.Deps{GCP: g}}
}

func (w *meshWorld) run(env *Env) Result {
	w.t.Helper()
	if env == nil {
		env = w.env(true)
	}
	c, _ := Lookup("mesh-trafficdirector-role")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return (&Engine{Timeout: 15 * time.Second}).Run(ctx, env, []Check{c}, nil)[0]
}

func (w *meshWorld) addBinding(project string, b *crm.Binding) {
	pol := w.srv.IamPolicy(project)
	pol.Bindings = append(pol.Bindings, b)
	if b.Condition != nil {
		pol.Version = 3
	}
	pol.Etag = ""
	w.srv.SetIamPolicy(project, pol)
}

func evidenceText(r Result) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		b.WriteString("\n  " + string(e.Status) + " " + e.Step + ": " + e.Detail)
	}
	return b.String()
}

func TestMeshRoleVerdicts(t *testing.T) {
	customRole := func(w *meshWorld, perms ...string) {
		w.srv.AddRole(&iam.Role{Name: "projects/" + mMeshProject + "/roles/meshClient", Title: "Mesh client", IncludedPermissions: perms})
		w.addBinding(mMeshProject, &crm.Binding{Role: "projects/" + mMeshProject + "/roles/meshClient", Members: []string{mMember}})
	}
	cases := []struct {
		name    string
		setup   func(w *meshWorld)
		status  Status
		cause   string
		summary []string
	}{
		{name: "role missing", status: Fail, cause: "trafficdirector-role-missing",
			summary: []string{"Cloud Run mesh-svc (europe-west1) runs as " + mSA, "no role with trafficdirector.networks.getConfigs on mesh project mesh-host"}},
		{name: "granted directly", status: Pass,
			setup: func(w *meshWorld) {
				w.addBinding(mMeshProject, &crm.Binding{Role: RoleTrafficDirectorClient, Members: []string{mMember}})
			},
			summary: []string{"roles/trafficdirector.client on project mesh-host"}},
		{name: "granted on the Cloud Run project only", status: Fail, cause: "trafficdirector-role-missing",
			setup: func(w *meshWorld) {
				w.addBinding(mProject, &crm.Binding{Role: RoleTrafficDirectorClient, Members: []string{mMember}})
			}},
		{name: "custom role holding getConfigs", status: Pass,
			setup: func(w *meshWorld) {
				customRole(w, "trafficdirector.networks.getConfigs", "trafficdirector.networks.reportMetrics")
			},
			summary: []string{"projects/mesh-host/roles/meshClient on project mesh-host"}},
		{name: "custom role without getConfigs", status: Fail, cause: "trafficdirector-role-missing",
			setup: func(w *meshWorld) { customRole(w, "trafficdirector.networks.reportMetrics") }},
		{name: "custom role disabled", status: Fail, cause: "trafficdirector-role-missing",
			setup: func(w *meshWorld) {
				customRole(w, "trafficdirector.networks.getConfigs")
				w.srv.AddRole(&iam.Role{Name: "projects/" + mMeshProject + "/roles/meshClient", Stage: "DISABLED", IncludedPermissions: []string{"trafficdirector.networks.getConfigs"}})
			}},
		{name: "custom role unreadable", status: Warn, cause: "trafficdirector-role-unverified",
			setup: func(w *meshWorld) {
				customRole(w, "trafficdirector.networks.getConfigs")
				w.srv.InjectFault(fakegcp.Fault{PathContains: "/roles/meshClient", Permission: "iam.roles.get"})
			},
			summary: []string{"could not read the role projects/mesh-host/roles/meshClient (bound to " + mMember + " on project mesh-host) (missing iam.roles.get)"}},
		{name: "conditional grant", status: Warn, cause: "trafficdirector-role-unverified",
			setup: func(w *meshWorld) {
				w.addBinding(mMeshProject, &crm.Binding{Role: RoleTrafficDirectorClient, Members: []string{mMember},
					Condition: &crm.Expr{Title: "until-2027", Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}})
			},
			summary: []string{`only under the IAM condition "until-2027"`}},
		{name: "granted to a group", status: Warn, cause: "trafficdirector-role-unverified",
			setup: func(w *meshWorld) {
				w.addBinding(mMeshProject, &crm.Binding{Role: RoleTrafficDirectorClient, Members: []string{"group:mesh-clients@example.com"}})
			},
			summary: []string{"group:mesh-clients@example.com, whose members gkedoctor cannot read"}},
		{name: "inherited from a folder", status: Pass,
			setup: func(w *meshWorld) {
				w.srv.SetAncestry(mMeshProject, "folders/42", "organizations/7")
				w.srv.SetFolderIamPolicy("folders/42", &crm.Policy{Bindings: []*crm.Binding{{Role: RoleTrafficDirectorClient, Members: []string{mMember}}}})
			},
			summary: []string{"(roles/trafficdirector.client on folder 42, inherited)"}},
		{name: "organisation policy unreadable", status: Warn, cause: "trafficdirector-role-unverified",
			setup: func(w *meshWorld) {
				w.srv.SetAncestry(mMeshProject, "folders/42", "organizations/7")
				w.srv.InjectFault(fakegcp.Fault{PathContains: "organizations/7:getIamPolicy", Status: 403})
			},
			summary: []string{"could not read the IAM policy of organization 7", "missing resourcemanager.organizations.getIamPolicy"}},
		{name: "ancestry unreadable", status: Warn, cause: "trafficdirector-role-unverified",
			setup: func(w *meshWorld) {
				w.srv.InjectFault(fakegcp.Fault{PathContains: ":getAncestry", Permission: "resourcemanager.projects.get"})
			},
			summary: []string{"missing resourcemanager.projects.get"}},
		{name: "mesh project policy unreadable", status: Skip, cause: "missing-permission",
			setup: func(w *meshWorld) {
				w.srv.InjectFault(fakegcp.Fault{PathContains: "projects/" + mMeshProject + ":getIamPolicy", Status: 403})
			},
			summary: []string{"resourcemanager.projects.getIamPolicy"}},
		{name: "mesh by annotation", status: Fail, cause: "trafficdirector-role-missing",
			setup: func(w *meshWorld) {
				s := meshRunService(mSA)
				s.Template.ServiceMesh = nil
				s.Template.Annotations = map[string]string{AnnotationRunMesh: mMesh}
				w.srv.AddRunService(mProject, mRegion, s)
			}},
		{name: "no mesh service", status: Skip, cause: "not-applicable",
			setup: func(w *meshWorld) {
				s := meshRunService(mSA)
				s.Template.ServiceMesh = nil
				w.srv.AddRunService(mProject, mRegion, s)
			},
			summary: []string{"no Cloud Run service joined to Cloud Service Mesh (2 Cloud Run service(s) in europe-west1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newMeshWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			r := w.run(nil)
			if r.Status != tc.status || r.Cause != tc.cause {
				t.Fatalf("got %s [%s] %s%s", r.Status, r.Cause, r.Summary, evidenceText(r))
			}
			for _, s := range tc.summary {
				if !strings.Contains(r.Summary, s) {
					t.Errorf("summary lacks %q: %s", s, r.Summary)
				}
			}
			switch r.Status {
			case Fail, Warn:
				if len(r.Fixes) != 1 || r.Fixes[0].ID != "grant-role/mesh-host/roles/trafficdirector.client/"+mMember || r.Fixes[0].Advice {
					t.Fatalf("fixes %v", fixIDs(r))
				}
				if !strings.Contains(r.Fixes[0].Commands[0], "gcloud projects add-iam-policy-binding mesh-host --member="+mMember+" --role=roles/trafficdirector.client") {
					t.Errorf("command %q", r.Fixes[0].Commands[0])
				}
			default:
				if len(r.Fixes) != 0 {
					t.Fatalf("fixes on %s: %v", r.Status, fixIDs(r))
				}
			}
		})
	}
}

// An empty template.serviceAccount is the Compute Engine default service account of the Cloud Run
// project, found by its number; granting it a role reaches everything that runs as it, so the fix
// asks twice.
func TestMeshRoleDefaultServiceAccount(t *testing.T) {
	w := newMeshWorld(t)
	w.srv.AddRunService(mProject, mRegion, meshRunService(""))
	r := w.run(nil)
	p, err := w.env(true).Inv.ProjectNumber(context.Background(), mProject)
	if err != nil {
		t.Fatal(err)
	}
	sa := strings.TrimSpace(strings.ReplaceAll(strings.Split(strings.Split(r.Summary, "runs as ")[1], ",")[0], " ", ""))
	if r.Status != Fail || sa != itoa(p)+"-compute@developer.gserviceaccount.com" {
		t.Fatalf("%s %s (project number %d)", r.Status, r.Summary, p)
	}
	if len(r.Fixes) != 1 || !r.Fixes[0].NeedsConfirmation() || !strings.Contains(r.Fixes[0].Affects, "Compute Engine default service account") {
		t.Fatalf("fix %+v", r.Fixes)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Without resourcemanager.projects.setIamPolicy (testIamPermissions leaves it out) the grant is
// advice: the command for someone who may run it.
func TestMeshRoleFixIsAdviceWithoutSetIamPolicy(t *testing.T) {
	w := newMeshWorld(t)
	w.srv.DenyPermissions(mMeshProject, "resourcemanager.projects.setIamPolicy")
	r := w.run(nil)
	if r.Status != Fail || len(r.Fixes) != 1 || !r.Fixes[0].Advice || !strings.Contains(r.Fixes[0].Description, "lack resourcemanager.projects.setIamPolicy") {
		t.Fatalf("%s %v", r.Status, r.Fixes)
	}
}

// The fix adds exactly the member (every other binding, conditional ones included, is written back
// as read), the re-check passes, and undo removes exactly the member — not another one added to the
// same binding since.
func TestMeshRoleFixAndUndo(t *testing.T) {
	w := newMeshWorld(t)
	cond := &crm.Binding{Role: "roles/viewer", Members: []string{"user:temp@example.com"},
		Condition: &crm.Expr{Title: "temporary", Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}}
	w.addBinding(mMeshProject, cond)
	w.addBinding(mMeshProject, &crm.Binding{Role: RoleTrafficDirectorClient, Members: []string{"serviceAccount:other@mesh-host.iam.gserviceaccount.com"}})
	before := w.srv.IamPolicy(mMeshProject)

	env := w.env(false)
	r := w.run(env)
	if r.Status != Fail || len(r.Fixes) != 1 {
		t.Fatalf("%s %v", r.Status, fixIDs(r))
	}
	dir := t.TempDir()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: env.FixDeps, Target: fixes.Target{Project: mProject}}
	applied, err := ap.Apply(context.Background(), r.Fixes[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	after := w.srv.IamPolicy(mMeshProject)
	if after.Version != 3 || len(after.Bindings) != len(before.Bindings) {
		t.Fatalf("policy after the fix: %s", mustJSON(after))
	}
	for i, b := range after.Bindings {
		want := before.Bindings[i].Members
		if b.Role == RoleTrafficDirectorClient && b.Condition == nil {
			want = append(append([]string(nil), want...), mMember)
		}
		if b.Role != before.Bindings[i].Role || strings.Join(b.Members, ",") != strings.Join(want, ",") || (b.Condition == nil) != (before.Bindings[i].Condition == nil) {
			t.Fatalf("binding %d changed beyond the member: %s", i, mustJSON(b))
		}
	}
	if applied.Entry.Prior[0].Version != before.Etag {
		t.Fatalf("journal saved etag %q, policy was %q", applied.Entry.Prior[0].Version, before.Etag)
	}
	if rr := w.run(nil); rr.Status != Pass {
		t.Fatalf("re-check: %s %s", rr.Status, rr.Summary)
	}

	// Someone adds another member to the same binding; undo must leave it.
	pol := w.srv.IamPolicy(mMeshProject)
	for _, b := range pol.Bindings {
		if b.Role == RoleTrafficDirectorClient && b.Condition == nil {
			b.Members = append(b.Members, "serviceAccount:late@mesh-host.iam.gserviceaccount.com")
		}
	}
	pol.Etag = "" // a new etag, as any write gives
	w.srv.SetIamPolicy(mMeshProject, pol)

	e, err := fixes.OpenJournal(dir).Get(applied.Entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&fixes.Applier{Journal: fixes.OpenJournal(dir), Deps: w.env(false).FixDeps, Target: ap.Target}).Undo(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	undone := w.srv.IamPolicy(mMeshProject)
	var members []string
	for _, b := range undone.Bindings {
		if b.Role == RoleTrafficDirectorClient && b.Condition == nil {
			members = b.Members
		}
		if b.Role == "roles/viewer" && b.Condition == nil {
			t.Fatalf("undo lost the condition: %s", mustJSON(undone))
		}
	}
	if strings.Join(members, ",") != "serviceAccount:other@mesh-host.iam.gserviceaccount.com,serviceAccount:late@mesh-host.iam.gserviceaccount.com" {
		t.Fatalf("after undo the binding holds %v", members)
	}
	if rr := w.run(nil); rr.Status != Fail {
		t.Fatalf("after undo: %s %s", rr.Status, rr.Summary)
	}
}

// A concurrent change between the read and the write: IAM answers 409 for the stale etag, the fix
// stops as aborted, nothing it meant to write is written, and the other change survives.
func TestMeshRoleFixStaleEtagStops(t *testing.T) {
	w := newMeshWorld(t)
	env := w.env(false)
	r := w.run(env)
	if len(r.Fixes) != 1 {
		t.Fatalf("fixes %v", fixIDs(r))
	}
	plan := *r.Fixes[0]
	snap := plan.Snapshot
	plan.Snapshot = func(ctx context.Context) (fixes.Snapshot, error) {
		s, err := snap(ctx)
		// Another administrator writes the policy after gkedoctor read it.
		w.addBinding(mMeshProject, &crm.Binding{Role: "roles/viewer", Members: []string{"user:auditor@example.com"}})
		return s, err
	}
	w.srv.ResetRequests()
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), Deps: env.FixDeps, Target: fixes.Target{Project: mProject}}
	applied, err := ap.Apply(context.Background(), &plan, nil)
	if err == nil || apierr.KindOf(err) != apierr.Conflict {
		t.Fatalf("apply with a stale etag: %v", err)
	}
	if applied == nil || applied.Entry.State != fixes.StateAborted || len(applied.Entry.Undo) != 0 {
		t.Fatalf("journal entry %+v", applied)
	}
	pol := w.srv.IamPolicy(mMeshProject)
	if strings.Contains(mustJSON(pol), mMember+`"],"role":"roles/trafficdirector.client`) || !strings.Contains(mustJSON(pol), "user:auditor@example.com") {
		t.Fatalf("policy after the stopped fix: %s", mustJSON(pol))
	}
	sets := 0
	for _, q := range w.srv.Requests() {
		if strings.HasSuffix(q.Path, ":setIamPolicy") {
			sets++
			if q.Status != 409 {
				t.Fatalf("setIamPolicy answered %d", q.Status)
			}
		}
	}
	if sets != 1 {
		t.Fatalf("%d setIamPolicy calls", sets)
	}
}

// The audit is read-only: the check reads policies (read-only POSTs) and never writes, and its fix
// refuses to run in read-only mode.
func TestMeshRoleAuditWritesNothing(t *testing.T) {
	w := newMeshWorld(t)
	w.srv.SetAncestry(mMeshProject, "folders/42", "organizations/7")
	w.srv.ResetRequests()
	env := w.env(true)
	r := w.run(env)
	if r.Status != Fail {
		t.Fatalf("%s %s", r.Status, r.Summary)
	}
	for _, q := range w.srv.Requests() {
		if q.Method != "GET" && !strings.HasSuffix(q.Path, ":getIamPolicy") && !strings.HasSuffix(q.Path, ":getAncestry") && !strings.HasSuffix(q.Path, ":testIamPermissions") {
			t.Errorf("the audit sent %s %s", q.Method, q.Path)
		}
	}
	ap := &fixes.Applier{Journal: fixes.OpenJournal(t.TempDir()), ReadOnly: true, Deps: env.FixDeps}
	if _, err := ap.Apply(context.Background(), r.Fixes[0], nil); err != fixes.ErrReadOnly {
		t.Fatalf("read-only apply: %v", err)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
