package checks

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	compute "google.golang.org/api/compute/v1"
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
	// Deny is the non-implied deny rule that blocks (the shadowing case); zero when nothing matched.
	Deny firewall.Rule
}

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
				if t.Svc == nil || t.Port == 0 || t.Svc.Spec.Type == corev1.ServiceTypeExternalName {
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
		var rules []*compute.Firewall
		var rulesErr error
		if f.ClusterErr == nil {
			rules, rulesErr = env.Inv.Firewalls(ctx, f.Cluster.NetworkProject)
			if rulesErr == nil {
				a.Nodes = nodeTargetsOf(f, rules, env.Inv.Scope.Project)
			}
		}
		for _, k := range order {
			fd := groups[k]
			a.Findings = append(a.Findings, fd)
			firewallFor(ctx, env, f, a.Nodes, rules, rulesErr, fd)
		}
		return a, nil
	})
}

var defaultComputeSA = regexp.MustCompile(`^[0-9]+-compute@developer\.gserviceaccount\.com$`)

func nodeTargetsOf(f *reachFacts, rules []*compute.Firewall, clusterProject string) *nodeTargets {
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
			if defaultComputeSA.MatchString(sa) {
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
		loc := locationOf(src.Connector)
		ep.Tags = []string{connectorTag, "vpc-connector-" + loc + "-" + ShortName(src.Connector)}
		if c.IpCidrRange != "" {
			pr, err := netip.ParsePrefix(c.IpCidrRange)
			if err != nil {
				return netip.Prefix{}, ep, "", fmt.Errorf("connector %s has an unreadable ipCidrRange %q", ShortName(src.Connector), c.IpCidrRange)
			}
			ep.Ranges = []netip.Prefix{pr.Masked()}
			return pr.Masked(), ep, "connector " + ShortName(src.Connector) + " range " + pr.Masked().String(), nil
		}
		if c.Subnet != nil && c.Subnet.Name != "" {
			proj := c.Subnet.ProjectId
			if proj == "" {
				proj = projectOf(src.Connector)
			}
			return subnetRange(ctx, env, proj, Region(loc), c.Subnet.Name, ep, "connector "+ShortName(src.Connector)+" subnet ")
		}
		return netip.Prefix{}, ep, "", fmt.Errorf("connector %s has neither an ipCidrRange nor a subnet", ShortName(src.Connector))
	}
	if src.DirectVPC != nil {
		ep.Tags = src.DirectVPC.Tags
		sub := src.DirectVPC.Subnetwork
		if sub == "" {
			return netip.Prefix{}, ep, "", fmt.Errorf("Direct VPC egress of %s names no subnetwork, so its source range is unknown", src.Name)
		}
		proj, region := projectOf(src.FullName), Region(src.Location)
		if strings.Contains(sub, "/") {
			parts := strings.Split(sub, "/")
			for i := 0; i+1 < len(parts); i++ {
				switch parts[i] {
				case "projects":
					proj = parts[i+1]
				case "regions":
					region = parts[i+1]
				}
			}
		}
		return subnetRange(ctx, env, proj, region, ShortName(sub), ep, "Direct VPC subnet ")
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

func firewallFor(ctx context.Context, env *Env, f *reachFacts, nt *nodeTargets, rules []*compute.Firewall, rulesErr error, fd *fwFinding) {
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
	if f.ClusterErr != nil {
		skip(f.ClusterErr, "network and nodes of the cluster", clusterCommand(env))
		return
	}
	if rulesErr != nil {
		skip(rulesErr, "firewall rules of "+f.Cluster.Network, fwListCommand(f.Cluster))
		return
	}
	pr, ep, from, err := sourceRange(ctx, env, fd.Src)
	if err != nil {
		skip(err, "source range of "+label, connectorDescribe(fd.Src))
		return
	}
	fd.Range, fd.Peer = pr, ep
	step(Pass, "source of "+label, from+" (packets through an internal passthrough load balancer keep this source address)", connectorOrSubnetCommand(fd.Src))
	nodesDetail := nt.From
	if nodesDetail == "" {
		nodesDetail = "no network tag of the nodes is known (no node pool tags, no GKE firewall rules for the cluster): only rules without target tags can be matched"
	}
	st := Pass
	if !nt.Known {
		st = Warn
	}
	step(st, "node targets", nodesDetail, clusterCommand(env))
	rs := firewall.FromComputeList(rules)
	fd.Verdicts = map[string]firewall.Verdict{}
	var blocked []string
	for _, pool := range nt.Pools {
		v := firewall.Evaluate(rs, firewall.Packet{Network: f.Cluster.Network, Protocol: fd.Protocol, Port: fd.Port,
			Instance: firewall.Endpoint{Tags: pool.Tags, ServiceAccounts: pool.ServiceAccounts}, Peer: ep})
		fd.Verdicts[pool.Name] = v
		s := fmt.Sprintf("firewall %s → node pool %s", what, pool.Name)
		if v.Allowed {
			step(Pass, s, "allowed by "+v.Deciding().String(), fwListCommand(f.Cluster))
			continue
		}
		var parts []string
		for _, seg := range v.Segments {
			verb := "allowed by "
			if !seg.Allowed {
				verb = "denied by "
			}
			parts = append(parts, seg.String()+": "+verb+seg.Rule.String())
		}
		if deny, shadowed := v.Shadowing(); len(shadowed) > 0 {
			fd.Deny = deny
			var names []string
			for _, r := range shadowed {
				names = append(names, r.Name)
			}
			parts = append(parts, fmt.Sprintf("the allow rule(s) %s match but lose to %s (lower priority number wins; at equal priority deny wins)", strings.Join(names, ", "), deny.Name))
		} else if d := v.Deciding(); !d.Implied && !d.Allow {
			fd.Deny = d
		}
		blocked = append(blocked, pool.Name)
		step(Fail, s, strings.Join(parts, "\n"), fwListCommand(f.Cluster))
	}
	var refs []string
	for _, t := range fd.Targets {
		refs = append(refs, t.Ref())
	}
	switch {
	case len(blocked) == 0:
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("%s reaches the nodes on %s:%d (%s)", label, fd.Protocol, fd.Port, fd.Verdicts[nt.Pools[0].Name].Deciding().Name)
	case !nt.Known:
		fd.Status, fd.Cause = Warn, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("no rule that applies to every instance lets %s reach the nodes on %s:%d, and the nodes' network tags are unknown, so rules by tag could not be matched", fd.Range, fd.Protocol, fd.Port)
	case fd.Deny.Name != "":
		fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("the deny rule %s (priority %d) blocks %s from the nodes on %s:%d (used by %s)", fd.Deny.Name, fd.Deny.Priority, fd.Range, fd.Protocol, fd.Port, strings.Join(refs, ", "))
	default:
		fd.Status, fd.Cause = Fail, "firewall-blocks-serverless"
		fd.Summary = fmt.Sprintf("no firewall rule lets %s (%s) reach the nodes on %s:%d (used by %s): the implied deny-ingress rule drops it", fd.Range, label, fd.Protocol, fd.Port, strings.Join(refs, ", "))
	}
}

func connectorOrSubnetCommand(src *Source) string {
	if src.Connector != "" {
		return connectorDescribe(src)
	}
	if src.DirectVPC != nil {
		return fmt.Sprintf("gcloud compute networks subnets describe %s --region %s --format='value(ipCidrRange)'", ShortName(src.DirectVPC.Subnetwork), Region(src.Location))
	}
	return runDescribe(src)
}

// firewallPlan builds the fix for a blocked finding: a new allow rule, or advice when a deny rule
// decides (overriding someone's deny is not this tool's call) or the node tag is unknown.
func firewallPlan(env *Env, a *fwAnalysis, fd *fwFinding, manualChange string) *fixes.Plan {
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
		Name:        fixes.FirewallRuleName(cf.Short, fd.Port),
		SourceRange: fd.Range.String(), TargetTag: tag, Protocol: fd.Protocol, Port: fd.Port,
		ManualChange: manualChange, Deny: fd.Deny.Name, DenyPriority: fd.Deny.Priority,
	}
	return fixes.NewFirewallPlan(env.FixDeps, o)
}
