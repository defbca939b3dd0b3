package fakegcp_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	dns "google.golang.org/api/dns/v1"
)

func TestDNS_ListZonesAcrossPages(t *testing.T) {
	s, a := newFake(t)
	s.PageSize = 2
	for i := range 5 {
		s.AddManagedZone(project, &dns.ManagedZone{Name: fmt.Sprintf("zone-%d", i), DnsName: fmt.Sprintf("z%d.example.com.", i)})
	}
	ctx := ctxT(t)
	var names []string
	pages := 0
	err := a.dns.ManagedZones.List(project).Pages(ctx, func(r *dns.ManagedZonesListResponse) error {
		pages++
		if len(r.ManagedZones) > 2 {
			t.Errorf("page of %d zones, want at most 2", len(r.ManagedZones))
		}
		for _, z := range r.ManagedZones {
			names = append(names, z.Name)
			if z.Kind != "dns#managedZone" || z.Id == 0 || z.CreationTime == "" || len(z.NameServers) == 0 {
				t.Errorf("zone %s lacks output-only fields: %+v", z.Name, z)
			}
		}
		return nil
	})
	noErr(t, err)
	if pages != 3 || len(names) != 5 || !sort.StringsAreSorted(names) {
		t.Fatalf("got %d pages, names %v; want 3 pages of 5 sorted zones", pages, names)
	}

	// The dnsName filter and an explicit maxResults.
	r, err := a.dns.ManagedZones.List(project).DnsName("z3.example.com.").Context(ctx).Do()
	noErr(t, err)
	if len(r.ManagedZones) != 1 || r.ManagedZones[0].Name != "zone-3" {
		t.Fatalf("dnsName filter: %+v", r.ManagedZones)
	}
	r, err = a.dns.ManagedZones.List(project).MaxResults(1).Context(ctx).Do()
	noErr(t, err)
	if len(r.ManagedZones) != 1 || r.NextPageToken == "" {
		t.Fatalf("maxResults=1: %d zones, token %q", len(r.ManagedZones), r.NextPageToken)
	}
	_, err = a.dns.ManagedZones.List(project).PageToken("garbage!").Context(ctx).Do()
	apiErr(t, err, 400)
}

func TestDNS_ZoneLifecycle(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddNetwork(project, nil) // ignored, must not panic
	zone := &dns.ManagedZone{Name: "svc-internal", DnsName: "svc.internal.example.com.", Visibility: "private",
		Description: "managed by gkedoctor",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default"}}}}
	created, err := a.dns.ManagedZones.Create(project, zone).Context(ctx).Do()
	noErr(t, err)
	if created.Id == 0 || created.NameServers[0] != "ns-gcp-private.googledomains.com." {
		t.Fatalf("created zone: %+v", created)
	}
	_, err = a.dns.ManagedZones.Create(project, zone).Context(ctx).Do()
	ge := apiErr(t, err, 409)
	if len(ge.Errors) != 1 || ge.Errors[0].Reason != "alreadyExists" {
		t.Fatalf("duplicate zone: %+v", ge.Errors)
	}

	// The API adds the apex SOA and NS.
	rrs, err := a.dns.ResourceRecordSets.List(project, "svc-internal").Context(ctx).Do()
	noErr(t, err)
	var types []string
	for _, rr := range rrs.Rrsets {
		types = append(types, rr.Type)
	}
	if fmt.Sprint(types) != "[NS SOA]" {
		t.Fatalf("new zone's records: %v", types)
	}

	// Get by name and by id.
	got, err := a.dns.ManagedZones.Get(project, "svc-internal").Context(ctx).Do()
	noErr(t, err)
	_, err = a.dns.ManagedZones.Get(project, fmt.Sprint(got.Id)).Context(ctx).Do()
	noErr(t, err)

	// A record, then delete of the non-empty zone fails, then it succeeds once empty.
	_, err = a.dns.ResourceRecordSets.Create(project, "svc-internal", &dns.ResourceRecordSet{
		Name: "api.svc.internal.example.com.", Type: "A", Ttl: 60, Rrdatas: []string{"10.132.0.6"}}).Context(ctx).Do()
	noErr(t, err)
	err = a.dns.ManagedZones.Delete(project, "svc-internal").Context(ctx).Do()
	ge = apiErr(t, err, 400)
	if ge.Errors[0].Reason != "containerNotEmpty" {
		t.Fatalf("reason %q, want containerNotEmpty", ge.Errors[0].Reason)
	}
	_, err = a.dns.ResourceRecordSets.Delete(project, "svc-internal", "api.svc.internal.example.com.", "A").Context(ctx).Do()
	noErr(t, err)
	noErr(t, a.dns.ManagedZones.Delete(project, "svc-internal").Context(ctx).Do())
	_, err = a.dns.ManagedZones.Get(project, "svc-internal").Context(ctx).Do()
	ge = apiErr(t, err, 404)
	if ge.Message == "" || !strings.Contains(ge.Message, "projects/dev-orchestra/managedZones/svc-internal") {
		t.Fatalf("404 message should name the resource: %q", ge.Message)
	}
	if len(s.ManagedZones(project)) != 0 {
		t.Fatal("zone still stored")
	}
}

func TestDNS_RecordSets(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddManagedZone(project, &dns.ManagedZone{Name: "svc-internal", DnsName: "svc.internal.example.com", Visibility: "private"})
	const name = "api.svc.internal.example.com."
	rr := &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: 60, Rrdatas: []string{"10.132.0.6"}}
	_, err := a.dns.ResourceRecordSets.Create(project, "svc-internal", rr).Context(ctx).Do()
	noErr(t, err)
	_, err = a.dns.ResourceRecordSets.Create(project, "svc-internal", rr).Context(ctx).Do()
	apiErr(t, err, 409)
	_, err = a.dns.ResourceRecordSets.Create(project, "svc-internal", &dns.ResourceRecordSet{
		Name: "api.elsewhere.example.com.", Type: "A", Rrdatas: []string{"10.0.0.1"}}).Context(ctx).Do()
	apiErr(t, err, 400)

	// Patch the drifted IP; ttl stays (merge semantics).
	p, err := a.dns.ResourceRecordSets.Patch(project, "svc-internal", name, "A",
		&dns.ResourceRecordSet{Rrdatas: []string{"10.132.0.5"}}).Context(ctx).Do()
	noErr(t, err)
	if p.Rrdatas[0] != "10.132.0.5" || p.Ttl != 60 {
		t.Fatalf("patched: %+v", p)
	}
	g, err := a.dns.ResourceRecordSets.Get(project, "svc-internal", name, "A").Context(ctx).Do()
	noErr(t, err)
	if g.Rrdatas[0] != "10.132.0.5" || g.Kind != "dns#resourceRecordSet" {
		t.Fatalf("get: %+v", g)
	}
	l, err := a.dns.ResourceRecordSets.List(project, "svc-internal").Name(name).Type("A").Context(ctx).Do()
	noErr(t, err)
	if len(l.Rrsets) != 1 {
		t.Fatalf("list by name and type: %+v", l.Rrsets)
	}
	_, err = a.dns.ResourceRecordSets.Delete(project, "svc-internal", name, "A").Context(ctx).Do()
	noErr(t, err)
	_, err = a.dns.ResourceRecordSets.Get(project, "svc-internal", name, "A").Context(ctx).Do()
	apiErr(t, err, 404)

	// A wildcard name travels escaped in the path and arrives intact.
	_, err = a.dns.ResourceRecordSets.Create(project, "svc-internal", &dns.ResourceRecordSet{
		Name: "*.svc.internal.example.com.", Type: "A", Rrdatas: []string{"10.132.0.7"}}).Context(ctx).Do()
	noErr(t, err)
	_, err = a.dns.ResourceRecordSets.Get(project, "svc-internal", "*.svc.internal.example.com.", "A").Context(ctx).Do()
	noErr(t, err)

	// changes.create: atomic, with exact-match deletions.
	ch, err := a.dns.Changes.Create(project, "svc-internal", &dns.Change{
		Additions: []*dns.ResourceRecordSet{{Name: "db.svc.internal.example.com.", Type: "A", Ttl: 60, Rrdatas: []string{"10.132.0.9"}}},
		Deletions: []*dns.ResourceRecordSet{{Name: "*.svc.internal.example.com.", Type: "A", Ttl: 300, Rrdatas: []string{"10.132.0.7"}}},
	}).Context(ctx).Do()
	noErr(t, err)
	if ch.Status != "done" || ch.Id == "" {
		t.Fatalf("change: %+v", ch)
	}
	_, err = a.dns.Changes.Create(project, "svc-internal", &dns.Change{
		Deletions: []*dns.ResourceRecordSet{{Name: "db.svc.internal.example.com.", Type: "A", Ttl: 60, Rrdatas: []string{"10.9.9.9"}}},
	}).Context(ctx).Do()
	apiErr(t, err, 412)
	if got := len(s.RRSets(project, "svc-internal")); got != 3 { // SOA, NS, db
		t.Fatalf("%d record sets after changes, want 3", got)
	}

	// Direct writes, as simulated controllers do them.
	if err := s.SetRRSet(project, "svc-internal", &dns.ResourceRecordSet{Name: "db.svc.internal.example.com", Type: "a", Rrdatas: []string{"10.132.0.10"}}); err != nil {
		t.Fatal(err)
	}
	g, err = a.dns.ResourceRecordSets.Get(project, "svc-internal", "db.svc.internal.example.com.", "A").Context(ctx).Do()
	noErr(t, err)
	if g.Rrdatas[0] != "10.132.0.10" {
		t.Fatalf("SetRRSet not visible: %+v", g)
	}
	if err := s.SetRRSet(project, "nope", g); err == nil {
		t.Fatal("SetRRSet into a missing zone should fail")
	}
}
