package fakegcp

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	dns "google.golang.org/api/dns/v1"
)

var zoneNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

// zoneEntry is a managed zone with its record sets and change history.
type zoneEntry struct {
	zone    *dns.ManagedZone
	rrsets  map[string]*dns.ResourceRecordSet // key(name, type)
	changes []*dns.Change
}

func (s *Server) dnsRoutes() []route {
	const p = "dns/v1/projects/{project}/"
	const api = "dns"
	return []route{
		r(api, "GET", p+"managedZones", s.listZones),
		r(api, "POST", p+"managedZones", s.createZone),
		r(api, "GET", p+"managedZones/{zone}", s.getZone),
		r(api, "DELETE", p+"managedZones/{zone}", s.deleteZone),
		r(api, "GET", p+"managedZones/{zone}/rrsets", s.listRRSets),
		r(api, "POST", p+"managedZones/{zone}/rrsets", s.createRRSet),
		r(api, "GET", p+"managedZones/{zone}/rrsets/{name}/{type}", s.getRRSet),
		r(api, "PATCH", p+"managedZones/{zone}/rrsets/{name}/{type}", s.patchRRSet),
		r(api, "DELETE", p+"managedZones/{zone}/rrsets/{name}/{type}", s.deleteRRSet),
		r(api, "POST", p+"managedZones/{zone}/changes", s.createChange),
		r(api, "GET", p+"managedZones/{zone}/changes", s.listChanges),
		r(api, "GET", p+"managedZones/{zone}/changes/{change}", s.getChange),
	}
}

func zonePath(project, zone string) string {
	return "projects/" + project + "/managedZones/" + zone
}

func rrsetPath(project, zone, name, typ string) string {
	return zonePath(project, zone) + "/rrsets/" + name + "/" + typ
}

// fqdn adds the trailing dot of a fully qualified name.
func fqdn(n string) string {
	if n == "" || strings.HasSuffix(n, ".") {
		return n
	}
	return n + "."
}

// inZone reports whether name is the zone's apex or below it (case-insensitive, as DNS is).
func inZone(name, dnsName string) bool {
	name, dnsName = strings.ToLower(name), strings.ToLower(dnsName)
	return name == dnsName || strings.HasSuffix(name, "."+dnsName)
}

// --- seeding ---

// AddManagedZone seeds (or replaces) a managed zone, filling id, kind, creationTime, nameServers and
// visibility (public) when empty, and adding the apex SOA and NS record sets the API creates (kept
// if the zone already had them). Nil or unnamed zones are ignored.
func (s *Server) AddManagedZone(project string, z *dns.ManagedZone) {
	if z == nil || z.Name == "" {
		return
	}
	z = clone(z)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	z.DnsName = fqdn(z.DnsName)
	s.fillZone(z)
	e, ok := s.zones[key(project, z.Name)]
	if !ok {
		e = &zoneEntry{rrsets: map[string]*dns.ResourceRecordSet{}}
		s.zones[key(project, z.Name)] = e
	}
	e.zone = z
	s.addApexRecords(e)
}

// ManagedZones returns copies of a project's zones, sorted by name.
func (s *Server) ManagedZones(project string) []*dns.ManagedZone {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*dns.ManagedZone
	for _, k := range keysWithPrefix(s.zones, project) {
		out = append(out, clone(s.zones[k].zone))
	}
	return out
}

// AddRRSet seeds a record set in an existing zone (replacing one of the same name and type). It is
// SetRRSet under the name the seeding code reads best with.
func (s *Server) AddRRSet(project, zone string, rr *dns.ResourceRecordSet) error {
	return s.SetRRSet(project, zone, rr)
}

// SetRRSet writes a record set directly (create or replace), bypassing the API: simulated
// controllers use it, e.g. the GKE Cloud DNS controller reverting a hand edit of its zone. It
// neither logs a request nor fires OnMutation. The name gets its trailing dot and the type is
// upper-cased; ttl 0 becomes 300.
func (s *Server) SetRRSet(project, zone string, rr *dns.ResourceRecordSet) error {
	if rr == nil || rr.Name == "" || rr.Type == "" {
		return fmt.Errorf("fakegcp: record set needs a name and a type")
	}
	rr = clone(rr)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.zones[key(project, zone)]
	if !ok {
		return fmt.Errorf("fakegcp: managed zone %s not found", zonePath(project, zone))
	}
	rr.Name, rr.Type, rr.Kind = fqdn(rr.Name), strings.ToUpper(rr.Type), "dns#resourceRecordSet"
	if rr.Ttl == 0 {
		rr.Ttl = 300
	}
	if !inZone(rr.Name, e.zone.DnsName) {
		return fmt.Errorf("fakegcp: %s is not within zone %s (%s)", rr.Name, zone, e.zone.DnsName)
	}
	e.rrsets[key(rr.Name, rr.Type)] = rr
	return nil
}

// DeleteManagedZone removes a zone and its record sets directly, as a simulated controller that owns
// the zone does (no request log, no OnMutation); it reports whether the zone existed.
func (s *Server) DeleteManagedZone(project, zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.zones[key(project, zone)]
	delete(s.zones, key(project, zone))
	return ok
}

// DeleteRRSet removes a record set directly (no request log, no OnMutation); it reports whether
// one existed.
func (s *Server) DeleteRRSet(project, zone, name, typ string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.zones[key(project, zone)]
	if !ok {
		return false
	}
	k := key(fqdn(name), strings.ToUpper(typ))
	_, existed := e.rrsets[k]
	delete(e.rrsets, k)
	return existed
}

// RRSets returns copies of a zone's record sets (SOA and NS included), sorted by name and type.
func (s *Server) RRSets(project, zone string) []*dns.ResourceRecordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.zones[key(project, zone)]
	if !ok {
		return nil
	}
	var out []*dns.ResourceRecordSet
	for _, k := range keysWithPrefix(e.rrsets) {
		out = append(out, clone(e.rrsets[k]))
	}
	return out
}

// fillZone sets output-only fields. Callers hold s.mu.
func (s *Server) fillZone(z *dns.ManagedZone) {
	z.Kind = "dns#managedZone"
	if z.Id == 0 {
		z.Id = s.id() % 10_000_000_000_000_000
	}
	if z.CreationTime == "" {
		z.CreationTime = rfc3339(time.Now())
	}
	if z.Visibility == "" {
		z.Visibility = "public"
	}
	if len(z.NameServers) == 0 {
		if z.Visibility == "private" {
			z.NameServers = []string{"ns-gcp-private.googledomains.com."}
		} else {
			n := strconv.FormatUint(z.Id%5+1, 10)
			z.NameServers = []string{"ns-cloud-a" + n + ".googledomains.com.", "ns-cloud-b" + n + ".googledomains.com.",
				"ns-cloud-c" + n + ".googledomains.com.", "ns-cloud-d" + n + ".googledomains.com."}
		}
	}
}

// addApexRecords adds the SOA and NS record sets a new zone gets. Callers hold s.mu.
func (s *Server) addApexRecords(e *zoneEntry) {
	z := e.zone
	if _, ok := e.rrsets[key(z.DnsName, "SOA")]; !ok {
		e.rrsets[key(z.DnsName, "SOA")] = &dns.ResourceRecordSet{Kind: "dns#resourceRecordSet", Name: z.DnsName, Type: "SOA", Ttl: 21600,
			Rrdatas: []string{z.NameServers[0] + " cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"}}
	}
	if _, ok := e.rrsets[key(z.DnsName, "NS")]; !ok {
		e.rrsets[key(z.DnsName, "NS")] = &dns.ResourceRecordSet{Kind: "dns#resourceRecordSet", Name: z.DnsName, Type: "NS", Ttl: 21600,
			Rrdatas: append([]string(nil), z.NameServers...)}
	}
}

// zoneFor finds a zone by name or numeric id. Callers hold s.mu.
func (s *Server) zoneFor(project, ref string) (*zoneEntry, *apiError) {
	if e, ok := s.zones[key(project, ref)]; ok {
		return e, nil
	}
	if id, err := strconv.ParseUint(ref, 10, 64); err == nil {
		for _, k := range keysWithPrefix(s.zones, project) {
			if e := s.zones[k]; e.zone.Id == id {
				return e, nil
			}
		}
	}
	return nil, errNotFound(zonePath(project, ref))
}

// --- zones ---

func (s *Server) listZones(c *call) (any, *apiError) {
	p := c.v("project")
	want := fqdn(c.query("dnsName"))
	var items []*dns.ManagedZone
	for _, z := range s.ManagedZones(p) {
		if want == "" || strings.EqualFold(z.DnsName, want) {
			items = append(items, z)
		}
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.ManagedZonesListResponse{Kind: "dns#managedZonesListResponse", ManagedZones: page, NextPageToken: next}, nil
}

func (s *Server) getZone(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(c.v("project"), c.v("zone"))
	if err != nil {
		return nil, err
	}
	return clone(e.zone), nil
}

// createZone creates a zone with its apex SOA and NS record sets; a taken name is 409 alreadyExists.
func (s *Server) createZone(c *call) (any, *apiError) {
	z := &dns.ManagedZone{}
	if err := c.decode(z, true); err != nil {
		return nil, err
	}
	if !zoneNameRE().MatchString(z.Name) {
		return nil, errInvalid("Invalid value for 'entity.managedZone.name': '%s'", z.Name)
	}
	if z.DnsName == "" || !strings.HasSuffix(z.DnsName, ".") || strings.Contains(z.DnsName, "..") {
		return nil, errInvalid("Invalid value for 'entity.managedZone.dnsName': '%s'", z.DnsName)
	}
	if z.Visibility != "" && z.Visibility != "public" && z.Visibility != "private" {
		return nil, errInvalid("Invalid value for 'entity.managedZone.visibility': '%s'", z.Visibility)
	}
	if (z.PrivateVisibilityConfig != nil || z.ForwardingConfig != nil || z.PeeringConfig != nil) && z.Visibility != "private" {
		return nil, errInvalid("Invalid value for 'entity.managedZone.visibility': private zone settings need visibility 'private'.")
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.zones[key(p, z.Name)]; ok {
		return nil, errAlreadyExists(zonePath(p, z.Name))
	}
	s.markProject(p)
	z.Id, z.CreationTime, z.NameServers = 0, "", nil
	s.fillZone(z)
	e := &zoneEntry{zone: z, rrsets: map[string]*dns.ResourceRecordSet{}}
	s.addApexRecords(e)
	s.zones[key(p, z.Name)] = e
	c.mutated("ManagedZone", p, "", z.Name, "")
	return clone(z), nil
}

// deleteZone deletes an empty zone; records other than the apex SOA and NS make it 400
// containerNotEmpty.
func (s *Server) deleteZone(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, c.v("zone"))
	if err != nil {
		return nil, err
	}
	for _, rr := range e.rrsets {
		if rr.Name == e.zone.DnsName && (rr.Type == "SOA" || rr.Type == "NS") {
			continue
		}
		return nil, newError(http.StatusBadRequest, "containerNotEmpty",
			"The resource named '%s' cannot be deleted because it is not empty", e.zone.Name).withStatus("FAILED_PRECONDITION")
	}
	delete(s.zones, key(p, e.zone.Name))
	c.mutated("ManagedZone", p, "", e.zone.Name, "")
	c.status = http.StatusNoContent
	return nil, nil
}

// --- record sets ---

func (s *Server) listRRSets(c *call) (any, *apiError) {
	p, zone := c.v("project"), c.v("zone")
	name, typ := fqdn(c.query("name")), strings.ToUpper(c.query("type"))
	if typ != "" && name == "" {
		return nil, errInvalid("The 'type' parameter requires the 'name' parameter.")
	}
	s.mu.Lock()
	e, err := s.zoneFor(p, zone)
	var items []*dns.ResourceRecordSet
	if err == nil {
		for _, k := range keysWithPrefix(e.rrsets) {
			rr := e.rrsets[k]
			if (name == "" || strings.EqualFold(rr.Name, name)) && (typ == "" || rr.Type == typ) {
				items = append(items, clone(rr))
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.ResourceRecordSetsListResponse{Kind: "dns#resourceRecordSetsListResponse", Rrsets: page, NextPageToken: next}, nil
}

func (s *Server) getRRSet(c *call) (any, *apiError) {
	p, zone, name, typ := c.v("project"), c.v("zone"), fqdn(c.v("name")), strings.ToUpper(c.v("type"))
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, zone)
	if err != nil {
		return nil, err
	}
	rr, ok := e.rrsets[key(name, typ)]
	if !ok {
		return nil, errNotFound(rrsetPath(p, zone, name, typ))
	}
	return clone(rr), nil
}

// validateRRSet checks a record set against its zone. Callers hold s.mu.
func validateRRSet(rr *dns.ResourceRecordSet, z *dns.ManagedZone) *apiError {
	if rr.Name == "" || !strings.HasSuffix(rr.Name, ".") {
		return errInvalid("Invalid value for 'entity.rrset.name': '%s'. The name must be fully qualified, ending in '.'.", rr.Name)
	}
	if !inZone(rr.Name, z.DnsName) {
		return errInvalid("Invalid value for 'entity.rrset.name': '%s'. It is not within the zone '%s' (%s).", rr.Name, z.Name, z.DnsName)
	}
	if rr.Type == "" {
		return errInvalid("Required field 'entity.rrset.type' not specified.")
	}
	if len(rr.Rrdatas) == 0 && rr.RoutingPolicy == nil {
		return errInvalid("Invalid value for 'entity.rrset.rrdatas': a record set needs at least one rrdata.")
	}
	if rr.Ttl < 0 {
		return errInvalid("Invalid value for 'entity.rrset.ttl': '%d'.", rr.Ttl)
	}
	if rr.Type == "A" {
		for _, d := range rr.Rrdatas {
			if !isIPv4(d) {
				return errInvalid("Invalid value for 'entity.rrset.rrdata': '%s' is not an IPv4 address.", d)
			}
		}
	}
	return nil
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

func normalizeRRSet(rr *dns.ResourceRecordSet) {
	rr.Type = strings.ToUpper(rr.Type)
	rr.Kind = "dns#resourceRecordSet"
	if rr.Ttl == 0 {
		rr.Ttl = 300
	}
}

// createRRSet creates a record set; an existing name and type is 409 alreadyExists.
func (s *Server) createRRSet(c *call) (any, *apiError) {
	rr := &dns.ResourceRecordSet{}
	if err := c.decode(rr, true); err != nil {
		return nil, err
	}
	normalizeRRSet(rr)
	p, zone := c.v("project"), c.v("zone")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, zone)
	if err != nil {
		return nil, err
	}
	if err := validateRRSet(rr, e.zone); err != nil {
		return nil, err
	}
	if _, ok := e.rrsets[key(rr.Name, rr.Type)]; ok {
		return nil, errAlreadyExists(rrsetPath(p, e.zone.Name, rr.Name, rr.Type))
	}
	e.rrsets[key(rr.Name, rr.Type)] = rr
	c.mutated("ResourceRecordSet", p, e.zone.Name, rr.Name, rr.Type)
	return clone(rr), nil
}

// patchRRSet applies the body as a merge patch; name and type cannot change.
func (s *Server) patchRRSet(c *call) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	p, zone, name, typ := c.v("project"), c.v("zone"), fqdn(c.v("name")), strings.ToUpper(c.v("type"))
	if bn, ok := raw["name"].(string); ok && !strings.EqualFold(fqdn(bn), name) {
		return nil, errInvalid("Invalid value for 'entity.rrset.name': '%s'. The name cannot be changed.", bn)
	}
	if bt, ok := raw["type"].(string); ok && !strings.EqualFold(bt, typ) {
		return nil, errInvalid("Invalid value for 'entity.rrset.type': '%s'. The type cannot be changed.", bt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, aerr := s.zoneFor(p, zone)
	if aerr != nil {
		return nil, aerr
	}
	old, ok := e.rrsets[key(name, typ)]
	if !ok {
		return nil, errNotFound(rrsetPath(p, zone, name, typ))
	}
	merged := mergePatch(toMap(old), raw)
	nr := &dns.ResourceRecordSet{}
	if err := fromMap(merged, nr); err != nil {
		return nil, err
	}
	nr.Name, nr.Type = old.Name, old.Type
	normalizeRRSet(nr)
	if err := validateRRSet(nr, e.zone); err != nil {
		return nil, err
	}
	e.rrsets[key(name, typ)] = nr
	c.mutated("ResourceRecordSet", p, e.zone.Name, nr.Name, nr.Type)
	return clone(nr), nil
}

func (s *Server) deleteRRSet(c *call) (any, *apiError) {
	p, zone, name, typ := c.v("project"), c.v("zone"), fqdn(c.v("name")), strings.ToUpper(c.v("type"))
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, zone)
	if err != nil {
		return nil, err
	}
	if _, ok := e.rrsets[key(name, typ)]; !ok {
		return nil, errNotFound(rrsetPath(p, zone, name, typ))
	}
	if name == e.zone.DnsName && (typ == "SOA" || typ == "NS") {
		return nil, errInvalid("The apex %s record set of a zone cannot be deleted.", typ)
	}
	delete(e.rrsets, key(name, typ))
	c.mutated("ResourceRecordSet", p, e.zone.Name, name, typ)
	return &dns.ResourceRecordSetsDeleteResponse{}, nil
}

// --- changes ---

// createChange applies deletions then additions atomically. A deletion must match the current
// record set exactly (missing: 404 notFound; different: 412 conditionNotMet); an addition of an
// existing name and type is 409 alreadyExists. The change is "done" at once.
func (s *Server) createChange(c *call) (any, *apiError) {
	ch := &dns.Change{}
	if err := c.decode(ch, true); err != nil {
		return nil, err
	}
	if len(ch.Additions) == 0 && len(ch.Deletions) == 0 {
		return nil, errInvalid("The change must contain additions or deletions.")
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, c.v("zone"))
	if err != nil {
		return nil, err
	}
	next := map[string]*dns.ResourceRecordSet{}
	for k, v := range e.rrsets {
		next[k] = v
	}
	for _, d := range ch.Deletions {
		if d == nil {
			return nil, errInvalid("Invalid value for 'entity.change.deletions': null record set.")
		}
		normalizeRRSet(d)
		k := key(d.Name, d.Type)
		cur, ok := next[k]
		if !ok {
			return nil, errNotFound(rrsetPath(p, e.zone.Name, d.Name, d.Type))
		}
		if cur.Ttl != d.Ttl || strings.Join(cur.Rrdatas, "\x00") != strings.Join(d.Rrdatas, "\x00") {
			return nil, errPrecondition("The resource record set '%s' of type %s does not match the deletion in the change.", d.Name, d.Type)
		}
		delete(next, k)
	}
	for _, a := range ch.Additions {
		if a == nil {
			return nil, errInvalid("Invalid value for 'entity.change.additions': null record set.")
		}
		normalizeRRSet(a)
		if err := validateRRSet(a, e.zone); err != nil {
			return nil, err
		}
		if _, ok := next[key(a.Name, a.Type)]; ok {
			return nil, errAlreadyExists(rrsetPath(p, e.zone.Name, a.Name, a.Type))
		}
		next[key(a.Name, a.Type)] = clone(a)
	}
	e.rrsets = next
	out := &dns.Change{Kind: "dns#change", Id: strconv.Itoa(len(e.changes) + 1), Status: "done", StartTime: rfc3339(time.Now()),
		Additions: ch.Additions, Deletions: ch.Deletions}
	e.changes = append(e.changes, out)
	seen := map[string]bool{}
	for _, rr := range append(append([]*dns.ResourceRecordSet{}, ch.Deletions...), ch.Additions...) {
		if k := key(rr.Name, rr.Type); !seen[k] {
			seen[k] = true
			c.mutated("ResourceRecordSet", p, e.zone.Name, rr.Name, rr.Type)
		}
	}
	return clone(out), nil
}

func (s *Server) getChange(c *call) (any, *apiError) {
	p, zone, id := c.v("project"), c.v("zone"), c.v("change")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.zoneFor(p, zone)
	if err != nil {
		return nil, err
	}
	for _, ch := range e.changes {
		if ch.Id == id {
			return clone(ch), nil
		}
	}
	return nil, errNotFound(zonePath(p, zone) + "/changes/" + id)
}

func (s *Server) listChanges(c *call) (any, *apiError) {
	p, zone := c.v("project"), c.v("zone")
	s.mu.Lock()
	e, err := s.zoneFor(p, zone)
	var items []*dns.Change
	if err == nil {
		for _, ch := range e.changes {
			items = append(items, clone(ch))
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &dns.ChangesListResponse{Kind: "dns#changesListResponse", Changes: page, NextPageToken: next}, nil
}
