package checks

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// firewall-serverless-to-nodes: an ingress allow rule lets the client's source range (the connector's
// /28, or the Direct VPC subnet) reach the GKE nodes on the Service port, with no higher-priority deny.
// Packets through an internal passthrough load balancer reach the nodes with the client's source
// address, so this is the rule that matters. The rules are evaluated by internal/firewall (priorities,
// deny-wins ties, tags, service accounts, ranges), never by name.
//
// Which instances are "the nodes": the node pools' network tags and service accounts (container API,
// nodePools[].config) plus GKE's own node tag, read from the rules GKE creates for the cluster
// (gke-CLUSTER-HASH-all/-vms/-master, whose targetTags hold gke-CLUSTER-HASH-node). The instances
// themselves (compute instances.get) are not read: the node pools and those rules say the same thing
// without another permission, and the test server serves them too.

func init() {
	Register(CheckFunc{CheckID: "firewall-serverless-to-nodes", Fn: runFirewallServerlessToNodes})
}

func runFirewallServerlessToNodes(ctx context.Context, env *Env, rec *Recorder) Result {
	a, err := analyseFirewall(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(a.Findings) == 0 {
		if len(a.Facts.Path.Sources) == 0 {
			return noSourceResult(a.Facts)
		}
		return SkipResult("not-applicable", "not applicable: no Cloud Run or App Engine source with VPC access calls a Service of this cluster, so there is no source range and port to evaluate")
	}
	r := combineFindings(rec, a.Findings, func(fd *fwFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		return fmt.Sprintf("the firewall lets every client range reach the nodes on the Service port(s) (%d path(s) evaluated)", n)
	})
	fixHint(rec, r)
	// Advice only here (the applicable fix is offered by clusterip-unreachable, once per cause).
	for _, fd := range a.Findings {
		if fd.Status != Fail || a.Nodes == nil {
			continue
		}
		// Advice is listed here too (a host project's rule, a deny to review): nothing is applied
		// twice, and the network team's request is there from the first run.
		if p := firewallPlan(ctx, env, a, fd, ""); fd.denied() || p.Advice {
			r.Fixes = append(r.Fixes, p)
		}
	}
	return r
}

// Serverless VPC Access gives every connector two network tags: vpc-connector and
// vpc-connector-REGION-NAME (Serverless VPC Access docs, "network tags"). Rules may allow by them.
const connectorTag = "vpc-connector"

type nodePool struct {
	Name            string
	Tags            []string
	ServiceAccounts []string
}

type nodeTargets struct {
	Pools  []nodePool
	GKETag string // gke-CLUSTER-HASH-node, from GKE's own rules
	Known  bool   // some network tag of the nodes is known
	From   string // where the tags came from, for the evidence
}

type fwFinding struct {
	Src      *Source
	Port     int
	Protocol string
	Targets  []*target
	Range    netip.Prefix
	Peer     firewall.Endpoint
	Verdicts map[string]firewall.Verdict // per node pool
	Status   Status
	Cause    string
	Summary  string
	Evidence []Evidence
	Err      error
	// Deny is the non-implied deny rule (VPC rule or firewall-policy rule) that blocks; zero when
	// nothing matched. Egress says it blocks on the source's side, before the packet leaves.
	Deny   firewall.Rule
	Egress bool
	// Set is what the VPC enforces on the cluster's network (VPC rules and firewall policies).
	Set firewall.Set
}

// denied reports whether a rule (not the implied deny) blocks the path.
func (fd *fwFinding) denied() bool { return fd.Deny.Name != "" || fd.Deny.IsPolicy() }

type fwAnalysis struct {
	Facts    *reachFacts
	Nodes    *nodeTargets
	Findings []*fwFinding
}

func (a *fwAnalysis) findingFor(s *Source, port int, proto string) *fwFinding {
	for _, f := range a.Findings {
		if f.Src.Name == s.Name && f.Port == port && f.Protocol == proto {
			return f
		}
	}
	return nil
}

var firewallSlot = inventory.NewSlot[*fwAnalysis]("firewall-serverless-to-nodes")

func analyseFirewall(ctx context.Context, env *Env) (*fwAnalysis, error) {
	return inventory.Derive(ctx, env.Inv, firewallSlot, func(ctx context.Context) (*fwAnalysis, error) {
		warmNetwork(ctx, env) // the firewall is read beside the Service list
		f, err := getReachFacts(ctx, env)
		if err != nil {
			return nil, err
		}
		a := &fwAnalysis{Facts: f}
		type key struct {
			src   string
			port  int
			proto string
		}
		var order []key
		groups := map[key]*fwFinding{}
		for i := range f.Path.Sources {
			src := &f.Path.Sources[i]
			if !src.HasVPCAccess() {
				continue // run-vpc-egress reports it; there is no source range to evaluate
			}
			for _, t := range f.targetsOf(src) {
				if t.Svc == nil || t.Port == 0 || t.Svc.Spec.Type == corev1.ServiceTypeExternalName || (t.ILB == nil && t.viaL7() != nil) || t.overInternet(f.Model) {
					// Behind an internal Gateway or Ingress the proxies, not the client, reach the
					// nodes; an external load balancer's public address is reached over the internet.
					continue
				}
				k := key{src.Name, t.Port, t.Protocol}
				if groups[k] == nil {
					groups[k] = &fwFinding{Src: src, Port: t.Port, Protocol: t.Protocol}
					order = append(order, k)
				}
				groups[k].Targets = append(groups[k].Targets, t)
			}
		}
		if len(order) == 0 {
			return a, nil
		}
		var in fwInputs
		if f.ClusterErr == nil {
			cf := f.Cluster
			in.set, in.setErr = env.Inv.FirewallSet(ctx, cf.NetworkProject, cf.Network, cf.Region)
			if in.setErr == nil {
				a.Nodes = nodeTargetsOf(f, in.set.Rules, env.Inv.Scope.Project)
			}
		}
		for _, k := range order {
			fd := groups[k]
			a.Findings = append(a.Findings, fd)
			firewallFor(ctx, env, f, a.Nodes, in, fd)
		}
		return a, nil
	})
}

var defaultComputeSA = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+-compute@developer\.gserviceaccount\.com$`) })

func nodeTargetsOf(f *reachFacts, rules []firewall.Rule, clusterProject string) *nodeTargets {
	nt := &nodeTargets{}
	c := f.Cluster
	prefix := "gke-" + truncate(c.Short, 20)
	tags := map[string]bool{}
	for _, r := range rules {
		if !strings.HasPrefix(r.Name, prefix) || !gref.SameNetwork(r.Network, c.Network, c.NetworkProject) {
			continue
		}
		for _, t := range r.TargetTags {
			if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, "-node") {
				tags[t] = true
			}
		}
	}
	if len(tags) > 0 {
		var ts []string
		for t := range tags {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		nt.GKETag = ts[0]
		nt.From = "GKE node tag " + strings.Join(ts, ", ") + " (from the cluster's gke-* firewall rules)"
	}
	// The default compute service account, as rules name it (the node pools say "default"). Only
	// when the rules are in the cluster's own project: a Shared VPC host's rules may name another
	// project's default account.
	var defaultSAs []string
	for _, r := range rules {
		if f.Cluster.NetworkProject != clusterProject {
			break
		}
		for _, sa := range r.TargetServiceAccounts {
			if defaultComputeSA().MatchString(sa) {
				defaultSAs = append(defaultSAs, sa)
			}
		}
	}
	for _, pool := range c.NodePools {
		p := nodePool{Name: pool.Name}
		for t := range tags {
			p.Tags = append(p.Tags, t)
		}
		if pool.Configured {
			p.Tags = append(p.Tags, pool.Tags...)
			if pool.DefaultServiceAccount() {
				p.ServiceAccounts = append(p.ServiceAccounts, defaultSAs...)
			} else {
				p.ServiceAccounts = append(p.ServiceAccounts, pool.ServiceAccount)
			}
			if len(pool.Tags) > 0 {
				if nt.From != "" {
					nt.From += "; "
				}
				nt.From += fmt.Sprintf("node pool %s tags %s", pool.Name, strings.Join(pool.Tags, ","))
			}
		}
		sort.Strings(p.Tags)
		if len(p.Tags) > 0 {
			nt.Known = true
		}
		nt.Pools = append(nt.Pools, p)
	}
	return nt
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sourceRange returns the addresses the source's packets come from, and its network tags.
func sourceRange(ctx context.Context, env *Env, src *Source) (netip.Prefix, firewall.Endpoint, string, error) {
	var ep firewall.Endpoint
	if src.Connector != "" {
		c, err := env.Inv.Connector(ctx, src.Connector)
		if err != nil {
			return netip.Prefix{}, ep, "", err
		}
		loc := gref.LocationOf(src.Connector)
		ep.Tags = []string{connectorTag, "vpc-connector-" + loc + "-" + gref.ShortName(src.Connector)}
		if c.IpCidrRange != "" {
			pr, err := netip.ParsePrefix(c.IpCidrRange)
			if err != nil {
				return netip.Prefix{}, ep, "", fmt.Errorf("connector %s has an unreadable ipCidrRange %q", gref.ShortName(src.Connector), c.IpCidrRange)
			}
			ep.Ranges = []netip.Prefix{pr.Masked()}
			return pr.Masked(), ep, "connector " + gref.ShortName(src.Connector) + " range " + pr.Masked().String(), nil
		}
		if c.Subnet != nil && c.Subnet.Name != "" {
			proj := c.Subnet.ProjectId
			if proj == "" {
				proj = gref.ProjectOf(src.Connector)
			}
			return subnetRange(ctx, env, proj, gref.Region(loc), c.Subnet.Name, ep, "connector "+gref.ShortName(src.Connector)+" subnet ")
		}
		return netip.Prefix{}, ep, "", fmt.Errorf("connector %s has neither an ipCidrRange nor a subnet", gref.ShortName(src.Connector))
	}
	if src.DirectVPC != nil {
		ep.Tags = src.DirectVPC.Tags
		sub := src.DirectVPC.Subnetwork
		if sub == "" {
			return netip.Prefix{}, ep, "", fmt.Errorf("Direct VPC egress of %s names no subnetwork, so its source range is unknown", src.Name)
		}
		proj, region, name := gref.SplitSubnetwork(sub)
		if proj == "" {
			proj = src.ProjectID()
		}
		if region == "" {
			region = gref.Region(src.Location)
		}
		pr, ep, from, err := subnetRange(ctx, env, proj, region, name, ep, "Direct VPC subnet ")
		if err == nil && len(ep.Tags) > 0 {
			from += ", network tags " + strings.Join(ep.Tags, ",")
		}
		return pr, ep, from, err
	}
	return netip.Prefix{}, ep, "", nil
}

func subnetRange(ctx context.Context, env *Env, project, region, name string, ep firewall.Endpoint, label string) (netip.Prefix, firewall.Endpoint, string, error) {
	sn, err := env.Inv.Subnetwork(ctx, project, region, name)
	if err != nil {
		return netip.Prefix{}, ep, "", err
	}
	pr, err := netip.ParsePrefix(sn.IpCidrRange)
	if err != nil {
		return netip.Prefix{}, ep, "", fmt.Errorf("subnetwork %s has an unreadable ipCidrRange %q", name, sn.IpCidrRange)
	}
	ep.Ranges = []netip.Prefix{pr.Masked()}
	return pr.Masked(), ep, label + name + " range " + pr.Masked().String(), nil
}

func fwListCommand(cf *model.Cluster) string {
	return fmt.Sprintf("gcloud compute firewall-rules list --project %s --filter='network~/%s$ AND direction=INGRESS' --sort-by=priority --format='table(name,priority,sourceRanges.list(),sourceTags.list(),targetTags.list(),allowed[].map().firewall_rule().list(),denied[].map().firewall_rule().list(),disabled)'",
		orPlaceholder(cf.NetworkProject, "PROJECT"), orPlaceholder(cf.NetworkName(), "NETWORK"))
}

// fwInputs are the firewall facts of the cluster's network: its VPC rules (GKE's node tag comes from
// them) and everything the VPC enforces there (VPC rules and firewall policies, in order).
type fwInputs struct {
	set    firewall.Set
	setErr error
}

// firewallFor decides one path (source, protocol, port) to the nodes, in order:
//  1. the cluster's network and nodes must be known, and what the VPC enforces there readable (VPC
//     rules and firewall policies through getEffectiveFirewalls): otherwise skip, naming what is
//     missing — never a pass on rules we could not read;
//  2. the source's addresses and tags (the connector's /28 or the Direct VPC subnet);
//  3. egress on the source's network: a deny there (a VPC egress rule or a policy rule) drops the
//     packet before it leaves;
//  4. ingress to each node pool: the deciding rule or policy rule; a rule that depends on what
//     gkedoctor cannot resolve (secure tags) makes it a warning naming them;
//  5. the verdict, naming the deciding rule and, for a policy, the policy and its priority.
func firewallFor(ctx context.Context, env *Env, f *reachFacts, nt *nodeTargets, in fwInputs, fd *fwFinding) {
	step := func(st Status, s, detail, cmd string) {
		fd.Evidence = append(fd.Evidence, Evidence{Step: s, Status: st, Detail: detail, Command: cmd})
	}
	label := sourceLabel(fd.Src)
	what := fmt.Sprintf("%s:%d from %s", fd.Protocol, fd.Port, label)
	skip := func(err error, s, cmd string) {
		fd.Status, fd.Err = Skip, err
		r := FromErr("evaluate the firewall for "+what, err)
		fd.Cause, fd.Summary = r.Cause, r.Summary
		step(Skip, s, err.Error(), cmd)
	}
	cf := f.Cluster
	// 1. The cluster's network and what the VPC enforces there.
	switch {
	case f.ClusterErr != nil:
		skip(f.ClusterErr, "network and nodes of the cluster", clusterCommand(env))
		return
	case in.setErr != nil:
		skip(in.setErr, "firewall policies and rules in effect on "+cf.Network, effectiveFirewallsCommand(cf.Network))
		return
	}
	fd.Set = in.set
	summary := firewallSetSummary(in.set)
	if cf.NetworkProject != "" && cf.NetworkProject != env.Inv.Scope.Project {
		summary += fmt.Sprintf(" (read from the Shared VPC host project %s, which owns the network; a firewall fix there is applied only when testIamPermissions says you hold %s, else it is advice for its network team)", cf.NetworkProject, fixes.FirewallCreatePermission)
	}
	step(Pass, "firewall in effect on "+cf.NetworkName(), summary, effectiveFirewallsCommand(cf.Network))
	// 2. The source.
	pr, ep, from, err := sourceRange(ctx, env, fd.Src)
	if err != nil {
		skip(err, "source range of "+label, connectorDescribe(fd.Src))
		return
	}
	fd.Range, fd.Peer = pr, ep
	step(Pass, "source of "+label, from+" (packets through an internal passthrough load balancer keep this source address)", connectorOrSubnetCommand(fd.Src))
	// 3. Egress on the source's side.
	if done := firewallEgress(ctx, env, f, fd, step, skip); done {
		return
	}
	// 4. Ingress to each node pool.
	nodesDetail := nt.From
	if nodesDetail == "" {
		nodesDetail = "no network tag of the nodes is known (no node pool tags, no GKE firewall rules for the cluster): only rules without target tags can be matched"
	}
	st := Pass
	if !nt.Known {
		st = Warn
	}
	step(st, "node targets", nodesDetail, clusterCommand(env))
	fd.Verdicts = map[string]firewall.Verdict{}
	var blocked, unknown []string
	var unresolved []string
	for _, pool := range nt.Pools {
		v := firewall.EvaluateSet(in.set, fwIngressPacket(cf, fd, pool))
		fd.Verdicts[pool.Name] = v
		s := fmt.Sprintf("firewall %s → node pool %s", what, pool.Name)
		switch {
		case v.Allowed:
			step(Pass, s, "allowed by "+v.Deciding().String(), fwListCommand(cf))
		case len(v.Blocked()) == 0 && v.Unknown:
			unknown = append(unknown, pool.Name)
			unresolved = append(unresolved, v.Unresolved...)
			step(Warn, s, firewall.Describe(v), effectiveFirewallsCommand(cf.Network))
		default:
			blocked = append(blocked, pool.Name)
			step(Fail, s, fwSegments(fd, v), fwListCommand(cf))
		}
	}
	// 5. The verdict.
	var refs []string
	for _, t := range fd.Targets {
		refs = append(refs, t.Ref())
	}
	switch {
	case len(blocked) == 0 && len(unknown) == 0:
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("%s reaches the nodes on %s:%d (%s)", label, fd.Protocol, fd.Port, ruleLabel(fd.Verdicts[nt.Pools[0].Name].Deciding()))
	case len(blocked) == 0:
		fd.Status, fd.Cause = Warn, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("whether %s reaches node pool(s) %s on %s:%d depends on %s, which gkedoctor cannot resolve", fd.Range, strings.Join(unknown, ", "), fd.Protocol, fd.Port, strings.Join(slices.Compact(slices.Sorted(slices.Values(unresolved))), ", "))
	case !nt.Known:
		fd.Status, fd.Cause = Warn, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("no rule that applies to every instance lets %s reach the nodes on %s:%d, and the nodes' network tags are unknown, so rules by tag could not be matched", fd.Range, fd.Protocol, fd.Port)
	case fd.Deny.IsPolicy():
		fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("%s blocks %s from the nodes on %s:%d (used by %s); a VPC firewall rule cannot override it", fd.Deny.String(), fd.Range, fd.Protocol, fd.Port, strings.Join(refs, ", "))
	case fd.Deny.Name != "":
		fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("the deny rule %s (priority %d) blocks %s from the nodes on %s:%d (used by %s)", fd.Deny.Name, fd.Deny.Priority, fd.Range, fd.Protocol, fd.Port, strings.Join(refs, ", "))
	default:
		fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("no firewall rule lets %s (%s) reach the nodes on %s:%d (used by %s): the implied deny-ingress rule drops it", fd.Range, label, fd.Protocol, fd.Port, strings.Join(refs, ", "))
	}
}

// fwIngressPacket is a packet from the finding's source to one node pool.
func fwIngressPacket(cf *model.Cluster, fd *fwFinding, pool nodePool) firewall.Packet {
	return firewall.Packet{Direction: firewall.Ingress, Network: cf.Network, Protocol: fd.Protocol, Port: fd.Port,
		Instance: firewall.Endpoint{Tags: pool.Tags, ServiceAccounts: pool.ServiceAccounts}, Peer: fd.Peer}
}

// fwSegments explains a blocked verdict segment by segment and records the deny that decides it
// (a shadowing deny first: "the rule exists but loses").
func fwSegments(fd *fwFinding, v firewall.Verdict) string {
	var parts []string
	for _, seg := range v.Segments {
		verb := "allowed by "
		switch {
		case seg.Unknown:
			verb = "unknown (" + strings.Join(seg.Unresolved, ", ") + "): "
		case !seg.Allowed:
			verb = "denied by "
		}
		parts = append(parts, seg.String()+": "+verb+seg.Rule.String())
	}
	if deny, shadowed := v.Shadowing(); len(shadowed) > 0 {
		fd.Deny = deny
		var names []string
		for _, r := range shadowed {
			names = append(names, ruleLabel(r))
		}
		parts = append(parts, fmt.Sprintf("the allow rule(s) %s match but lose to %s (firewall policies are evaluated in order; within one, the lower priority number wins and at equal priority deny wins)", strings.Join(names, ", "), ruleLabel(deny)))
	} else if d := v.Deciding(); !d.Implied && d.Action() == "deny" {
		fd.Deny = d
	}
	return strings.Join(parts, "\n")
}

// firewallEgress evaluates the source side: what the VPC enforces on egress from the client's
// network to each target address. It reports whether the finding is decided (blocked, or could not
// be looked at).
func firewallEgress(ctx context.Context, env *Env, f *reachFacts, fd *fwFinding, step func(Status, string, string, string), skip func(error, string, string)) bool {
	network, _, err := sourceNetwork(ctx, env, fd.Src)
	if err != nil {
		skip(err, "network of "+sourceLabel(fd.Src), connectorDescribe(fd.Src))
		return true
	}
	if network == "" {
		return false // no VPC access: run-vpc-egress reports it
	}
	set := fd.Set
	if network != f.Cluster.Network || gref.Region(fd.Src.Location) != f.Cluster.Region {
		set, err = env.Inv.FirewallSet(ctx, gref.ProjectOf(network), network, gref.Region(fd.Src.Location))
		if err != nil {
			skip(err, "firewall policies and rules in effect on "+network, effectiveFirewallsCommand(network))
			return true
		}
	}
	var dests []netip.Prefix
	for _, t := range fd.Targets {
		if t.Addr.IsValid() {
			dests = append(dests, netip.PrefixFrom(t.Addr, t.Addr.BitLen()))
		}
	}
	if len(dests) == 0 {
		// The addresses depend on DNS (a headless Service's pods, say): egress cannot be evaluated;
		// the evidence says so and ingress decides.
		step(Skip, fmt.Sprintf("egress from %s on %s", sourceLabel(fd.Src), gref.NetworkName(network)),
			"not evaluated: the destination addresses are not known (they depend on DNS)", effectiveFirewallsCommand(network))
		return false
	}
	src := fd.Peer
	v := firewall.EvaluateSet(set, firewall.Packet{Direction: firewall.Egress, Network: network, Protocol: fd.Protocol, Port: fd.Port,
		Instance: firewall.Endpoint{Ranges: src.Ranges, Tags: src.Tags, ServiceAccounts: src.ServiceAccounts}, Peer: firewall.Endpoint{Ranges: dests}})
	s := fmt.Sprintf("egress from %s on %s", sourceLabel(fd.Src), gref.NetworkName(network))
	switch {
	case v.Allowed:
		step(Pass, s, "allowed by "+v.Deciding().String(), effectiveFirewallsCommand(network))
		return false
	case len(v.Blocked()) == 0:
		fd.Status, fd.Cause = Warn, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("whether %s may send %s:%d out of %s depends on %s, which gkedoctor cannot resolve", sourceLabel(fd.Src), fd.Protocol, fd.Port, gref.NetworkName(network), strings.Join(v.Unresolved, ", "))
		step(Warn, s, firewall.Describe(v), effectiveFirewallsCommand(network))
		return true
	}
	b := v.Blocked()[0]
	fd.Deny, fd.Egress = b.Rule, true
	fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
	fd.Summary = fmt.Sprintf("%s drops %s's packets to %s on %s:%d before they leave network %s (an egress deny on the client's side)", ruleLabel(b.Rule), sourceLabel(fd.Src), b.String(), fd.Protocol, fd.Port, gref.NetworkName(network))
	step(Fail, s, firewall.Describe(v), effectiveFirewallsCommand(network))
	return true
}

// ruleLabel names a rule for a summary: a VPC rule by name, a policy rule by policy and priority.
func ruleLabel(r firewall.Rule) string {
	if r.IsPolicy() || r.Implied {
		return r.String()
	}
	return r.Name
}

// firewallSetSummary says in one line what the VPC enforces on a network.
func firewallSetSummary(set firewall.Set) string {
	order := set.Order
	if order == "" {
		order = firewall.AfterClassicFirewall
	}
	var ps []string
	for _, p := range set.Policies {
		ps = append(ps, fmt.Sprintf("%s %q (%d rules)", firewall.PolicyKind(p.Source()), p.Label(), len(p.Rules)))
	}
	if len(ps) == 0 {
		return fmt.Sprintf("%d VPC firewall rule(s); no firewall policy in effect", len(set.Rules))
	}
	return fmt.Sprintf("%d VPC firewall rule(s) and %s; network policies %s", len(set.Rules), strings.Join(ps, ", "), strings.ToLower(strings.ReplaceAll(order, "_", " ")))
}

func effectiveFirewallsCommand(network string) string {
	return fmt.Sprintf("gcloud compute networks get-effective-firewalls %s --project %s", orPlaceholder(gref.NetworkName(network), "NETWORK"), orPlaceholder(gref.ProjectOf(network), "PROJECT"))
}

func connectorOrSubnetCommand(src *Source) string {
	if src.Connector != "" {
		return connectorDescribe(src)
	}
	if src.DirectVPC != nil {
		sp, sr, sn := gref.SplitSubnetwork(src.DirectVPC.Subnetwork)
		return fmt.Sprintf("gcloud compute networks subnets describe %s --region %s --project %s --format='value(ipCidrRange,network)'",
			orPlaceholder(sn, "SUBNET"), orPlaceholder(sr, gref.Region(src.Location)), orPlaceholder(sp, src.ProjectID()))
	}
	return runDescribe(src)
}

// firewallPlan builds the fix for a blocked finding: a new allow rule, or advice when a deny rule
// decides (overriding someone's deny is not this tool's call) or the node tag is unknown.
func firewallPlan(ctx context.Context, env *Env, a *fwAnalysis, fd *fwFinding, manualChange string) *fixes.Plan {
	cf := a.Facts.Cluster
	tag := a.Nodes.GKETag
	if tag == "" {
		// A tag every node pool carries.
		common := map[string]int{}
		for _, p := range a.Nodes.Pools {
			for _, t := range p.Tags {
				common[t]++
			}
		}
		var cands []string
		for t, n := range common {
			if n == len(a.Nodes.Pools) {
				cands = append(cands, t)
			}
		}
		sort.Strings(cands)
		if len(cands) > 0 {
			tag = cands[0]
		}
	}
	o := fixes.FirewallRule{
		Project: cf.NetworkProject, ClusterProject: env.Inv.Scope.Project, Network: cf.Network,
		Name:        fixes.FirewallRuleName(cf.Short, fd.Range.String(), fd.Port),
		SourceRange: fd.Range.String(), TargetTag: tag, Protocol: fd.Protocol, Port: fd.Port,
		ManualChange: manualChange,
		WriteDenied:  firewallWriteDenied(ctx, env, cf.NetworkProject),
	}
	// The new rule is judged against everything else the VPC enforces: a policy rule that would
	// still deny refuses the plan (advice naming the policy), a VPC deny that would still win makes
	// it the reviewed override.
	switch {
	case fd.Egress:
		o.PolicyDeny, o.PolicyEgress = fd.Deny.String(), true
	case fd.Deny.IsPolicy() && tag == "":
		o.PolicyDeny = fd.Deny.String()
	case tag == "":
		o.Deny, o.DenyPriority = fd.Deny.Name, fd.Deny.Priority
	default:
		newRule := firewall.FromCompute(o.Compute())
		for _, pool := range a.Nodes.Pools {
			if still, by := firewall.WouldStillDeny(fd.Set, fwIngressPacket(cf, fd, pool), newRule); still && by.IsPolicy() {
				o.PolicyDeny = by.String()
				break
			}
		}
		if o.PolicyDeny == "" && fd.Deny.Name != "" && !fd.Deny.IsPolicy() {
			o.Deny, o.DenyPriority = fd.Deny.Name, fd.Deny.Priority
		}
	}
	src := "serverless source: " + sourceLabel(fd.Src) + " (" + fd.Range.String() + ")"
	if fd.Src != nil && fd.Src.Connector != "" {
		src = "serverless source: connector " + gref.ShortName(fd.Src.Connector) + " (" + fd.Range.String() + "), used by " + sourceLabel(fd.Src)
	}
	var tags []string
	if tag != "" {
		tags = []string{tag}
	}
	return fixes.NewFirewallPlan(env.FixDeps, o).Judge(firewallJudged(fd.Set, cf.Network, tags,
		"clusters on the network: "+cf.Short+" (its node pools behind tag "+orPlaceholder(tag, "unknown")+")", src))
}

// firewallWriteDenied decides whether a firewall fix in project (the network's) is one gkedoctor may
// apply, and says why not. The rule, shown in the plan: in the cluster's own project the fix is
// offered as usual (a 403 still turns it into advice when applied); in any other project — a Shared
// VPC host, where cluster admins usually lack roles/compute.securityAdmin — only when
// testIamPermissions there says the caller holds compute.firewalls.create. When that cannot be
// asked, the answer is "no": advice, never a write that was not known to be allowed.
func firewallWriteDenied(ctx context.Context, env *Env, project string) string {
	if project == "" || project == env.Inv.Scope.Project {
		return ""
	}
	got, err := env.Inv.TestIamPermissions(ctx, project, fixes.FirewallCreatePermission)
	switch {
	case err != nil:
		return fmt.Sprintf("whether you may create firewall rules there could not be asked (testIamPermissions: %v)", err)
	case !slices.Contains(got, fixes.FirewallCreatePermission):
		return fmt.Sprintf("testIamPermissions on project %s says you do not hold %s", project, fixes.FirewallCreatePermission)
	}
	return ""
}
