package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// The facts of pod-egress-cross-project: the destinations (--peer, or every peering and the peer's
// subnets its routes show), the peer's side of each peering as far as it can be read, and the
// comparison of the peer's firewall for the pod range against the node range. The decisions over
// them are in pod_egress_cross_project.go.

// PeerTarget is one --peer value: a range or an address, with an optional port.
type PeerTarget struct {
	Dest netip.Prefix
	Port int // 0: no port given
}

func (p PeerTarget) String() string {
	s := p.Dest.String()
	if p.Dest.IsSingleIP() {
		s = p.Dest.Addr().String()
	}
	if p.Port > 0 {
		if p.Dest.Addr().Is6() {
			return "[" + s + "]:" + strconv.Itoa(p.Port)
		}
		return s + ":" + strconv.Itoa(p.Port)
	}
	return s
}

// ParsePeer parses --peer CIDR|IP[:PORT] (an IPv6 address with a port as [ADDR]:PORT).
func ParsePeer(s string) (PeerTarget, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("--peer %q is not a CIDR, an IP or IP:PORT (e.g. 10.2.0.0/16, 10.2.0.1, 10.2.0.1:443)", s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return PeerTarget{Dest: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return PeerTarget{Dest: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return PeerTarget{}, bad
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return PeerTarget{}, bad
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return PeerTarget{}, fmt.Errorf("--peer %q: port %q is not a number from 1 to 65535", s, port)
	}
	a = a.Unmap()
	return PeerTarget{Dest: netip.PrefixFrom(a, a.BitLen()), Port: n}, nil
}

// peerDest is one destination the check decides: a range behind a peering.
type peerDest struct {
	Dest    netip.Prefix
	Port    int
	Given   string // the --peer value, "" when discovered from the peer's routes
	Peering model.Peering
	Region  string // the region of the peer's subnet route covering it ("" when unknown)
	// Routed: an incoming route of the peering covers Dest (false: matched to the peering for
	// another reason, and the way there is in question).
	Routed bool
}

func (d *peerDest) label() string {
	s := d.Dest.String()
	if d.Dest.IsSingleIP() {
		s = d.Dest.Addr().String()
	}
	if d.Port > 0 {
		s += ":" + strconv.Itoa(d.Port)
	}
	return s
}

// peerSide is what could be read of one peering: its routes as this network sees them, and the
// peer's network, its peering back, what it receives and its firewall.
type peerSide struct {
	P model.Peering
	// Incoming / Outgoing: listPeeringRoutes on this network (what the peer sends, what we send).
	Incoming, Outgoing       []model.PeeringRoute
	IncomingErr, OutgoingErr error
	// Net is the peer network (compute.networks.get on the peer's project); Back its peering to us.
	Net     *model.Network
	NetErr  error
	Back    model.Peering
	HasBack bool
	// TheirIncoming: listPeeringRoutes INCOMING on the peer's side of the peering.
	TheirIncoming    []model.PeeringRoute
	TheirIncomingErr error
}

// egressFacts are the run's facts for the check.
type egressFacts struct {
	Cluster   *model.Cluster
	Net       *model.Network
	NodeRange netip.Prefix
	NodeErr   error
	Masq      *model.IPMasq
	Sides     map[string]*peerSide // by peering name
	Dests     []*peerDest
	// Unrouted are --peer values behind no peering (skipped, with the reason).
	Unrouted []string
}

var egressFactsSlot = inventory.NewSlot[*egressFacts]("pod-egress-cross-project")

// peeringRegion is the region listPeeringRoutes is asked about: the cluster's.
func (f *egressFacts) region() string { return f.Cluster.Region }

// side reads (once per run) what can be read of peering p.
func (f *egressFacts) side(ctx context.Context, env *Env, p model.Peering) *peerSide {
	if s := f.Sides[p.Name]; s != nil {
		return s
	}
	s := &peerSide{P: p}
	f.Sides[p.Name] = s
	inv := env.Inv
	if items, err := inv.PeeringRoutes(ctx, f.Net.Project, f.Net.Name, p.Name, model.Incoming, f.region()); err != nil {
		s.IncomingErr = err
	} else {
		s.Incoming = model.PeeringRoutesFrom(items)
	}
	if items, err := inv.PeeringRoutes(ctx, f.Net.Project, f.Net.Name, p.Name, model.Outgoing, f.region()); err != nil {
		s.OutgoingErr = err
	} else {
		s.Outgoing = model.PeeringRoutesFrom(items)
	}
	if p.PeerProject == "" || p.PeerNetwork == "" {
		s.NetErr = fmt.Errorf("peering %s names no readable peer network (%q)", p.Name, p.Peer)
		return s
	}
	s.Net, s.NetErr = model.NetworkFor(ctx, inv, p.PeerProject, p.PeerNetwork)
	if s.NetErr != nil {
		return s
	}
	s.Back, s.HasBack = s.Net.PeeringTo(f.Net.Ref)
	if s.HasBack {
		if items, err := inv.PeeringRoutes(ctx, p.PeerProject, p.PeerNetwork, s.Back.Name, model.Incoming, f.region()); err != nil {
			s.TheirIncomingErr = err
		} else {
			s.TheirIncoming = model.PeeringRoutesFrom(items)
		}
	}
	return s
}

// gatherEgress reads the facts: the cluster and its network (a failure there ends the check with a
// skip), the node range, ip-masq-agent, and the destinations.
func gatherEgress(ctx context.Context, env *Env) (*egressFacts, error) {
	return inventory.Derive(ctx, env.Inv, egressFactsSlot, func(ctx context.Context) (*egressFacts, error) {
		m := model.For(ctx, env.Inv)
		if m.ClusterErr != nil {
			return nil, m.ClusterErr
		}
		f := &egressFacts{Cluster: m.Cluster, Sides: map[string]*peerSide{}}
		cf := f.Cluster
		n, err := model.NetworkFor(ctx, env.Inv, cf.NetworkProject, cf.NetworkName())
		if err != nil {
			return nil, err
		}
		f.Net = n
		if cf.Subnetwork != "" {
			p, r, s := gref.SplitSubnetwork(cf.Subnetwork)
			sn, err := env.Inv.Subnetwork(ctx, p, r, s)
			switch {
			case err != nil:
				f.NodeErr = err
			default:
				if pr, perr := netip.ParsePrefix(sn.IpCidrRange); perr == nil {
					f.NodeRange = pr.Masked()
				} else {
					f.NodeErr = fmt.Errorf("subnetwork %s has an unreadable ipCidrRange %q", s, sn.IpCidrRange)
				}
			}
		} else {
			f.NodeErr = fmt.Errorf("the container API names no subnetwork for cluster %s", cf.Short)
		}
		f.Masq = model.IPMasqFor(ctx, env.Inv, cf)
		f.destinations(ctx, env)
		return f, nil
	})
}

// destinations: each --peer value behind the peering whose incoming routes cover it (or the only
// peering); without --peer, every peering with the peer's subnet routes it sends (or, when none can
// be listed, the peering as a whole).
func (f *egressFacts) destinations(ctx context.Context, env *Env) {
	if len(env.Targets.Peers) > 0 {
		for _, raw := range env.Targets.Peers {
			pt, err := ParsePeer(raw)
			if err != nil {
				f.Unrouted = append(f.Unrouted, err.Error())
				continue
			}
			d := &peerDest{Dest: pt.Dest, Port: pt.Port, Given: raw}
			for _, p := range f.Net.Peerings {
				s := f.side(ctx, env, p)
				if r, ok := model.Covering(s.Incoming, pt.Dest); ok {
					d.Peering, d.Region, d.Routed = p, r.NextHopRegion, true
					break
				}
			}
			if !d.Routed && len(f.Net.Peerings) == 1 {
				d.Peering = f.Net.Peerings[0]
			}
			if d.Peering.Name == "" {
				why := fmt.Sprintf("%s is behind no peering of %s: no route a peer sends covers it", raw, f.Cluster.Network)
				if len(f.Net.Peerings) == 0 {
					why = fmt.Sprintf("%s: network %s has no peering", raw, f.Cluster.Network)
				}
				f.Unrouted = append(f.Unrouted, why)
				continue
			}
			f.Dests = append(f.Dests, d)
		}
		return
	}
	for _, p := range f.Net.Peerings {
		s := f.side(ctx, env, p)
		n := 0
		for _, r := range s.Incoming {
			if r.Type != model.SubnetPeeringRoute {
				continue
			}
			f.Dests = append(f.Dests, &peerDest{Dest: r.Dest, Peering: p, Region: r.NextHopRegion, Routed: true})
			n++
		}
		if n == 0 {
			// Nothing listed (not ACTIVE, or not readable): the peering itself is decided.
			f.Dests = append(f.Dests, &peerDest{Peering: p})
		}
	}
}

// fwProbe is one protocol and port the peer's firewall is asked about.
type fwProbe struct {
	Proto string
	Port  int
}

func (p fwProbe) String() string {
	if p.Port > 0 {
		return p.Proto + ":" + strconv.Itoa(p.Port)
	}
	return p.Proto
}

// fwIdentity is one kind of instance the peer's rules distinguish (by network tag or service
// account); the zero value is an instance with neither.
type fwIdentity struct {
	Tag, SA string
}

func (i fwIdentity) String() string {
	switch {
	case i.Tag != "":
		return "instances tagged " + i.Tag
	case i.SA != "":
		return "instances running as " + i.SA
	}
	return "instances without a tag the rules name"
}

// fwCompare is the peer's firewall for the pod range compared with the node range, over the kinds of
// instance and the protocols and ports its rules name (or the --peer port): the question is not
// whether the destination admits anything, which nodes reaching it answers, but whether it treats
// pods as it treats nodes.
type fwCompare struct {
	// PodAdmitted / NodeAdmitted: some instance kind and probe admits the range.
	PodAdmitted, NodeAdmitted bool
	// PodBlockedWhereNodeAdmitted names a case where the node range is admitted and the pod range
	// denied (the deciding rule for the pods), "" when none.
	PodBlockedWhereNodeAdmitted string
	// Unknown names what could not be resolved where it mattered.
	Unknown []string
	// Probes and identities evaluated, for the evidence.
	Probes     []fwProbe
	Identities []fwIdentity
	// NodeAllowedBy names a rule admitting the node range; PodAllowedBy one admitting the pod range.
	NodeAllowedBy, PodAllowedBy string
}

const maxFWProbes, maxFWIdentities = 24, 16

// comparePeerFirewall evaluates the peer's ingress to dst from the pod range and from the node range.
func comparePeerFirewall(set firewall.Set, network string, dst netip.Prefix, port int, pods, nodes netip.Prefix) fwCompare {
	var c fwCompare
	if port > 0 {
		c.Probes = []fwProbe{{"tcp", port}}
	} else {
		c.Probes = probesOf(set)
	}
	c.Identities = identitiesOf(set)
	seenUnknown := map[string]bool{}
	for _, id := range c.Identities {
		for _, pr := range c.Probes {
			pkt := func(src netip.Prefix) firewall.Packet {
				inst := firewall.Endpoint{Ranges: []netip.Prefix{dst}}
				if id.Tag != "" {
					inst.Tags = []string{id.Tag}
				}
				if id.SA != "" {
					inst.ServiceAccounts = []string{id.SA}
				}
				return firewall.Packet{Direction: firewall.Ingress, Network: network, Protocol: pr.Proto, Port: pr.Port,
					Instance: inst, Peer: firewall.Endpoint{Ranges: []netip.Prefix{src}}}
			}
			var vn firewall.Verdict
			if nodes.IsValid() {
				vn = firewall.EvaluateSet(set, pkt(nodes))
				if vn.Allowed {
					c.NodeAdmitted = true
					if c.NodeAllowedBy == "" {
						c.NodeAllowedBy = ruleLabel(vn.Deciding())
					}
				}
			}
			vp := firewall.EvaluateSet(set, pkt(pods))
			switch {
			case vp.Allowed:
				c.PodAdmitted = true
				if c.PodAllowedBy == "" {
					c.PodAllowedBy = ruleLabel(vp.Deciding())
				}
			case len(vp.Blocked()) > 0 && vn.Allowed && c.PodBlockedWhereNodeAdmitted == "":
				c.PodBlockedWhereNodeAdmitted = fmt.Sprintf("%s on %s: the node range is allowed by %s, the pod range %s", pr, id, ruleLabel(vn.Deciding()), firewall.Describe(vp))
			case vp.Unknown && (vn.Allowed || !nodes.IsValid()):
				for _, u := range vp.Unresolved {
					if !seenUnknown[u] {
						seenUnknown[u] = true
						c.Unknown = append(c.Unknown, u)
					}
				}
			}
		}
	}
	sort.Strings(c.Unknown)
	return c
}

// probesOf lists the protocols and ports the peer's ingress allow rules name (a range by its first
// port), plus ICMP, bounded.
func probesOf(set firewall.Set) []fwProbe {
	seen := map[fwProbe]bool{}
	out := []fwProbe{{"icmp", 0}}
	seen[out[0]] = true
	add := func(r firewall.Rule) {
		if !r.Allow || r.Disabled || !strings.EqualFold(orPlaceholder(r.Direction, firewall.Ingress), firewall.Ingress) {
			return
		}
		for _, p := range r.Protocols {
			proto := strings.ToLower(p.IPProtocol)
			if proto == "all" {
				proto = "tcp"
			}
			ports := []int{0}
			if len(p.Ports) > 0 {
				ports = nil
				for _, ps := range p.Ports {
					if lo, _, ok := firewall.ParsePorts(ps); ok {
						ports = append(ports, lo)
					}
				}
			}
			for _, port := range ports {
				pr := fwProbe{proto, port}
				if !seen[pr] && len(out) < maxFWProbes {
					seen[pr] = true
					out = append(out, pr)
				}
			}
		}
	}
	set.EachRule(add)
	return out
}

// identitiesOf lists the kinds of instance the rules tell apart: none, and each target tag and
// target service account, bounded.
func identitiesOf(set firewall.Set) []fwIdentity {
	seen := map[fwIdentity]bool{{}: true}
	out := []fwIdentity{{}}
	add := func(r firewall.Rule) {
		for _, t := range r.TargetTags {
			if id := (fwIdentity{Tag: t}); !seen[id] && len(out) < maxFWIdentities {
				seen[id] = true
				out = append(out, id)
			}
		}
		for _, sa := range r.TargetServiceAccounts {
			if id := (fwIdentity{SA: sa}); !seen[id] && len(out) < maxFWIdentities {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	set.EachRule(add)
	return out
}
