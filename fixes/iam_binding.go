package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	crm "google.golang.org/api/cloudresourcemanager/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// The IAM binding fix (FAILURE-MODES §7a): grant one role to one member on a project with a
// read-modify-write of the project's IAM policy. The policy is read as version 3 (so conditional
// bindings come back whole and are written back untouched), saved, and written with the etag it was
// read at: a concurrent change makes IAM answer 409 ABORTED and nothing is written. Only the member
// is added, to the role's unconditional binding (created when there is none). Undo is another
// read-modify-write that removes exactly that member from that binding (and the binding if it is
// then empty), again guarded by the etag of its own read.

const undoRemoveIAMMember = "iam.remove-member"

// IAMBinding describes the grant.
type IAMBinding struct {
	Project string // project id (or number) whose policy changes
	Role    string // e.g. roles/trafficdirector.client
	Member  string // e.g. serviceAccount:SA
	Why     string // one sentence: why this grant, for the description
	// Affects, when set, says what else the grant reaches (every workload that runs as a shared
	// service account); the plan then asks for a second confirmation.
	Affects string
	// Advice makes the plan advice only (the caller may not set the policy, say).
	Advice    bool
	AdviceWhy string
}

type removeMemberParams struct {
	Project string `json:"project"`
	Role    string `json:"role"`
	Member  string `json:"member"`
}

func init() { RegisterUndoer(undoRemoveIAMMember, undoRemoveIAMMemberFn) }

// AddBindingCommand is the gcloud command that makes the same grant.
func AddBindingCommand(project, member, role string) string {
	return fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=%s --role=%s --condition=None", project, member, role)
}

// NewIAMBindingPlan builds the fix.
func NewIAMBindingPlan(deps *Deps, o IAMBinding) *Plan {
	p := &Plan{
		ID:    "grant-role/" + o.Project + "/" + o.Role + "/" + o.Member,
		Title: fmt.Sprintf("Grant %s to %s on project %s", o.Role, o.Member, o.Project),
		Description: o.Why + " The project's IAM policy is read, the member is added to the role's unconditional binding and the policy is written " +
			"back with the etag it was read at (a concurrent change stops the fix with nothing written). Every other binding stays as it was. " +
			"Undo removes exactly this member from this binding. IAM changes can take a few minutes to reach every server.",
		Diff:       Diff("# bindings of "+o.Role+" on projects/"+o.Project+": without "+o.Member+"\n", "# bindings of "+o.Role+" on projects/"+o.Project+": with "+o.Member+"\n"),
		Reversible: true,
		Commands: []string{AddBindingCommand(o.Project, o.Member, o.Role),
			fmt.Sprintf("gcloud projects remove-iam-policy-binding %s --member=%s --role=%s --condition=None   # undo", o.Project, o.Member, o.Role)},
	}
	if o.Affects != "" {
		p.Affects, p.VPCWide = o.Affects, true
	}
	if o.Advice {
		p.Advice = true
		if o.AdviceWhy != "" {
			p.Description = o.AdviceWhy + " " + p.Description
		}
		return p
	}
	resource := "projects/" + o.Project
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		pol, err := readPolicy(ctx, g, o.Project)
		if err != nil {
			return Snapshot{}, err
		}
		if hasMember(pol, o.Role, o.Member) {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "grant " + o.Role, Resource: resource,
				Err: fmt.Errorf("%s already holds %s (changed since the check); nothing to do", o.Member, o.Role)}
		}
		b, err := json.Marshal(pol)
		if err != nil {
			return Snapshot{}, fmt.Errorf("save the IAM policy of %s: %w", resource, err)
		}
		return Snapshot{
			Prior: []Object{{API: "cloudresourcemanager.googleapis.com", Kind: "Policy", Name: resource, Version: pol.Etag, Contents: b}},
			Undo:  []UndoAction{NewUndo(undoRemoveIAMMember, removeMemberParams{Project: o.Project, Role: o.Role, Member: o.Member})},
		}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		if len(snap.Prior) != 1 {
			return Outcome{}, errors.New("grant: no saved policy to modify")
		}
		var pol crm.Policy
		if err := json.Unmarshal(snap.Prior[0].Contents, &pol); err != nil {
			return Outcome{}, fmt.Errorf("saved IAM policy of %s: %w", resource, err)
		}
		addMember(&pol, o.Role, o.Member)
		if _, err := writePolicy(ctx, g, o.Project, &pol); err != nil {
			return Outcome{}, err
		}
		return Outcome{Message: fmt.Sprintf("granted %s to %s on %s", o.Role, o.Member, resource)}, nil
	}
	return p
}

// readPolicy reads a project's policy as version 3.
func readPolicy(ctx context.Context, g *gcp.Clients, project string) (*crm.Policy, error) {
	pol, err := g.CRM.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
	if err != nil {
		return nil, gcp.MapWith(err, "get IAM policy", "projects/"+project, "resourcemanager.projects.getIamPolicy")
	}
	return pol, nil
}

// writePolicy writes pol with the etag it carries; a policy with conditions goes as version 3.
func writePolicy(ctx context.Context, g *gcp.Clients, project string, pol *crm.Policy) (*crm.Policy, error) {
	for _, b := range pol.Bindings {
		if b != nil && b.Condition != nil && pol.Version < 3 {
			pol.Version = 3
		}
	}
	out, err := g.CRM.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: pol}).Context(ctx).Do()
	if err != nil {
		return nil, gcp.MapWith(err, "set IAM policy", "projects/"+project, "resourcemanager.projects.setIamPolicy")
	}
	return out, nil
}

// hasMember reports whether member is in role's unconditional binding.
func hasMember(pol *crm.Policy, role, member string) bool {
	for _, b := range pol.Bindings {
		if b == nil || b.Role != role || b.Condition != nil {
			continue
		}
		for _, m := range b.Members {
			if m == member {
				return true
			}
		}
	}
	return false
}

// addMember adds member to role's unconditional binding, creating it when there is none.
func addMember(pol *crm.Policy, role, member string) {
	for _, b := range pol.Bindings {
		if b != nil && b.Role == role && b.Condition == nil {
			b.Members = append(b.Members, member)
			return
		}
	}
	pol.Bindings = append(pol.Bindings, &crm.Binding{Role: role, Members: []string{member}})
}

// removeMember removes member from role's unconditional binding (and the binding when it is then
// empty); it reports whether it was there.
func removeMember(pol *crm.Policy, role, member string) bool {
	found := false
	var out []*crm.Binding
	for _, b := range pol.Bindings {
		if b != nil && b.Role == role && b.Condition == nil {
			var keep []string
			for _, m := range b.Members {
				if m == member {
					found = true
					continue
				}
				keep = append(keep, m)
			}
			if len(keep) == 0 {
				continue
			}
			b.Members = keep
		}
		out = append(out, b)
	}
	pol.Bindings = out
	return found
}

func undoRemoveIAMMemberFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p removeMemberParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Project == "" || p.Role == "" || p.Member == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	g, err := gcpOf(deps)
	if err != nil {
		return err
	}
	pol, err := readPolicy(ctx, g, p.Project)
	if err != nil {
		return err
	}
	if !removeMember(pol, p.Role, p.Member) {
		return Absent(p.Member + " in " + p.Role + " on projects/" + p.Project) // removed already, or never added
	}
	_, err = writePolicy(ctx, g, p.Project, pol)
	return err
}
