package fixes

import (
	"context"
	"errors"
	"fmt"
	"strings"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// ZoneRefusedError is returned, before anything is sent, when a fix or an undo would write to a
// Cloud DNS zone that GKE manages. GKE's Cloud DNS controller overwrites manual changes to its zones
// ("Manual changes to managed private DNS zones are not supported and are overwritten", FAILURE-MODES
// §2), so gkedoctor never writes there, whatever a plan says.
type ZoneRefusedError struct {
	Op     string // "patch record development-agent.default.svc.cluster.local. A"
	Zone   string
	Reason string
}

func (e *ZoneRefusedError) Error() string {
	return fmt.Sprintf("refused to %s in Cloud DNS zone %s: GKE manages this zone (%s); its controller overwrites manual changes, so gkedoctor never writes to it — publish the name in a private zone you own instead",
		e.Op, e.Zone, e.Reason)
}

// IsZoneRefused reports whether err is a refusal to write to a GKE-managed zone.
func IsZoneRefused(err error) bool {
	var z *ZoneRefusedError
	return errors.As(err, &z)
}

// GuardZoneWrite is the one gate every Cloud DNS write passes: it refuses any write to a zone
// dnsmodel.GKEManaged recognises. domains are the cluster DNS domains known to the caller (they are
// journaled with undo actions, so an undo in another process guards with the same knowledge).
func GuardZoneWrite(z *dns.ManagedZone, op string, domains []string) error {
	if z == nil {
		return fmt.Errorf("%s: no zone given (a bug: the zone must be read before it is written)", op)
	}
	var clusters []*model.Cluster
	for _, d := range domains {
		if d != "" {
			clusters = append(clusters, &model.Cluster{Domain: model.Fqdn(d)})
		}
	}
	if managed, why := dnsmodel.GKEManaged(z, clusters...); managed {
		return &ZoneRefusedError{Op: op, Zone: z.Name, Reason: why}
	}
	return nil
}

// DNSWriter is the only code in gkedoctor that changes Cloud DNS. Each method reads the zone afresh
// and passes it through GuardZoneWrite before it sends anything, so no plan, undo or future caller can
// write to a GKE-managed zone by mistake.
type DNSWriter struct {
	G       *gcp.Clients
	Project string
	// Domains are the cluster DNS domains that mark a zone as GKE's (clusterDnsDomain,
	// additiveVpcScopeDnsDomain); cluster.local. is assumed when empty.
	Domains []string
}

func (w *DNSWriter) clients() (*gcp.Clients, error) {
	if w == nil || w.G == nil {
		return nil, apierr.NotConfiguredf("gcloud auth application-default login", "no Google API client to change Cloud DNS")
	}
	if w.Project == "" {
		return nil, apierr.NotConfiguredf("--project PROJECT", "no project for the Cloud DNS change")
	}
	return w.G, nil
}

func dnsZoneResource(project, zone string) string {
	return "projects/" + project + "/managedZones/" + zone
}

// Zone reads a zone afresh (never from the run's inventory: a write must see the current state).
func (w *DNSWriter) Zone(ctx context.Context, zone string) (*dns.ManagedZone, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	z, err := g.DNS.ManagedZones.Get(w.Project, zone).Context(ctx).Do()
	return z, gcp.Map(err, "get Cloud DNS zone", dnsZoneResource(w.Project, zone))
}

// guarded reads zone and passes it through the guard.
func (w *DNSWriter) guarded(ctx context.Context, zone, op string) (*dns.ManagedZone, error) {
	z, err := w.Zone(ctx, zone)
	if err != nil {
		return nil, err
	}
	if err := GuardZoneWrite(z, op, w.Domains); err != nil {
		return nil, err
	}
	return z, nil
}

// CreateZone creates z, refusing a zone that would itself look like GKE's (bound to a cluster, under
// a cluster domain, or named like GKE's zones).
func (w *DNSWriter) CreateZone(ctx context.Context, z *dns.ManagedZone) (*dns.ManagedZone, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	if err := GuardZoneWrite(z, "create the zone", w.Domains); err != nil {
		return nil, err
	}
	out, err := g.DNS.ManagedZones.Create(w.Project, z).Context(ctx).Do()
	return out, gcp.Map(err, "create Cloud DNS zone", dnsZoneResource(w.Project, z.Name))
}

// DeleteZone deletes a zone after the guard and check (which may refuse, e.g. when the zone is no
// longer the one the plan was made for) have seen its current state.
func (w *DNSWriter) DeleteZone(ctx context.Context, zone string, check func(cur *dns.ManagedZone) error) error {
	g, err := w.clients()
	if err != nil {
		return err
	}
	z, err := w.guarded(ctx, zone, "delete the zone")
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(z); err != nil {
			return err
		}
	}
	err = g.DNS.ManagedZones.Delete(w.Project, zone).Context(ctx).Do()
	return gcp.Map(err, "delete Cloud DNS zone", dnsZoneResource(w.Project, zone))
}

// Records lists a zone's record sets afresh.
func (w *DNSWriter) Records(ctx context.Context, zone string) ([]*dns.ResourceRecordSet, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	var out []*dns.ResourceRecordSet
	err = g.DNS.ResourceRecordSets.List(w.Project, zone).Pages(ctx, func(l *dns.ResourceRecordSetsListResponse) error {
		out = append(out, l.Rrsets...)
		return nil
	})
	return out, gcp.Map(err, "list record sets", dnsZoneResource(w.Project, zone))
}

// Record reads one record set afresh; (nil, nil) when it does not exist.
func (w *DNSWriter) Record(ctx context.Context, zone, name, typ string) (*dns.ResourceRecordSet, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	rr, err := g.DNS.ResourceRecordSets.Get(w.Project, zone, model.Fqdn(name), typ).Context(ctx).Do()
	if err != nil {
		err = gcp.Map(err, "get record set", dnsZoneResource(w.Project, zone)+"/rrsets/"+name+"/"+typ)
		if apierr.KindOf(err) == apierr.NotFound {
			return nil, nil
		}
		return nil, err
	}
	return rr, nil
}

// CreateRecord creates a record set in a zone that is not GKE's.
func (w *DNSWriter) CreateRecord(ctx context.Context, zone string, rr *dns.ResourceRecordSet) (*dns.ResourceRecordSet, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	if _, err := w.guarded(ctx, zone, "create record "+rr.Name+" "+rr.Type); err != nil {
		return nil, err
	}
	out, err := g.DNS.ResourceRecordSets.Create(w.Project, zone, rr).Context(ctx).Do()
	return out, gcp.Map(err, "create record set", dnsZoneResource(w.Project, zone)+"/rrsets/"+rr.Name+"/"+rr.Type)
}

// PatchRecord changes a record set's TTL and data, provided it still holds what the caller saw
// (expect): the DNS API has no etag on record sets, so the current record is read and compared
// first, and a difference stops the change as a conflict.
func (w *DNSWriter) PatchRecord(ctx context.Context, zone string, rr, expect *dns.ResourceRecordSet) (*dns.ResourceRecordSet, error) {
	g, err := w.clients()
	if err != nil {
		return nil, err
	}
	if _, err := w.guarded(ctx, zone, "patch record "+rr.Name+" "+rr.Type); err != nil {
		return nil, err
	}
	cur, err := w.Record(ctx, zone, rr.Name, rr.Type)
	if err != nil {
		return nil, err
	}
	if err := dnsSameRecord(cur, expect, zone); err != nil {
		return nil, err
	}
	body := &dns.ResourceRecordSet{Name: rr.Name, Type: rr.Type, Ttl: rr.Ttl, Rrdatas: rr.Rrdatas}
	out, err := g.DNS.ResourceRecordSets.Patch(w.Project, zone, model.Fqdn(rr.Name), rr.Type, body).Context(ctx).Do()
	return out, gcp.Map(err, "patch record set", dnsZoneResource(w.Project, zone)+"/rrsets/"+rr.Name+"/"+rr.Type)
}

// DeleteRecord deletes a record set provided it still holds what the caller saw (expect); a record
// already gone is errRecordAbsent.
func (w *DNSWriter) DeleteRecord(ctx context.Context, zone string, expect *dns.ResourceRecordSet) error {
	g, err := w.clients()
	if err != nil {
		return err
	}
	if _, err := w.guarded(ctx, zone, "delete record "+expect.Name+" "+expect.Type); err != nil {
		return err
	}
	cur, err := w.Record(ctx, zone, expect.Name, expect.Type)
	if err != nil {
		return err
	}
	if cur == nil {
		return errRecordAbsent
	}
	if err := dnsSameRecord(cur, expect, zone); err != nil {
		return err
	}
	_, err = g.DNS.ResourceRecordSets.Delete(w.Project, zone, model.Fqdn(expect.Name), expect.Type).Context(ctx).Do()
	err = gcp.Map(err, "delete record set", dnsZoneResource(w.Project, zone)+"/rrsets/"+expect.Name+"/"+expect.Type)
	if apierr.KindOf(err) == apierr.NotFound {
		return errRecordAbsent
	}
	return err
}

// errRecordAbsent: DeleteRecord found no such record set (nothing to delete).
var errRecordAbsent = errors.New("the record set does not exist")

// dnsSameRecord compares the current record set with the one a change was planned against.
func dnsSameRecord(cur, expect *dns.ResourceRecordSet, zone string) error {
	if expect == nil {
		return nil
	}
	conflict := func(what string) error {
		return &apierr.Error{Kind: apierr.Conflict, Op: "check record set", Resource: zone + "/" + expect.Name + "/" + expect.Type, Err: errors.New(what)}
	}
	if cur == nil {
		return conflict("it no longer exists")
	}
	if !dnsmodel.SameIPs(cur.Rrdatas, expect.Rrdatas) && strings.Join(cur.Rrdatas, " ") != strings.Join(expect.Rrdatas, " ") {
		return conflict(fmt.Sprintf("it now holds %s, not %s", strings.Join(cur.Rrdatas, ", "), strings.Join(expect.Rrdatas, ", ")))
	}
	if expect.Ttl != 0 && cur.Ttl != expect.Ttl {
		return conflict(fmt.Sprintf("its TTL is now %d, not %d", cur.Ttl, expect.Ttl))
	}
	return nil
}
