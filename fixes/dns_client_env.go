package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// UndoRestoreRunEnv puts back the environment variables the client-env fix changed.
const UndoRestoreRunEnv = "run.restoreEnv"

type dnsEnvChange struct {
	Container string `json:"container,omitempty"` // container name ("" for an unnamed single container)
	Index     int    `json:"index"`               // container index, when unnamed
	Name      string `json:"name"`
	Old       string `json:"old"`
	New       string `json:"new"`
}

type dnsEnvParams struct {
	Service string         `json:"service"` // projects/P/locations/L/services/S
	Changes []dnsEnvChange `json:"changes"`
}

func init() { RegisterUndoer(UndoRestoreRunEnv, dnsUndoRunEnv) }

// ClientEnvPlanID is the id of the plan that points a Cloud Run service at the owned zone's names.
func ClientEnvPlanID(service string) string {
	return "point-client-at-owned-names/" + dnsShortName(service)
}

// NewClientEnvPlans proposes, per Cloud Run service in p.Env, to set its environment variables to the
// names the owned-zone plan publishes (the URLs that plan prints). It is an alternative, applied
// only by its id and only after the owned zone exists: it changes the application's configuration
// and rolls a new revision. Values with credentials in them (user:password@host) are left alone. It
// reads the service, checks every variable still holds what the check saw, PATCHes with the service's
// etag and waits for the operation; undo restores the old values the same way. The journal keeps
// only the changed variables, never the rest of the service.
func NewClientEnvPlans(p OwnedZoneParams) []*Plan {
	p.defaults()
	bySource := map[string][]EnvRef{}
	var order []string
	for _, e := range p.Env {
		if hasUserinfo(e.Value) {
			continue
		}
		if _, ok := bySource[e.Source]; !ok {
			order = append(order, e.Source)
		}
		bySource[e.Source] = append(bySource[e.Source], e)
	}
	sort.Strings(order)
	var plans []*Plan
	for _, src := range order {
		refs := bySource[src]
		var diff []string
		var sets []string
		want := map[string][2]string{} // env var → {old, new}
		for _, e := range refs {
			nv := p.NewEnvValue(e)
			want[e.EnvVar] = [2]string{e.Value, nv}
			diff = append(diff, fmt.Sprintf("- %s=%s\n+ %s=%s", e.EnvVar, e.Value, e.EnvVar, nv))
			sets = append(sets, e.EnvVar+"="+nv)
		}
		region := ""
		if parts := strings.Split(src, "/"); len(parts) == 6 {
			region = " --region " + parts[3]
		}
		g := dnsGCP(p.Deps)
		plan := &Plan{
			ID:    ClientEnvPlanID(src),
			Title: fmt.Sprintf("Point Cloud Run %s at the names in zone %s (%s)", dnsShortName(src), p.ZoneName, p.Domain),
			Description: "Sets the service's environment variables to the names the owned zone publishes for the internal load balancers. " +
				"Apply it after the zone exists. It changes the application's configuration and rolls a new revision; undo restores the old values (another revision).",
			Diff:        strings.Join(diff, "\n") + "\n",
			Reversible:  true,
			Alternative: true,
			Affects:     "a new revision of Cloud Run service " + dnsShortName(src) + " takes the traffic",
			Commands:    []string{fmt.Sprintf("gcloud run services update %s%s --update-env-vars %s", dnsShortName(src), region, dnsShellQuote(strings.Join(sets, ",")))},
		}
		setRunEnv(plan, g, src, want, sets)
		plans = append(plans, plan)
	}
	return plans
}

// setRunEnv gives plan the Snapshot and Apply that set Cloud Run service's environment variables
// (want: variable → {the value the check saw, the new value}; sets: "NAME=value" for people): the
// snapshot keeps only the variables it changes, with the service's etag; Apply re-reads the service,
// refuses when the etag moved, does nothing when every variable already holds its new value (both
// DNS checks offer the same change), and PATCHes one new revision. Undo writes the old values back.
func setRunEnv(plan *Plan, g *gcp.Clients, service string, want map[string][2]string, sets []string) {
	plan.Snapshot = func(ctx context.Context) (Snapshot, error) {
		svc, err := dnsGetRunService(ctx, g, service)
		if err != nil {
			return Snapshot{}, err
		}
		changes, err := dnsEnvChanges(svc, want)
		if err != nil {
			return Snapshot{}, err
		}
		b, _ := json.Marshal(changes)
		return Snapshot{
			Prior: []Object{{API: "run.googleapis.com", Kind: "Service (environment variables)", Name: service, Version: svc.Etag, Contents: b}},
			Undo:  []UndoAction{NewUndo(UndoRestoreRunEnv, dnsEnvParams{Service: service, Changes: changes})},
		}, nil
	}
	plan.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		svc, err := dnsGetRunService(ctx, g, service)
		if err != nil {
			return Outcome{}, err
		}
		if v := snap.Version(); v != "" && svc.Etag != v {
			return Outcome{}, &apierr.Error{Kind: apierr.Conflict, Op: "update Cloud Run service", Resource: service, Err: errors.New("it changed since it was read")}
		}
		changes, err := dnsEnvChanges(svc, want)
		if err != nil {
			return Outcome{}, err
		}
		if dnsEnvAlreadySet(svc, changes) {
			return Outcome{Undo: []UndoAction{}, Message: fmt.Sprintf("Cloud Run %s already uses %s; nothing changed.", dnsShortName(service), strings.Join(sets, ", "))}, nil
		}
		rev, err := dnsPatchRunEnv(ctx, g, svc, changes, false)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Message: fmt.Sprintf("Cloud Run %s now uses %s (revision %s).", dnsShortName(service), strings.Join(sets, ", "), rev)}, nil
	}
}

// dnsEnvAlreadySet reports whether every change's variable already holds its new value.
func dnsEnvAlreadySet(svc *run.GoogleCloudRunV2Service, changes []dnsEnvChange) bool {
	for _, ch := range changes {
		for _, e := range svc.Template.Containers[ch.Index].Env {
			if e.Name == ch.Name && e.Value != ch.New {
				return false
			}
		}
	}
	return true
}

func hasUserinfo(value string) bool {
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if u, err := url.Parse(f); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

func dnsGetRunService(ctx context.Context, g *gcp.Clients, name string) (*run.GoogleCloudRunV2Service, error) {
	if g == nil {
		return nil, apierr.NotConfiguredf("gcloud auth application-default login", "no Google API client to update Cloud Run")
	}
	svc, err := g.Run.Projects.Locations.Services.Get(name).Context(ctx).Do()
	return svc, gcp.Map(err, "get Cloud Run service", name)
}

// dnsEnvChanges finds each wanted variable in the service's containers and checks it still holds the
// value the check saw.
func dnsEnvChanges(svc *run.GoogleCloudRunV2Service, want map[string][2]string) ([]dnsEnvChange, error) {
	var out []dnsEnvChange
	found := map[string]bool{}
	if svc.Template != nil {
		for i, c := range svc.Template.Containers {
			for _, e := range c.Env {
				w, ok := want[e.Name]
				if !ok || e.ValueSource != nil {
					continue
				}
				if e.Value != w[0] && e.Value != w[1] {
					return nil, &apierr.Error{Kind: apierr.Conflict, Op: "check environment", Resource: svc.Name,
						Err: fmt.Errorf("%s changed since the check (now %q)", e.Name, e.Value)}
				}
				found[e.Name] = true
				out = append(out, dnsEnvChange{Container: c.Name, Index: i, Name: e.Name, Old: w[0], New: w[1]})
			}
		}
	}
	for name := range want {
		if !found[name] {
			return nil, &apierr.Error{Kind: apierr.Conflict, Op: "check environment", Resource: svc.Name, Err: fmt.Errorf("%s is no longer set", name)}
		}
	}
	return out, nil
}

// dnsPatchRunEnv sets each change's New (or Old, when reverse) value, PATCHes the service with its
// etag, and waits for the operation. It returns the new revision.
func dnsPatchRunEnv(ctx context.Context, g *gcp.Clients, svc *run.GoogleCloudRunV2Service, changes []dnsEnvChange, reverse bool) (string, error) {
	for _, ch := range changes {
		from, to := ch.Old, ch.New
		if reverse {
			from, to = ch.New, ch.Old
		}
		if ch.Index >= len(svc.Template.Containers) {
			return "", &apierr.Error{Kind: apierr.Conflict, Op: "update environment", Resource: svc.Name, Err: errors.New("its containers changed")}
		}
		c := svc.Template.Containers[ch.Index]
		set := false
		for _, e := range c.Env {
			if e.Name == ch.Name && e.ValueSource == nil {
				if e.Value != from && e.Value != to {
					return "", &apierr.Error{Kind: apierr.Conflict, Op: "update environment", Resource: svc.Name,
						Err: fmt.Errorf("%s holds %q, not %q", e.Name, e.Value, from)}
				}
				e.Value, set = to, true
			}
		}
		if !set {
			return "", &apierr.Error{Kind: apierr.Conflict, Op: "update environment", Resource: svc.Name, Err: fmt.Errorf("%s is no longer set", ch.Name)}
		}
	}
	svc.Template.Revision = "" // let Cloud Run name the new revision
	op, err := g.Run.Projects.Locations.Services.Patch(svc.Name, svc).Context(ctx).Do()
	if err != nil {
		return "", gcp.Map(err, "update Cloud Run service", svc.Name)
	}
	for opName := op.Name; !op.Done; {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("update Cloud Run service %s: the operation %s did not finish: %w", svc.Name, opName, ctx.Err())
		case <-time.After(time.Second):
		}
		op, err = g.Run.Projects.Locations.Operations.Get(opName).Context(ctx).Do()
		if err != nil {
			return "", gcp.Map(err, "get Cloud Run operation", opName)
		}
	}
	if op.Error != nil {
		return "", fmt.Errorf("update Cloud Run service %s failed: %s", svc.Name, op.Error.Message)
	}
	cur, err := dnsGetRunService(ctx, g, svc.Name)
	if err != nil {
		return "", err
	}
	return cur.LatestCreatedRevision, nil
}

func dnsUndoRunEnv(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsEnvParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	g := dnsGCP(deps)
	svc, err := dnsGetRunService(ctx, g, p.Service)
	if err != nil {
		return err
	}
	back := make([]dnsEnvChange, len(p.Changes))
	for i, ch := range p.Changes {
		back[i] = ch
		back[i].New = ch.Old
	}
	if svc.Template != nil && len(back) > 0 && dnsEnvAlreadySetSafe(svc, back) {
		// Every variable holds its old value: the patch never happened, or was reverted.
		return Absent("environment of Cloud Run service " + p.Service)
	}
	_, err = dnsPatchRunEnv(ctx, g, svc, p.Changes, true)
	return err
}

// dnsEnvAlreadySetSafe is dnsEnvAlreadySet for changes read from a journal (container indexes may no
// longer exist).
func dnsEnvAlreadySetSafe(svc *run.GoogleCloudRunV2Service, changes []dnsEnvChange) bool {
	for _, ch := range changes {
		if ch.Index < 0 || ch.Index >= len(svc.Template.Containers) {
			return false
		}
	}
	return dnsEnvAlreadySet(svc, changes)
}
