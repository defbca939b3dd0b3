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
		return nil // already gone
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
	err := dnsWriterFor(deps, p.Project, p.GuardDomains).DeleteRecord(ctx, p.Zone, p.Record)
	if apierr.KindOf(err) == apierr.NotFound {
		return nil // the zone is gone, and the record with it
	}
	return err
}

func dnsUndoRestoreRecord(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p dnsRecordParams
	if err := dnsDecode(raw, &p); err != nil {
		return err
	}
	if p.Record == nil || p.Prior == nil {
		return errors.New("undo parameters lack the record")
	}
	_, err := dnsWriterFor(deps, p.Project, p.GuardDomains).PatchRecord(ctx, p.Zone, p.Prior, p.Record)
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
			return nil
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
