package checks

// The firewall rules a path needs besides the client's own (FAILURE-MODES §1, issue 12): Google's
// health checkers must reach the nodes behind an internal load balancer (35.191.0.0/16 and
// 130.211.0.0/22, to kube-proxy's health port), and Serverless VPC Access's own ranges must reach the
// connector's instances (35.199.224.0/19, tcp:667 — the rule Serverless VPC Access creates itself in a
// standalone project, and a network admin creates by hand in a Shared VPC host). Each is judged where
// it belongs — ilb-provisioned and vpc-connector-ready — with the one firewall evaluator, and a missing
// rule is a failure naming it, with a firewall fix (advice in a host project the caller cannot write).

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// Google's health-check probers for internal passthrough load balancers, and kube-proxy's health port
// (what GKE's k8s-…-node-hc rule opens for externalTrafficPolicy Cluster).
var (
	healthCheckRanges = []netip.Prefix{netip.MustParsePrefix("35.191.0.0/16"), netip.MustParsePrefix("130.211.0.0/22")}
	// connectorControlRange is where Serverless VPC Access reaches its connector instances from.
	connectorControlRange = netip.MustParsePrefix("35.199.224.0/19")
)

const (
	kubeProxyHealthPort = 10256
	connectorControlTCP = 667
)

// healthCheckPort is the node port Google's health checks probe for an internal LB Service: its
// healthCheckNodePort with externalTrafficPolicy Local, else kube-proxy's 10256.
func healthCheckPort(ilb *corev1.Service) int {
	if ilb.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && ilb.Spec.HealthCheckNodePort > 0 {
		return int(ilb.Spec.HealthCheckNodePort)
	}
	return kubeProxyHealthPort
}

// hcFinding is the health-check path of one internal load balancer.
type hcFinding struct {
	Status  Status
	Summary string
	Port    int
	Blocked []string // node pools the health checks cannot reach
	Plan    *fixes.Plan
}

// decideHealthChecks: Google's health checkers reach every node pool on the health port; otherwise
// the load balancer has no healthy backend and drops every connection, whatever the client's rule.
func (fd *ilbFinding) decideHealthChecks(ctx context.Context, env *Env, f *reachFacts, t *target) bool {
	cf := f.Cluster
	if f.ClusterErr != nil {
		return false // the client's firewall step reports it
	}
	ilbRef := t.ILB.Namespace + "/" + t.ILB.Name
	port := healthCheckPort(t.ILB)
	what := fmt.Sprintf("health checks %s → nodes on tcp:%d (for %s)", prefixesString(healthCheckRanges), port, ilbRef)
	set, err := env.Inv.FirewallSet(ctx, cf.NetworkProject, cf.Network, cf.Region)
	if err != nil {
		fd.Status, fd.Err = Skip, err
		r := FromErr("evaluate the firewall for the load balancer's health checks", err)
		fd.Cause, fd.Summary = r.Cause, r.Summary
		fd.step(Skip, what, err.Error(), effectiveFirewallsCommand(cf.Network))
		return true
	}
	nt := nodeTargetsOf(f, set.Rules, env.Inv.Scope.Project)
	hc := &hcFinding{Port: port}
	var unknown []string
	var detail []string
	for _, pool := range nt.Pools {
		v := firewall.EvaluateSet(set, firewall.Packet{Direction: firewall.Ingress, Network: cf.Network, Protocol: "tcp", Port: port,
			Instance: firewall.Endpoint{Tags: pool.Tags, ServiceAccounts: pool.ServiceAccounts}, Peer: firewall.Endpoint{Ranges: healthCheckRanges}})
		switch {
		case v.Allowed:
			detail = append(detail, fmt.Sprintf("node pool %s: allowed by %s", pool.Name, v.Deciding().String()))
		case len(v.Blocked()) == 0 && v.Unknown:
			unknown = append(unknown, pool.Name)
			detail = append(detail, fmt.Sprintf("node pool %s: %s", pool.Name, firewall.Describe(v)))
		default:
			hc.Blocked = append(hc.Blocked, pool.Name)
			detail = append(detail, fmt.Sprintf("node pool %s: %s", pool.Name, firewall.Describe(v)))
		}
	}
	switch {
	case len(hc.Blocked) > 0 && nt.Known:
		fd.Status, fd.Cause = Fail, "health-check-blocked"
		fd.Summary = fmt.Sprintf("Google's health checks (%s) cannot reach node pool(s) %s on tcp:%d, so %s at %s has no healthy backend and drops every connection: a firewall rule in %s must allow them",
			prefixesString(healthCheckRanges), strings.Join(hc.Blocked, ", "), port, ilbRef, t.LBIP, cf.NetworkProject)
		if fd.ManualChange != "" {
			fd.Summary += " (GKE asked for it: " + fd.ManualChange + ")"
		}
		fd.step(Fail, what, strings.Join(detail, "\n"), fwListCommand(cf))
		tag := nt.GKETag
		if tag == "" && len(nt.Pools) > 0 && len(nt.Pools[0].Tags) > 0 {
			tag = nt.Pools[0].Tags[0]
		}
		fd.HealthPlan = fixes.NewFirewallPlan(env.FixDeps, fixes.FirewallRule{
			Project: cf.NetworkProject, ClusterProject: env.Inv.Scope.Project, Network: cf.Network,
			Name:        ruleName("allow-lb-health-checks-"+cf.Short, strconv.Itoa(port)),
			SourceRange: prefixesString(healthCheckRanges), SourceRanges: prefixStrings(healthCheckRanges), TargetTag: tag,
			Protocol: "tcp", Port: port, ManualChange: fd.ManualChange,
			Purpose:     fmt.Sprintf("lets Google's health checks reach the GKE nodes on tcp:%d (internal load balancer %s)", port, ilbRef),
			WriteDenied: firewallWriteDenied(ctx, env, cf.NetworkProject),
		}).Judge(firewallJudged(set, cf.Network, nonEmpty(tag), "clusters on the network: "+cf.Short+" (every node behind tag "+orPlaceholder(tag, "unknown")+")",
			"sources: Google's health-check ranges only ("+prefixesString(healthCheckRanges)+")"))
		return true
	case len(hc.Blocked) > 0 || len(unknown) > 0:
		fd.Status, fd.Cause = Warn, "health-check-blocked"
		fd.Summary = fmt.Sprintf("whether Google's health checks reach the nodes behind %s on tcp:%d could not be decided (the nodes' tags are unknown, or a rule depends on what gkedoctor cannot resolve)", ilbRef, port)
		fd.step(Warn, what, strings.Join(detail, "\n"), fwListCommand(cf))
		return true
	}
	fd.step(Pass, what, strings.Join(detail, "\n"), fwListCommand(cf))
	return false
}

// connectorIngress: Serverless VPC Access reaches the connector's instances from 35.199.224.0/19 on
// tcp:667 (its own rule, aet-…-earfw, made by the service in a standalone project; by a network admin
// in a Shared VPC host). Without it the connector cannot carry traffic however READY it says it is.
func connectorIngress(ctx context.Context, env *Env, fd *connectorFinding) {
	c, src := fd.Connector, fd.Src
	name, loc := gref.ShortName(src.Connector), gref.LocationOf(src.Connector)
	p := gref.ProjectOf(src.Connector)
	if c.Subnet != nil && c.Subnet.ProjectId != "" {
		p = c.Subnet.ProjectId
	}
	network := gref.Network(c.Network, p)
	if network == "" {
		return
	}
	netProject := gref.ProjectOf(network)
	tags := []string{connectorTag, "vpc-connector-" + loc + "-" + name}
	what := fmt.Sprintf("Serverless VPC Access %s → connector %s instances on tcp:%d", connectorControlRange, name, connectorControlTCP)
	set, err := env.Inv.FirewallSet(ctx, netProject, network, gref.Region(loc))
	if err != nil {
		fd.Status, fd.Err = Skip, err
		r := FromErr("evaluate the firewall of connector "+name, err)
		fd.Cause, fd.Summary = r.Cause, r.Summary
		fd.Evidence = append(fd.Evidence, Evidence{Step: what, Status: Skip, Detail: err.Error(), Command: effectiveFirewallsCommand(network)})
		return
	}
	v := firewall.EvaluateSet(set, firewall.Packet{Direction: firewall.Ingress, Network: network, Protocol: "tcp", Port: connectorControlTCP,
		Instance: firewall.Endpoint{Tags: tags}, Peer: firewall.Endpoint{Ranges: []netip.Prefix{connectorControlRange}}})
	cmd := fmt.Sprintf("gcloud compute firewall-rules list --project %s --filter='network~/%s$ AND targetTags:vpc-connector'", netProject, gref.NetworkName(network))
	switch {
	case v.Allowed:
		fd.Evidence = append(fd.Evidence, Evidence{Step: what, Status: Pass, Detail: "allowed by " + v.Deciding().String(), Command: cmd})
	case len(v.Blocked()) == 0:
		fd.Status, fd.Cause = Warn, "connector-firewall-missing"
		fd.Summary = fmt.Sprintf("whether Serverless VPC Access reaches connector %s (tcp:%d from %s) depends on %s, which gkedoctor cannot resolve", name, connectorControlTCP, connectorControlRange, strings.Join(v.Unresolved, ", "))
		fd.Evidence = append(fd.Evidence, Evidence{Step: what, Status: Warn, Detail: firewall.Describe(v), Command: cmd})
	default:
		fd.Status, fd.Cause = Fail, "connector-firewall-missing"
		fd.Summary = fmt.Sprintf("connector %s used by %s is READY, but no firewall rule in %s lets Serverless VPC Access reach its instances (%s → tags %s on tcp:%d; in a Shared VPC host this rule is created by hand): it carries no traffic",
			name, sourceLabel(src), netProject, connectorControlRange, strings.Join(tags[1:], ","), connectorControlTCP)
		fd.Evidence = append(fd.Evidence, Evidence{Step: what, Status: Fail, Detail: firewall.Describe(v), Command: cmd})
		fd.FirewallPlan = fixes.NewFirewallPlan(env.FixDeps, fixes.FirewallRule{
			Project: netProject, ClusterProject: env.Inv.Scope.Project, Network: network,
			Name:        ruleName("allow-vpc-connector-"+loc+"-"+name, "ingress"),
			SourceRange: connectorControlRange.String(), TargetTag: tags[1], Protocol: "tcp", Port: connectorControlTCP,
			Allow:       "icmp,tcp:667,udp:665-666",
			Purpose:     fmt.Sprintf("lets Serverless VPC Access reach connector %s's instances (%s, as the service's own aet-…-earfw rule does)", name, connectorControlRange),
			WriteDenied: firewallWriteDenied(ctx, env, netProject),
		}).Judge(firewallJudged(set, network, tags[1:], "instances: connector "+name+"'s only (tag "+tags[1]+")",
			"sources: Serverless VPC Access's control range only ("+connectorControlRange.String()+")"))
	}
}

var ruleNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

// ruleName is base-suffix shortened to a valid firewall rule name.
func ruleName(base, suffix string) string {
	base = strings.ToLower(base)
	suffix = "-" + suffix
	if len(base)+len(suffix) > 63 {
		base = base[:63-len(suffix)]
	}
	n := strings.TrimRight(base, "-") + suffix
	if !ruleNameRE().MatchString(n) {
		return "gkedoctor-rule" + suffix
	}
	return n
}

func prefixesString(ps []netip.Prefix) string { return strings.Join(prefixStrings(ps), ", ") }

// firewallJudged is what a new ingress allow rule is judged against: the other ingress rules of the
// network that target the same tags (or every instance), the firewall policies that apply, and who
// else sits behind those tags.
func firewallJudged(set firewall.Set, network string, tags []string, others ...string) []string {
	n, policies := 0, len(set.Policies)
	for _, r := range set.Rules {
		if r.Disabled || (r.Direction != "" && r.Direction != "INGRESS") {
			continue
		}
		if r.Network != "" && gref.NetworkName(r.Network) != gref.NetworkName(network) {
			continue
		}
		if len(r.TargetTags) == 0 {
			n++
			continue
		}
		for _, t := range r.TargetTags {
			if slices.Contains(tags, t) {
				n++
				break
			}
		}
	}
	what := "tag " + strings.Join(tags, ",")
	if len(tags) == 0 {
		what = "the nodes (tag unknown)"
	}
	out := []string{fmt.Sprintf("network %s: %d other ingress rule(s) to %s or to every instance; %d firewall polic(ies) also apply", gref.NetworkName(network), n, what, policies)}
	return append(out, others...)
}

// nonEmpty is []string{s}, or nil when s is empty.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
