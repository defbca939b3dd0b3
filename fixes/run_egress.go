package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// The Cloud Run egress fix (FAILURE-MODES §1, "Cloud Run egress"): read the service and save its whole
// template, set template.vpcAccess.egress=ALL_TRAFFIC, PATCH the service with the etag it was read at
// (a concurrent change makes the API answer 409 and nothing is written), follow the long-running
// operation to done and report the new revision. Undo PATCHes the saved vpcAccess back, and refuses if
// the service changed since the fix (its generation moved on), so the template is then the saved one.

const undoRestoreRunTemplate = "run.restore-template"

// RunEgress describes the change.
type RunEgress struct {
	Service string // projects/P/locations/L/services/S
	// WaitTimeout bounds following the operation (default 5 minutes); PollInterval paces it (default 1s).
	WaitTimeout  time.Duration
	PollInterval time.Duration
	// Affects is what else the change touches, as the check judged it (Cloud NAT, Private Google
	// Access); Destructive when it cuts egress the service has today (asks a second time).
	Affects     string
	Destructive bool
}

// restoreTemplateParams hold only what the fix changed (template.vpcAccess): undo puts it back on a
// template the generation guard proves is otherwise exactly the saved one. Keeping the whole template
// would put the container's environment values, which may hold secrets, into the journal.
type restoreTemplateParams struct {
	Service   string          `json:"service"`
	VPCAccess json.RawMessage `json:"vpcAccess"`
	// Generation is what the service's generation is right after the fix; undo refuses otherwise.
	Generation int64 `json:"generation"`
}

func init() { RegisterUndoer(undoRestoreRunTemplate, undoRestoreRunTemplateFn) }

// NewRunEgressPlan builds the fix.
func NewRunEgressPlan(deps *Deps, o RunEgress) *Plan {
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	project, location, name := splitResource(o.Service)
	p := &Plan{
		ID:    "run-egress-all-traffic/" + location + "/" + name,
		Title: fmt.Sprintf("Route all egress of Cloud Run %s through the VPC (vpcAccess.egress ALL_TRAFFIC)", name),
		Description: "Sets template.vpcAccess.egress to ALL_TRAFFIC so destinations outside RFC 1918 / RFC 6598 (such as GKE's 34.118.224.0/20 services range or " +
			"privately used public ranges) go through the VPC instead of the internet. This deploys a new revision. Undo restores the saved vpcAccess, i.e. the saved template (another new revision).",
		Affects:     orDash(o.Affects, "all outbound traffic of the service then goes through the VPC: reaching the internet needs Cloud NAT on that network"),
		Destructive: o.Destructive,
		Diff:        Diff("template.vpcAccess.egress: PRIVATE_RANGES_ONLY\n", "template.vpcAccess.egress: ALL_TRAFFIC\n"),
		Commands:    []string{fmt.Sprintf("gcloud run services update %s --region %s --project %s --vpc-egress=all-traffic", name, location, project)},
		Reversible:  true,
		WaitTimeout: o.WaitTimeout,
	}
	var opName string
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		svc, err := g.Run.Projects.Locations.Services.Get(o.Service).Context(ctx).Do()
		if err != nil {
			return Snapshot{}, gcp.Map(err, "get Cloud Run service", o.Service)
		}
		if svc.Template == nil || svc.Template.VpcAccess == nil || (svc.Template.VpcAccess.Connector == "" && len(svc.Template.VpcAccess.NetworkInterfaces) == 0) {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "set egress", Resource: o.Service, Err: errors.New("the service has no VPC access (any more): egress alone would not help; re-run the check")}
		}
		if svc.Template.VpcAccess.Egress == "ALL_TRAFFIC" {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "set egress", Resource: o.Service, Err: errors.New("egress is already ALL_TRAFFIC (changed since the check); nothing to do")}
		}
		va, _ := json.Marshal(svc.Template.VpcAccess)
		contents, _ := json.Marshal(map[string]any{"template": map[string]any{"vpcAccess": json.RawMessage(va)}, "generation": svc.Generation, "etag": svc.Etag})
		return Snapshot{
			Prior: []Object{{API: "run.googleapis.com", Kind: "Service", Name: o.Service, Version: svc.Etag, Contents: contents}},
			Undo:  []UndoAction{NewUndo(undoRestoreRunTemplate, restoreTemplateParams{Service: o.Service, VPCAccess: va, Generation: svc.Generation + 1})},
		}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		svc, err := g.Run.Projects.Locations.Services.Get(o.Service).Context(ctx).Do()
		if err != nil {
			return Outcome{}, gcp.Map(err, "get Cloud Run service", o.Service)
		}
		if v := snap.Version(); v != "" && svc.Etag != v {
			return Outcome{}, &apierr.Error{Kind: apierr.Conflict, Op: "update Cloud Run service", Resource: o.Service, Err: errors.New("its etag changed since it was saved")}
		}
		var saved struct {
			Template struct {
				VPCAccess json.RawMessage `json:"vpcAccess"`
			} `json:"template"`
		}
		if len(snap.Prior) == 1 {
			_ = json.Unmarshal(snap.Prior[0].Contents, &saved)
		}
		va := saved.Template.VPCAccess
		svc.Template.VpcAccess.Egress = "ALL_TRAFFIC"
		svc.Template.Revision = "" // a pinned revision name cannot be reused: let Cloud Run name the new one
		op, err := g.Run.Projects.Locations.Services.Patch(o.Service, svc).Context(ctx).Do()
		if err != nil {
			return Outcome{}, gcp.Map(err, "update Cloud Run service", o.Service)
		}
		opName = op.Name
		after := serviceOf(op)
		gen := svc.Generation + 1
		if after != nil && after.Generation != 0 {
			gen = after.Generation
		}
		out := Outcome{
			Message: fmt.Sprintf("updated %s: egress ALL_TRAFFIC (generation %d)", name, gen),
			Undo:    []UndoAction{NewUndo(undoRestoreRunTemplate, restoreTemplateParams{Service: o.Service, VPCAccess: va, Generation: gen})},
		}
		if after != nil {
			b, _ := json.Marshal(map[string]any{"generation": after.Generation, "etag": after.Etag, "latestCreatedRevision": after.LatestCreatedRevision})
			out.Created = []Object{{API: "run.googleapis.com", Kind: "Revision", Name: after.LatestCreatedRevision, Version: after.Etag, Contents: b}}
		}
		if op.Done {
			out.Message += "; operation done"
		}
		return out, nil
	}
	p.Wait = func(ctx context.Context, progress func(string)) (string, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return "", err
		}
		svc, err := followRunOp(ctx, g, opName, o.PollInterval, progress)
		if err != nil {
			return fmt.Sprintf("the update of %s has not finished: %v", name, err), err
		}
		if svc == nil {
			if svc, err = g.Run.Projects.Locations.Services.Get(o.Service).Context(ctx).Do(); err != nil {
				return "", gcp.Map(err, "get Cloud Run service", o.Service)
			}
		}
		return fmt.Sprintf("new revision %s of %s is serving with egress ALL_TRAFFIC", orDash(svc.LatestReadyRevision, svc.LatestCreatedRevision), name), nil
	}
	return p
}

func orDash(a, b string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return "-"
}

// serviceOf decodes the Service in an operation's response (when done) or metadata.
func serviceOf(op *run.GoogleLongrunningOperation) *run.GoogleCloudRunV2Service {
	for _, raw := range [][]byte{op.Response, op.Metadata} {
		if len(raw) == 0 {
			continue
		}
		var s run.GoogleCloudRunV2Service
		if json.Unmarshal(raw, &s) == nil && s.Name != "" {
			return &s
		}
	}
	return nil
}

// followRunOp polls a Cloud Run operation until done and returns the service it produced.
func followRunOp(ctx context.Context, g *gcp.Clients, name string, poll time.Duration, progress func(string)) (*run.GoogleCloudRunV2Service, error) {
	if name == "" {
		return nil, nil
	}
	last := time.Time{}
	for {
		op, err := g.Run.Projects.Locations.Operations.Get(name).Context(ctx).Do()
		if err != nil {
			return nil, gcp.Map(err, "get operation", name)
		}
		if op.Done {
			if op.Error != nil && (op.Error.Code != 0 || op.Error.Message != "") {
				return nil, fmt.Errorf("operation %s failed: %s (code %d)", name, op.Error.Message, op.Error.Code)
			}
			s := serviceOf(op)
			if s != nil && s.TerminalCondition != nil && s.TerminalCondition.State == "CONDITION_FAILED" {
				return s, fmt.Errorf("the new revision failed: %s", s.TerminalCondition.Message)
			}
			return s, nil
		}
		if progress != nil && time.Since(last) >= 10*time.Second {
			last = time.Now()
			progress("waiting for Cloud Run operation " + shortOp(name))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(ax) == string(by)
}

func shortOp(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

func undoRestoreRunTemplateFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p restoreTemplateParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Service == "" || len(p.VPCAccess) == 0 {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	g, err := gcpOf(deps)
	if err != nil {
		return err
	}
	svc, err := g.Run.Projects.Locations.Services.Get(p.Service).Context(ctx).Do()
	if err != nil {
		return gcp.Map(err, "get Cloud Run service", p.Service)
	}
	if svc.Template != nil && svc.Template.VpcAccess != nil {
		if cur, err := json.Marshal(svc.Template.VpcAccess); err == nil && sameJSON(cur, p.VPCAccess) {
			// Holds the saved vpcAccess: the fix's patch never happened, or was reverted.
			return Absent("vpcAccess of Cloud Run service " + p.Service)
		}
	}
	if p.Generation != 0 && svc.Generation != p.Generation && !deps.Force {
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore Cloud Run template", Resource: p.Service,
			Err: fmt.Errorf("the service changed since the fix (generation %d, the fix left %d): not overwriting it", svc.Generation, p.Generation)}
	}
	var va run.GoogleCloudRunV2VpcAccess
	if err := json.Unmarshal(p.VPCAccess, &va); err != nil {
		return fmt.Errorf("saved vpcAccess of %s: %w", p.Service, err)
	}
	if svc.Template == nil {
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore Cloud Run egress", Resource: p.Service, Err: errors.New("the service has no template any more")}
	}
	svc.Template.VpcAccess = &va
	svc.Template.Revision = "" // a pinned revision name cannot be reused
	op, err := g.Run.Projects.Locations.Services.Patch(p.Service, svc).Context(ctx).Do()
	if err != nil {
		return gcp.Map(err, "restore Cloud Run template", p.Service)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err = followRunOp(wctx, g, op.Name, time.Second, nil)
	return err
}
