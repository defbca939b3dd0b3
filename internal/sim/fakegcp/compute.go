package fakegcp

import (
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
)

// computeBase prefixes compute selfLinks, as the real API writes them. Links are data: the fake
// never fetches them, and neither should a client (parse names out of them instead).
const computeBase = "https://www.googleapis.com/compute/v1/"

var computeNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

type networkEntry struct {
	net *compute.Network
	// fingerprint guards updatePeering. The compute v1 Network has no fingerprint field, so it is
	// not in the JSON; it is read with NetworkFingerprint and sent as a top-level "fingerprint" in
	// the updatePeering body by callers that want the check (the typed client cannot send it).
	fingerprint string
}

func (s *Server) computeRoutes() []route {
	const p = "compute/v1/projects/{project}/"
	const api = "compute"
	return []route{
		r(api, "GET", p+"global/networks", s.listNetworks),
		r(api, "GET", p+"global/networks/{network}", s.getNetwork),
		r(api, "PATCH", p+"global/networks/{network}/updatePeering", s.updatePeering),
		r(api, "GET", p+"global/networks/{network}/listPeeringRoutes", s.listPeeringRoutes),
		r(api, "GET", p+"global/networks/{network}/getEffectiveFirewalls", s.getEffectiveFirewalls),
		r(api, "GET", p+"regions/{region}/firewallPolicies/getEffectiveFirewalls", s.regionEffectiveFirewalls),

		r(api, "GET", p+"global/routes", s.listRoutes),
		r(api, "POST", p+"global/routes", s.insertRoute),
		r(api, "GET", p+"global/routes/{route}", s.getRoute),
		r(api, "DELETE", p+"global/routes/{route}", s.deleteRoute),

		r(api, "GET", p+"global/firewalls", s.listFirewalls),
		r(api, "POST", p+"global/firewalls", s.insertFirewall),
		r(api, "GET", p+"global/firewalls/{firewall}", s.getFirewall),
		r(api, "DELETE", p+"global/firewalls/{firewall}", s.deleteFirewall),
		r(api, "PATCH", p+"global/firewalls/{firewall}", s.patchFirewall),
		r(api, "PUT", p+"global/firewalls/{firewall}", s.updateFirewall),

		r(api, "GET", p+"regions/{region}/forwardingRules", s.listForwardingRules),
		r(api, "GET", p+"regions/{region}/forwardingRules/{rule}", s.getForwardingRule),
		r(api, "GET", p+"aggregated/forwardingRules", s.aggregatedForwardingRules),

		r(api, "GET", p+"regions/{region}/addresses", s.listAddresses),
		r(api, "POST", p+"regions/{region}/addresses", s.insertAddress),
		r(api, "GET", p+"regions/{region}/addresses/{address}", s.getAddress),
		r(api, "DELETE", p+"regions/{region}/addresses/{address}", s.deleteAddress),

		r(api, "GET", p+"regions/{region}/subnetworks", s.listSubnetworks),
		r(api, "GET", p+"regions/{region}/subnetworks/{subnetwork}", s.getSubnetwork),

		r(api, "GET", p+"global/operations/{operation}", s.getComputeOp),
		r(api, "POST", p+"global/operations/{operation}/wait", s.getComputeOp),
		r(api, "GET", p+"regions/{region}/operations/{operation}", s.getComputeOp),
		r(api, "POST", p+"regions/{region}/operations/{operation}/wait", s.getComputeOp),
	}
}

// --- links and names ---

func globalLink(project, collection, name string) string {
	return computeBase + "projects/" + project + "/global/" + collection + "/" + name
}

func regionLink(project, region string) string {
	return computeBase + "projects/" + project + "/regions/" + region
}

func regionalLink(project, region, collection, name string) string {
	return regionLink(project, region) + "/" + collection + "/" + name
}

// globalPath and regionalPath are resource paths as error messages show them.
func globalPath(project, collection, name string) string {
	return "projects/" + project + "/global/" + collection + "/" + name
}

func regionalPath(project, region, collection, name string) string {
	return "projects/" + project + "/regions/" + region + "/" + collection + "/" + name
}

// normalizeLink expands a partial compute reference ("default", "global/networks/default",
// "projects/p/global/networks/default", or a full URL) to a full URL in project's context.
func normalizeLink(project, collection, v string) string {
	switch {
	case v == "":
		return ""
	case strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://"):
		if i := strings.Index(v, "/projects/"); i >= 0 {
			return computeBase + v[i+1:]
		}
		return v
	case strings.HasPrefix(v, "projects/"):
		return computeBase + v
	case strings.HasPrefix(v, "global/") || strings.HasPrefix(v, "regions/") || strings.HasPrefix(v, "zones/"):
		return computeBase + "projects/" + project + "/" + v
	}
	return globalLink(project, collection, v)
}

// parseLink splits a compute URL or partial path into project, collection and name, and the region
// for regional resources: …/projects/P/global/networks/N → (P, "", networks, N).
func parseLink(v string) (project, region, collection, name string, ok bool) {
	i := strings.Index(v, "projects/")
	if i < 0 {
		return "", "", "", "", false
	}
	segs := strings.Split(v[i:], "/")
	switch {
	case len(segs) == 5 && segs[2] == "global":
		return segs[1], "", segs[3], segs[4], true
	case len(segs) == 6 && (segs[2] == "regions" || segs[2] == "zones"):
		return segs[1], segs[3], segs[4], segs[5], true
	}
	return "", "", "", "", false
}

// lastSegment returns what follows the last slash.
func lastSegment(v string) string { return v[strings.LastIndex(v, "/")+1:] }

// sameNetwork reports whether two network references name the same network.
func sameNetwork(project, a, b string) bool {
	return normalizeLink(project, "networks", a) == normalizeLink(project, "networks", b)
}

// --- operations ---

// newComputeOp records and returns a DONE operation for a mutation of targetLink. region "" makes a
// global operation.
func (s *Server) newComputeOp(project, region, opType, targetLink string, targetID uint64) *compute.Operation {
	now := time.Now()
	name := "operation-" + strconv.FormatInt(now.UnixMilli(), 10) + "-" + s.randString(13, lowerHex) + "-" + s.randString(8, lowerHex) + "-" + s.randString(8, lowerHex)
	op := &compute.Operation{
		Kind:          "compute#operation",
		Id:            s.id(),
		Name:          name,
		OperationType: opType,
		TargetLink:    targetLink,
		TargetId:      targetID,
		Status:        "DONE",
		Progress:      100,
		User:          "fakegcp@example.com",
		InsertTime:    computeTime(now),
		StartTime:     computeTime(now),
		EndTime:       computeTime(now),
	}
	scope := "global"
	if region != "" {
		scope = region
		op.Region = regionLink(project, region)
		op.SelfLink = regionalLink(project, region, "operations", name)
	} else {
		op.SelfLink = globalLink(project, "operations", name)
	}
	s.computeOps[key(project, scope, name)] = op
	return clone(op)
}

// getComputeOp serves operations get and wait (operations are always DONE, so wait returns at once).
func (s *Server) getComputeOp(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, region, name := c.v("project"), c.v("region"), c.v("operation")
	scope, path := "global", globalPath(p, "operations", name)
	if region != "" {
		scope, path = region, regionalPath(p, region, "operations", name)
	}
	op, ok := s.computeOps[key(p, scope, name)]
	if !ok {
		return nil, errNotFound(path)
	}
	return clone(op), nil
}

// --- networks ---

// AddNetwork seeds (or replaces) a VPC network. Peerings' network references may be partial
// ("projects/P/global/networks/N"); they are expanded. Peerings that do not say otherwise get the
// API defaults exchangeSubnetRoutes=true and exportSubnetRoutesWithPublicIp=true (to seed an explicit
// false, list the field in the peering's ForceSendFields). An empty peering state is derived on read:
// ACTIVE when the peer network has the matching peering, INACTIVE otherwise. Nil or unnamed networks
// are ignored.
func (s *Server) AddNetwork(project string, n *compute.Network) {
	if n == nil || n.Name == "" {
		return
	}
	forced := make([]map[string]bool, len(n.Peerings))
	for i, pe := range n.Peerings {
		forced[i] = map[string]bool{}
		if pe != nil {
			for _, f := range pe.ForceSendFields {
				forced[i][f] = true
			}
		}
	}
	n = clone(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	n.Kind = "compute#network"
	n.SelfLink = globalLink(project, "networks", n.Name)
	if n.Id == 0 {
		n.Id = s.id()
	}
	n.SelfLinkWithId = globalLink(project, "networks", strconv.FormatUint(n.Id, 10))
	if n.CreationTimestamp == "" {
		n.CreationTimestamp = computeTime(time.Now())
	}
	if n.RoutingConfig == nil {
		n.RoutingConfig = &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"}
	}
	var peerings []*compute.NetworkPeering
	for i, pe := range n.Peerings {
		if pe == nil {
			continue
		}
		pe.Network = normalizeLink(project, "networks", pe.Network)
		pe.ExchangeSubnetRoutes = true
		if !pe.ExportSubnetRoutesWithPublicIp && !forced[i]["ExportSubnetRoutesWithPublicIp"] {
			pe.ExportSubnetRoutesWithPublicIp = true
		}
		peerings = append(peerings, pe)
	}
	n.Peerings = peerings
	n.Subnetworks = nil // derived from the subnetworks on read
	s.networks[key(project, n.Name)] = &networkEntry{net: n, fingerprint: s.randString(12, b64Alpha)}
}

// Network returns a copy of a network as the API shows it (peerings, derived subnetwork links).
func (s *Server) Network(project, name string) (*compute.Network, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.networks[key(project, name)]
	if !ok {
		return nil, false
	}
	return s.networkView(project, e), true
}

// NetworkFingerprint returns the fingerprint updatePeering checks (see networkEntry), or "".
func (s *Server) NetworkFingerprint(project, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.networks[key(project, name)]; ok {
		return e.fingerprint
	}
	return ""
}

// networkView renders a network for output; callers hold s.mu.
func (s *Server) networkView(project string, e *networkEntry) *compute.Network {
	n := clone(e.net)
	n.Subnetworks = nil
	for _, k := range keysWithPrefix(s.subnets, project) {
		sn := s.subnets[k]
		if sameNetwork(project, sn.Network, n.SelfLink) {
			n.Subnetworks = append(n.Subnetworks, sn.SelfLink)
		}
	}
	for _, pe := range n.Peerings {
		if pe.State == "" {
			if _, _, ok := s.peerOf(project, n.Name, pe); ok {
				pe.State, pe.StateDetails = "ACTIVE", "[2026-01-01T00:00:00.000-07:00]: Connected."
			} else {
				pe.State, pe.StateDetails = "INACTIVE", "[2026-01-01T00:00:00.000-07:00]: Waiting for peer network to connect."
			}
		}
	}
	return n
}

// peerOf finds the peer network of peering pe of project/network, and the peer's peering that
// points back; ok is false when either is missing (the peering is then INACTIVE).
func (s *Server) peerOf(project, network string, pe *compute.NetworkPeering) (peerProject string, back *compute.NetworkPeering, ok bool) {
	pp, _, coll, pn, ok := parseLink(pe.Network)
	if !ok || coll != "networks" {
		return "", nil, false
	}
	pentry, ok := s.networks[key(pp, pn)]
	if !ok {
		return pp, nil, false
	}
	self := globalLink(project, "networks", network)
	for _, bp := range pentry.net.Peerings {
		if normalizeLink(pp, "networks", bp.Network) == self {
			return pp, bp, true
		}
	}
	return pp, nil, false
}

func (s *Server) getNetwork(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := c.v("project"), c.v("network")
	e, ok := s.networks[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "networks", n))
	}
	return s.networkView(p, e), nil
}

func (s *Server) listNetworks(c *call) (any, *apiError) {
	p := c.v("project")
	s.mu.Lock()
	var items []*compute.Network
	for _, k := range keysWithPrefix(s.networks, p) {
		items = append(items, s.networkView(p, s.networks[k]))
	}
	s.mu.Unlock()
	items, err := filterItems(c, items)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.NetworkList{Kind: "compute#networkList", Id: "projects/" + p + "/global/networks",
		SelfLink: computeBase + "projects/" + p + "/global/networks", Items: page, NextPageToken: next}, nil
}

// peeringMutable are the NetworkPeering fields updatePeering changes; others in the body are ignored.
var peeringMutable = []string{"exportCustomRoutes", "importCustomRoutes", "exportSubnetRoutesWithPublicIp",
	"importSubnetRoutesWithPublicIp", "stackType", "updateStrategy"}

// updatePeering changes the custom-route (and public-IP subnet-route) exchange flags of one peering.
// Only fields present in the body change, so {"exportCustomRoutes": false} (sent with
// ForceSendFields) turns export off. A non-empty top-level "fingerprint" that differs from the
// network's current one is answered 412 conditionNotMet and changes nothing.
func (s *Server) updatePeering(c *call) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	np, ok := raw["networkPeering"].(map[string]any)
	if !ok {
		return nil, errInvalid("Invalid value for field 'networkPeering': the request must carry a networkPeering object.")
	}
	name, _ := np["name"].(string)
	if name == "" {
		return nil, errInvalid("Required field 'networkPeering.name' not specified.")
	}
	var req compute.NetworksUpdatePeeringRequest
	if err := c.decode(&req, true); err != nil {
		return nil, err
	}
	p, n := c.v("project"), c.v("network")
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.networks[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "networks", n))
	}
	if fp, present := raw["fingerprint"]; present {
		fps, isString := fp.(string)
		if !isString {
			return nil, errInvalid("Invalid value for field 'fingerprint'.")
		}
		if fps != "" && fps != e.fingerprint {
			return nil, errPrecondition("Supplied fingerprint does not match current fingerprint of network '%s'.", globalPath(p, "networks", n))
		}
	}
	var target *compute.NetworkPeering
	for _, pe := range e.net.Peerings {
		if pe.Name == name {
			target = pe
		}
	}
	if target == nil {
		return nil, errNotFound(globalPath(p, "networks", n) + "/peerings/" + name)
	}
	in := req.NetworkPeering
	for _, f := range peeringMutable {
		if _, present := np[f]; !present {
			continue
		}
		switch f {
		case "exportCustomRoutes":
			target.ExportCustomRoutes = in.ExportCustomRoutes
		case "importCustomRoutes":
			target.ImportCustomRoutes = in.ImportCustomRoutes
		case "exportSubnetRoutesWithPublicIp":
			target.ExportSubnetRoutesWithPublicIp = in.ExportSubnetRoutesWithPublicIp
		case "importSubnetRoutesWithPublicIp":
			target.ImportSubnetRoutesWithPublicIp = in.ImportSubnetRoutesWithPublicIp
		case "stackType":
			target.StackType = in.StackType
		case "updateStrategy":
			target.UpdateStrategy = in.UpdateStrategy
		}
	}
	e.fingerprint = s.randString(12, b64Alpha)
	c.mutated("Network", p, "", n, "")
	return s.newComputeOp(p, "", "updatePeering", e.net.SelfLink, e.net.Id), nil
}

// listPeeringRoutes derives the routes exchanged over a peering from state:
//   - OUTGOING lists what this network exports to the peer: its subnet ranges (primary and
//     secondary; always exchanged, except privately used public ranges, which need
//     exportSubnetRoutesWithPublicIp here and importSubnetRoutesWithPublicIp on the peer), plus its
//     static custom routes only when this peering has exportCustomRoutes and the peer's matching
//     peering has importCustomRoutes;
//   - INCOMING is the mirror: what the peer network exports to this one (imported=true).
//
// Static routes whose next hop is the default internet gateway, or that carry network tags, are
// never exchanged. Nothing is listed while the peering is not ACTIVE on both sides. The region
// parameter is accepted but does not narrow subnet or static routes (dynamic routes, the ones that
// are regional, are not simulated).
func (s *Server) listPeeringRoutes(c *call) (any, *apiError) {
	p, n := c.v("project"), c.v("network")
	peeringName, dir := c.query("peeringName"), c.query("direction")
	if peeringName == "" {
		return nil, errInvalid("Required parameter 'peeringName' not specified.")
	}
	if dir != "INCOMING" && dir != "OUTGOING" {
		return nil, errInvalid("Invalid value for field 'direction': '%s'. Must be INCOMING or OUTGOING.", dir)
	}
	s.mu.Lock()
	e, ok := s.networks[key(p, n)]
	if !ok {
		s.mu.Unlock()
		return nil, errNotFound(globalPath(p, "networks", n))
	}
	var pe *compute.NetworkPeering
	for _, x := range e.net.Peerings {
		if x.Name == peeringName {
			pe = x
		}
	}
	if pe == nil {
		s.mu.Unlock()
		return nil, errNotFound(globalPath(p, "networks", n) + "/peerings/" + peeringName)
	}
	var items []*compute.ExchangedPeeringRoute
	peerProject, back, active := s.peerOf(p, n, pe)
	if active && (pe.State == "" || pe.State == "ACTIVE") && (back.State == "" || back.State == "ACTIVE") {
		_, _, _, peerNet, _ := parseLink(pe.Network)
		if dir == "OUTGOING" {
			items = s.exportedRoutes(p, n, pe, back, false)
		} else {
			items = s.exportedRoutes(peerProject, peerNet, back, pe, true)
		}
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.ExchangedPeeringRoutesList{Kind: "compute#exchangedPeeringRoutesList",
		Id:       "projects/" + p + "/global/networks/" + n + "/listPeeringRoutes",
		SelfLink: globalLink(p, "networks", n) + "/listPeeringRoutes", Items: page, NextPageToken: next}, nil
}

// exportedRoutes lists the routes network (in project) exports over peering exp to a peer whose
// side of the peering is imp. Callers hold s.mu.
func (s *Server) exportedRoutes(project, network string, exp, imp *compute.NetworkPeering, imported bool) []*compute.ExchangedPeeringRoute {
	var out []*compute.ExchangedPeeringRoute
	self := globalLink(project, "networks", network)
	publicOK := exp.ExportSubnetRoutesWithPublicIp && imp.ImportSubnetRoutesWithPublicIp
	for _, k := range keysWithPrefix(s.subnets, project) {
		sn := s.subnets[k]
		if normalizeLink(project, "networks", sn.Network) != self {
			continue
		}
		ranges := []string{sn.IpCidrRange}
		for _, sr := range sn.SecondaryIpRanges {
			if sr != nil {
				ranges = append(ranges, sr.IpCidrRange)
			}
		}
		for _, rg := range ranges {
			if rg == "" || (!isPrivateRange(rg) && !publicOK) {
				continue
			}
			out = append(out, &compute.ExchangedPeeringRoute{DestRange: rg, Type: "SUBNET_PEERING_ROUTE",
				NextHopRegion: lastSegment(sn.Region), Imported: imported})
		}
	}
	if exp.ExportCustomRoutes && imp.ImportCustomRoutes {
		for _, k := range keysWithPrefix(s.routesC, project) {
			rt := s.routesC[k]
			if normalizeLink(project, "networks", rt.Network) != self || rt.NextHopGateway != "" || len(rt.Tags) > 0 || rt.NextHopPeering != "" {
				continue
			}
			out = append(out, &compute.ExchangedPeeringRoute{DestRange: rt.DestRange, Type: "STATIC_PEERING_ROUTE",
				Priority: rt.Priority, NextHopRegion: routeRegion(rt), Imported: imported})
		}
	}
	return out
}

// routeRegion is the region of a route's next hop when it has one (an instance's zone's region).
func routeRegion(rt *compute.Route) string {
	if _, zone, coll, _, ok := parseLink(rt.NextHopInstance); ok && coll == "instances" {
		if i := strings.LastIndex(zone, "-"); i > 0 {
			return zone[:i]
		}
	}
	return ""
}

// isPrivateRange reports whether a CIDR lies in RFC 1918, RFC 6598 or another range peering always
// exchanges as a private subnet route.
func isPrivateRange(cidr string) bool {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	for _, r := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
		"192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"} {
		if q := netip.MustParsePrefix(r); q.Contains(pfx.Addr()) && pfx.Bits() >= q.Bits() {
			return true
		}
	}
	return pfx.Addr().Is6() && pfx.Addr().IsPrivate()
}

// --- subnetworks ---

// AddSubnetwork seeds (or replaces) a subnetwork. Its network reference may be partial; the network's
// subnetworks list shows it. Nil or unnamed subnetworks are ignored.
func (s *Server) AddSubnetwork(project, region string, sn *compute.Subnetwork) {
	if sn == nil || sn.Name == "" {
		return
	}
	sn = clone(sn)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	sn.Kind = "compute#subnetwork"
	sn.Region = regionLink(project, region)
	sn.SelfLink = regionalLink(project, region, "subnetworks", sn.Name)
	sn.Network = normalizeLink(project, "networks", sn.Network)
	if sn.Id == 0 {
		sn.Id = s.id()
	}
	if sn.CreationTimestamp == "" {
		sn.CreationTimestamp = computeTime(time.Now())
	}
	if sn.Fingerprint == "" {
		sn.Fingerprint = s.randString(11, b64Alpha) + "="
	}
	if sn.GatewayAddress == "" {
		if pfx, err := netip.ParsePrefix(sn.IpCidrRange); err == nil {
			sn.GatewayAddress = pfx.Masked().Addr().Next().String()
		}
	}
	if sn.StackType == "" {
		sn.StackType = "IPV4_ONLY"
	}
	if sn.Purpose == "" {
		sn.Purpose = "PRIVATE"
	}
	s.subnets[key(project, region, sn.Name)] = sn
}

func (s *Server) getSubnetwork(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, rg, n := c.v("project"), c.v("region"), c.v("subnetwork")
	sn, ok := s.subnets[key(p, rg, n)]
	if !ok {
		return nil, errNotFound(regionalPath(p, rg, "subnetworks", n))
	}
	return clone(sn), nil
}

func (s *Server) listSubnetworks(c *call) (any, *apiError) {
	p, rg := c.v("project"), c.v("region")
	s.mu.Lock()
	var items []*compute.Subnetwork
	for _, k := range keysWithPrefix(s.subnets, p, rg) {
		items = append(items, clone(s.subnets[k]))
	}
	s.mu.Unlock()
	items, err := filterItems(c, items)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.SubnetworkList{Kind: "compute#subnetworkList", Id: "projects/" + p + "/regions/" + rg + "/subnetworks",
		SelfLink: regionLink(p, rg) + "/subnetworks", Items: page, NextPageToken: next}, nil
}

// --- routes ---

// AddRoute seeds (or replaces) a static route, e.g. a routes-based cluster's per-node pod-CIDR
// route. Its network reference may be partial. Nil or unnamed routes are ignored.
func (s *Server) AddRoute(project string, rt *compute.Route) {
	if rt == nil || rt.Name == "" {
		return
	}
	rt = clone(rt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.fillRoute(project, rt)
	s.routesC[key(project, rt.Name)] = rt
}

// Routes returns copies of a project's stored routes, sorted by name.
func (s *Server) Routes(project string) []*compute.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*compute.Route
	for _, k := range keysWithPrefix(s.routesC, project) {
		out = append(out, clone(s.routesC[k]))
	}
	return out
}

func (s *Server) fillRoute(project string, rt *compute.Route) {
	rt.Kind = "compute#route"
	rt.SelfLink = globalLink(project, "routes", rt.Name)
	rt.Network = normalizeLink(project, "networks", rt.Network)
	if rt.Id == 0 {
		rt.Id = s.id()
	}
	if rt.CreationTimestamp == "" {
		rt.CreationTimestamp = computeTime(time.Now())
	}
	if rt.RouteType == "" {
		rt.RouteType = "STATIC"
	}
	if rt.NextHopGateway != "" {
		rt.NextHopGateway = normalizeLink(project, "gateways", rt.NextHopGateway)
	}
}

func (s *Server) listRoutes(c *call) (any, *apiError) {
	p := c.v("project")
	items, err := filterItems(c, s.Routes(p))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.RouteList{Kind: "compute#routeList", Id: "projects/" + p + "/global/routes",
		SelfLink: computeBase + "projects/" + p + "/global/routes", Items: page, NextPageToken: next}, nil
}

func (s *Server) getRoute(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := c.v("project"), c.v("route")
	rt, ok := s.routesC[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "routes", n))
	}
	return clone(rt), nil
}

func (s *Server) insertRoute(c *call) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	rt := &compute.Route{}
	if err := c.decode(rt, true); err != nil {
		return nil, err
	}
	if !computeNameRE().MatchString(rt.Name) {
		return nil, errInvalidName(rt.Name)
	}
	if _, err := netip.ParsePrefix(rt.DestRange); err != nil {
		return nil, errInvalid("Invalid value for field 'resource.destRange': '%s'. Must be a CIDR range.", rt.DestRange)
	}
	if rt.NextHopGateway == "" && rt.NextHopInstance == "" && rt.NextHopIp == "" && rt.NextHopIlb == "" && rt.NextHopVpnTunnel == "" {
		return nil, errInvalid("Invalid value for field 'resource': a route needs exactly one next hop.")
	}
	if _, present := raw["priority"]; !present {
		rt.Priority = 1000
	}
	if rt.Network == "" {
		rt.Network = "global/networks/default"
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.routesC[key(p, rt.Name)]; ok {
		return nil, errAlreadyExists(globalPath(p, "routes", rt.Name))
	}
	if err := s.requireNetwork(p, rt.Network); err != nil {
		return nil, err
	}
	rt.Id, rt.CreationTimestamp, rt.RouteType = 0, "", ""
	s.fillRoute(p, rt)
	s.routesC[key(p, rt.Name)] = rt
	c.mutated("Route", p, "", rt.Name, "")
	return s.newComputeOp(p, "", "insert", rt.SelfLink, rt.Id), nil
}

func (s *Server) deleteRoute(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := c.v("project"), c.v("route")
	rt, ok := s.routesC[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "routes", n))
	}
	delete(s.routesC, key(p, n))
	c.mutated("Route", p, "", n, "")
	return s.newComputeOp(p, "", "delete", rt.SelfLink, rt.Id), nil
}

// requireNetwork answers 404 when the referenced network does not exist. Callers hold s.mu.
func (s *Server) requireNetwork(project, ref string) *apiError {
	np, _, coll, nn, ok := parseLink(normalizeLink(project, "networks", ref))
	if !ok || coll != "networks" {
		return errInvalid("Invalid value for field 'resource.network': '%s'.", ref)
	}
	if _, ok := s.networks[key(np, nn)]; !ok {
		return errNotFound(globalPath(np, "networks", nn))
	}
	return nil
}

func errInvalidName(name string) *apiError {
	return errInvalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", name)
}

// --- firewalls ---

// AddFirewall seeds (or replaces) a firewall rule, with the API's defaults (direction INGRESS,
// priority 1000 when 0, network default). Nil or unnamed rules are ignored.
func (s *Server) AddFirewall(project string, f *compute.Firewall) {
	if f == nil || f.Name == "" {
		return
	}
	f = clone(f)
	if f.Priority == 0 {
		f.Priority = 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.fillFirewall(project, f)
	s.firewalls[key(project, f.Name)] = f
}

// Firewalls returns copies of a project's firewall rules, sorted by name.
func (s *Server) Firewalls(project string) []*compute.Firewall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*compute.Firewall
	for _, k := range keysWithPrefix(s.firewalls, project) {
		out = append(out, clone(s.firewalls[k]))
	}
	return out
}

// DeleteFirewall removes a firewall rule directly, as a simulated load-balancer controller tearing
// down its rules does; it reports whether one existed. Like the other seeding methods it neither logs
// a request nor fires OnMutation.
func (s *Server) DeleteFirewall(project, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.firewalls[key(project, name)]
	delete(s.firewalls, key(project, name))
	return ok
}

// fillFirewall sets output-only fields and defaults. Callers hold s.mu.
func (s *Server) fillFirewall(project string, f *compute.Firewall) {
	f.Kind = "compute#firewall"
	f.SelfLink = globalLink(project, "firewalls", f.Name)
	if f.Network == "" {
		f.Network = "default"
	}
	f.Network = normalizeLink(project, "networks", f.Network)
	if f.Id == 0 {
		f.Id = s.id()
	}
	if f.CreationTimestamp == "" {
		f.CreationTimestamp = computeTime(time.Now())
	}
	if f.Direction == "" {
		f.Direction = "INGRESS"
	}
	if f.Direction == "INGRESS" && len(f.SourceRanges) == 0 && len(f.SourceTags) == 0 && len(f.SourceServiceAccounts) == 0 {
		f.SourceRanges = []string{"0.0.0.0/0"}
	}
	if f.Direction == "EGRESS" && len(f.DestinationRanges) == 0 {
		f.DestinationRanges = []string{"0.0.0.0/0"}
	}
	if f.LogConfig == nil {
		f.LogConfig = &compute.FirewallLogConfig{Enable: false}
	}
}

// validateFirewall checks what the API rejects.
func validateFirewall(f *compute.Firewall) *apiError {
	if !computeNameRE().MatchString(f.Name) {
		return errInvalidName(f.Name)
	}
	if (len(f.Allowed) == 0) == (len(f.Denied) == 0) {
		return errInvalid("Invalid value for field 'resource': a firewall rule must have exactly one of 'allowed' or 'denied'.")
	}
	if f.Direction != "" && f.Direction != "INGRESS" && f.Direction != "EGRESS" {
		return errInvalid("Invalid value for field 'resource.direction': '%s'.", f.Direction)
	}
	if f.Priority < 0 || f.Priority > 65535 {
		return errInvalid("Invalid value for field 'resource.priority': '%d'. Must be between 0 and 65535.", f.Priority)
	}
	for _, rg := range append(append([]string{}, f.SourceRanges...), f.DestinationRanges...) {
		if _, err := netip.ParsePrefix(rg); err != nil {
			if _, err := netip.ParseAddr(rg); err != nil {
				return errInvalid("Invalid value for field 'resource.sourceRanges': '%s'. Must be a CIDR address range.", rg)
			}
		}
	}
	for _, rule := range append(append([]*compute.FirewallAllowed{}, f.Allowed...), deniedAsAllowed(f.Denied)...) {
		if rule == nil || rule.IPProtocol == "" {
			return errInvalid("Invalid value for field 'resource.allowed[].IPProtocol': required.")
		}
	}
	return nil
}

func deniedAsAllowed(ds []*compute.FirewallDenied) []*compute.FirewallAllowed {
	var out []*compute.FirewallAllowed
	for _, d := range ds {
		if d == nil {
			out = append(out, nil)
			continue
		}
		out = append(out, &compute.FirewallAllowed{IPProtocol: d.IPProtocol, Ports: d.Ports})
	}
	return out
}

func (s *Server) listFirewalls(c *call) (any, *apiError) {
	p := c.v("project")
	// Filter and page over the stored rules, and copy only the page: a project with thousands of
	// rules is listed in pages of 500, and copying every rule for every page made the fake the slow
	// part of a large audit.
	s.mu.Lock()
	var all []*compute.Firewall
	for _, k := range keysWithPrefix(s.firewalls, p) {
		all = append(all, s.firewalls[k])
	}
	items, err := filterItems(c, all)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults") // takes s.mu for the page size
	if err != nil {
		return nil, err
	}
	page = append([]*compute.Firewall(nil), page...)
	s.mu.Lock()
	for i := range page {
		page[i] = clone(page[i])
	}
	s.mu.Unlock()
	return &compute.FirewallList{Kind: "compute#firewallList", Id: "projects/" + p + "/global/firewalls",
		SelfLink: computeBase + "projects/" + p + "/global/firewalls", Items: page, NextPageToken: next}, nil
}

func (s *Server) getFirewall(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := c.v("project"), c.v("firewall")
	f, ok := s.firewalls[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "firewalls", n))
	}
	return clone(f), nil
}

func (s *Server) insertFirewall(c *call) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	f := &compute.Firewall{}
	if err := c.decode(f, true); err != nil {
		return nil, err
	}
	if _, present := raw["priority"]; !present {
		f.Priority = 1000
	}
	if err := validateFirewall(f); err != nil {
		return nil, err
	}
	p := c.v("project")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.firewalls[key(p, f.Name)]; ok {
		return nil, errAlreadyExists(globalPath(p, "firewalls", f.Name))
	}
	if f.Network == "" {
		f.Network = "default"
	}
	if err := s.requireNetwork(p, f.Network); err != nil {
		return nil, err
	}
	f.Id, f.CreationTimestamp = 0, ""
	s.fillFirewall(p, f)
	s.firewalls[key(p, f.Name)] = f
	c.mutated("Firewall", p, "", f.Name, "")
	return s.newComputeOp(p, "", "insert", f.SelfLink, f.Id), nil
}

func (s *Server) deleteFirewall(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := c.v("project"), c.v("firewall")
	f, ok := s.firewalls[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "firewalls", n))
	}
	delete(s.firewalls, key(p, n))
	c.mutated("Firewall", p, "", n, "")
	return s.newComputeOp(p, "", "delete", f.SelfLink, f.Id), nil
}

// patchFirewall applies the body as a JSON merge patch (the API's PATCH semantics).
func (s *Server) patchFirewall(c *call) (any, *apiError) {
	return s.changeFirewall(c, true)
}

// updateFirewall replaces the rule with the body (PUT), keeping output-only fields.
func (s *Server) updateFirewall(c *call) (any, *apiError) {
	return s.changeFirewall(c, false)
}

func (s *Server) changeFirewall(c *call, patch bool) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	p, n := c.v("project"), c.v("firewall")
	if bn, ok := raw["name"]; ok && bn != n {
		return nil, errInvalid("Invalid value for field 'resource.name': '%v'. The name cannot be changed.", bn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.firewalls[key(p, n)]
	if !ok {
		return nil, errNotFound(globalPath(p, "firewalls", n))
	}
	base := map[string]any{}
	if patch {
		base = toMap(old)
	}
	merged := mergePatch(base, raw)
	for _, k := range []string{"id", "kind", "selfLink", "creationTimestamp", "name"} {
		delete(merged, k)
	}
	nf := &compute.Firewall{}
	if err := fromMap(merged, nf); err != nil {
		return nil, err
	}
	nf.Name, nf.Id, nf.CreationTimestamp = n, old.Id, old.CreationTimestamp
	if _, present := merged["priority"]; !present {
		nf.Priority = 1000
	}
	if err := validateFirewall(nf); err != nil {
		return nil, err
	}
	if nf.Network != "" && !sameNetwork(p, nf.Network, old.Network) {
		return nil, errInvalid("Invalid value for field 'resource.network': the network of a firewall rule cannot be changed.")
	}
	s.fillFirewall(p, nf)
	s.firewalls[key(p, n)] = nf
	c.mutated("Firewall", p, "", n, "")
	opType := "update"
	if patch {
		opType = "patch"
	}
	return s.newComputeOp(p, "", opType, nf.SelfLink, nf.Id), nil
}

// --- forwarding rules ---

// AddForwardingRule seeds (or replaces) a regional forwarding rule, as a simulated load-balancer
// controller would create it. Nil or unnamed rules are ignored.
func (s *Server) AddForwardingRule(project, region string, fr *compute.ForwardingRule) {
	if fr == nil || fr.Name == "" {
		return
	}
	fr = clone(fr)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	fr.Kind = "compute#forwardingRule"
	fr.Region = regionLink(project, region)
	fr.SelfLink = regionalLink(project, region, "forwardingRules", fr.Name)
	if fr.Id == 0 {
		fr.Id = s.id()
	}
	fr.SelfLinkWithId = regionalLink(project, region, "forwardingRules", strconv.FormatUint(fr.Id, 10))
	if fr.CreationTimestamp == "" {
		fr.CreationTimestamp = computeTime(time.Now())
	}
	if fr.Fingerprint == "" {
		fr.Fingerprint = s.randString(11, b64Alpha) + "="
	}
	if fr.Network != "" {
		fr.Network = normalizeLink(project, "networks", fr.Network)
	}
	if fr.Subnetwork != "" && !strings.Contains(fr.Subnetwork, "/") {
		fr.Subnetwork = regionalLink(project, region, "subnetworks", fr.Subnetwork)
	} else if fr.Subnetwork != "" {
		fr.Subnetwork = normalizeLink(project, "subnetworks", fr.Subnetwork)
	}
	s.fwdRules[key(project, region, fr.Name)] = fr
}

// DeleteForwardingRule removes a forwarding rule directly (as a controller tearing down an LB does).
func (s *Server) DeleteForwardingRule(project, region, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fwdRules, key(project, region, name))
}

// ForwardingRules returns copies of the forwarding rules of a region (all regions when region is
// ""), sorted by region and name.
func (s *Server) ForwardingRules(project, region string) []*compute.ForwardingRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	pre := []string{project}
	if region != "" {
		pre = append(pre, region)
	}
	var out []*compute.ForwardingRule
	for _, k := range keysWithPrefix(s.fwdRules, pre...) {
		out = append(out, clone(s.fwdRules[k]))
	}
	return out
}

func (s *Server) listForwardingRules(c *call) (any, *apiError) {
	p, rg := c.v("project"), c.v("region")
	items, err := filterItems(c, s.ForwardingRules(p, rg))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.ForwardingRuleList{Kind: "compute#forwardingRuleList", Id: "projects/" + p + "/regions/" + rg + "/forwardingRules",
		SelfLink: regionLink(p, rg) + "/forwardingRules", Items: page, NextPageToken: next}, nil
}

func (s *Server) getForwardingRule(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, rg, n := c.v("project"), c.v("region"), c.v("rule")
	fr, ok := s.fwdRules[key(p, rg, n)]
	if !ok {
		return nil, errNotFound(regionalPath(p, rg, "forwardingRules", n))
	}
	return clone(fr), nil
}

// aggregatedForwardingRules lists every region's rules, paginated over the flattened list and
// grouped under "regions/R" keys; regions without rules are left out.
func (s *Server) aggregatedForwardingRules(c *call) (any, *apiError) {
	p := c.v("project")
	items, err := filterItems(c, s.ForwardingRules(p, ""))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	grouped := map[string]compute.ForwardingRulesScopedList{}
	for _, fr := range page {
		k := "regions/" + lastSegment(fr.Region)
		l := grouped[k]
		l.ForwardingRules = append(l.ForwardingRules, fr)
		grouped[k] = l
	}
	return &compute.ForwardingRuleAggregatedList{Kind: "compute#forwardingRuleAggregatedList",
		Id: "projects/" + p + "/aggregated/forwardingRules", SelfLink: computeBase + "projects/" + p + "/aggregated/forwardingRules",
		Items: grouped, NextPageToken: next}, nil
}

// --- addresses ---

// Addresses returns copies of a region's addresses (all regions when region is ""), with users and
// status derived from the forwarding rules that use them.
func (s *Server) Addresses(project, region string) []*compute.Address {
	s.mu.Lock()
	defer s.mu.Unlock()
	pre := []string{project}
	if region != "" {
		pre = append(pre, region)
	}
	var out []*compute.Address
	for _, k := range keysWithPrefix(s.addresses, pre...) {
		out = append(out, s.addressView(project, s.addresses[k]))
	}
	return out
}

// AddAddress seeds (or replaces) a reserved address. Nil or unnamed addresses are ignored.
func (s *Server) AddAddress(project, region string, a *compute.Address) {
	if a == nil || a.Name == "" {
		return
	}
	a = clone(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.fillAddress(project, region, a)
	s.addresses[key(project, region, a.Name)] = a
}

func (s *Server) fillAddress(project, region string, a *compute.Address) {
	a.Kind = "compute#address"
	a.Region = regionLink(project, region)
	a.SelfLink = regionalLink(project, region, "addresses", a.Name)
	if a.Id == 0 {
		a.Id = s.id()
	}
	if a.CreationTimestamp == "" {
		a.CreationTimestamp = computeTime(time.Now())
	}
	if a.AddressType == "" {
		a.AddressType = "EXTERNAL"
	}
	if a.AddressType == "EXTERNAL" && a.NetworkTier == "" {
		a.NetworkTier = "PREMIUM"
	}
	if a.Subnetwork != "" && !strings.Contains(a.Subnetwork, "/") {
		a.Subnetwork = regionalLink(project, region, "subnetworks", a.Subnetwork)
	} else if a.Subnetwork != "" {
		a.Subnetwork = normalizeLink(project, "subnetworks", a.Subnetwork)
	}
	if a.IpVersion == "" {
		a.IpVersion = "IPV4"
	}
	a.Users, a.Status = nil, ""
}

// addressView derives users (forwarding rules with the address's IP) and status. Callers hold s.mu.
func (s *Server) addressView(project string, a *compute.Address) *compute.Address {
	out := clone(a)
	region := lastSegment(a.Region)
	for _, k := range keysWithPrefix(s.fwdRules, project, region) {
		fr := s.fwdRules[k]
		if fr.IPAddress != "" && (fr.IPAddress == a.Address || fr.IPAddress == a.SelfLink) {
			out.Users = append(out.Users, fr.SelfLink)
		}
	}
	out.Status = "RESERVED"
	if len(out.Users) > 0 {
		out.Status = "IN_USE"
	}
	return out
}

func (s *Server) listAddresses(c *call) (any, *apiError) {
	p, rg := c.v("project"), c.v("region")
	items, err := filterItems(c, s.Addresses(p, rg))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.AddressList{Kind: "compute#addressList", Id: "projects/" + p + "/regions/" + rg + "/addresses",
		SelfLink: regionLink(p, rg) + "/addresses", Items: page, NextPageToken: next}, nil
}

func (s *Server) getAddress(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, rg, n := c.v("project"), c.v("region"), c.v("address")
	a, ok := s.addresses[key(p, rg, n)]
	if !ok {
		return nil, errNotFound(regionalPath(p, rg, "addresses", n))
	}
	return s.addressView(p, a), nil
}

// insertAddress reserves an address. An INTERNAL address lives in its subnetwork (default: the
// region's subnetwork of network "default"); without an explicit address the first free host of
// the subnet range is allocated (skipping the network and gateway addresses and any address or
// forwarding-rule IP in use). EXTERNAL addresses are allocated from 34.140.0.0/16.
func (s *Server) insertAddress(c *call) (any, *apiError) {
	a := &compute.Address{}
	if err := c.decode(a, true); err != nil {
		return nil, err
	}
	if !computeNameRE().MatchString(a.Name) {
		return nil, errInvalidName(a.Name)
	}
	if a.AddressType != "" && a.AddressType != "INTERNAL" && a.AddressType != "EXTERNAL" {
		return nil, errInvalid("Invalid value for field 'resource.addressType': '%s'.", a.AddressType)
	}
	p, rg := c.v("project"), c.v("region")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.addresses[key(p, rg, a.Name)]; ok {
		return nil, errAlreadyExists(regionalPath(p, rg, "addresses", a.Name))
	}
	if a.Address != "" {
		if _, err := netip.ParseAddr(a.Address); err != nil {
			return nil, errInvalid("Invalid value for field 'resource.address': '%s'.", a.Address)
		}
		if s.usedIPs(p, rg)[a.Address] {
			return nil, newError(http.StatusBadRequest, "ipInUseByAnotherResource", "IP '%s' is already being used by another resource.", a.Address)
		}
	}
	if a.AddressType == "INTERNAL" {
		sn, err := s.addressSubnet(p, rg, a.Subnetwork)
		if err != nil {
			return nil, err
		}
		a.Subnetwork = sn.SelfLink
		pfx, perr := netip.ParsePrefix(sn.IpCidrRange)
		if perr != nil {
			return nil, errInvalid("Subnetwork '%s' has no usable range.", sn.SelfLink)
		}
		if a.Address == "" {
			a.Address = s.freeIP(p, rg, pfx)
			if a.Address == "" {
				return nil, newError(http.StatusBadRequest, "ipSpaceExhausted", "No free IP address in subnetwork '%s'.", sn.SelfLink)
			}
		} else if !pfx.Contains(netip.MustParseAddr(a.Address)) {
			return nil, errInvalid("Requested internal IP address '%s' is not within the range of subnetwork '%s' (%s).", a.Address, sn.SelfLink, sn.IpCidrRange)
		}
	} else if a.Address == "" {
		a.Address = s.freeIP(p, rg, netip.MustParsePrefix("34.140.0.0/16"))
	}
	a.Id, a.CreationTimestamp = 0, ""
	s.fillAddress(p, rg, a)
	s.addresses[key(p, rg, a.Name)] = a
	c.mutated("Address", p, rg, a.Name, "")
	return s.newComputeOp(p, rg, "insert", a.SelfLink, a.Id), nil
}

// addressSubnet resolves an INTERNAL address's subnetwork. Callers hold s.mu.
func (s *Server) addressSubnet(project, region, ref string) (*compute.Subnetwork, *apiError) {
	if ref == "" {
		for _, k := range keysWithPrefix(s.subnets, project, region) {
			if sn := s.subnets[k]; sameNetwork(project, sn.Network, "default") {
				return sn, nil
			}
		}
		return nil, errInvalid("An INTERNAL address needs 'subnetwork': region '%s' has no subnetwork of network 'default'.", region)
	}
	link := normalizeLink(project, "subnetworks", ref)
	if !strings.Contains(ref, "/") {
		link = regionalLink(project, region, "subnetworks", ref)
	}
	sp, sr, coll, sname, ok := parseLink(link)
	if !ok || coll != "subnetworks" {
		return nil, errInvalid("Invalid value for field 'resource.subnetwork': '%s'.", ref)
	}
	sn, ok := s.subnets[key(sp, sr, sname)]
	if !ok {
		return nil, errNotFound(regionalPath(sp, sr, "subnetworks", sname))
	}
	return sn, nil
}

// usedIPs returns the IPs held by the addresses and forwarding rules of a region. Callers hold s.mu.
func (s *Server) usedIPs(project, region string) map[string]bool {
	used := map[string]bool{}
	for _, k := range keysWithPrefix(s.addresses, project, region) {
		used[s.addresses[k].Address] = true
	}
	for _, k := range keysWithPrefix(s.fwdRules, project, region) {
		used[s.fwdRules[k].IPAddress] = true
	}
	return used
}

// freeIP returns the first free host address of pfx after the gateway, or "". Callers hold s.mu.
func (s *Server) freeIP(project, region string, pfx netip.Prefix) string {
	used := s.usedIPs(project, region)
	a := pfx.Masked().Addr().Next().Next() // skip the network and gateway addresses
	for i := 0; i < 1<<16 && pfx.Contains(a); i++ {
		if !used[a.String()] {
			if n := a.Next(); pfx.Contains(n) { // keep the broadcast address free
				return a.String()
			}
			return ""
		}
		a = a.Next()
	}
	return ""
}

func (s *Server) deleteAddress(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, rg, n := c.v("project"), c.v("region"), c.v("address")
	a, ok := s.addresses[key(p, rg, n)]
	if !ok {
		return nil, errNotFound(regionalPath(p, rg, "addresses", n))
	}
	if v := s.addressView(p, a); len(v.Users) > 0 {
		return nil, newError(http.StatusBadRequest, "resourceInUseByAnotherResource",
			"The address resource '%s' is already being used by '%s'", regionalPath(p, rg, "addresses", n), strings.Join(v.Users, ", "))
	}
	delete(s.addresses, key(p, rg, n))
	c.mutated("Address", p, rg, n, "")
	return s.newComputeOp(p, rg, "delete", a.SelfLink, a.Id), nil
}
