package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// pod-egress-cross-project (seed 004): pods of a routes-based cluster cannot reach a peered
// project's private IPs although the nodes can. For each destination the check answers, in one
// sentence, which source a pod's packet leaves with (ip-masq-agent), whether the peer has a route
// back to it (subnet routes always; a routes-based pod range only as exchanged custom routes;
// privately used public ranges only with the public-IP flags) and whether the peer's firewall admits
// it as it admits the nodes. The decisions, in order:
//  1. peering-not-active: the peering is not ACTIVE on both sides, or ranges overlap;
//  2. pod-range-not-exported: the pod IP is kept, the cluster is routes-based and the custom routes
//     are not exported (our side) or not imported (theirs);
//  3. pod-ip-kept-by-ip-masq-agent: the pod IP is kept and the peer has no route back for another
//     reason, or ip-masq-agent's configuration does not parse;
//  4. peer-firewall-blocks-pod-range: the peer's firewall admits the node range, not the pod range;
//  5. pupi-routes-not-exchanged: a privately used public range (pod range or destination) without
//     the public-IP flags.
// What could not be read makes the verdict a warning naming the permission, never a pass.

func init() {
	Register(CheckFunc{CheckID: "pod-egress-cross-project", Fn: runPodEgressCrossProject})
}

// tri is a decided fact: yes, no, or not known (Err says why).
type tri int

const (
	unknown tri = iota
	yes
	no
)

// answer is one of the sentence's three answers.
type answer struct {
	OK    tri
	Why   string
	Cause string // the cause a "no" (or an unknown) points at
	Err   error  // why it is unknown
}

// egressFinding is the decision for one destination.
type egressPeerFinding struct {
	D    *peerDest
	Side *peerSide

	Masq model.MasqDecision
	// Source: the range a pod's packet leaves with (the pod range or the node range); invalid when
	// it cannot be known.
	Source    netip.Prefix
	PodSource bool
	PodBack   answer // route back to the pod range
	NodeBack  answer // route back to the node range
	There     answer // route to the destination
	FW        *fwCompare
	FWErr     error

	Status   Status
	Cause    string
	Summary  string
	Evidence []Evidence
	Err      error
}

func (fd *egressPeerFinding) step(st Status, s, detail, cmd string) {
	fd.Evidence = append(fd.Evidence, Evidence{Step: s, Status: st, Detail: detail, Command: cmd})
}

func runPodEgressCrossProject(ctx context.Context, env *Env, rec *Recorder) Result {
	f, err := gatherEgress(ctx, env)
	if err != nil {
		return FromErr("read the cluster and its network", err)
	}
	cf := f.Cluster
	rec.Step("cluster", Pass, clusterRanges(f), egressClusterCommand(env))
	rec.Step("peerings of "+cf.NetworkName(), peeringsStatus(f), peeringsDetail(f), peeringsListCommand(f))
	st, detail := masqEvidence(f.Masq)
	rec.Step("ip-masq-agent", st, detail, "kubectl get daemonset,configmap ip-masq-agent -n kube-system -o yaml")
	for _, u := range f.Unrouted {
		rec.Step("destination", Skip, u, peeringsListCommand(f))
	}
	if len(f.Dests) == 0 {
		if len(f.Unrouted) > 0 {
			return SkipResult("not-applicable", "not applicable: "+strings.Join(f.Unrouted, "; "))
		}
		return SkipResult("not-applicable", fmt.Sprintf("not applicable: network %s has no VPC peering (name a destination with --peer CIDR|IP[:PORT])", cf.Network))
	}
	var findings []*egressPeerFinding
	for _, d := range f.Dests {
		findings = append(findings, decideEgress(ctx, env, f, d))
	}
	r := combineFindings(rec, findings, func(fd *egressPeerFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		var ss []string
		for _, fd := range findings {
			ss = append(ss, fd.Summary)
		}
		return strings.Join(ss, "; ")
	})
	r.Fixes = egressPlans(env, f, findings)
	return r
}

// decideEgress gathers the three answers for one destination and takes the first confirmed cause.
func decideEgress(ctx context.Context, env *Env, f *egressFacts, d *peerDest) *egressPeerFinding {
	fd := &egressPeerFinding{D: d, Side: f.Sides[d.Peering.Name]}
	fd.peeringStep(f)
	fd.source(f)
	fd.routes(f)
	fd.firewall(ctx, env, f)
	for _, decide := range []func(*egressFacts) bool{
		fd.peeringNotActive,
		fd.podRangeNotExported,
		fd.podIPKept,
		fd.peerFirewallBlocks,
		fd.pupiNotExchanged,
		fd.couldNotLook,
	} {
		if decide(f) {
			return fd
		}
	}
	fd.Status, fd.Summary = Pass, fd.sentence(f)
	return fd
}

// --- the facts of one destination ---

func (fd *egressPeerFinding) destLabel() string {
	if fd.D.Dest.IsValid() {
		return fd.D.label()
	}
	return fd.peerName() + " (peering " + fd.D.Peering.Name + ")"
}

func (fd *egressPeerFinding) peerName() string {
	return fd.D.Peering.PeerProject + "/" + fd.D.Peering.PeerNetwork
}

func (fd *egressPeerFinding) peeringStep(f *egressFacts) {
	p, s := fd.D.Peering, fd.Side
	detail := fmt.Sprintf("peering %s → %s: state %s%s; exportCustomRoutes %t, importCustomRoutes %t, exportSubnetRoutesWithPublicIp %t, importSubnetRoutesWithPublicIp %t",
		p.Name, p.Peer, orPlaceholder(p.State, "(none)"), stateDetails(p.StateDetails), p.ExportCustomRoutes, p.ImportCustomRoutes, p.ExportSubnetRoutesWithPublicIp, p.ImportSubnetRoutesWithPublicIp)
	st := Pass
	if !p.Active() {
		st = Fail
	}
	fd.step(st, "peering "+p.Name, detail, peeringsListCommand(f))
	switch {
	case s.NetErr != nil:
		fd.step(Skip, "the peer's side ("+fd.peerName()+")", peerUnreadable(p, s.NetErr), fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", p.PeerNetwork, p.PeerProject))
	case !s.HasBack:
		fd.step(Fail, "the peer's side ("+fd.peerName()+")", fmt.Sprintf("%s has no peering to %s", fd.peerName(), f.Net.Ref), fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", p.PeerNetwork, p.PeerProject))
	default:
		b := s.Back
		st := Pass
		if !b.Active() {
			st = Fail
		}
		fd.step(st, "the peer's side ("+fd.peerName()+")", fmt.Sprintf("peering %s → %s: state %s%s; importCustomRoutes %t, exportCustomRoutes %t, importSubnetRoutesWithPublicIp %t, exportSubnetRoutesWithPublicIp %t",
			b.Name, b.Peer, orPlaceholder(b.State, "(none)"), stateDetails(b.StateDetails), b.ImportCustomRoutes, b.ExportCustomRoutes, b.ImportSubnetRoutesWithPublicIp, b.ExportSubnetRoutesWithPublicIp),
			fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", p.PeerNetwork, p.PeerProject))
	}
}

// source: which address a pod's packet to the destination leaves with.
func (fd *egressPeerFinding) source(f *egressFacts) {
	cf := f.Cluster
	dst := fd.D.Dest
	if !dst.IsValid() {
		// The peering as a whole: judged for the pod range's way back only when the pod IP is kept
		// for the peer's addresses, which are not known; a private peer is what the defaults cover.
		fd.step(Skip, "source of pods' packets to "+fd.peerName(), "the peer's ranges are not known (no route it sends could be listed), so ip-masq-agent's choice cannot be decided", "")
		return
	}
	fd.Masq = f.Masq.Decide(dst)
	step := "source of pods' packets to " + fd.D.label()
	cmd := "kubectl get configmap ip-masq-agent -n kube-system -o jsonpath='{.data.config}'"
	switch {
	case !fd.Masq.Known:
		st := Warn
		if f.Masq.ParseErr == nil {
			st = Skip
		}
		fd.step(st, step, fd.Masq.Why, cmd)
	case fd.Masq.KeepsPodIP:
		fd.Source, fd.PodSource = cf.PodCIDR, true
		fd.step(Pass, step, fmt.Sprintf("the pod IP (pod range %s): %s", cf.PodCIDR, fd.Masq.Why), cmd)
	default:
		fd.Source = f.NodeRange
		what := "the node IP"
		if f.NodeRange.IsValid() {
			what += " (node range " + f.NodeRange.String() + ")"
		}
		fd.step(Pass, step, what+": "+fd.Masq.Why, cmd)
	}
}

// routes: the route back to the pod range and to the node range, and the route to the destination.
func (fd *egressPeerFinding) routes(f *egressFacts) {
	cf := f.Cluster
	fd.PodBack = fd.routeBack(f, cf.PodCIDR, true)
	fd.NodeBack = fd.routeBack(f, f.NodeRange, false)
	if fd.D.Dest.IsValid() {
		fd.There = fd.routeThere(f)
	}
	cmdOut := peeringRoutesCommand(f.Net.Project, f.Net.Name, fd.D.Peering.Name, "OUTGOING", f.region())
	for _, x := range []struct {
		what string
		a    answer
		use  bool
	}{
		{"route back to the pod range " + cf.PodCIDR.String(), fd.PodBack, fd.PodSource || !fd.Masq.Known},
		{"route back to the node range " + orPlaceholder(prefixString(f.NodeRange), "(unknown)"), fd.NodeBack, !fd.PodSource || !fd.Masq.Known},
	} {
		st := triStatus(x.a.OK)
		if !x.use && st != Pass {
			st = Skip // not the source in use: shown, not deciding
		}
		fd.step(st, x.what, x.a.Why, cmdOut)
	}
	if fd.D.Dest.IsValid() {
		fd.step(triStatus(fd.There.OK), "route to "+fd.D.label(), fd.There.Why, peeringRoutesCommand(f.Net.Project, f.Net.Name, fd.D.Peering.Name, "INCOMING", f.region()))
	}
}

func triStatus(t tri) Status {
	switch t {
	case yes:
		return Pass
	case no:
		return Fail
	}
	return Skip
}

// routeBack decides whether the peer has a route back to src: subnet routes always (privately used
// public ranges only with the public-IP flags), a routes-based pod range only as custom routes our
// side exports and the peer imports, confirmed with listPeeringRoutes.
func (fd *egressPeerFinding) routeBack(f *egressFacts, src netip.Prefix, pods bool) answer {
	p, s := fd.D.Peering, fd.Side
	peer := fd.peerName()
	if !src.IsValid() {
		if pods {
			return answer{Why: "the cluster's pod range is not known"}
		}
		return answer{Why: "the node range could not be read: " + errString(f.NodeErr), Err: f.NodeErr}
	}
	if pods && !f.Cluster.VPCNative {
		return fd.customRouteBack(f, src)
	}
	kind := "node subnet"
	if pods {
		kind = "pod range (a subnet secondary range: VPC-native)"
	}
	if !model.IsPUPI(src) {
		return answer{OK: yes, Why: fmt.Sprintf("%s %s is a subnet route: peering always exchanges private subnet ranges", kind, src)}
	}
	cause := "pupi-routes-not-exchanged"
	switch {
	case !p.ExportSubnetRoutesWithPublicIp:
		return answer{OK: no, Cause: cause, Why: fmt.Sprintf("%s %s is a privately used public range, and peering %s does not export such subnet routes (exportSubnetRoutesWithPublicIp false)", kind, src, p.Name)}
	case s.NetErr != nil:
		return answer{Cause: cause, Err: s.NetErr, Why: fmt.Sprintf("%s %s is a privately used public range: whether %s imports it (importSubnetRoutesWithPublicIp) cannot be read: %s", kind, src, peer, peerUnreadable(p, s.NetErr))}
	case !s.HasBack:
		return answer{OK: no, Cause: "peering-not-active", Why: fmt.Sprintf("%s has no peering back", peer)}
	case !s.Back.ImportSubnetRoutesWithPublicIp:
		return answer{OK: no, Cause: cause, Why: fmt.Sprintf("%s %s is a privately used public range, and %s's peering %s does not import such subnet routes (importSubnetRoutesWithPublicIp false)", kind, src, peer, s.Back.Name)}
	}
	return answer{OK: yes, Why: fmt.Sprintf("%s %s is a privately used public range, exchanged: peering %s exports and %s imports subnet routes with public IPs", kind, src, p.Name, s.Back.Name)}
}

// customRouteBack: the pod range of a routes-based cluster is one static route per node.
func (fd *egressPeerFinding) customRouteBack(f *egressFacts, pods netip.Prefix) answer {
	p, s := fd.D.Peering, fd.Side
	peer := fd.peerName()
	cause := "pod-range-not-exported"
	var names []string
	exchangeable := 0
	podRoutes := f.Net.RoutesWithin(pods)
	for _, r := range podRoutes {
		names = append(names, r.Name+" ("+r.Dest.String()+", "+r.NextHop+")")
		if r.Exchangeable() {
			exchangeable++
		}
	}
	routes := fmt.Sprintf("routes-based cluster: the pod range %s is custom routes", pods)
	switch {
	case f.Net.RoutesErr != nil:
		routes += " (the routes could not be listed: " + f.Net.RoutesErr.Error() + ")"
	case len(podRoutes) == 1:
		routes += " (" + names[0] + ")"
	case len(podRoutes) > 1:
		routes += fmt.Sprintf(" (%d routes, e.g. %s)", len(podRoutes), names[0])
	}
	if len(podRoutes) > 0 && exchangeable == 0 {
		return answer{OK: no, Cause: "pod-ip-kept-by-ip-masq-agent", Why: routes + ": each carries network tags or goes to the internet gateway, and such routes are never exchanged over peering"}
	}
	switch {
	case !p.ExportCustomRoutes:
		why := fmt.Sprintf("%s, and peering %s does not export custom routes (exportCustomRoutes false)", routes, p.Name)
		if s.NetErr == nil && s.HasBack && !s.Back.ImportCustomRoutes {
			why += fmt.Sprintf("; %s's peering %s does not import them either (importCustomRoutes false)", peer, s.Back.Name)
		}
		return answer{OK: no, Cause: cause, Why: why}
	case s.NetErr != nil:
		return answer{Cause: cause, Err: s.NetErr, Why: fmt.Sprintf("%s; peering %s exports them, but whether %s imports them cannot be read: %s", routes, p.Name, peer, peerUnreadable(p, s.NetErr))}
	case !s.HasBack:
		return answer{OK: no, Cause: "peering-not-active", Why: fmt.Sprintf("%s has no peering back to %s", peer, f.Net.Ref)}
	case !s.Back.ImportCustomRoutes:
		return answer{OK: no, Cause: cause, Why: fmt.Sprintf("%s; peering %s exports them, but %s's peering %s does not import custom routes (importCustomRoutes false)", routes, p.Name, peer, s.Back.Name)}
	}
	// Both flags are set: the exchanged routes confirm it.
	why := fmt.Sprintf("%s, exported by peering %s and imported by %s", routes, p.Name, s.Back.Name)
	if s.OutgoingErr == nil && exchangeable > 0 && !anyWithin(s.Outgoing, pods) {
		return answer{OK: no, Cause: "pod-ip-kept-by-ip-masq-agent", Why: why + ", yet listPeeringRoutes OUTGOING on " + p.Name + " lists none of them"}
	}
	switch {
	case s.TheirIncomingErr != nil:
		why += "; " + peer + "'s received routes could not be listed (" + s.TheirIncomingErr.Error() + "): the flags decide"
	case !anyWithin(s.TheirIncoming, pods):
		return answer{OK: no, Cause: "pod-ip-kept-by-ip-masq-agent", Why: why + ", yet listPeeringRoutes INCOMING on " + peer + " shows no route into " + pods.String() + " (a route of its own may take precedence)"}
	default:
		why += "; listPeeringRoutes INCOMING on " + peer + " shows them"
	}
	return answer{OK: yes, Why: why}
}

func anyWithin(routes []model.PeeringRoute, p netip.Prefix) bool {
	for _, r := range routes {
		if p.Overlaps(r.Dest) {
			return true
		}
	}
	return false
}

// routeThere: a route the peer sends covers the destination.
func (fd *egressPeerFinding) routeThere(f *egressFacts) answer {
	d, p, s := fd.D, fd.D.Peering, fd.Side
	if d.Routed {
		r, _ := model.Covering(s.Incoming, d.Dest)
		return answer{OK: yes, Why: fmt.Sprintf("%s sends %s over peering %s (%s)", fd.peerName(), r.Dest, p.Name, strings.ToLower(strings.ReplaceAll(r.Type, "_", " ")))}
	}
	if s.IncomingErr != nil {
		return answer{Err: s.IncomingErr, Why: "the routes peering " + p.Name + " receives could not be listed: " + s.IncomingErr.Error()}
	}
	if model.IsPUPI(d.Dest) {
		cause := "pupi-routes-not-exchanged"
		switch {
		case !p.ImportSubnetRoutesWithPublicIp:
			return answer{OK: no, Cause: cause, Why: fmt.Sprintf("%s is a privately used public range; peering %s does not import subnet routes with public IPs (importSubnetRoutesWithPublicIp false), so no route to it is received", d.Dest, p.Name)}
		case s.NetErr == nil && s.HasBack && !s.Back.ExportSubnetRoutesWithPublicIp:
			return answer{OK: no, Cause: cause, Why: fmt.Sprintf("%s is a privately used public range; %s's peering %s does not export subnet routes with public IPs", d.Dest, fd.peerName(), s.Back.Name)}
		}
	}
	return answer{OK: no, Why: fmt.Sprintf("no route received over peering %s covers %s", p.Name, d.Dest)}
}

// firewall: the peer's firewall for the pod range against the node range (VPC rules and firewall
// policies, through getEffectiveFirewalls on the peer's network).
func (fd *egressPeerFinding) firewall(ctx context.Context, env *Env, f *egressFacts) {
	p := fd.D.Peering
	if !fd.D.Dest.IsValid() || p.PeerProject == "" {
		return
	}
	step := fmt.Sprintf("%s's firewall for %s", fd.peerName(), fd.D.label())
	cmd := effectiveFirewallsCommand(p.Peer)
	set, err := env.Inv.FirewallSet(ctx, p.PeerProject, p.Peer, fd.D.Region)
	if err != nil {
		fd.FWErr = err
		fd.step(Skip, step, "could not be read: "+err.Error()+fmt.Sprintf(" (on project %s)", p.PeerProject), cmd)
		return
	}
	c := comparePeerFirewall(set, p.Peer, fd.D.Dest, fd.D.Port, f.Cluster.PodCIDR, f.NodeRange)
	fd.FW = &c
	var probes []string
	for _, pr := range c.Probes {
		probes = append(probes, pr.String())
	}
	what := fmt.Sprintf("evaluated for %s on %d kind(s) of instance (%s)", strings.Join(probes, ", "), len(c.Identities), identitiesString(c.Identities))
	switch {
	case c.PodBlockedWhereNodeAdmitted != "":
		fd.step(Fail, step, "the pod range is denied where the node range is allowed: "+c.PodBlockedWhereNodeAdmitted+"; "+what, cmd)
	case len(c.Unknown) > 0:
		fd.step(Warn, step, "depends on "+strings.Join(c.Unknown, ", ")+", which gkedoctor cannot resolve; "+what, cmd)
	case c.PodAdmitted:
		fd.step(Pass, step, "the pod range is admitted wherever the node range is (e.g. by "+c.PodAllowedBy+"); "+what, cmd)
	case c.NodeAdmitted:
		fd.step(Fail, step, "the node range is admitted (by "+c.NodeAllowedBy+"), the pod range nowhere; "+what, cmd)
	default:
		fd.step(Fail, step, "neither the node range nor the pod range is admitted; "+what, cmd)
	}
}

func identitiesString(ids []fwIdentity) string {
	var out []string
	for _, id := range ids {
		out = append(out, id.String())
	}
	return strings.Join(out, "; ")
}

// fwAdmits says whether the peer's firewall admits the source in use.
func (fd *egressPeerFinding) fwAdmits(pods bool) tri {
	c := fd.FW
	switch {
	case c == nil:
		return unknown
	case pods && c.PodBlockedWhereNodeAdmitted != "":
		return no
	case len(c.Unknown) > 0:
		return unknown
	case pods && c.PodAdmitted, !pods && c.NodeAdmitted:
		return yes
	}
	return no
}

// --- the decisions, in order ---

// 1. The peering is ACTIVE on both sides, and no range of ours overlaps the peer's.
func (fd *egressPeerFinding) peeringNotActive(f *egressFacts) bool {
	p, s := fd.D.Peering, fd.Side
	fail := func(summary string) bool {
		fd.Status, fd.Cause, fd.Summary = Fail, "peering-not-active", summary
		return true
	}
	switch {
	case !p.Active():
		return fail(fmt.Sprintf("peering %s from %s to %s is %s%s: nothing is exchanged over it, so pods (and nodes) cannot reach %s", p.Name, f.Net.Ref, p.Peer, orPlaceholder(p.State, "in no state"), stateDetails(p.StateDetails), fd.destLabel()))
	case s.NetErr == nil && !s.HasBack:
		return fail(fmt.Sprintf("%s has no peering back to %s: peering %s cannot become ACTIVE", fd.peerName(), f.Net.Ref, p.Name))
	case s.NetErr == nil && !s.Back.Active():
		return fail(fmt.Sprintf("%s's peering %s is %s%s", fd.peerName(), s.Back.Name, orPlaceholder(s.Back.State, "in no state"), stateDetails(s.Back.StateDetails)))
	}
	for _, ours := range []struct {
		what string
		p    netip.Prefix
	}{{"pod range", f.Cluster.PodCIDR}, {"node range", f.NodeRange}} {
		for _, r := range s.Incoming {
			if r.Type == model.SubnetPeeringRoute && model.Overlaps(ours.p, r.Dest) {
				return fail(fmt.Sprintf("the cluster's %s %s overlaps %s's subnet %s: the peer's subnet route wins, so packets to %s never come back", ours.what, ours.p, fd.peerName(), r.Dest, ours.p))
			}
		}
		if model.Overlaps(ours.p, fd.D.Dest) {
			return fail(fmt.Sprintf("the destination %s overlaps the cluster's %s %s: it is routed inside the cluster's network, not over peering %s", fd.D.label(), ours.what, ours.p, p.Name))
		}
	}
	return false
}

// 2. The pod IP is kept, and the routes-based pod range is not exchanged (or the peer's side of it
// cannot be read: warn, naming the permission).
func (fd *egressPeerFinding) podRangeNotExported(f *egressFacts) bool {
	b := fd.PodBack
	if b.Cause != "pod-range-not-exported" || b.OK == yes || !fd.podIPMayBeKept() || f.Masq.ParseErr != nil {
		return false
	}
	switch {
	case b.OK == no && fd.Masq.Known:
		fd.Status = Fail
	default:
		fd.Status, fd.Err = Warn, b.Err
	}
	fd.Cause, fd.Summary = "pod-range-not-exported", fd.sentence(f)
	return true
}

// podIPMayBeKept: ip-masq-agent keeps the pod IP for the destination, or that cannot be read (the
// pod range is then in question).
func (fd *egressPeerFinding) podIPMayBeKept() bool {
	return fd.D.Dest.IsValid() && (fd.PodSource || !fd.Masq.Known)
}

// 3. The pod IP is kept and the peer has no route back for another reason; or ip-masq-agent's
// configuration does not parse (a finding in itself).
func (fd *egressPeerFinding) podIPKept(f *egressFacts) bool {
	if f.Masq.ParseErr != nil && fd.D.Dest.IsValid() {
		fd.Cause = "pod-ip-kept-by-ip-masq-agent"
		fd.Status = Warn
		if def := fd.Masq.IfDefaults; def != nil && def.KeepsPodIP && (fd.PodBack.OK == no || fd.fwAdmits(true) == no) {
			fd.Status = Fail
		}
		fd.Summary = fmt.Sprintf("the kube-system/ip-masq-agent ConfigMap's config does not parse (%v): the agent ignores it and keeps its last good configuration (the defaults on a new node, which keep the pod IP for %s); %s",
			f.Masq.ParseErr, fd.D.label(), fd.sentence(f))
		return true
	}
	if fd.PodSource && fd.PodBack.OK == no && fd.PodBack.Cause == "pod-ip-kept-by-ip-masq-agent" {
		fd.Status, fd.Cause, fd.Summary = Fail, "pod-ip-kept-by-ip-masq-agent", fd.sentence(f)
		return true
	}
	if !fd.Masq.Known && fd.PodBack.OK == no && fd.NodeBack.OK == yes {
		// Which source is in use cannot be read; with the pod IP there is no way back.
		fd.Status, fd.Cause, fd.Err = Warn, "pod-ip-kept-by-ip-masq-agent", masqErr(f.Masq)
		fd.Summary = fd.sentence(f)
		return true
	}
	return false
}

// masqErr is why ip-masq-agent's choice could not be read (nil for a configuration that does not
// parse: that is a finding, not a missing permission).
func masqErr(m *model.IPMasq) error {
	if m.DaemonSetErr != nil {
		return m.DaemonSetErr
	}
	return m.ConfigMapErr
}

// 4. The peer's firewall admits the node range and not the pod range (or no source of the cluster).
func (fd *egressPeerFinding) peerFirewallBlocks(f *egressFacts) bool {
	if !fd.Masq.Known || fd.FW == nil || fd.fwAdmits(fd.PodSource) != no {
		return false
	}
	fd.Status, fd.Cause, fd.Summary = Fail, "peer-firewall-blocks-pod-range", fd.sentence(f)
	return true
}

// 5. A privately used public range (the source's, or the destination's) is not exchanged.
func (fd *egressPeerFinding) pupiNotExchanged(f *egressFacts) bool {
	back := fd.NodeBack
	if fd.PodSource {
		back = fd.PodBack
	}
	for _, a := range []answer{back, fd.There} {
		if a.Cause != "pupi-routes-not-exchanged" || a.OK == yes || !fd.Masq.Known && a == back {
			continue
		}
		fd.Status, fd.Cause, fd.Err = Fail, "pupi-routes-not-exchanged", a.Err
		if a.OK == unknown {
			fd.Status = Warn
		}
		fd.Summary = fd.sentence(f)
		return true
	}
	return false
}

// couldNotLook: a part of the sentence could not be decided: a warning naming what is missing (the
// peer's project, usually), never a pass; a destination no route leads to is not this check's.
func (fd *egressPeerFinding) couldNotLook(f *egressFacts) bool {
	if fd.D.Dest.IsValid() && fd.There.OK == no {
		fd.Status, fd.Cause = Skip, "not-applicable"
		fd.Summary = fmt.Sprintf("not applicable: %s (is %s behind peering %s?)", fd.There.Why, fd.D.label(), fd.D.Peering.Name)
		return true
	}
	warn := func(cause string, err error) bool {
		fd.Status, fd.Cause, fd.Err, fd.Summary = Warn, cause, err, fd.sentence(f)
		return true
	}
	if !fd.D.Dest.IsValid() {
		// The peering as a whole, with no range of the peer known: the pod range's way back decides
		// what can be said.
		if fd.PodBack.OK != yes {
			return warn(orPlaceholder(fd.PodBack.Cause, "pod-range-not-exported"), fd.PodBack.Err)
		}
		return warn("peer-firewall-blocks-pod-range", fd.Side.IncomingErr)
	}
	back := fd.NodeBack
	if fd.PodSource {
		back = fd.PodBack
	}
	switch {
	case !fd.Masq.Known:
		if fd.PodBack.OK == yes && fd.NodeBack.OK == yes && fd.fwAdmits(true) == yes && fd.fwAdmits(false) == yes {
			return false // whichever source the packets leave with, it works
		}
		return warn("pod-ip-kept-by-ip-masq-agent", nil)
	case back.OK != yes:
		return warn(orPlaceholder(back.Cause, "pod-range-not-exported"), back.Err)
	case fd.There.OK != yes:
		return warn(orPlaceholder(fd.There.Cause, "peering-not-active"), fd.There.Err)
	case fd.fwAdmits(fd.PodSource) != yes:
		return warn("peer-firewall-blocks-pod-range", fd.FWErr)
	}
	return false
}

// sentence is the verdict in one sentence: source, route back, firewall.
func (fd *egressPeerFinding) sentence(f *egressFacts) string {
	peer := fd.peerName()
	var b strings.Builder
	fmt.Fprintf(&b, "a packet from a pod to %s", fd.destLabel())
	var back answer
	var src string
	switch {
	case !fd.D.Dest.IsValid():
		src = "the pod IP, if ip-masq-agent keeps it for the peer's addresses (the peer's ranges are not known)"
		back = fd.PodBack
	case !fd.Masq.Known:
		fmt.Fprintf(&b, " leaves with a source that cannot be known (%s)", fd.Masq.Why)
		fmt.Fprintf(&b, "; with the pod IP %s %s", peer, haveRoute(fd.PodBack.OK))
		fmt.Fprintf(&b, " and its firewall %s it; with the node IP %s %s and its firewall %s it", admits(fd.fwAdmits(true)), peer, haveRoute(fd.NodeBack.OK), admits(fd.fwAdmits(false)))
		return b.String()
	case fd.PodSource:
		src = "its pod IP (" + fd.Source.String() + ")"
		back = fd.PodBack
	default:
		src = "the node IP (" + orPlaceholder(prefixString(fd.Source), "the node range") + ")"
		back = fd.NodeBack
	}
	fmt.Fprintf(&b, " over peering %s leaves with %s; %s %s (%s)", fd.D.Peering.Name, src, peer, haveRoute(back.OK), back.Why)
	if fd.D.Dest.IsValid() {
		fw := fd.fwAdmits(fd.PodSource)
		fmt.Fprintf(&b, "; %s's firewall %s it", peer, admits(fw))
		switch {
		case fd.FWErr != nil:
			b.WriteString(" (" + fd.FWErr.Error() + ")")
		case fd.FW != nil && fw == no && fd.PodSource && fd.FW.PodBlockedWhereNodeAdmitted != "":
			b.WriteString(" (" + fd.FW.PodBlockedWhereNodeAdmitted + ")")
		case fd.FW != nil && fw == yes && fd.PodSource:
			b.WriteString(" (" + fd.FW.PodAllowedBy + ")")
		case fd.FW != nil && fw == yes:
			b.WriteString(" (" + fd.FW.NodeAllowedBy + ")")
		case fd.FW != nil && fw == unknown:
			b.WriteString(" (depends on " + strings.Join(fd.FW.Unknown, ", ") + ")")
		}
		if fd.There.OK != yes {
			fmt.Fprintf(&b, "; the way there: %s", fd.There.Why)
		}
	}
	return b.String()
}

func haveRoute(t tri) string {
	switch t {
	case yes:
		return "has a route back to it"
	case no:
		return "has no route back to it"
	}
	return "may or may not have a route back to it"
}

func admits(t tri) string {
	switch t {
	case yes:
		return "admits"
	case no:
		return "does not admit"
	}
	return "may or may not admit"
}

// --- evidence helpers ---

func clusterRanges(f *egressFacts) string {
	cf := f.Cluster
	kind := "routes-based (ipAllocationPolicy.useIpAliases false: the pod range is custom routes)"
	if cf.VPCNative {
		kind = "VPC-native (alias IPs: the pod range is a subnet secondary range)"
	}
	node := prefixString(f.NodeRange)
	if f.NodeErr != nil {
		node = "unknown (" + f.NodeErr.Error() + ")"
	}
	snat := ""
	if cf.DefaultSNATDisabled {
		snat = "; default SNAT disabled"
	}
	return fmt.Sprintf("%s; pod range %s, services range %s, node range %s, network %s%s", kind, orPlaceholder(prefixString(cf.PodCIDR), "unknown"), orPlaceholder(prefixString(cf.ServicesCIDR), "unknown"), node, cf.Network, snat)
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func errString(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

func stateDetails(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func peeringsStatus(f *egressFacts) Status {
	for _, p := range f.Net.Peerings {
		if !p.Active() {
			return Fail
		}
	}
	if len(f.Net.Peerings) == 0 {
		return Skip
	}
	return Pass
}

func peeringsDetail(f *egressFacts) string {
	if len(f.Net.Peerings) == 0 {
		return "no peering"
	}
	var out []string
	for _, p := range f.Net.Peerings {
		out = append(out, fmt.Sprintf("%s → %s (%s)", p.Name, p.Peer, orPlaceholder(p.State, "no state")))
	}
	return strings.Join(out, ", ")
}

func peeringsListCommand(f *egressFacts) string {
	return fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", f.Net.Name, f.Net.Project)
}

func peeringRoutesCommand(project, network, peering, direction, region string) string {
	return fmt.Sprintf("gcloud compute networks peerings list-routes %s --network %s --project %s --region %s --direction %s",
		peering, network, project, orPlaceholder(region, "REGION"), direction)
}

func egressClusterCommand(env *Env) string {
	s := env.Inv.Scope
	return fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format='value(ipAllocationPolicy.useIpAliases,clusterIpv4Cidr,servicesIpv4Cidr,subnetwork,networkConfig.defaultSnatStatus.disabled)'",
		orPlaceholder(s.Cluster, "CLUSTER"), orPlaceholder(s.Location, "LOCATION"), orPlaceholder(s.Project, "PROJECT"))
}

// peerUnreadable names what could not be read on the peer's side and the permission it needs there.
func peerUnreadable(p model.Peering, err error) string {
	perm := "compute.networks.get"
	if e, ok := apierr.As(err); ok && e.Permission != "" {
		perm = e.Permission
	}
	return fmt.Sprintf("network %s could not be read (%v): it needs %s on project %s", p.Peer, err, perm, p.PeerProject)
}

// masqEvidence says what ip-masq-agent does, from its DaemonSet, ConfigMap and the cluster.
func masqEvidence(m *model.IPMasq) (Status, string) {
	var parts []string
	switch {
	case m.DaemonSetErr != nil:
		parts = append(parts, "DaemonSet kube-system/ip-masq-agent could not be read: "+m.DaemonSetErr.Error())
	case m.DaemonSet:
		flag := "without " + model.MasqAllReservedFlag + " (defaults: RFC 1918)"
		if m.AllReserved {
			flag = "with " + model.MasqAllReservedFlag + " (defaults: the reserved ranges)"
		}
		parts = append(parts, "DaemonSet kube-system/ip-masq-agent runs "+flag)
	default:
		parts = append(parts, "no ip-masq-agent DaemonSet (a ConfigMap alone does nothing)")
	}
	switch {
	case m.ConfigMapErr != nil:
		parts = append(parts, "ConfigMap could not be read: "+m.ConfigMapErr.Error())
	case !m.ConfigMap:
		parts = append(parts, "no ConfigMap kube-system/ip-masq-agent")
	case !m.HasConfig:
		parts = append(parts, fmt.Sprintf("ConfigMap without the %q key (keys: %s): ignored by the agent", model.MasqConfigKey, strings.Join(m.Keys, ", ")))
	case m.ParseErr != nil:
		parts = append(parts, fmt.Sprintf("ConfigMap's %q does not parse: %v", model.MasqConfigKey, m.ParseErr))
	default:
		c := m.Config
		s := "ConfigMap config: "
		if c.NonMasqSet {
			var cs []string
			for _, p := range c.NonMasqueradeCIDRs {
				cs = append(cs, p.String())
			}
			s += "nonMasqueradeCIDRs [" + strings.Join(cs, ", ") + "]"
		} else {
			s += "no nonMasqueradeCIDRs (the defaults apply)"
		}
		s += fmt.Sprintf(", masqLinkLocal %t, resyncInterval %s", c.MasqLinkLocal, c.Resync())
		if len(c.Ignored) > 0 {
			s += "; keys the agent ignores: " + strings.Join(c.Ignored, ", ")
		}
		parts = append(parts, s)
	}
	set, from, noSNAT, ok := m.Effective()
	switch {
	case !ok:
	case noSNAT:
		parts = append(parts, from)
	default:
		var cs []string
		for _, p := range set {
			cs = append(cs, p.String())
		}
		parts = append(parts, "non-masquerade set in effect: "+strings.Join(cs, ", ")+" ("+from+")")
	}
	st := Pass
	switch {
	case m.ParseErr != nil:
		st = Fail
	case !ok:
		st = Skip
	case m.ConfigMap && !m.HasConfig:
		st = Warn
	}
	return st, strings.Join(parts, "; ")
}
