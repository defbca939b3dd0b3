package checks

import (
	"net/netip"
	"sort"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// The fixes pod-egress-cross-project offers for its findings (the plans themselves, journal, apply
// and undo, are in fixes/pod_egress.go).

// egressPlans builds the fixes for the findings: A (ip-masq-agent ConfigMap masquerading the peer
// ranges, one plan for all of them) when the DaemonSet runs, else advice that a ConfigMap alone does
// nothing; B (exchange the routes on both peerings, VPC-wide; an alternative) and the peer firewall
// rule for the pod range; C (advice: a VPC-native cluster); advice for a peering that is not ACTIVE.
func egressPlans(env *Env, f *egressFacts, fds []*egressPeerFinding) []*fixes.Plan {
	var plans []*fixes.Plan
	var masq []*egressPeerFinding
	seen := map[string]bool{}
	add := func(p *fixes.Plan) {
		if p != nil && !seen[p.ID] {
			seen[p.ID] = true
			plans = append(plans, p)
		}
	}
	routesBased := false
	for _, fd := range fds {
		if fd.Status != Fail && fd.Status != Warn {
			continue
		}
		switch fd.Cause {
		case "peering-not-active":
			add(fixes.NewPeeringAdvice(peeringAdvice(f, fd)))
		case "pod-range-not-exported", "pod-ip-kept-by-ip-masq-agent", "peer-firewall-blocks-pod-range":
			if fd.D.Dest.IsValid() && (fd.NodeBack.OK == yes || f.Masq.ParseErr != nil) {
				masq = append(masq, fd)
			}
			if fd.Cause == "pod-range-not-exported" {
				routesBased = true
				add(exchangePlan(env, f, fd, false))
			}
			if fd.Cause == "peer-firewall-blocks-pod-range" || fd.fwAdmits(true) == no {
				add(peerFirewallPlan(env, f, fd))
			}
		case "pupi-routes-not-exchanged":
			if fd.PodSource && fd.PodBack.OK != yes && fd.NodeBack.OK == yes {
				masq = append(masq, fd)
			}
			add(exchangePlan(env, f, fd, true))
		}
	}
	// Fix A needs to know whether the agent runs: without it a ConfigMap does nothing (advice), and
	// when that cannot be read nothing is offered.
	if len(masq) > 0 && f.Masq.DaemonSetErr == nil && (f.Masq.ConfigMapErr == nil || !f.Masq.DaemonSet) {
		plans = append([]*fixes.Plan{masqPlan(env, f, masq)}, plans...)
	}
	if routesBased {
		cf := f.Cluster
		add(fixes.NewVPCNativeAdvice(fixes.VPCNativeAdvice{Project: cf.Project, Location: cf.Location, Cluster: cf.Short,
			Network: cf.NetworkName(), Subnetwork: gref.ShortName(cf.Subnetwork), PodRange: prefixString(cf.PodCIDR), ServicesRange: prefixString(cf.ServicesCIDR)}))
	}
	return plans
}

// masqPlan is fix A: the ConfigMap whose nonMasqueradeCIDRs is today's set without the peer ranges,
// with the pod, services and node ranges always kept (so traffic inside the cluster keeps its pod
// IPs), or advice when the DaemonSet does not run.
func masqPlan(env *Env, f *egressFacts, fds []*egressPeerFinding) *fixes.Plan {
	cf, m := f.Cluster, f.Masq
	var peers []netip.Prefix
	for _, fd := range fds {
		peers = append(peers, fd.D.Dest)
	}
	peers = dedupPrefixes(peers)
	if !m.DaemonSet {
		return fixes.NewIPMasqDaemonSetAdvice(fixes.IPMasqDaemonSetAdvice{PeerRanges: prefixStrings(peers), SNATDisabled: m.SNATDisabled && m.SNATKnown,
			Cluster: cf.Short, Location: cf.Location, Project: cf.Project})
	}
	base, _, _, ok := m.Effective()
	cfg := m.Config
	if !ok {
		// A configuration that does not parse is replaced by one built on the defaults.
		base, cfg = model.DefaultNonMasq(m.AllReserved), model.MasqConfig{}
	}
	var keep []netip.Prefix
	for _, p := range []netip.Prefix{cf.PodCIDR, cf.ServicesCIDR, f.NodeRange} {
		if p.IsValid() {
			keep = append(keep, p)
		}
	}
	var nonMasq []netip.Prefix
	for _, p := range model.Subtract(base, peers) {
		if p != netip.MustParsePrefix("169.254.0.0/16") || cfg.MasqLinkLocal {
			nonMasq = append(nonMasq, p)
		}
	}
	// The cluster's own ranges stay non-masqueraded (Network Analyzer warns when the pod range is
	// not covered): added where the list does not cover them already.
	for _, k := range keep {
		if len(model.Subtract([]netip.Prefix{k}, nonMasq)) > 0 {
			nonMasq = append(nonMasq, k)
		}
	}
	cfg.NonMasqueradeCIDRs, cfg.NonMasqSet = nonMasq, true
	if cfg.CidrLimit == 0 {
		cfg.CidrLimit = model.MasqCidrLimit
	}
	if len(nonMasq) > cfg.CidrLimit {
		cfg.CidrLimit = len(nonMasq)
	}
	prior := ""
	if m.HasConfig {
		prior = m.Raw
	}
	return fixes.NewIPMasqPlan(env.FixDeps, fixes.IPMasqChange{Config: cfg.YAML(), Prior: prior, PriorExists: m.ConfigMap,
		PeerRanges: prefixStrings(peers), Keep: prefixStrings(keep), Resync: cfg.Resync()})
}

// dedupPrefixes keeps the first of equal prefixes and drops those inside an earlier one.
func dedupPrefixes(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		covered := false
		for _, q := range out {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				covered = true
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// exchangePlan is fix B: the peerings' export/import flags (custom routes, or subnet routes with
// public IPs), both sides, read-compare-write; advice when the peer's side could not be read.
func exchangePlan(env *Env, f *egressFacts, fd *egressPeerFinding, publicIP bool) *fixes.Plan {
	p, s := fd.D.Peering, fd.Side
	o := fixes.PeeringExchange{
		Ours:   fixes.PeeringSide{Project: f.Net.Project, Network: f.Net.Name, Peering: p.Name},
		Theirs: fixes.PeeringSide{Project: p.PeerProject, Network: p.PeerNetwork},
	}
	if s.HasBack {
		o.Theirs.Peering = s.Back.Name
	}
	if s.NetErr != nil {
		o.TheirsUnreadable = peerUnreadable(p, s.NetErr)
	}
	if publicIP {
		o.PublicIP = true
		if fd.There.Cause == "pupi-routes-not-exchanged" && fd.There.OK != yes {
			o.Ours.Set = append(o.Ours.Set, fixes.FieldImportSubnetPublicIP)
			o.Theirs.Set = append(o.Theirs.Set, fixes.FieldExportSubnetPublicIP)
		}
		if fd.PodBack.Cause == "pupi-routes-not-exchanged" || fd.NodeBack.Cause == "pupi-routes-not-exchanged" {
			o.Ours.Set = append(o.Ours.Set, fixes.FieldExportSubnetPublicIP)
			o.Theirs.Set = append(o.Theirs.Set, fixes.FieldImportSubnetPublicIP)
		}
	} else {
		o.Ours.Set = []string{fixes.FieldExportCustomRoutes}
		o.Theirs.Set = []string{fixes.FieldImportCustomRoutes}
		o.Alternative = true
	}
	sort.Strings(o.Ours.Set)
	sort.Strings(o.Theirs.Set)
	return fixes.NewPeeringExchangePlan(env.FixDeps, o)
}

// peerFirewallPlan is fix B's firewall part: an ingress rule in the peer's network admitting the pod
// range where the node range is admitted (or advice, when the peer project refuses the write).
func peerFirewallPlan(env *Env, f *egressFacts, fd *egressPeerFinding) *fixes.Plan {
	if fd.FW == nil || !f.Cluster.PodCIDR.IsValid() {
		return nil
	}
	p := fd.D.Peering
	var allowed []fixes.PortSpec
	if fd.D.Port > 0 {
		allowed = []fixes.PortSpec{{Protocol: "tcp", Port: fd.D.Port}}
	} else {
		for _, pr := range fd.FW.Probes {
			allowed = append(allowed, fixes.PortSpec{Protocol: pr.Proto, Port: pr.Port})
		}
	}
	o := fixes.PeerFirewallRule{Project: p.PeerProject, Network: p.Peer,
		Name: fixes.PeerFirewallRuleName(f.Cluster.Short), SourceRange: f.Cluster.PodCIDR.String(), Destination: fd.D.Dest.String(),
		Allowed: allowed, Cluster: f.Cluster.Short}
	if fd.Side.NetErr != nil {
		o.Unwritable = peerUnreadable(p, fd.Side.NetErr)
	}
	return fixes.NewPeerFirewallPlan(env.FixDeps, o)
}

func peeringAdvice(f *egressFacts, fd *egressPeerFinding) fixes.PeeringAdvice {
	p, s := fd.D.Peering, fd.Side
	a := fixes.PeeringAdvice{Project: f.Net.Project, Network: f.Net.Name, Peering: p.Name, PeerProject: p.PeerProject, PeerNetwork: p.PeerNetwork,
		Why: fd.Summary}
	if s.NetErr == nil && s.HasBack {
		a.PeerPeering = s.Back.Name
	}
	return a
}
