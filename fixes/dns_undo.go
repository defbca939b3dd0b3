package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// Undo action types of the Cloud DNS fixes. Every one writes through DNSWriter, so an undo can no
// more touch a GKE-managed zone than a fix can.
const (
	UndoDeleteOwnedZone = "dns.deleteOwnedZone" // delete a zone gkedoctor created, once empty
	UndoDeleteRecord    = "dns.deleteRecord"    // delete a record set gkedoctor created
	UndoRestoreRecord   = "dns.restoreRecord"   // put back a record set gkedoctor patched
	UndoRecreateZone    = "dns.recreateZone"    // re-create a zone gkedoctor deleted, from its saved JSON
)

type dnsDeleteZoneParams struct {
	Project      string   `json:"project"`
	Zone         string   `json:"zone"`
	DNSName      string   `json:"dnsName"`
	GuardDomains []string `json:"guardDomains,omitempty"`
}

type dnsRecordParams struct {
	Project      string                 `json:"project"`
	Zone         string                 `json:"zone"`
	Record       *dns.ResourceRecordSet `json:"record"`          // what gkedoctor wrote (and expects to find)
	Prior        *dns.ResourceRecordSet `json:"prior,omitempty"` // what was there before (restore)
	GuardDomains []string               `json:"guardDomains,omitempty"`
}

type dnsRecreateZoneParams struct {
	Project      string           `json:"project"`
	Zone         *dns.ManagedZone `json:"zone"` // the full JSON read before the delete
	GuardDomains []string         `json:"guardDomains,omitempty"`
}

func init() {
	RegisterUndoer(UndoDeleteOwnedZone, dnsUndoDeleteOwnedZone)
	RegisterUndoer(UndoDeleteRecord, dnsUndoDeleteRecord)
	RegisterUndoer(UndoRestoreRecord, dnsUndoRestoreRecord)
	RegisterUndoer(UndoRecreateZone, dnsUndoRecreateZone)
}

func dnsWriterFor(deps *Deps, project string, domains []string) *DNSWriter {
	return &DNSWriter{G: dnsGCP(deps), Project: project, Domains: domains}
}

func dnsDecode(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("undo parameters are corrupt: %w", err)
	}
	return nil
}

// dnsUndoDeleteOwnedZone deletes the zone gkedoctor created, only if it still is that zone and holds
// nothing but its SOA and NS records (records someone added since are theirs to keep).
func dnsUndoDeleteOwnedZone(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsDeleteZoneParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	w := dnsWriterFor(deps, p.Project, p.GuardDomains)
	err := w.DeleteZone(ctx, p.Zone, func(cur *dns.ManagedZone) error {
		if cur.Labels[OwnedLabelKey] != OwnedLabelValue || model.Fqdn(cur.DnsName) != model.Fqdn(p.DNSName) {
			return &apierr.Error{Kind: apierr.Conflict, Op: "check zone", Resource: p.Zone,
				Err: fmt.Errorf("it is no longer the zone gkedoctor created (%s, labels %v)", cur.DnsName, cur.Labels)}
		}
		rrs, err := w.Records(ctx, p.Zone)
		if err != nil {
			return err
		}
		var others []string
		for _, rr := range rrs {
			if model.Fqdn(rr.Name) == model.Fqdn(cur.DnsName) && (rr.Type == "SOA" || rr.Type == "NS") {
				continue
			}
			others = append(others, rr.Name+" "+rr.Type)
		}
		if len(others) > 0 {
			return &apierr.Error{Kind: apierr.Conflict, Op: "check zone", Resource: p.Zone,
				Err: fmt.Errorf("it holds records added since the fix (%s); delete them first or keep the zone", strings.Join(others, ", "))}
		}
		return nil
	})
	if apierr.KindOf(err) == apierr.NotFound {
		return Absent("Cloud DNS zone " + dnsZoneResource(p.Project, p.Zone))
	}
	return err
}

func dnsUndoDeleteRecord(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsRecordParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	if p.Record == nil {
		return errors.New("undo parameters lack the record")
	}
	what := "record " + p.Record.Name + " " + p.Record.Type + " in zone " + p.Zone
	w := dnsWriterFor(deps, p.Project, p.GuardDomains)
	if deps.Force {
		if _, err := w.guarded(ctx, p.Zone, "delete record "+p.Record.Name+" "+p.Record.Type); err != nil {
			if apierr.KindOf(err) == apierr.NotFound {
				return Absent(what)
			}
			return err
		}
		cur, err := w.Record(ctx, p.Zone, p.Record.Name, p.Record.Type)
		if err != nil {
			if apierr.KindOf(err) == apierr.NotFound {
				return Absent(what)
			}
			return err
		}
		if cur == nil {
			return Absent(what)
		}
		err = w.DeleteRecord(ctx, p.Zone, cur) // --force: whatever it holds now
		if apierr.KindOf(err) == apierr.NotFound {
			return Absent(what)
		}
		return err
	}
	err := w.DeleteRecord(ctx, p.Zone, p.Record)
	switch {
	case errors.Is(err, errRecordAbsent) || apierr.KindOf(err) == apierr.NotFound:
		return Absent(what) // the zone is gone, and the record with it, or the record never came
	case apierr.KindOf(err) == apierr.Conflict:
		return dnsRecordChanged(ctx, w, p.Zone, p.Record, err)
	}
	return err
}

// dnsRecordChanged turns a record that differs from what the fix wrote into a ChangedError with the
// difference.
func dnsRecordChanged(ctx context.Context, w *DNSWriter, zone string, fixWrote *dns.ResourceRecordSet, err error) error {
	cur, rerr := w.Record(ctx, zone, fixWrote.Name, fixWrote.Type)
	if rerr != nil || cur == nil {
		return err
	}
	return &ChangedError{Resource: zone + "/" + fixWrote.Name + "/" + fixWrote.Type, Why: err.Error(), Forceable: true,
		Diff: Diff(dnsRecordText(fixWrote), dnsRecordText(cur))}
}

func dnsRecordText(rr *dns.ResourceRecordSet) string {
	return fmt.Sprintf("%s %d IN %s %s\n", rr.Name, rr.Ttl, rr.Type, strings.Join(rr.Rrdatas, " "))
}

func dnsUndoRestoreRecord(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsRecordParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	if p.Record == nil || p.Prior == nil {
		return errors.New("undo parameters lack the record")
	}
	w := dnsWriterFor(deps, p.Project, p.GuardDomains)
	what := "record " + p.Prior.Name + " " + p.Prior.Type + " in zone " + p.Zone
	// The guard first: an undo aimed at a GKE-managed zone is refused whatever the record holds.
	if _, err := w.guarded(ctx, p.Zone, "restore record "+p.Prior.Name+" "+p.Prior.Type); err != nil {
		return err
	}
	cur, err := w.Record(ctx, p.Zone, p.Prior.Name, p.Prior.Type)
	if err != nil {
		return err
	}
	if cur != nil && dnsSameRecord(cur, p.Prior, p.Zone) == nil {
		return Absent(what) // holds the saved value: the patch never happened, or was reverted
	}
	expect := p.Record
	if deps.Force && cur != nil {
		expect = cur
	}
	_, err = w.PatchRecord(ctx, p.Zone, p.Prior, expect)
	if apierr.KindOf(err) == apierr.Conflict && !deps.Force {
		return dnsRecordChanged(ctx, w, p.Zone, p.Record, err)
	}
	return err
}

// dnsUndoRecreateZone re-creates a deleted zone from its saved JSON (output-only fields dropped). A zone
// of that name already there with the same domain and configuration counts as done.
func dnsUndoRecreateZone(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsRecreateZoneParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	if p.Zone == nil || p.Zone.Name == "" {
		return errors.New("undo parameters lack the saved zone")
	}
	w := dnsWriterFor(deps, p.Project, p.GuardDomains)
	cur, err := w.Zone(ctx, p.Zone.Name)
	switch {
	case err == nil:
		if model.Fqdn(cur.DnsName) == model.Fqdn(p.Zone.DnsName) && dnsmodel.KindOf(cur) == dnsmodel.KindOf(p.Zone) {
			return Absent("Cloud DNS zone " + p.Zone.Name + " (it exists as before; the delete never happened, or it was re-created)")
		}
		return &apierr.Error{Kind: apierr.Conflict, Op: "re-create zone", Resource: p.Zone.Name,
			Err: fmt.Errorf("a different zone of that name exists now (%s, %s)", cur.DnsName, dnsmodel.KindOf(cur))}
	case apierr.KindOf(err) != apierr.NotFound:
		return err
	}
	_, err = w.CreateZone(ctx, dnsCreatable(p.Zone))
	return err
}

// dnsCreatable copies a zone read from the API without its output-only fields.
func dnsCreatable(z *dns.ManagedZone) *dns.ManagedZone {
	c := *z
	c.Id, c.CreationTime, c.NameServers, c.Kind = 0, "", nil, ""
	c.ServerResponse = z.ServerResponse
	c.ServerResponse.Header, c.ServerResponse.HTTPStatusCode = nil, 0
	if c.ForwardingConfig != nil {
		fc := *c.ForwardingConfig
		fc.Kind = ""
		c.ForwardingConfig = &fc
	}
	return &c
}
