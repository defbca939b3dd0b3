package fixes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// The firewall fix (FAILURE-MODES §1, "Firewall (only when cause 3 is confirmed)"): a new ingress
// allow rule allow-serverless-to-CLUSTER-PORT from the client's source range (the connector's /28 or
// the Direct VPC subnet) to the nodes' network tag on the Service port. Undo deletes it. On Shared VPC
// the rule lives in the host project, where the user often lacks permission: then the plan turns into
// advice with the gcloud command (GKE's own, from a LoadBalancerManualChange event, when there is one).

const undoDeleteFirewall = "compute.delete-firewall"

// FirewallRule describes the rule to create.
type FirewallRule struct {
	Project        string // the network's project (the Shared VPC host, or the cluster's project)
	ClusterProject string
	Network        string // projects/P/global/networks/N
	Name           string
	SourceRange    string
	TargetTag      string // "" when the nodes' tag is unknown: advice only
	Protocol       string // tcp or udp
	Port           int
	// ManualChange is the gcloud command of a LoadBalancerManualChange event, if any.
	ManualChange string
	// Deny names a deny rule that decides today; an allow rule would have to outrank it, which is a
	// security decision: advice only.
	Deny         string
	DenyPriority int64
	// PolicyDeny names the firewall-policy rule that would still deny the packet with the new VPC
	// rule in place (firewall.WouldStillDeny): a VPC rule cannot help, so the plan is refused as
	// advice naming the policy. PolicyEgress says the deny is on the source side's egress.
	PolicyDeny   string
	PolicyEgress bool
	// SourceRanges, when set, replaces SourceRange (health checks come from two ranges); Allow, when
	// set, replaces Protocol:Port with gcloud's --allow list ("icmp,tcp:667,udp:665-666"); TargetTags
	// are the rule's target tags when set (else TargetTag); Purpose is the rule's description.
	SourceRanges []string
	Allow        string
	TargetTags   []string
	Purpose      string
	// WriteDenied says why the caller cannot create the rule in Project (a Shared VPC host whose
	// testIamPermissions leaves out compute.firewalls.create, or could not be asked): the plan is
	// advice for the host project's network team, with the command and the role it needs.
	WriteDenied string
}

// FirewallCreatePermission is what creating the rule needs in the network's project;
// FirewallAdminRole is the predefined role that grants it (and only firewall administration).
const (
	FirewallCreatePermission = "compute.firewalls.create"
	FirewallAdminRole        = "roles/compute.securityAdmin"
)

var fwNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

// FirewallRuleName is allow-serverless-to-CLUSTER-PORT-HASH, shortened to a valid rule name. HASH (six
// hex digits of the source range's SHA-256) keeps the rules of two clients with different source
// ranges (two connectors, a connector and a Direct VPC subnet) apart: one fix never finds the other's
// rule and calls it done.
func FirewallRuleName(cluster, sourceRange string, port int) string {
	sum := sha256.Sum256([]byte(sourceRange))
	suffix := "-" + strconv.Itoa(port) + "-" + hex.EncodeToString(sum[:3])
	base := "allow-serverless-to-" + strings.ToLower(cluster)
	if len(base)+len(suffix) > 63 {
		base = base[:63-len(suffix)]
	}
	base = strings.TrimRight(base, "-")
	n := base + suffix
	if !fwNameRE().MatchString(n) {
		n = "allow-serverless-to-nodes" + suffix
	}
	return n
}

func (o FirewallRule) sharedVPC() bool {
	return o.ClusterProject != "" && o.Project != o.ClusterProject
}

func (o FirewallRule) command(priority int64) string {
	net := gref.NetworkName(o.Network)
	tags := strings.Join(o.tags(), ",")
	if tags == "" {
		tags = "NODE_NETWORK_TAG"
	}
	return fmt.Sprintf("gcloud compute firewall-rules create %s --project %s --network %s --direction INGRESS --priority %d --source-ranges %s --target-tags %s --allow %s",
		o.Name, o.Project, net, priority, strings.Join(o.ranges(), ","), tags, o.allow())
}

func (o FirewallRule) ranges() []string {
	if len(o.SourceRanges) > 0 {
		return o.SourceRanges
	}
	return []string{o.SourceRange}
}

func (o FirewallRule) tags() []string {
	if len(o.TargetTags) > 0 {
		return o.TargetTags
	}
	if o.TargetTag == "" {
		return nil
	}
	return []string{o.TargetTag}
}

func (o FirewallRule) allow() string {
	if o.Allow != "" {
		return o.Allow
	}
	return o.Protocol + ":" + strconv.Itoa(o.Port)
}

// allowed is allow() as the compute API spells it.
func (o FirewallRule) allowed() []*compute.FirewallAllowed {
	var out []*compute.FirewallAllowed
	for _, a := range strings.Split(o.allow(), ",") {
		proto, ports, ok := strings.Cut(strings.TrimSpace(a), ":")
		fa := &compute.FirewallAllowed{IPProtocol: proto}
		if ok {
			fa.Ports = []string{ports}
		}
		out = append(out, fa)
	}
	return out
}

// Compute is the rule the fix creates, as the compute API spells it (checks judge it against the
// firewall in effect before offering it).
func (o FirewallRule) Compute() *compute.Firewall { return o.rule() }

func (o FirewallRule) rule() *compute.Firewall {
	desc := "gkedoctor: lets serverless clients (" + o.SourceRange + ") reach the GKE nodes on " + o.allow()
	if o.Purpose != "" {
		desc = "gkedoctor: " + o.Purpose
	}
	return &compute.Firewall{
		Name: o.Name, Network: o.Network, Direction: "INGRESS", Priority: 1000,
		Description:  desc,
		SourceRanges: o.ranges(), TargetTags: o.tags(),
		Allowed: o.allowed(),
	}
}

func (o FirewallRule) describe(prio int64) string {
	return fmt.Sprintf("%s: INGRESS allow %s from %s to instances tagged %s, priority %d, network %s", o.Name, o.allow(), strings.Join(o.ranges(), ","), strings.Join(o.tags(), ","), prio, o.Network)
}

type deleteFirewallParams struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	ID      uint64 `json:"id,omitempty,string"` // only the rule the fix created is deleted
	// Rule is the rule as the fix creates it (journaled before the insert): a pending entry has no
	// id, so undo deletes a rule of that name only if its content is this one.
	Rule *compute.Firewall `json:"rule,omitempty"`
}

func init() { RegisterUndoer(undoDeleteFirewall, undoDeleteFirewallFn) }

// NewFirewallPlan builds the fix, or advice when a deny rule decides or the node tag is unknown.
func NewFirewallPlan(deps *Deps, o FirewallRule) *Plan {
	if o.Protocol == "" {
		o.Protocol = "tcp"
	}
	ref := "projects/" + o.Project + "/global/firewalls/" + o.Name
	p := &Plan{
		ID:         "create-firewall/" + o.Project + "/" + o.Name,
		Title:      fmt.Sprintf("Allow %s to reach the GKE nodes on %s:%d (new firewall rule %s)", o.SourceRange, o.Protocol, o.Port, o.Name),
		Reversible: true,
		Commands:   []string{o.command(1000)},
		Diff:       Diff("# "+ref+": absent\n", "# "+o.describe(1000)+"\n"),
	}
	p.Description = "Adds one ingress allow rule scoped to the client's source range, the nodes' network tag and the Service port; nothing else changes. Undo deletes it."
	if o.Purpose != "" {
		p.Title = fmt.Sprintf("New firewall rule %s: %s", o.Name, o.Purpose)
		p.Description = "Adds one ingress allow rule (" + o.describe(1000) + "); nothing else changes. Undo deletes it."
	}
	if o.sharedVPC() {
		p.Description += fmt.Sprintf(" The network belongs to the Shared VPC host project %s: creating it needs compute.firewalls.create there; without it the tool prints the command for the host project's network admin.", o.Project)
	}
	switch {
	case o.PolicyDeny != "":
		side := "ingress to the nodes"
		if o.PolicyEgress {
			side = "egress from the client's network"
		}
		p.ID = "review-firewall-policy/" + o.Project + "/" + o.Name
		p.Title = fmt.Sprintf("Review the firewall policy that blocks %s from the nodes on %s:%d", o.SourceRange, o.Protocol, o.Port)
		p.Advice, p.Reversible = true, true
		p.Description = fmt.Sprintf("A new VPC firewall rule would not help: %s decides the %s before (or regardless of) VPC rules. "+
			"Firewall policies belong to the organisation's or the network's security owners: ask them for an allow (or goto_next) rule for %s on %s:%d, or change the policy yourself if it is yours.",
			o.PolicyDeny, side, o.SourceRange, o.Protocol, o.Port)
		p.Commands = []string{
			fmt.Sprintf("gcloud compute networks get-effective-firewalls %s --project %s", gref.NetworkName(o.Network), o.Project),
			"gcloud compute firewall-policies rules describe PRIORITY --firewall-policy POLICY   # hierarchical; network policies: gcloud compute network-firewall-policies rules describe",
		}
		p.Diff = ""
		return p
	case o.Deny != "":
		prio := o.DenyPriority - 1
		if prio < 0 {
			prio = 0
		}
		p.ID = "override-firewall-deny/" + o.Project + "/" + o.Deny
		p.Title = fmt.Sprintf("Review the deny rule %s that blocks %s from the nodes on %s:%d", o.Deny, o.SourceRange, o.Protocol, o.Port)
		p.Advice, p.Reversible = true, true
		p.Description = fmt.Sprintf("The deny rule %s (priority %d) outranks any allow rule at a higher priority number. Someone put it there on purpose: "+
			"if serverless clients should reach the nodes, add a narrow allow rule that outranks it (priority %d), or narrow the deny rule. Undo: delete the new rule.", o.Deny, o.DenyPriority, prio)
		p.Commands = []string{o.command(prio), fmt.Sprintf("gcloud compute firewall-rules describe %s --project %s", o.Deny, o.Project)}
		p.Diff = Diff("# "+ref+": absent\n", "# "+o.describe(prio)+"\n")
		return p
	case o.WriteDenied != "":
		p.ID = "request-firewall/" + o.Project + "/" + o.Name
		p.Title = fmt.Sprintf("Ask the network team of %s to allow %s to reach the GKE nodes on %s:%d (firewall rule %s)", o.Project, o.SourceRange, o.Protocol, o.Port, o.Name)
		if o.Purpose != "" {
			p.Title = fmt.Sprintf("Ask the network team of %s for firewall rule %s: %s", o.Project, o.Name, o.Purpose)
		}
		p.Advice, p.Reversible = true, true
		p.Description = fmt.Sprintf("The rule belongs in project %s, which owns the network (a Shared VPC host): %s. "+
			"Creating it needs %s there (%s on project %s). Ask that project's network or security admins to run the command; "+
			"once they have, record it (gkedoctor fix %s --done) and the check runs again. Undo: gcloud compute firewall-rules delete %s --project %s.",
			o.Project, o.WriteDenied, FirewallCreatePermission, FirewallAdminRole, o.Project, p.ID, o.Name, o.Project)
		if o.TargetTag == "" {
			p.Description += " The nodes' network tag is unknown: fill in NODE_NETWORK_TAG (gcloud compute instances describe NODE --format='value(tags.items)')."
		}
		p.Commands = []string{o.command(1000)}
		if o.ManualChange != "" {
			p.Commands = append([]string{o.ManualChange + "   # what GKE asked for (LoadBalancerManualChange)"}, p.Commands...)
		}
		return p
	case o.TargetTag == "":
		p.Advice = true
		p.Description = "The nodes' network tag is unknown (no node pool tags, no GKE firewall rules for the cluster), so the rule cannot be scoped to them automatically; fill in the tag: " +
			"gcloud compute instances describe NODE --format='value(tags.items)'."
		return p
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := g.Compute.Firewalls.Get(o.Project, o.Name).Context(ctx).Do()
		if err == nil {
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "create firewall rule", Resource: ref,
				Err: fmt.Errorf("a rule named %s already exists (priority %d, created %s): not touching it", o.Name, cur.Priority, cur.CreationTimestamp)}
		}
		if apierr.KindOf(gcp.Map(err, "", "")) != apierr.NotFound {
			return Snapshot{}, gcp.Map(err, "get firewall rule", ref)
		}
		return Snapshot{
			Prior: []Object{{API: "compute.googleapis.com", Kind: "Firewall", Name: ref, Absent: true}},
			Undo:  []UndoAction{NewUndo(undoDeleteFirewall, deleteFirewallParams{Project: o.Project, Name: o.Name, Rule: o.rule()})},
		}, nil
	}
	p.Apply = func(ctx context.Context, _ Snapshot) (Outcome, error) {
		g, err := gcpOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		op, err := g.Compute.Firewalls.Insert(o.Project, o.rule()).Context(ctx).Do()
		if err != nil {
			err = gcp.Map(err, "create firewall rule", ref)
			if apierr.KindOf(err) == apierr.Permission && o.sharedVPC() {
				// Shared VPC without permission in the host project: the fix becomes advice.
				cmds := []string{o.command(1000)}
				if o.ManualChange != "" {
					cmds = append([]string{o.ManualChange}, cmds...)
				}
				p.Advice, p.Commands = true, cmds
				return Outcome{Undo: []UndoAction{}}, fmt.Errorf("%w; the network belongs to the Shared VPC host project %s: ask its network or security admin to run: %s",
					err, o.Project, strings.Join(cmds, " ; "))
			}
			return Outcome{}, err
		}
		if err := waitGlobalOp(ctx, g, o.Project, op); err != nil {
			return Outcome{}, fmt.Errorf("create firewall rule %s: %w", ref, err)
		}
		got, err := g.Compute.Firewalls.Get(o.Project, o.Name).Context(ctx).Do()
		if err != nil {
			return Outcome{Message: "created " + ref}, nil
		}
		b, _ := json.Marshal(got)
		return Outcome{
			Message: "created firewall rule " + o.describe(got.Priority),
			Created: []Object{{API: "compute.googleapis.com", Kind: "Firewall", Name: ref, Version: strconv.FormatUint(got.Id, 10), Contents: b}},
			Undo:    []UndoAction{NewUndo(undoDeleteFirewall, deleteFirewallParams{Project: o.Project, Name: o.Name, ID: got.Id, Rule: o.rule()})},
		}, nil
	}
	return p
}

// waitGlobalOp waits for a compute global operation to be DONE and returns its error, if any.
func waitGlobalOp(ctx context.Context, g *gcp.Clients, project string, op *compute.Operation) error {
	for op != nil && op.Status != "DONE" {
		next, err := g.Compute.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		if err != nil {
			return gcp.Map(err, "wait for operation", op.Name)
		}
		op = next
		if op.Status != "DONE" {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	if op != nil && op.Error != nil && len(op.Error.Errors) > 0 {
		var msgs []string
		for _, e := range op.Error.Errors {
			msgs = append(msgs, e.Code+": "+e.Message)
		}
		return errors.New("operation " + op.Name + " failed: " + strings.Join(msgs, "; "))
	}
	return nil
}

func undoDeleteFirewallFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p deleteFirewallParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Project == "" || p.Name == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	g, err := gcpOf(deps)
	if err != nil {
		return err
	}
	ref := "projects/" + p.Project + "/global/firewalls/" + p.Name
	cur, err := g.Compute.Firewalls.Get(p.Project, p.Name).Context(ctx).Do()
	if err != nil {
		err = gcp.Map(err, "get firewall rule", ref)
		if apierr.KindOf(err) == apierr.NotFound {
			return Absent("firewall rule " + ref)
		}
		return err
	}
	if p.ID != 0 && cur.Id != p.ID {
		return &ChangedError{Resource: ref, Why: fmt.Sprintf("it was deleted and re-created since the fix (id %d, the fix created %d): it is someone else's rule", cur.Id, p.ID)}
	}
	if p.Rule != nil {
		want, got := firewallText(p.Rule), firewallText(cur)
		if want != got && !deps.Force {
			why := "its content is not the rule the fix created"
			if p.ID == 0 {
				why = "the fix stopped before it learned the rule's id, and a rule of that name differs from the one it creates: it may be someone else's"
			}
			return &ChangedError{Resource: ref, Why: why, Diff: Diff(want, got), Forceable: true}
		}
	} else if p.ID == 0 && !deps.Force {
		return &ChangedError{Resource: ref, Why: "the journal has neither its id nor its content, so it cannot tell the fix's rule from someone else's", Forceable: true}
	}
	op, err := g.Compute.Firewalls.Delete(p.Project, p.Name).Context(ctx).Do()
	if err != nil {
		err = gcp.Map(err, "delete firewall rule", ref)
		if apierr.KindOf(err) == apierr.NotFound {
			return Absent("firewall rule " + ref)
		}
		return err
	}
	return waitGlobalOp(ctx, g, p.Project, op)
}

// firewallText renders the fields of a firewall rule a fix sets, one per line, for comparison and
// diffs (output-only fields and the network's spelling — URL or path — left out).
func firewallText(f *compute.Firewall) string {
	var b strings.Builder
	fmt.Fprintf(&b, "network: %s\n", gref.NetworkName(f.Network))
	fmt.Fprintf(&b, "direction: %s\n", orDefault(f.Direction, "INGRESS"))
	fmt.Fprintf(&b, "priority: %d\n", f.Priority)
	fmt.Fprintf(&b, "sourceRanges: %s\n", strings.Join(f.SourceRanges, ","))
	fmt.Fprintf(&b, "destinationRanges: %s\n", strings.Join(f.DestinationRanges, ","))
	fmt.Fprintf(&b, "targetTags: %s\n", strings.Join(f.TargetTags, ","))
	for _, a := range f.Allowed {
		fmt.Fprintf(&b, "allow: %s %s\n", a.IPProtocol, strings.Join(a.Ports, ","))
	}
	for _, d := range f.Denied {
		fmt.Fprintf(&b, "deny: %s %s\n", d.IPProtocol, strings.Join(d.Ports, ","))
	}
	fmt.Fprintf(&b, "disabled: %t\n", f.Disabled)
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
