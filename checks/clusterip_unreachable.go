package checks

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// clusterip-unreachable: the decision tree of FAILURE-MODES §1. For every GKE Service a VPC client
// calls (URLs in a Cloud Run service's environment, or --service), walk the causes in order and
// report the first confirmed one with the supporting checks' evidence:
//
//  1. the client targets a ClusterIP (or a *.svc.cluster.local name) and no internal LB exposes the
//     Service                                   → target-is-clusterip (fix: create NAME-ilb)
//  2. the LB is external, or still provisioning / failed → ilb-external, ilb-pending
//  3. a firewall blocks the client's range from the nodes → firewall-blocks-serverless
//  4. the client is in another region and global access is off → region-mismatch
//  5. no VPC access, egress PRIVATE_RANGES_ONLY for a non-RFC 1918 target, or another network
//     → no-vpc-access, egress-private-ranges-only
//  6. the connector is not READY → connector-not-ready
//
// When the tool runs inside the VPC (or in the demo world) a TCP connect to the target confirms the
// prediction; elsewhere the verdict comes from configuration, and the evidence says so.

func init() {
	Register(CheckFunc{CheckID: "clusterip-unreachable", Fn: runClusterIPUnreachable})
}

// Deadlines of the fixes' waits. Production waits up to ten minutes for an internal LB's IP (GKE
// usually takes a few) and five for a Cloud Run revision; the demo world's controllers answer in
// seconds, and tests set these to seconds before running checks.
var (
	ILBWaitTimeout    = 10 * time.Minute
	ILBPollInterval   = 2 * time.Second
	RunOpWaitTimeout  = 5 * time.Minute
	RunOpPollInterval = time.Second
	// ProbeTimeout bounds the live TCP connect to a target.
	ProbeTimeout = 3 * time.Second
)

// causeOrder is FAILURE-MODES §1's order, most frequent first.
var causeOrder = []string{"target-is-clusterip", "ilb-external", "ilb-pending", "health-check-blocked", "firewall-blocks-serverless",
	"region-mismatch", "no-vpc-access", "egress-private-ranges-only", "connector-not-ready", "connector-firewall-missing", "live-probe-failed"}

func causeRank(c string) int {
	for i, x := range causeOrder {
		if x == c {
			return i
		}
	}
	return len(causeOrder)
}

// verdict is the outcome for one target.
type verdict struct {
	T       *target
	Src     *Source // the client concerned, when the cause is on a client's side
	Status  Status
	Cause   string
	Summary string
	Dep     string // the supporting check whose evidence backs it
	Plans   []*fixes.Plan
	Err     error // could not look
	Skipped bool  // not a Service of this cluster: not judged here
}

type reachRun struct {
	env  *Env
	f    *reachFacts
	ilb  *ilbAnalysis
	eg   *egressAnalysis
	conn *connectorAnalysis
	fw   *fwAnalysis
	deps map[string]Result
}

func runClusterIPUnreachable(ctx context.Context, env *Env, rec *Recorder) Result {
	warmNetwork(ctx, env) // its supporting checks judge the firewall: read beside the Service list
	f, err := getReachFacts(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(f.Targets) == 0 {
		return SkipResult("not-applicable", noTargetsReason(f))
	}
	cf := f.Cluster
	if f.ClusterErr != nil {
		rec.Step("cluster ranges and network", Skip, "could not read the cluster: "+f.ClusterErr.Error()+"; ClusterIPs are recognised from the Services only", clusterCommand(env))
	} else {
		rec.Step("cluster ranges and network", Pass, fmt.Sprintf("services range %s, pod range %s, network %s, region %s", prefixOr(cf.ServicesCIDR), prefixOr(cf.PodCIDR), cf.Network, cf.Region), clusterCommand(env))
	}
	r := &reachRun{env: env, f: f, deps: map[string]Result{}}
	// The supporting checks (the catalogue's children of this check), once per run (their results
	// carry the evidence), and their findings.
	for _, id := range Supporting("clusterip-unreachable") {
		r.deps[id] = env.Dep(ctx, id)
	}
	if r.ilb, err = analyseILB(ctx, env); err != nil {
		return reachSkip(err)
	}
	if r.eg, err = analyseEgress(ctx, env); err != nil {
		return reachSkip(err)
	}
	if r.conn, err = analyseConnectors(ctx, env); err != nil {
		return reachSkip(err)
	}
	if r.fw, err = analyseFirewall(ctx, env); err != nil {
		return reachSkip(err)
	}
	var vs []*verdict
	for _, t := range f.Targets {
		v := r.judge(ctx, t)
		vs = append(vs, v)
		r.record(rec, v)
	}
	r.probe(ctx, rec, vs)
	for _, id := range Supporting("clusterip-unreachable") {
		d := r.deps[id]
		rec.Step("supporting check "+id, d.Status, d.Summary, "gkedoctor audit "+id)
	}
	return r.combine(rec, vs)
}

func prefixOr(p netip.Prefix) string {
	if !p.IsValid() {
		return "(unknown)"
	}
	return p.String()
}

// judge walks the causes in order for one target.
// judge decides one target with the decision list below, in order of likelihood: the first decision
// that confirms a cause is the verdict; what could not be looked at along the way turns a would-be
// pass into a skip naming it.
func (r *reachRun) judge(ctx context.Context, t *target) *verdict {
	var cnl couldNotLook
	for _, decide := range []func(context.Context, *target, *couldNotLook) *verdict{
		r.decideIsService,     // 0: a Service of this cluster at all
		r.decideHeadless,      // 1a: a headless Service: its pods, routable only in a VPC-native cluster
		r.decideOverInternet,  // 1b: an external load balancer called over the internet on purpose
		r.decideL7,            // 1c: an internal Gateway or Ingress: proxy-only subnet and its firewall
		r.decideExposure,      // 1–2: an internal load balancer, provisioned, and used
		r.decideSourceRanges,  // 3a: the load balancer's loadBalancerSourceRanges admit each client
		r.decideFirewall,      // 3: firewall from each client's range to the nodes on the port
		r.decideRegion,        // 4: region versus global access
		r.decideVPCAccess,     // 5: VPC access, egress and network of each client
		r.decideConnector,     // 6: the connector is READY
		r.decideNetworkPolicy, // 7: NetworkPolicies admit each client's source to the pods
		r.decideClientAddress, // 8: the client calls the load balancer, not the cluster name
	} {
		if v := decide(ctx, t, &cnl); v != nil {
			return v
		}
	}
	return r.decidePass(t, &cnl)
}

// decideIsService: a target that is no Service of this cluster is not judged here, except a cluster
// name whose Service does not exist (VPC clients can neither resolve nor reach it).
func (r *reachRun) decideIsService(_ context.Context, t *target, _ *couldNotLook) *verdict {
	v := &verdict{T: t}
	if t.Err != nil {
		v.Status, v.Err, v.Dep = Skip, t.Err, "ilb-provisioned"
		return v
	}
	if t.Svc == nil {
		if t.Dest.Kind == TargetClusterDNS {
			v.Status, v.Cause, v.Dep = Fail, "target-is-clusterip", "ilb-provisioned"
			v.Summary = fmt.Sprintf("%s (%s) is a cluster-internal name, and the cluster has no Service %s/%s: VPC clients can neither resolve nor reach it", t.Dest.Host, t.Dest.From, t.Dest.Namespace, t.Dest.Name)
			return v
		}
		v.Skipped = true
		v.Status = Skip
		v.Summary = fmt.Sprintf("%s (%s) is not a Service of this cluster (%s): not judged here", t.Dest.Host, t.Dest.From, strings.ReplaceAll(t.Dest.Kind, "-", " "))
		return v
	}
	if t.Svc.Spec.Type == corev1.ServiceTypeExternalName {
		v.Skipped, v.Status = true, Skip
		v.Summary = fmt.Sprintf("%s/%s is an ExternalName Service (a CNAME to %s): there is nothing in the cluster to expose; not judged here", t.Svc.Namespace, t.Svc.Name, t.Svc.Spec.ExternalName)
		return v
	}
	return nil
}

// decideExposure: an internal load balancer exposes the Service and is provisioned, and the client
// calls it rather than the ClusterIP.
func (r *reachRun) decideExposure(ctx context.Context, t *target, _ *couldNotLook) *verdict {
	v := &verdict{T: t}
	ref := t.Svc.Namespace + "/" + t.Svc.Name
	if t.headless() || t.viaL7() != nil {
		return nil // decided by decideHeadless and decideL7: no L4 load balancer is proposed
	}
	if fd := r.ilb.finding(t); fd != nil {
		switch fd.Cause {
		case "target-is-clusterip", "ilb-external":
			v.Status, v.Cause, v.Dep = Fail, fd.Cause, "ilb-provisioned"
			v.Summary = fmt.Sprintf("%s calls %s at %s (%s): %s", r.who(t), ref, t.addrPort(), r.uses(t), fd.Summary)
			v.Plans = append(v.Plans, r.ilbPlan(ctx, t))
			return v
		case "ilb-pending":
			v.Status, v.Cause, v.Dep = fd.Status, fd.Cause, "ilb-provisioned"
			v.Summary = fd.Summary
			return v
		case "health-check-blocked":
			v.Status, v.Cause, v.Dep = fd.Status, fd.Cause, "ilb-provisioned"
			v.Summary = fd.Summary
			if fd.HealthPlan != nil {
				v.Plans = append(v.Plans, fd.HealthPlan)
			}
			return v
		}
	}
	if (t.Dest.Kind == TargetClusterIP || t.Dest.Kind == TargetZoneName && t.isClusterIPAddr(r.f.Model)) && t.LBIP != "" {
		v.Status, v.Cause, v.Dep = Fail, "target-is-clusterip", "ilb-provisioned"
		v.Summary = fmt.Sprintf("%s calls the ClusterIP %s of %s, which the VPC cannot route, although %s/%s exposes it at %s:%d", r.who(t), t.addrPort(), ref, t.ILB.Namespace, t.ILB.Name, t.LBIP, t.ILBPort)
		v.Plans = append(v.Plans, r.pointClientPlans(t, t.LBIP, t.ILBPort, t.ILB.Namespace+"/"+t.ILB.Name)...)
		return v
	}
	return nil
}

// decideFirewall: what the VPC enforces lets each client's range reach the nodes on the port.
func (r *reachRun) decideFirewall(ctx context.Context, t *target, cnl *couldNotLook) *verdict {
	v := &verdict{T: t}
	for _, src := range r.f.sourcesOf(t) {
		if !src.HasVPCAccess() {
			continue
		}
		fw := r.fw.findingFor(src, t.Port, t.Protocol)
		if fw == nil {
			continue
		}
		switch fw.Status {
		case Fail, Warn:
			v.Status, v.Cause, v.Dep, v.Src = fw.Status, fw.Cause, "firewall-serverless-to-nodes", src
			v.Summary = fw.Summary
			manual := ""
			if fd := r.ilb.finding(t); fd != nil {
				manual = fd.ManualChange
			}
			switch {
			case fw.Status == Fail && r.fw.Nodes != nil && !withinSourceRanges(t, fw.Range):
				// A rule for a range loadBalancerSourceRanges leaves out would defeat the field:
				// decideSourceRanges owns that case; never widen beyond it here.
			case fw.Status == Fail && r.fw.Nodes != nil:
				v.Plans = append(v.Plans, firewallPlan(ctx, r.env, r.fw, fw, manual))
			}
			return v
		case Skip:
			cnl.add(fw.Err)
		}
	}
	return nil
}

// decideRegion: a client in another region than the internal load balancer needs global access.
func (r *reachRun) decideRegion(_ context.Context, t *target, cnl *couldNotLook) *verdict {
	fd := r.ilb.finding(t)
	if fd == nil {
		return nil
	}
	v := &verdict{T: t}
	for _, rf := range fd.Region {
		switch {
		case rf.Err != nil:
			cnl.add(rf.Err)
		case rf.Mismatch:
			v.Status, v.Cause, v.Dep, v.Src = Fail, "region-mismatch", "ilb-provisioned", rf.Src
			v.Summary = fmt.Sprintf("%s is in %s, the internal load balancer %s/%s in %s, and global access is off (%s)", sourceLabel(rf.Src), rf.SrcRegion, t.ILB.Namespace, t.ILB.Name, rf.LBRegion, rf.From)
			v.Plans = append(v.Plans, globalAccessAdvice(t))
			return v
		}
	}
	return nil
}

// runEgressPlan is the egress fix (PRIVATE_RANGES_ONLY → ALL_TRAFFIC) judged against what else uses
// the service's egress: once every packet goes through the VPC, the internet needs Cloud NAT there and
// Google APIs need Cloud NAT or Private Google Access. Without them the fix is destructive (a second
// confirmation, saying what stops working); when they could not be read it is not offered — advice
// naming what is missing.
func runEgressPlan(ctx context.Context, env *Env, src *Source) *fixes.Plan {
	o := fixes.RunEgress{Service: src.FullName, WaitTimeout: RunOpWaitTimeout, PollInterval: RunOpPollInterval}
	affects, destructive, judged, err := runEgressImpact(ctx, env, src)
	if err != nil {
		project, location, name := gref.ProjectOf(src.FullName), gref.LocationOf(src.FullName), src.Name
		return (&fixes.Plan{JudgedAgainst: append(judged, "not judged: "+err.Error()), ID: "run-egress-all-traffic/" + location + "/" + name, Check: "clusterip-unreachable", Advice: true,
			Title: fmt.Sprintf("Route all egress of Cloud Run %s through the VPC — not applied: %v", name, err),
			Description: "ALL_TRAFFIC sends the internet and Google API traffic of the service through the VPC too; without Cloud NAT (and Private Google Access) it stops. " +
				"That could not be checked, so gkedoctor does not make the change: check Cloud NAT on the network and region first (gcloud compute routers list), then run the command.",
			Commands: []string{fmt.Sprintf("gcloud compute routers list --project %s --regions %s", project, gref.Region(location)),
				fmt.Sprintf("gcloud run services update %s --region %s --project %s --vpc-egress=all-traffic", name, location, project)}})
	}
	o.Affects, o.Destructive = affects, destructive
	return fixes.NewRunEgressPlan(env.FixDeps, o).Judge(judged)
}

// runEgressImpact reads Cloud NAT on the source's network and region and Private Google Access on
// its subnet, and says what ALL_TRAFFIC would do to the egress the source has today.
func runEgressImpact(ctx context.Context, env *Env, src *Source) (affects string, destructive bool, judged []string, err error) {
	judged = []string{"all egress of every new revision of Cloud Run " + src.Name + " (internet, Google APIs, private ranges)"}
	network, _, err := sourceNetwork(ctx, env, src)
	if err != nil {
		return "", false, judged, fmt.Errorf("the network of %s could not be read (%v)", src.Name, err)
	}
	if network == "" {
		return "", false, judged, fmt.Errorf("%s has no VPC network to send its egress to", src.Name)
	}
	region := gref.Region(src.Location)
	subnet, subnetProject := "", gref.ProjectOf(network)
	if src.DirectVPC != nil {
		subnet = src.DirectVPC.Subnetwork
	} else if src.Connector != "" {
		region = gref.Region(gref.LocationOf(src.Connector))
		if c, cerr := env.Inv.Connector(ctx, src.Connector); cerr == nil && c.Subnet != nil {
			subnet = c.Subnet.Name
			if c.Subnet.ProjectId != "" {
				subnetProject = c.Subnet.ProjectId
			}
		}
	}
	routers, err := env.Inv.Routers(ctx, gref.ProjectOf(network), region)
	if err != nil {
		return "", false, judged, fmt.Errorf("Cloud NAT on network %s in %s could not be read (%v)", gref.NetworkName(network), region, err)
	}
	nat := model.NATCovers(routers, network, subnet)
	judged = append(judged, fmt.Sprintf("Cloud NAT on network %s in %s: %s", gref.NetworkName(network), region, nat.Why))
	if nat.Covered {
		return fmt.Sprintf("all outbound traffic of %s then goes through network %s; its internet egress keeps working through %s", src.Name, gref.NetworkName(network), nat.Why), false, judged, nil
	}
	lost := "the internet (public APIs, webhooks, package registries)"
	switch {
	case subnet == "":
		lost += " and, unless Private Google Access is on for the connector's range, Google APIs"
		judged = append(judged, "Private Google Access: the connector's subnet is not known")
	default:
		sp, sr, sn := gref.SplitSubnetwork(gref.Subnetwork(subnet, subnetProject, region))
		if s, serr := env.Inv.Subnetwork(ctx, sp, sr, sn); serr != nil {
			return "", false, judged, fmt.Errorf("subnet %s could not be read (%v)", sn, serr)
		} else if !s.PrivateIpGoogleAccess {
			lost += " and Google APIs (Private Google Access is off on subnet " + sn + ")"
			judged = append(judged, "Private Google Access on subnet "+sn+": off")
		} else {
			judged = append(judged, "Private Google Access on subnet "+sn+": on")
		}
	}
	return fmt.Sprintf("all outbound traffic of %s then goes through network %s, where %s: %s stops working for it. Add Cloud NAT first (gcloud compute routers nats create) unless that is what you want",
		src.Name, gref.NetworkName(network), nat.Why, lost), true, judged, nil
}

// decideVPCAccess: each client has VPC access into the cluster's network, with egress that sends the
// target's address through it.
func (r *reachRun) decideVPCAccess(ctx context.Context, t *target, cnl *couldNotLook) *verdict {
	v := &verdict{T: t}
	for _, src := range r.f.sourcesOf(t) {
		eg := r.eg.finding(src)
		if eg == nil {
			continue
		}
		switch {
		case eg.Cause == "no-vpc-access" && !eg.NetworkMismatch:
			v.Status, v.Cause, v.Dep, v.Src = Fail, "no-vpc-access", "run-vpc-egress", src
			v.Summary = eg.Summary
			v.Plans = append(v.Plans, vpcAccessAdvice(src, r.f.Cluster))
			return v
		case eg.Cause == "egress-private-ranges-only" && containsTarget(eg.Offending, t):
			v.Status, v.Cause, v.Dep, v.Src = Fail, "egress-private-ranges-only", "run-vpc-egress", src
			v.Summary = fmt.Sprintf("%s has egress %s, so its packets to %s (%s, outside %s) go to the internet instead of the VPC", sourceLabel(src), src.EffectiveEgress(), t.addrPort(), t.Class, src.privateRangesText())
			if src.Kind == KindAppEngine {
				v.Plans = append(v.Plans, appEngineEgressAdvice(src))
			} else {
				v.Plans = append(v.Plans, runEgressPlan(ctx, r.env, src))
			}
			return v
		case eg.NetworkMismatch:
			v.Status, v.Cause, v.Dep, v.Src = Fail, "no-vpc-access", "run-vpc-egress", src
			v.Summary = eg.Summary
			v.Plans = append(v.Plans, networkAdvice(src, eg, r.f.Cluster))
			return v
		case eg.Status == Skip:
			cnl.add(eg.Err)
		}
	}
	return nil
}

// decideConnector: the connector each client uses is READY.
func (r *reachRun) decideConnector(_ context.Context, t *target, cnl *couldNotLook) *verdict {
	v := &verdict{T: t}
	for _, src := range r.f.sourcesOf(t) {
		if src.Connector == "" {
			continue
		}
		c := r.conn.finding(src)
		if c == nil {
			continue
		}
		switch c.Status {
		case Fail, Warn:
			v.Status, v.Cause, v.Dep, v.Src = c.Status, c.Cause, "vpc-connector-ready", src
			v.Summary = c.Summary
			if c.FirewallPlan != nil {
				v.Plans = append(v.Plans, c.FirewallPlan)
			} else if p := connectorPlan(c, usersOf(r.f, src.Connector)); p != nil {
				v.Plans = append(v.Plans, p)
			}
			return v
		case Skip:
			cnl.add(c.Err)
		}
	}
	return nil
}

// decidePass: no cause confirmed. A pass only when every aspect could be looked at.
func (r *reachRun) decidePass(t *target, cnl *couldNotLook) *verdict {
	v := &verdict{T: t}
	srcs := r.f.sourcesOf(t)
	if len(cnl.errs) > 0 {
		v.Status, v.Err = Skip, cnl.errs[0]
		return v
	}
	if r.f.RunErr != nil && (len(srcs) == 0 || t.Dest.Source == "") {
		// A --service target is called by every client, and a project's clients could not be
		// listed: whether they reach it is unknown.
		v.Status, v.Err, v.Dep = Skip, r.f.RunErr, "run-vpc-egress"
		return v
	}
	ref := t.Svc.Namespace + "/" + t.Svc.Name
	v.Status = Pass
	switch l := t.viaL7(); {
	case t.usesILB():
		v.Summary = fmt.Sprintf("%s reaches %s at %s through the internal load balancer %s/%s", r.who(t), ref, t.addrPort(), t.ILB.Namespace, t.ILB.Name)
	case t.headless():
		v.Summary = fmt.Sprintf("%s reaches the pods of the headless %s directly at their pod IPs (pod range %s, VPC-native) on port %d", r.who(t), ref, prefixOr(r.f.Cluster.PodCIDR), t.Port)
	case l != nil:
		v.Summary = fmt.Sprintf("%s reaches %s at %s through %s (internal Application Load Balancer, class %s)", r.who(t), ref, t.addrPort(), l.Ref(), l.Class)
	default:
		v.Summary = fmt.Sprintf("%s reaches %s at %s", r.who(t), ref, t.addrPort())
	}
	if len(srcs) == 0 {
		v.Summary += "; no VPC client was named, so egress, connector and firewall were not checked (name one with --cloud-run-service)"
	}
	return v
}

func containsTarget(ts []*target, t *target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// who names the clients of t.
func (r *reachRun) who(t *target) string {
	srcs := r.f.sourcesOf(t)
	if len(srcs) == 0 {
		return "the client"
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.KindLabel()+" "+s.Name)
	}
	return strings.Join(names, ", ")
}

// uses says how the client addresses the Service.
func (r *reachRun) uses(t *target) string {
	switch t.Dest.Kind {
	case TargetClusterDNS:
		return "by the cluster name " + t.Dest.Host + ", which at best resolves to the ClusterIP"
	case TargetClusterIP:
		return "the ClusterIP"
	case TargetFlag:
		return "named with --service"
	case TargetZoneName:
		return "by the name " + t.Dest.Host + " (" + t.Dest.Via + ")"
	}
	return t.Class
}

// ilbPlan builds the NAME-ilb fix for t's Service.
func (r *reachRun) ilbPlan(ctx context.Context, t *target) *fixes.Plan {
	svc := t.Svc
	if len(svc.Spec.Selector) == 0 {
		return (&fixes.Plan{ID: "create-internal-lb/" + svc.Namespace + "/" + svc.Name, Advice: true,
			Title: fmt.Sprintf("Expose %s/%s on an internal load balancer (by hand: it has no selector)", svc.Namespace, svc.Name),
			Description: "The Service has no selector (its endpoints are managed by hand), so a sibling LoadBalancer Service would have no endpoints. " +
				"Make the Service itself type LoadBalancer with the internal annotation, or give the sibling matching endpoints.",
			Commands: []string{fmt.Sprintf("kubectl annotate service %s -n %s %s=Internal", svc.Name, svc.Namespace, model.AnnotationLBType),
				fmt.Sprintf("kubectl patch service %s -n %s -p '{\"spec\":{\"type\":\"LoadBalancer\"}}'", svc.Name, svc.Namespace)}}).Judge(
			[]string{selectedPods(ctx, r.env, svc), "every client of the Service, if it is made type LoadBalancer in place"})
	}
	legacy, why := r.legacyAnnotation(ctx)
	global := false
	for _, s := range r.f.sourcesOf(t) {
		if sr := gref.Region(s.Location); sr != "" && r.f.Cluster.Region != "" && sr != r.f.Cluster.Region {
			global = true
			why += fmt.Sprintf(" Global access is on because %s runs in %s and the cluster in %s.", s.Name, sr, r.f.Cluster.Region)
		}
	}
	wait, poll := r.env.Waits.ilb()
	p := fixes.NewInternalLBPlan(r.env.FixDeps, fixes.InternalLB{Original: svc, Legacy: legacy, GlobalAccess: global, Why: strings.TrimSpace(why), WaitTimeout: wait, PollInterval: poll})
	p.JudgedAgainst = append([]string{selectedPods(ctx, r.env, svc)}, p.JudgedAgainst...)
	return p
}

// selectedPods says how many pods a Service's endpoints hold (what a new LB in front of it reaches).
func selectedPods(ctx context.Context, env *Env, svc *corev1.Service) string {
	slices, err := env.Inv.EndpointSlices(ctx, svc.Namespace, svc.Name)
	if err != nil {
		return fmt.Sprintf("Service %s/%s's endpoints could not be read (needs list on endpointslices in %s): how many pods it selects is unknown", svc.Namespace, svc.Name, svc.Namespace)
	}
	ready, all := 0, 0
	for _, s := range slices {
		for _, e := range s.Endpoints {
			all++
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	return fmt.Sprintf("Service %s/%s selects %d pod(s), %d ready", svc.Namespace, svc.Name, all, ready)
}

// legacyAnnotation decides the ILB annotation key: cloud.google.com/… before GKE 1.17.
func (r *reachRun) legacyAnnotation(ctx context.Context) (bool, string) {
	v, from := r.f.Cluster.MasterVersion, "the cluster's currentMasterVersion"
	if v == "" {
		if sv, err := r.env.Inv.ServerVersion(ctx); err == nil {
			v, from = sv.GitVersion, "the API server's version"
		}
	}
	maj, min, ok := parseMinor(v)
	switch {
	case !ok:
		return false, "The cluster version is unknown, so the current annotation key is used (it works on every supported GKE version)."
	case maj == 1 && min < 17:
		return true, fmt.Sprintf("The legacy annotation %s is used because %s is %s (< 1.17).", model.AnnotationLBTypeLegacy, from, v)
	}
	return false, ""
}

// parseMinor reads MAJOR.MINOR from "1.33.5-gke.1308000" or "v1.36.3".
func parseMinor(v string) (int, int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	maj, err1 := strconv.Atoi(parts[0])
	minS := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	min, err2 := strconv.Atoi(minS)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return maj, min, true
}

func replaceHost(raw, ip string, port int) string {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("http://%s:%d", ip, port)
	}
	u.Host = fmt.Sprintf("%s:%d", ip, port)
	return u.String()
}

func globalAccessAdvice(t *target) *fixes.Plan {
	return &fixes.Plan{
		ID:    "ilb-global-access/" + t.ILB.Namespace + "/" + t.ILB.Name,
		Title: fmt.Sprintf("Turn on global access for the internal load balancer %s/%s", t.ILB.Namespace, t.ILB.Name),
		Description: "An internal passthrough load balancer only accepts clients from its own region unless global access is on. " +
			"The annotation makes GKE set allowGlobalAccess on the forwarding rule; undo by removing it. Alternatively run the client in the cluster's region.",
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("every client of load balancer %s/%s: with global access, any region of the network (and of networks peered or connected to it) can reach it", t.ILB.Namespace, t.ILB.Name)},
		Commands: []string{fmt.Sprintf("kubectl annotate service %s -n %s %s=true", t.ILB.Name, t.ILB.Namespace, model.AnnotationGlobalAccess),
			fmt.Sprintf("kubectl annotate service %s -n %s %s-   # undo", t.ILB.Name, t.ILB.Namespace, model.AnnotationGlobalAccess)},
	}
}

func vpcAccessAdvice(src *Source, cf *model.Cluster) *fixes.Plan {
	if src.Kind == KindAppEngine {
		return appEngineConnectorAdvice(src, cf, "vpc-access")
	}
	subnet := "SUBNET"
	if cf.Subnetwork != "" {
		subnet = gref.ShortName(cf.Subnetwork)
	}
	return &fixes.Plan{
		ID:    "vpc-access/" + src.Location + "/" + src.Name,
		Title: fmt.Sprintf("Give Cloud Run %s VPC access into the cluster's network", src.Name),
		Description: "Without a connector or Direct VPC egress the service cannot reach any internal address. Direct VPC egress into the cluster's network " +
			"(or a Serverless VPC Access connector in the same region) deploys a new revision; undo with --clear-network / --clear-vpc-connector.",
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("every new revision of Cloud Run %s: its private-range egress goes into network %s (subnet %s)", src.Name, orPlaceholder(cf.NetworkName(), "NETWORK"), subnet)},
		Commands: []string{
			fmt.Sprintf("gcloud run services update %s --region %s --project %s --network %s --subnet %s --vpc-egress=private-ranges-only", src.Name, src.Location, gref.ProjectOf(src.FullName), orPlaceholder(cf.NetworkName(), "NETWORK"), subnet),
			fmt.Sprintf("gcloud run services update %s --region %s --project %s --vpc-connector CONNECTOR --vpc-egress=private-ranges-only   # or, with a connector", src.Name, src.Location, gref.ProjectOf(src.FullName)),
		},
	}
}

func networkAdvice(src *Source, eg *egressFinding, cf *model.Cluster) *fixes.Plan {
	if src.Kind == KindAppEngine {
		return appEngineConnectorAdvice(src, cf, "vpc-network")
	}
	return &fixes.Plan{
		ID:    "vpc-network/" + src.Location + "/" + src.Name,
		Title: fmt.Sprintf("Connect Cloud Run %s to the cluster's network %s", src.Name, cf.Network),
		Description: fmt.Sprintf("%s lands in %s, not in the cluster's network. Use a connector or Direct VPC egress in %s, or peer the two networks "+
			"(peering is VPC-wide: decide it with the network's owner).", src.Name, eg.Network, cf.Network),
		Advice: true, VPCWide: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("every new revision of Cloud Run %s (its egress leaves network %s)", src.Name, eg.Network),
			fmt.Sprintf("a peering would join every subnet and custom route of %s and %s", eg.Network, cf.Network)},
		Commands: []string{fmt.Sprintf("gcloud run services update %s --region %s --project %s --network %s --subnet SUBNET --vpc-egress=private-ranges-only",
			src.Name, src.Location, gref.ProjectOf(src.FullName), cf.NetworkName())},
	}
}

// record writes one target's evidence: what it is, how it classifies, and the verdict.
func (r *reachRun) record(rec *Recorder, v *verdict) {
	t := v.T
	what := fmt.Sprintf("target %s (%s)", t.Ref(), t.Dest.From)
	detail := fmt.Sprintf("%s:%d → %s", t.Dest.Host, t.Dest.Port, t.Class)
	if t.Addr.IsValid() && t.Addr.String() != t.Dest.Host {
		detail += fmt.Sprintf("; packets go to %s", t.addrPort())
	}
	if t.Dest.Kind == TargetClusterDNS && t.LBIP != "" {
		detail += fmt.Sprintf("; the name must resolve to %s from the VPC (dns-servfail and dns-stale-record check that)", t.LBIP)
	}
	cmd := ""
	if t.Svc != nil {
		cmd = kubectlSvc(t.Svc.Namespace, t.Svc.Name)
	}
	rec.Step(what, Pass, detail, cmd)
	st := v.Status
	sum := v.Summary
	if v.Err != nil {
		sum = "could not confirm: " + v.Err.Error()
	}
	label := "verdict for " + t.Ref()
	if v.Cause != "" {
		label += " (" + v.Cause + ")"
	}
	rec.Step(label, st, sum, "")
}

// probe connects to each judged target where the tool can reach the VPC, and compares.
func (r *reachRun) probe(ctx context.Context, rec *Recorder, vs []*verdict) {
	env := r.env
	if !env.CanProbeVPC() || env.Where == InCluster {
		why := "live connections are off in this run"
		switch {
		case env.Where == InCluster:
			why = "the tool runs inside the cluster, where a ClusterIP answers even when the VPC cannot reach it"
		case env.Where == Laptop:
			why = "the tool runs on a laptop, outside the VPC, so it cannot connect to internal addresses"
		}
		rec.Step("live TCP probe", Skip, "verdict from configuration: "+why, "")
		return
	}
	// Probe every target at once: a dropped SYN costs the whole timeout.
	results := make([]probe.TCPResult, len(vs))
	var wg sync.WaitGroup
	for i, v := range vs {
		t := v.T
		if v.Skipped || v.Status == Skip || !t.Addr.IsValid() || t.Port == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
			defer cancel()
			results[i] = probe.TCP(pctx, env.Dialer, t.addrPort())
		}()
	}
	wg.Wait()
	for i, v := range vs {
		t := v.T
		res := results[i]
		if res.Addr == "" {
			continue
		}
		predicted := "reachable"
		if v.Status == Fail {
			predicted = "unreachable"
		}
		observed := string(res.Outcome)
		detail := fmt.Sprintf("from %s: predicted %s, observed %s in %s", env.Where, predicted, observed, res.Duration.Round(time.Millisecond))
		switch {
		case res.OK && (v.Status == Pass || v.Cause == "client-calls-cluster-name"), !res.OK && v.Status == Fail:
			rec.Step("live TCP probe "+t.addrPort(), Pass, detail+" (confirms the verdict)", res.Command())
		case res.OK:
			rec.Step("live TCP probe "+t.addrPort(), Warn, detail+": this host reaches it, but its source address and path differ from the client's; the verdict stands", res.Command())
		default:
			rec.Step("live TCP probe "+t.addrPort(), Warn, detail+": the configuration predicts it works, but the connection failed", res.Command())
			if v.Status == Pass || v.Cause == "client-calls-cluster-name" {
				v.Status, v.Cause = Warn, "live-probe-failed"
				v.Summary = fmt.Sprintf("the configuration says %s reaches %s, but a TCP connect to %s from %s failed (%s)", r.who(t), t.Ref(), t.addrPort(), env.Where, observed)
			}
		}
	}
}

// combine turns the verdicts into the result: the worst status, the first cause in §1 order, the
// fixes of every target that needs one, and the path of the reported target.
func (r *reachRun) combine(rec *Recorder, vs []*verdict) Result {
	rank := map[Status]int{Fail: 4, Warn: 3, Skip: 2, Pass: 1}
	var judged []*verdict
	for _, v := range vs {
		if !v.Skipped {
			judged = append(judged, v)
		}
	}
	if len(judged) == 0 {
		var why []string
		for _, v := range vs {
			why = append(why, v.Summary)
		}
		return SkipResult("not-applicable", "not applicable: no target is a Service of this cluster: "+strings.Join(why, "; "))
	}
	sort.SliceStable(judged, func(i, j int) bool {
		a, b := judged[i], judged[j]
		if rank[a.Status] != rank[b.Status] {
			return rank[a.Status] > rank[b.Status]
		}
		return causeRank(a.Cause) < causeRank(b.Cause)
	})
	top := judged[0]
	var res Result
	switch top.Status {
	case Pass:
		var sums []string
		for _, v := range judged {
			sums = append(sums, v.Summary)
		}
		res = PassResult(JoinSummaries(sums))
	case Skip:
		res = FromErr("confirm the path to "+top.T.Ref(), top.Err)
		if res.Status != Skip {
			res.Status = Skip
		}
	default:
		var sums []string
		seen := map[string]bool{}
		for _, v := range judged {
			if v.Status == top.Status && !seen[v.Summary] {
				seen[v.Summary] = true
				sums = append(sums, v.Summary)
			}
		}
		res = Result{Status: top.Status, Cause: top.Cause, Summary: JoinSummaries(sums)}
	}
	// Fixes: every target's, ILB creations first, each once.
	seen := map[string]bool{}
	for _, v := range judged {
		if v.Status != Fail && v.Status != Warn {
			continue
		}
		for _, p := range v.Plans {
			if p != nil && !seen[p.ID] {
				seen[p.ID] = true
				res.Fixes = append(res.Fixes, p)
			}
		}
	}
	sort.SliceStable(res.Fixes, func(i, j int) bool { return res.Fixes[i].Advice != res.Fixes[j].Advice && !res.Fixes[i].Advice })
	// The evidence of the supporting check behind the reported cause.
	if top.Dep != "" && top.Status != Pass {
		for _, e := range r.deps[top.Dep].Evidence {
			if e.Step == "fix" {
				continue // the pointer back to this check
			}
			rec.Step("["+top.Dep+"] "+e.Step, e.Status, e.Detail, e.Command)
		}
	}
	res.Path = r.pathOf(top)
	return res
}

// pathOf renders source → connector / Direct VPC → network → IP:port → Service.
func (r *reachRun) pathOf(v *verdict) []string {
	t := v.T
	var hops []string
	src := v.Src
	if src == nil {
		if srcs := r.f.sourcesOf(t); len(srcs) > 0 {
			src = srcs[0]
		}
	}
	if src != nil {
		hops = append(hops, sourceLabel(src))
		switch {
		case src.Connector != "":
			h := "connector " + gref.ShortName(src.Connector)
			if c := r.conn.finding(src); c != nil && c.Connector != nil {
				h += fmt.Sprintf(" (%s, %s)", orPlaceholder(c.Connector.IpCidrRange, "subnet"), c.Connector.State)
			}
			hops = append(hops, h+", egress "+src.EffectiveEgress())
		case src.DirectVPC != nil:
			hops = append(hops, "Direct VPC egress (subnet "+orPlaceholder(gref.ShortName(src.DirectVPC.Subnetwork), "?")+"), egress "+src.EffectiveEgress())
		default:
			hops = append(hops, "no VPC access")
		}
	} else {
		hops = append(hops, "VPC client")
	}
	if n := r.f.Cluster.Network; n != "" {
		hops = append(hops, "network "+n)
	}
	kind := t.Class
	switch {
	case t.usesILB():
		kind = "internal LB " + t.ILB.Namespace + "/" + t.ILB.Name
	case t.isClusterIPAddr(r.f.Model):
		kind = "ClusterIP"
	}
	hops = append(hops, t.addrPort()+" ("+kind+")")
	if t.Svc != nil {
		hops = append(hops, "Service "+t.Svc.Namespace+"/"+t.Svc.Name)
	}
	return hops
}
