package fixes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// UpdateRecordParams are the inputs of the record update plan.
type UpdateRecordParams struct {
	Project string
	Zone    string
	Record  *dns.ResourceRecordSet // the A record as the check saw it
	NewIP   string                 // the internal load balancer's current IP
	Service string                 // NS/NAME, for the title
	// GuardDomains are the cluster DNS domains that mark zones as GKE's.
	GuardDomains []string
	Deps         *Deps
}

// UpdateRecordPlanID is the id of the record update plan.
func UpdateRecordPlanID(zone, name string) string {
	return "update-record/" + zone + "/" + strings.TrimSuffix(model.Fqdn(name), ".")
}

// NewUpdateRecordPlan proposes to point an A record in a zone the user owns at the internal load
// balancer's current IP (internal LB IPs change unless reserved). It PATCHes the record only if it
// still holds what the check saw; undo restores the saved record. The zone is read again and
// guarded when applied: a GKE-managed zone is refused, whatever the caller passed.
func NewUpdateRecordPlan(p UpdateRecordParams) *Plan {
	name := model.Fqdn(p.Record.Name)
	ttl := p.Record.Ttl
	if ttl == 0 {
		ttl = OwnedTTL
	}
	want := &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: ttl, Rrdatas: []string{p.NewIP}}
	w := &DNSWriter{G: dnsGCP(p.Deps), Project: p.Project, Domains: p.GuardDomains}
	plan := &Plan{
		ID:    UpdateRecordPlanID(p.Zone, name),
		Title: fmt.Sprintf("Point %s (zone %s) at %s, the current internal load balancer IP of %s", strings.TrimSuffix(name, "."), p.Zone, p.NewIP, p.Service),
		Description: "The record holds an address where the Service no longer is. The record set is patched only if it still holds what the check saw; " +
			"undo writes the saved record back. Reserve the load balancer's IP (a SHARED_LOADBALANCER_VIP address referenced by the Service) so it stops moving.",
		Diff: fmt.Sprintf("  %s A (zone %s)\n- ttl %d rrdatas [%s]\n+ ttl %d rrdatas [%s]\n", name, p.Zone,
			p.Record.Ttl, strings.Join(p.Record.Rrdatas, ", "), ttl, p.NewIP),
		Reversible: true,
		Commands: []string{fmt.Sprintf("gcloud dns record-sets update %s --project %s --zone %s --type A --ttl %d --rrdatas %s",
			name, p.Project, p.Zone, ttl, p.NewIP)},
	}
	plan.Snapshot = func(ctx context.Context) (Snapshot, error) {
		z, err := w.guarded(ctx, p.Zone, "patch record "+name+" A")
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := w.Record(ctx, p.Zone, name, "A")
		if err != nil {
			return Snapshot{}, err
		}
		if err := dnsSameRecord(cur, p.Record, p.Zone); err != nil {
			return Snapshot{}, err
		}
		b, _ := json.Marshal(cur)
		return Snapshot{
			Prior: []Object{{API: "dns.googleapis.com", Kind: "ResourceRecordSet", Name: dnsZoneResource(p.Project, z.Name) + "/rrsets/" + name + "/A", Contents: b}},
			Undo:  []UndoAction{NewUndo(UndoRestoreRecord, dnsRecordParams{Project: p.Project, Zone: p.Zone, Record: want, Prior: cur, GuardDomains: p.GuardDomains})},
		}, nil
	}
	plan.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		var prior dns.ResourceRecordSet
		if len(snap.Prior) != 1 || json.Unmarshal(snap.Prior[0].Contents, &prior) != nil {
			return Outcome{}, fmt.Errorf("update %s: the saved record is missing from the snapshot", name)
		}
		out, err := w.PatchRecord(ctx, p.Zone, want, &prior)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Message: fmt.Sprintf("%s now points at %s (was %s).", strings.TrimSuffix(name, "."), strings.Join(out.Rrdatas, ", "), strings.Join(prior.Rrdatas, ", "))}, nil
	}
	return plan
}

// DeleteForwardingZoneParams are the inputs of the forwarding zone deletion plan.
type DeleteForwardingZoneParams struct {
	Project string
	Zone    *dns.ManagedZone // as the check saw it
	Why     string           // e.g. "its only target 34.118.224.10 is the ClusterIP of kube-system/kube-dns"
	// Affects says what else resolves through the zone (shown before the second key).
	Affects      string
	GuardDomains []string
	Deps         *Deps
}

// DeleteForwardingZonePlanID is the id of the deletion plan.
func DeleteForwardingZonePlanID(zone string) string { return "delete-forwarding-zone/" + zone }

// NewDeleteForwardingZonePlan proposes to delete a private forwarding zone whose targets the Cloud DNS
// forwarder cannot reach (a kube-dns ClusterIP): every query under it gets SERVFAIL. It is
// destructive and VPC-wide (every client of the bound networks resolves through it), so it asks for
// a second key; the full zone JSON is journaled and undo re-creates the zone from it. It refuses a
// zone that changed since the check (other targets, other domain) and, through DNSWriter, any zone
// GKE manages.
func NewDeleteForwardingZonePlan(p DeleteForwardingZoneParams) *Plan {
	z := p.Zone
	var targets []string
	if z.ForwardingConfig != nil {
		for _, t := range z.ForwardingConfig.TargetNameServers {
			targets = append(targets, t.Ipv4Address+t.Ipv6Address+t.DomainName)
		}
	}
	var nets []string
	for _, n := range dnsmodel.BoundNetworks(z, p.Project) {
		nets = append(nets, gref.NetworkName(n))
	}
	affects := p.Affects
	if affects == "" {
		affects = fmt.Sprintf("every VM, GKE node and serverless client on network %s resolving names under %s", strings.Join(nets, ", "), z.DnsName)
	}
	w := &DNSWriter{G: dnsGCP(p.Deps), Project: p.Project, Domains: p.GuardDomains}
	plan := &Plan{
		ID:    DeleteForwardingZonePlanID(z.Name),
		Title: fmt.Sprintf("Delete forwarding zone %s (%s → %s), which can only answer SERVFAIL", z.Name, z.DnsName, strings.Join(targets, ", ")),
		Description: "The zone forwards every query under " + z.DnsName + " to " + strings.Join(targets, ", ") + ": " + p.Why + ". " +
			"Deleting it lets those names fall through to the next zone or to public DNS (NXDOMAIN for cluster.local). It does not make the Services reachable: " +
			"publish names for their internal load balancers in a zone you own. Never re-point it at a ClusterIP; only an internal load balancer in front of kube-dns can be a target. " +
			"The zone's full JSON is journaled and undo re-creates it.",
		Diff:        fmt.Sprintf("- managedZone %s: dnsName %s, forwarding to [%s], networks [%s]\n", z.Name, z.DnsName, strings.Join(targets, ", "), strings.Join(nets, ", ")),
		Destructive: true,
		VPCWide:     true,
		Reversible:  true,
		Affects:     affects,
		Alternative: true,
		Commands: []string{
			fmt.Sprintf("gcloud dns managed-zones describe %s --project %s --format json > %s.json   # keep a copy", z.Name, p.Project, z.Name),
			fmt.Sprintf("gcloud dns managed-zones delete %s --project %s", z.Name, p.Project),
		},
	}
	unchanged := func(cur *dns.ManagedZone) error {
		if dnsmodel.KindOf(cur) != dnsmodel.KindForwarding || model.Fqdn(cur.DnsName) != model.Fqdn(z.DnsName) || !dnsSameTargets(cur, z) {
			return &apierr.Error{Kind: apierr.Conflict, Op: "check zone", Resource: z.Name, Err: fmt.Errorf("it changed since the check (now %s, %s)", cur.DnsName, dnsmodel.KindOf(cur))}
		}
		return nil
	}
	plan.Snapshot = func(ctx context.Context) (Snapshot, error) {
		cur, err := w.guarded(ctx, z.Name, "delete the zone")
		if err != nil {
			return Snapshot{}, err
		}
		if err := unchanged(cur); err != nil {
			return Snapshot{}, err
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return Snapshot{}, err
		}
		return Snapshot{
			Prior: []Object{{API: "dns.googleapis.com", Kind: "ManagedZone", Name: dnsZoneResource(p.Project, z.Name), Version: fmt.Sprint(cur.Id), Contents: b}},
			Undo:  []UndoAction{NewUndo(UndoRecreateZone, dnsRecreateZoneParams{Project: p.Project, Zone: cur, GuardDomains: p.GuardDomains})},
		}, nil
	}
	plan.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		var saved dns.ManagedZone
		if len(snap.Prior) != 1 || json.Unmarshal(snap.Prior[0].Contents, &saved) != nil {
			return Outcome{}, fmt.Errorf("delete %s: the saved zone is missing from the snapshot", z.Name)
		}
		err := w.DeleteZone(ctx, z.Name, func(cur *dns.ManagedZone) error {
			if cur.Id != saved.Id {
				return &apierr.Error{Kind: apierr.Conflict, Op: "check zone", Resource: z.Name, Err: fmt.Errorf("it was re-created since it was read")}
			}
			return unchanged(cur)
		})
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Message: fmt.Sprintf("Deleted forwarding zone %s; its JSON is in the journal and `gkedoctor undo` re-creates it.", z.Name)}, nil
	}
	return plan
}

func dnsSameTargets(a, b *dns.ManagedZone) bool {
	key := func(z *dns.ManagedZone) string {
		var s []string
		if z.ForwardingConfig != nil {
			for _, t := range z.ForwardingConfig.TargetNameServers {
				s = append(s, t.Ipv4Address+"|"+t.Ipv6Address+"|"+t.DomainName)
			}
		}
		return strings.Join(s, ",")
	}
	return key(a) == key(b)
}
