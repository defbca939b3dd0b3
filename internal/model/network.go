package model

import (
	"context"
	"net/netip"
	"sort"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// Network is the model's view of a VPC network: its reference, its peerings and its static routes.
// Routes are read separately (compute.routes.list); RoutesErr says why they are missing, so a decision
// that needs them can say so.
type Network struct {
	API      *compute.Network
	Ref      string // projects/P/global/networks/N
	Project  string
	Name     string
	Peerings []Peering
	// Subnetworks are the network's subnetworks as references (projects/P/regions/R/subnetworks/S).
	Subnetworks []string

	Routes    []Route
	RoutesErr error
}

// Peering states (compute v1 NetworkPeering.state).
const (
	PeeringActive   = "ACTIVE"
	PeeringInactive = "INACTIVE"
)

// Peering is one side of a VPC Network Peering: what this network exchanges with the peer network.
type Peering struct {
	Name string
	// Peer is the peer network, projects/P/global/networks/N.
	Peer         string
	PeerProject  string
	PeerNetwork  string
	State        string
	StateDetails string
	// ExportCustomRoutes / ImportCustomRoutes exchange static and dynamic routes (default false).
	ExportCustomRoutes bool
	ImportCustomRoutes bool
	// ExportSubnetRoutesWithPublicIp (default true) / ImportSubnetRoutesWithPublicIp (default false)
	// exchange subnet routes in privately used public ranges.
	ExportSubnetRoutesWithPublicIp bool
	ImportSubnetRoutesWithPublicIp bool
	API                            *compute.NetworkPeering
}

// Active reports whether this side says the peering is ACTIVE.
func (p Peering) Active() bool { return p.State == PeeringActive }

// Route is a static route of a network, as far as peering is concerned.
type Route struct {
	Name     string
	Dest     netip.Prefix
	Priority int64
	// NextHop names the next hop in words ("instance NODE", "default internet gateway", …).
	NextHop string
	// Instance is the next-hop instance's short name, "" for other next hops (a routes-based
	// cluster's per-node pod routes have one).
	Instance string
	Tags     []string
	// ViaGateway: the next hop is the default internet gateway. Such routes, and routes with network
	// tags, are never exchanged over peering.
	ViaGateway bool
}

// Exchangeable reports whether peering can export the route as a custom route (with
// exportCustomRoutes): routes to the default internet gateway and routes limited by network tags
// never are.
func (r Route) Exchangeable() bool { return !r.ViaGateway && len(r.Tags) == 0 }

// NetworkFrom reads the model's view of a network object; project is used when the object does not
// name its own.
func NetworkFrom(n *compute.Network, project string) *Network {
	if n == nil {
		return nil
	}
	ref := gref.Network(n.SelfLink, project)
	if ref == "" {
		ref = gref.Network(n.Name, project)
	}
	p, name := gref.SplitNetwork(ref)
	out := &Network{API: n, Ref: ref, Project: p, Name: name}
	for _, s := range n.Subnetworks {
		out.Subnetworks = append(out.Subnetworks, gref.Subnetwork(s, p, ""))
	}
	for _, pe := range n.Peerings {
		if pe == nil {
			continue
		}
		peer := gref.Network(pe.Network, p)
		pp, pn := gref.SplitNetwork(peer)
		out.Peerings = append(out.Peerings, Peering{Name: pe.Name, Peer: peer, PeerProject: pp, PeerNetwork: pn,
			State: pe.State, StateDetails: pe.StateDetails,
			ExportCustomRoutes: pe.ExportCustomRoutes, ImportCustomRoutes: pe.ImportCustomRoutes,
			ExportSubnetRoutesWithPublicIp: pe.ExportSubnetRoutesWithPublicIp, ImportSubnetRoutesWithPublicIp: pe.ImportSubnetRoutesWithPublicIp,
			API: pe})
	}
	return out
}

// RoutesFrom keeps the routes of network ref (any spelling) among a project's routes, sorted by
// destination then name.
func RoutesFrom(rs []*compute.Route, ref string) []Route {
	var out []Route
	for _, r := range rs {
		if r == nil || !gref.SameNetwork(r.Network, ref, gref.ProjectOf(ref)) {
			continue
		}
		pr, err := netip.ParsePrefix(r.DestRange)
		if err != nil {
			continue
		}
		rt := Route{Name: r.Name, Dest: pr.Masked(), Priority: r.Priority, Tags: r.Tags}
		switch {
		case r.NextHopInstance != "":
			rt.Instance = gref.ShortName(r.NextHopInstance)
			rt.NextHop = "instance " + rt.Instance
		case r.NextHopGateway != "":
			rt.ViaGateway = gref.ShortName(r.NextHopGateway) == "default-internet-gateway"
			rt.NextHop = "gateway " + gref.ShortName(r.NextHopGateway)
		case r.NextHopIp != "":
			rt.NextHop = "IP " + r.NextHopIp
		case r.NextHopIlb != "":
			rt.NextHop = "internal load balancer " + gref.ShortName(r.NextHopIlb)
		case r.NextHopVpnTunnel != "":
			rt.NextHop = "VPN tunnel " + gref.ShortName(r.NextHopVpnTunnel)
		case r.NextHopPeering != "":
			rt.NextHop = "peering " + r.NextHopPeering
		}
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dest != out[j].Dest {
			return out[i].Dest.String() < out[j].Dest.String()
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Peering returns the peering named name.
func (n *Network) Peering(name string) (Peering, bool) {
	if n == nil {
		return Peering{}, false
	}
	for _, p := range n.Peerings {
		if p.Name == name {
			return p, true
		}
	}
	return Peering{}, false
}

// PeeringTo returns the peering whose peer is network ref (any spelling).
func (n *Network) PeeringTo(ref string) (Peering, bool) {
	if n == nil {
		return Peering{}, false
	}
	for _, p := range n.Peerings {
		if gref.SameNetwork(p.Peer, ref, n.Project) {
			return p, true
		}
	}
	return Peering{}, false
}

// RoutesWithin returns the routes whose destination lies inside p (a routes-based cluster's per-node
// pod routes inside its pod range).
func (n *Network) RoutesWithin(p netip.Prefix) []Route {
	if n == nil || !p.IsValid() {
		return nil
	}
	var out []Route
	for _, r := range n.Routes {
		if r.Dest.Bits() >= p.Bits() && p.Contains(r.Dest.Addr()) {
			out = append(out, r)
		}
	}
	return out
}

// Directions of networks.listPeeringRoutes.
const (
	Incoming = "INCOMING"
	Outgoing = "OUTGOING"
)

// Route types of networks.listPeeringRoutes.
const (
	SubnetPeeringRoute  = "SUBNET_PEERING_ROUTE"
	StaticPeeringRoute  = "STATIC_PEERING_ROUTE"
	DynamicPeeringRoute = "DYNAMIC_PEERING_ROUTE"
)

// PeeringRoute is one route exchanged over a peering (networks.listPeeringRoutes).
type PeeringRoute struct {
	Dest          netip.Prefix
	Type          string // SUBNET_PEERING_ROUTE, STATIC_PEERING_ROUTE, DYNAMIC_PEERING_ROUTE
	NextHopRegion string
	Priority      int64
	Imported      bool
}

// PeeringRoutesFrom converts listPeeringRoutes items (unparseable destinations are dropped).
func PeeringRoutesFrom(items []*compute.ExchangedPeeringRoute) []PeeringRoute {
	var out []PeeringRoute
	for _, it := range items {
		if it == nil {
			continue
		}
		pr, err := netip.ParsePrefix(it.DestRange)
		if err != nil {
			continue
		}
		out = append(out, PeeringRoute{Dest: pr.Masked(), Type: it.Type, NextHopRegion: it.NextHopRegion, Priority: it.Priority, Imported: it.Imported})
	}
	return out
}

// Covering returns the most specific route whose destination contains all of p.
func Covering(routes []PeeringRoute, p netip.Prefix) (PeeringRoute, bool) {
	best, found := PeeringRoute{}, false
	for _, r := range routes {
		if r.Dest.Bits() <= p.Bits() && r.Dest.Contains(p.Addr()) && (!found || r.Dest.Bits() > best.Dest.Bits()) {
			best, found = r, true
		}
	}
	return best, found
}

// CoveredBy reports whether every address of p is covered by the union of the routes' destinations
// (several per-node /24 routes cover a routes-based cluster's /16 pod range together).
func CoveredBy(routes []PeeringRoute, p netip.Prefix) bool {
	var ps []netip.Prefix
	for _, r := range routes {
		ps = append(ps, r.Dest)
	}
	return len(Subtract([]netip.Prefix{p.Masked()}, ps)) == 0
}

// Overlaps reports whether two prefixes share an address.
func Overlaps(a, b netip.Prefix) bool { return a.IsValid() && b.IsValid() && a.Overlaps(b) }

// exchangedAsPrivate are the ranges peering exchanges as subnet routes without the public-IP flags:
// RFC 1918, RFC 6598 and the IPv4 special-use ranges (compute NetworkPeering schema: "IPv4
// special-use ranges are always exchanged").
var exchangedAsPrivate = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// IsPUPI reports whether a subnet range is a privately used public range: peering exchanges it only
// with exportSubnetRoutesWithPublicIp on the exporting side and importSubnetRoutesWithPublicIp on the
// importing side.
func IsPUPI(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	a := p.Addr().Unmap()
	if a.Is6() {
		return !a.IsPrivate()
	}
	for _, q := range exchangedAsPrivate {
		if q.Bits() <= p.Bits() && q.Contains(a) {
			return false
		}
	}
	return true
}

// Subtract returns the addresses of from that are in none of minus, as the fewest prefixes (IPv4 and
// IPv6 alike), in address order. ip-masq-agent's fix uses it to take the peer's range out of a
// non-masquerade list without changing anything else.
func Subtract(from, minus []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range from {
		cur := []netip.Prefix{f.Masked()}
		for _, m := range minus {
			if !m.IsValid() {
				continue
			}
			m = m.Masked()
			var next []netip.Prefix
			for _, c := range cur {
				next = append(next, subtractOne(c, m)...)
			}
			cur = next
		}
		out = append(out, cur...)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	return out
}

// subtractOne returns c minus m: c itself when they do not overlap, nothing when m covers c, else the
// halves of c that m leaves, recursively.
func subtractOne(c, m netip.Prefix) []netip.Prefix {
	switch {
	case c.Addr().BitLen() != m.Addr().BitLen() || !c.Overlaps(m):
		return []netip.Prefix{c}
	case m.Bits() <= c.Bits():
		return nil // m covers c
	}
	lo, hi := halves(c)
	return append(subtractOne(lo, m), subtractOne(hi, m)...)
}

// halves splits a prefix into its two children.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	lo := netip.PrefixFrom(p.Addr(), bits)
	b := p.Addr().AsSlice()
	i := p.Bits()
	b[i/8] |= 0x80 >> (i % 8)
	a, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(a, bits)
}

// NetworkFor returns the model's view of project/name: the network (compute.networks.get) with the
// project's static routes of that network (compute.routes.list; RoutesErr when they could not be
// read). Built once per run and network.
func NetworkFor(ctx context.Context, inv *inventory.Inventory, project, name string) (*Network, error) {
	return inventory.Memo(ctx, inv, inventory.KeyDerived+"network/"+project+"/"+name, func(ctx context.Context) (*Network, error) {
		n, err := inv.Network(ctx, project, name)
		if err != nil {
			return nil, err
		}
		out := NetworkFrom(n, project)
		rs, err := inv.Routes(ctx, project)
		if err != nil {
			out.RoutesErr = err
		} else {
			out.Routes = RoutesFrom(rs, out.Ref)
		}
		return out, nil
	})
}
