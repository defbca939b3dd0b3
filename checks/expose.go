package checks

// Exposure and policy inside the cluster, for clusterip-unreachable (issue 12): the decisions that
// judge a headless Service, an internal Gateway or Ingress (GKE's internal Application Load
// Balancer), an external load balancer called over the internet on purpose, the internal load
// balancer's loadBalancerSourceRanges, the NetworkPolicies in front of the target pods, and what the
// client actually calls. Each is one decision of the list in clusterip_unreachable.go; the facts come
// from internal/model (L7 exposure, the cluster's policy enforcement), internal/netpol (the one
// NetworkPolicy evaluator) and internal/firewall (the one firewall evaluator).

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/netpol"
)

// decideHeadless: a headless Service has no virtual IP and needs no load balancer: its name answers
// with the pod IPs. In a VPC-native cluster those are alias ranges of the node subnet, routable in the
// VPC, so the later decisions (egress, connector, firewall to the nodes on the pods' port,
// NetworkPolicy) judge the path; in a routes-based cluster they are not VPC addresses.
func (r *reachRun) decideHeadless(_ context.Context, t *target, _ *couldNotLook) *verdict {
	if !t.headless() {
		return nil
	}
	v := &verdict{T: t}
	ref := t.Svc.Namespace + "/" + t.Svc.Name
	if r.f.ClusterErr != nil {
		v.Status, v.Err = Skip, fmt.Errorf("%s is headless: whether its pod IPs are routable from the VPC depends on the cluster's networking mode, and the cluster could not be read: %w", ref, r.f.ClusterErr)
		return v
	}
	cf := r.f.Cluster
	if !cf.VPCNative {
		v.Status, v.Cause, v.Dep = Fail, "headless-pods-not-routable", "ilb-provisioned"
		v.Summary = fmt.Sprintf("%s calls %s, a headless Service (clusterIP: None) whose name answers with pod IPs (pod range %s); the cluster is routes-based (not VPC-native), so those are not addresses of the VPC's subnets: "+
			"they are reached only through per-node routes GKE rewrites as nodes come and go, and are not a way in from outside the cluster", r.who(t), ref, prefixOr(cf.PodCIDR))
		v.Plans = append(v.Plans, headlessAdvice(t, cf))
		return v
	}
	// VPC-native: pod IPs are routable. Under PRIVATE_RANGES_ONLY a pod range outside RFC 1918 /
	// RFC 6598 goes to the internet (the egress analysis cannot see it: the addresses come from DNS).
	if cf.PodCIDR.IsValid() && !model.IsPrivate(cf.PodCIDR.Addr()) {
		for _, src := range r.f.sourcesOf(t) {
			if src.HasVPCAccess() && src.EffectiveEgress() != "ALL_TRAFFIC" {
				v.Status, v.Cause, v.Dep, v.Src = Fail, "egress-private-ranges-only", "run-vpc-egress", src
				v.Summary = fmt.Sprintf("%s has egress %s, so its packets to the pods of the headless %s (pod range %s, outside %s) go to the internet instead of the VPC", sourceLabel(src), src.EffectiveEgress(), ref, cf.PodCIDR, src.privateRangesText())
				if src.Kind == KindAppEngine {
					v.Plans = append(v.Plans, appEngineEgressAdvice(src))
				}
				return v
			}
		}
	}
	return nil
}

// headlessAdvice explains why gkedoctor does not put one internal load balancer in front of a headless
// Service, and what to do instead.
func headlessAdvice(t *target, cf *model.Cluster) *fixes.Plan {
	s := t.Svc
	port := t.Port
	if t.SvcPort != nil {
		port = int(t.SvcPort.Port)
	}
	return &fixes.Plan{
		ID:            "expose-headless/" + s.Namespace + "/" + s.Name,
		Title:         fmt.Sprintf("Decide how VPC clients should reach the pods of the headless %s/%s (advice)", s.Namespace, s.Name),
		Advice:        true,
		JudgedAgainst: []string{fmt.Sprintf("every pod of headless %s/%s and its per-pod names (clients that need each pod)", s.Namespace, s.Name)},
		Description: "A headless Service has no virtual IP: its name answers with one address per pod, and a StatefulSet's pods also have their own names (POD." + s.Name + "." + s.Namespace + ".svc.cluster.local). " +
			"One internal load balancer in front of it would spread each client's connections over all pods and lose exactly that per-pod identity, so gkedoctor does not create one. " +
			"If the clients need each pod: one internal LoadBalancer Service per pod, selecting statefulset.kubernetes.io/pod-name. If any pod will do: an internal LoadBalancer Service with the same selector. " +
			"Pods are reachable at their own IPs from the VPC only in a VPC-native cluster (cluster " + cf.Short + " is routes-based; it cannot be converted in place).",
		Commands: []string{
			fmt.Sprintf("kubectl create service loadbalancer %s-0-ilb -n %s --tcp=%d:%d --dry-run=client -o yaml | kubectl annotate -f - --local %s=Internal -o yaml | kubectl set selector -f - --local statefulset.kubernetes.io/pod-name=%s-0 -o yaml | kubectl apply -f -   # one per pod",
				s.Name, s.Namespace, port, port, model.AnnotationLBType, s.Name),
			fmt.Sprintf("gcloud container clusters describe %s --location %s --format='value(ipAllocationPolicy.useIpAliases)'", orPlaceholder(cf.Short, "CLUSTER"), orPlaceholder(cf.Location, "LOCATION")),
		},
	}
}

// decideOverInternet: a client that calls an external load balancer's public address on purpose (its
// URL holds that address, or a name of yours resolving to it) uses the internet, not a VPC path: that
// is judged as internet reachability, not as a misconfigured internal load balancer.
func (r *reachRun) decideOverInternet(ctx context.Context, t *target, cnl *couldNotLook) *verdict {
	if !t.overInternet(r.f.Model) {
		return nil
	}
	o, _ := r.f.Model.Services.OwnerOfKind(t.Addr, model.AddrExternalLB)
	lb := o.Service
	lbRef := lb.Namespace + "/" + lb.Name
	v := &verdict{T: t, Dep: "run-vpc-egress"}
	var how []string
	for _, src := range r.f.sourcesOf(t) {
		if !src.HasVPCAccess() || src.EffectiveEgress() != "ALL_TRAFFIC" {
			how = append(how, fmt.Sprintf("%s sends public addresses straight to the internet (%s)", sourceLabel(src), egressWords(src)))
			if rs := lb.Spec.LoadBalancerSourceRanges; len(rs) > 0 && !containsString(rs, "0.0.0.0/0") {
				v.Status, v.Cause, v.Src = Warn, "external-lb-over-internet", src
				v.Summary = fmt.Sprintf("%s calls the external load balancer %s at %s over the internet, but its loadBalancerSourceRanges (%s) admit only those ranges, and Cloud Run's and App Engine's direct internet egress comes from Google addresses you do not choose: "+
					"route its egress through the VPC with Cloud NAT on a reserved address and admit that address, or call an internal load balancer instead", sourceLabel(src), lbRef, t.addrPort(), strings.Join(rs, ", "))
				return v
			}
			continue
		}
		// ALL_TRAFFIC: the packets enter the VPC first and need Cloud NAT to leave it.
		covered, why, err := natCovers(ctx, r.env, src)
		if err != nil {
			cnl.add(err)
			continue
		}
		if !covered {
			v.Status, v.Cause, v.Src = Warn, "external-lb-over-internet", src
			v.Summary = fmt.Sprintf("%s calls the external load balancer %s at %s over the internet, but its egress ALL_TRAFFIC sends the packets into the VPC first, where %s: they have no way out to the public address", sourceLabel(src), lbRef, t.addrPort(), why)
			return v
		}
		how = append(how, fmt.Sprintf("%s sends everything through the VPC and leaves it through %s", sourceLabel(src), why))
	}
	if len(cnl.errs) > 0 {
		v.Status, v.Err = Skip, cnl.errs[0]
		return v
	}
	v.Status = Pass
	v.Summary = fmt.Sprintf("%s calls the external load balancer %s at %s, a public address, over the internet (%s): not an internal path, so no internal load balancer is judged here",
		r.who(t), lbRef, t.addrPort(), strings.Join(how, "; "))
	if len(how) == 0 {
		v.Summary = fmt.Sprintf("the external load balancer %s answers at %s, a public address: clients reach it over the internet; no VPC client was named to judge the path", lbRef, t.addrPort())
	}
	return v
}

// overInternet reports whether the client calls an external load balancer's public address (its URL
// holds it, or a name of yours resolving to it): a path over the internet, not through the VPC.
func (t *target) overInternet(m *model.Model) bool {
	if (t.Dest.Kind != TargetLBIP && t.Dest.Kind != TargetZoneName) || !t.Addr.IsValid() || model.IsPrivate(t.Addr) {
		return false
	}
	_, ok := m.Services.OwnerOfKind(t.Addr, model.AddrExternalLB)
	return ok
}

func egressWords(src *Source) string {
	if !src.HasVPCAccess() {
		return "no VPC access"
	}
	return "egress " + src.EffectiveEgress()
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// natCovers says whether Cloud NAT serves the source's range on its network and region.
func natCovers(ctx context.Context, env *Env, src *Source) (bool, string, error) {
	network, _, err := sourceNetwork(ctx, env, src)
	if err != nil {
		return false, "", err
	}
	region := gref.Region(src.Location)
	subnet := ""
	if src.DirectVPC != nil {
		subnet = src.DirectVPC.Subnetwork
	} else if src.Connector != "" {
		region = gref.Region(gref.LocationOf(src.Connector))
		if c, cerr := env.Inv.Connector(ctx, src.Connector); cerr == nil && c.Subnet != nil {
			subnet = c.Subnet.Name
		}
	}
	routers, err := env.Inv.Routers(ctx, gref.ProjectOf(network), region)
	if err != nil {
		return false, "", fmt.Errorf("Cloud NAT on network %s in %s could not be read: %w", gref.NetworkName(network), region, err)
	}
	nat := model.NATCovers(routers, network, subnet)
	return nat.Covered, nat.Why, nil
}

// decideL7: a Service with no L4 internal load balancer, but an internal Gateway (gke-l7-rilb,
// gke-l7-rilb-mc) or gce-internal Ingress in front of it, is exposed in the VPC: no L4 load balancer is
// proposed. Its proxies need the region's proxy-only subnet, and the firewall must admit that
// subnet's range to the backends (NEG endpoints: the pods, on the nodes) on the pods' port.
func (r *reachRun) decideL7(ctx context.Context, t *target, _ *couldNotLook) *verdict {
	l := t.viaL7()
	v := &verdict{T: t, Dep: "ilb-provisioned"}
	if l == nil {
		if t.ILB == nil && t.L7Err != nil && !t.headless() && t.Svc.Spec.Type != corev1.ServiceTypeExternalName {
			v.Status, v.Err = Skip, fmt.Errorf("no L4 internal load balancer exposes %s/%s, and whether an internal Gateway or Ingress does could not be read: %w", t.Svc.Namespace, t.Svc.Name, t.L7Err)
			return v
		}
		return nil
	}
	if l.Address() == "" {
		v.Status, v.Cause = Warn, "ilb-pending"
		v.Summary = fmt.Sprintf("%s (class %s, an internal Application Load Balancer) routes to %s but has no address yet: GKE is still provisioning it, or its events say why (kubectl describe %s %s -n %s)",
			l.Ref(), l.Class, t.Ref(), strings.ToLower(l.Kind), l.Name, l.Namespace)
		return v
	}
	ps, err := r.proxySubnet(ctx)
	if err != nil {
		v.Status, v.Err = Skip, err
		return v
	}
	cf := r.f.Cluster
	if ps == nil {
		v.Status, v.Cause = Fail, "proxy-only-subnet-missing"
		v.Summary = fmt.Sprintf("%s exposes %s through an internal Application Load Balancer, but network %s has no ACTIVE proxy-only subnet (purpose %s) in %s: its proxies have nowhere to run and it cannot serve",
			l.Ref(), t.Ref(), cf.NetworkName(), model.ProxyOnlyPurpose, cf.Region)
		v.Plans = append(v.Plans, proxySubnetAdvice(cf))
		return v
	}
	port, proto := r.podPort(ctx, t)
	if port == 0 {
		v.Status, v.Err = Skip, fmt.Errorf("the pods' port behind %s could not be determined (named target port without readable pods)", t.Ref())
		return v
	}
	fv, err := r.firewallFrom(ctx, ps.Range, port, proto)
	if err != nil {
		v.Status, v.Err = Skip, err
		return v
	}
	switch {
	case fv.Allowed:
		return nil
	case len(fv.Blocked()) == 0:
		v.Status, v.Cause = Warn, "firewall-blocks-proxy-subnet"
		v.Summary = fmt.Sprintf("whether the proxy-only subnet %s (%s) reaches the backends of %s on %s:%d depends on %s, which gkedoctor cannot resolve", ps.Name, ps.Range, l.Ref(), proto, port, strings.Join(fv.Unresolved, ", "))
		return v
	}
	v.Status, v.Cause = Fail, "firewall-blocks-proxy-subnet"
	v.Summary = fmt.Sprintf("%s exposes %s, but the firewall does not let its proxies (proxy-only subnet %s, %s) reach the backend pods on %s:%d: %s",
		l.Ref(), t.Ref(), ps.Name, ps.Range, proto, port, ruleLabel(fv.Deciding()))
	v.Plans = append(v.Plans, proxyFirewallAdvice(cf, r.fwTag(ctx), ps, port, proto))
	return v
}

// proxySubnet finds the ACTIVE proxy-only subnet of the cluster's network in its region, once per
// run: nil when there is none; an error when the subnetworks could not be listed.
func (r *reachRun) proxySubnet(ctx context.Context) (*model.ProxyOnlySubnet, error) {
	cf := r.f.Cluster
	if r.f.ClusterErr != nil {
		return nil, r.f.ClusterErr
	}
	subs, err := r.env.Inv.Subnetworks(ctx, cf.NetworkProject, cf.Region)
	if err != nil {
		return nil, fmt.Errorf("the proxy-only subnet of network %s in %s could not be looked for: %w", cf.NetworkName(), cf.Region, err)
	}
	var cands []model.ProxyOnlySubnet
	for _, s := range subs {
		if s == nil || s.Purpose != model.ProxyOnlyPurpose || !gref.SameNetwork(s.Network, cf.Network, cf.NetworkProject) {
			continue
		}
		pr, err := netip.ParsePrefix(s.IpCidrRange)
		if err != nil {
			continue
		}
		cands = append(cands, model.ProxyOnlySubnet{Name: s.Name, Range: pr.Masked(), Role: s.Role})
	}
	if p, ok := model.ProxyOnlySubnetOf(cands); ok {
		return &p, nil
	}
	return nil, nil
}

// podPort is the port the pods behind t listen on (the Service's target port, a named one resolved on
// the pods), and the protocol.
func (r *reachRun) podPort(ctx context.Context, t *target) (int, string) {
	proto := t.Protocol
	if t.headless() || t.SvcPort == nil {
		return t.Port, proto
	}
	tp := t.SvcPort.TargetPort
	switch {
	case tp.IntValue() > 0:
		return tp.IntValue(), proto
	case tp.StrVal == "":
		return int(t.SvcPort.Port), proto
	}
	pods, err := r.podsOf(ctx, t)
	if err != nil {
		return 0, proto
	}
	for _, p := range pods {
		if np, ok := namedPorts(&p)[tp.StrVal]; ok {
			return int(np.Port), proto
		}
	}
	return 0, proto
}

func (r *reachRun) podsOf(ctx context.Context, t *target) ([]corev1.Pod, error) {
	if len(t.Svc.Spec.Selector) == 0 {
		return nil, nil
	}
	return r.env.Inv.PodsBySelector(ctx, t.Svc.Namespace, labels.SelectorFromSet(t.Svc.Spec.Selector).String())
}

func namedPorts(p *corev1.Pod) map[string]netpol.NamedPort {
	out := map[string]netpol.NamedPort{}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name != "" {
				out[cp.Name] = netpol.NamedPort{Port: cp.ContainerPort, Protocol: cp.Protocol}
			}
		}
	}
	return out
}

// firewallFrom evaluates, with the one firewall evaluator, a packet from src to every node pool on
// port: the verdict of the first pool that is not allowed (or the last one's).
func (r *reachRun) firewallFrom(ctx context.Context, src netip.Prefix, port int, proto string) (firewall.Verdict, error) {
	cf := r.f.Cluster
	set, err := r.env.Inv.FirewallSet(ctx, cf.NetworkProject, cf.Network, cf.Region)
	if err != nil {
		return firewall.Verdict{}, err
	}
	nt := nodeTargetsOf(r.f, set.Rules, r.env.Inv.Scope.Project)
	var last firewall.Verdict
	for _, pool := range nt.Pools {
		last = firewall.EvaluateSet(set, firewall.Packet{Direction: firewall.Ingress, Network: cf.Network, Protocol: proto, Port: port,
			Instance: firewall.Endpoint{Tags: pool.Tags, ServiceAccounts: pool.ServiceAccounts}, Peer: firewall.Endpoint{Ranges: []netip.Prefix{src}}})
		if !last.Allowed {
			return last, nil
		}
	}
	return last, nil
}

// fwTag is the nodes' network tag for a rule (GKE's node tag, else "").
func (r *reachRun) fwTag(ctx context.Context) string {
	cf := r.f.Cluster
	set, err := r.env.Inv.FirewallSet(ctx, cf.NetworkProject, cf.Network, cf.Region)
	if err != nil {
		return ""
	}
	return nodeTargetsOf(r.f, set.Rules, r.env.Inv.Scope.Project).GKETag
}

func proxySubnetAdvice(cf *model.Cluster) *fixes.Plan {
	return &fixes.Plan{
		ID:     "proxy-only-subnet/" + cf.NetworkProject + "/" + cf.Region + "/" + cf.NetworkName(),
		Title:  fmt.Sprintf("Create a proxy-only subnet for internal Application Load Balancers in %s (network %s)", cf.Region, cf.NetworkName()),
		Advice: true, Reversible: true, VPCWide: true,
		JudgedAgainst: []string{fmt.Sprintf("every internal Application Load Balancer of network %s in %s (they share the one proxy-only subnet)", cf.NetworkName(), cf.Region),
			"every other range of network " + cf.NetworkName() + " and of networks connected to it (the new range must overlap none)"},
		Description: "Internal Application Load Balancers (Gateway class gke-l7-rilb, Ingress class gce-internal) run their proxies in one proxy-only subnet per region and network, shared by every such load balancer there. " +
			"Its range must not overlap any other range of the network (or of networks connected to it): choose it with the network's owner (a /23 is the usual size). Undo: delete the subnet once no load balancer uses it.",
		Commands: []string{fmt.Sprintf("gcloud compute networks subnets create proxy-only-%s --project %s --purpose=%s --role=ACTIVE --region %s --network %s --range RANGE   # e.g. a free /23",
			cf.Region, cf.NetworkProject, model.ProxyOnlyPurpose, cf.Region, cf.NetworkName())},
	}
}

func proxyFirewallAdvice(cf *model.Cluster, tag string, ps *model.ProxyOnlySubnet, port int, proto string) *fixes.Plan {
	name := fixes.FirewallRuleName(cf.Short, ps.Range.String(), port)
	name = strings.Replace(name, "allow-serverless-to-", "allow-proxies-to-", 1)
	return &fixes.Plan{
		ID:     "allow-proxy-subnet/" + cf.NetworkProject + "/" + name,
		Title:  fmt.Sprintf("Allow the proxy-only subnet %s to reach the backend pods on %s:%d", ps.Range, proto, port),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("network %s: instances tagged %s admit every proxy of the region's internal Application Load Balancers (%s) on %s:%d", cf.NetworkName(), orPlaceholder(tag, "NODE_NETWORK_TAG"), ps.Range, proto, port)},
		Description: "The internal Application Load Balancer's proxies connect to the backend pods (network endpoint groups) from the proxy-only subnet's range. " +
			"One ingress allow rule from that range to the nodes' tag on the pods' port is all it needs; undo deletes it.",
		Commands: []string{fmt.Sprintf("gcloud compute firewall-rules create %s --project %s --network %s --direction INGRESS --source-ranges %s --target-tags %s --allow %s:%d",
			name, cf.NetworkProject, cf.NetworkName(), ps.Range, orPlaceholder(tag, "NODE_NETWORK_TAG"), proto, port)},
	}
}

// decideSourceRanges: spec.loadBalancerSourceRanges of the internal load balancer admits each
// client's source range. GKE writes the list into the load balancer's firewall rule and the node
// dataplane enforces it too, so a range left out is dropped whatever other rules say; the fix adds
// the client's range to the field (never a broad rule to the nodes' tag that would defeat it).
func (r *reachRun) decideSourceRanges(_ context.Context, t *target, cnl *couldNotLook) *verdict {
	if t.ILB == nil || t.LBIP == "" || len(t.ILB.Spec.LoadBalancerSourceRanges) == 0 {
		return nil
	}
	allowed := parsePrefixes(t.ILB.Spec.LoadBalancerSourceRanges)
	ilbRef := t.ILB.Namespace + "/" + t.ILB.Name
	for _, src := range r.f.sourcesOf(t) {
		if !src.HasVPCAccess() {
			continue
		}
		fw := r.fw.findingFor(src, t.Port, t.Protocol)
		if fw == nil {
			continue
		}
		if !fw.Range.IsValid() {
			cnl.add(fw.Err)
			continue
		}
		if len(model.Subtract([]netip.Prefix{fw.Range}, allowed)) == 0 {
			continue
		}
		v := &verdict{T: t, Src: src, Status: Fail, Cause: "lb-source-ranges-exclude-client", Dep: "firewall-serverless-to-nodes"}
		v.Summary = fmt.Sprintf("spec.loadBalancerSourceRanges of the internal load balancer %s admits only %s, which leaves out %s's source range %s: GKE copies the list into the load balancer's firewall rule, so its packets to %s are dropped",
			ilbRef, strings.Join(t.ILB.Spec.LoadBalancerSourceRanges, ", "), sourceLabel(src), fw.Range, t.addrPort())
		v.Plans = append(v.Plans, fixes.NewSourceRangesPlan(r.env.FixDeps, fixes.SourceRanges{Namespace: t.ILB.Namespace, Name: t.ILB.Name, UID: t.ILB.UID,
			Prior: t.ILB.Spec.LoadBalancerSourceRanges, Add: fw.Range.String(), Client: sourceLabel(src)}))
		return v
	}
	return nil
}

func parsePrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// withinSourceRanges reports whether a firewall fix for src would stay inside the internal load
// balancer's loadBalancerSourceRanges (always, when the field is not set).
func withinSourceRanges(t *target, src netip.Prefix) bool {
	if t.ILB == nil || len(t.ILB.Spec.LoadBalancerSourceRanges) == 0 {
		return true
	}
	return src.IsValid() && len(model.Subtract([]netip.Prefix{src}, parsePrefixes(t.ILB.Spec.LoadBalancerSourceRanges))) == 0
}

// decideNetworkPolicy: the NetworkPolicies of the target's namespace admit the client's source to the
// pods on their port. An internal passthrough load balancer keeps the client's address, and a headless
// Service's pods are called directly, so the source is the connector's range or the Direct VPC
// subnet; behind an internal Gateway or Ingress it is the proxy-only subnet. Only ipBlock rules (or
// rules with no from) admit addresses outside the cluster. Policies are inert when nothing enforces
// them (neither GKE Dataplane V2 nor Calico): then nothing is read.
func (r *reachRun) decideNetworkPolicy(ctx context.Context, t *target, cnl *couldNotLook) *verdict {
	if t.Svc == nil || t.Svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	enforced := ""
	if r.f.ClusterErr == nil {
		if enforced = r.f.Cluster.PolicyEnforcement; enforced == "" {
			return nil
		}
	}
	ns := t.Svc.Namespace
	pols, err := r.env.Inv.NetworkPolicies(ctx, ns)
	if err != nil {
		cnl.add(err)
		return nil
	}
	if len(pols) == 0 {
		return nil
	}
	type source struct {
		src   *Source
		rng   netip.Prefix
		label string
	}
	var srcs []source
	if l := t.viaL7(); l != nil {
		ps, err := r.proxySubnet(ctx)
		if err != nil {
			cnl.add(err)
			return nil
		}
		if ps == nil {
			return nil // decideL7 reports it
		}
		srcs = append(srcs, source{rng: ps.Range, label: "the proxies of " + l.Ref() + " (proxy-only subnet " + ps.Name + ")"})
	} else {
		for _, src := range r.f.sourcesOf(t) {
			if !src.HasVPCAccess() {
				continue
			}
			pr, _, _, err := sourceRange(ctx, r.env, src)
			if err != nil {
				cnl.add(err)
				continue
			}
			srcs = append(srcs, source{src: src, rng: pr, label: sourceLabel(src)})
		}
	}
	pods, err := r.podsOf(ctx, t)
	if err != nil {
		cnl.add(err)
		return nil
	}
	port, proto := r.podPort(ctx, t)
	if port == 0 {
		cnl.add(fmt.Errorf("the pods' port behind %s could not be determined to evaluate NetworkPolicies", t.Ref()))
		return nil
	}
	// Each distinct set of pod labels (a rollout may have two); with no pod, the selector's labels.
	var podsToJudge []netpol.Pod
	seen := map[string]bool{}
	for i := range pods {
		k := labels.Set(pods[i].Labels).String()
		if !seen[k] {
			seen[k] = true
			podsToJudge = append(podsToJudge, netpol.Pod{Namespace: ns, Labels: pods[i].Labels, Ports: namedPorts(&pods[i])})
		}
	}
	if len(podsToJudge) == 0 {
		podsToJudge = append(podsToJudge, netpol.Pod{Namespace: ns, Labels: t.Svc.Spec.Selector})
	}
	for _, s := range srcs {
		for _, pod := range podsToJudge {
			nv, err := netpol.Evaluate(pols, pod, netpol.Packet{Source: s.rng, Port: int32(port), Protocol: corev1.Protocol(strings.ToUpper(proto))})
			if err != nil {
				cnl.add(err)
				continue
			}
			if nv.Admitted {
				continue
			}
			v := &verdict{T: t, Src: s.src, Status: Fail, Cause: "networkpolicy-blocks-client"}
			by := "enforced by " + enforced
			if enforced == "" {
				v.Status = Warn
				by = "whether anything enforces it is unknown: the cluster could not be read"
			}
			var na []string
			for _, p := range nv.NotAdmitted {
				na = append(na, p.String())
			}
			v.Summary = fmt.Sprintf("NetworkPolicy %s (%s) selects the pods of %s and admits no ingress from %s (%s) on %s:%d", strings.Join(nv.Selecting, ", "), by, t.Ref(), strings.Join(na, ", "), s.label, proto, port)
			if t.viaL7() == nil && !t.headless() {
				v.Summary += ": the internal load balancer keeps the client's address, so only an ipBlock rule for it admits it"
			}
			if len(nv.Unresolved) > 0 {
				v.Summary += fmt.Sprintf(" (the pods declare no port named %s)", strings.Join(nv.Unresolved, ", "))
			}
			v.Plans = append(v.Plans, netpolAdvice(pols, nv, ns, s.rng, int32(port), proto, s.label))
			return v
		}
	}
	return nil
}

// netpolAdvice is the ipBlock to add: a JSON patch of the first selecting policy, or a new policy
// beside it. Advice only: a NetworkPolicy is a security control its owner chose; widening it is their
// decision, and a new allow policy changes what every other client may reach too.
func netpolAdvice(pols []networkingv1.NetworkPolicy, nv netpol.Verdict, ns string, src netip.Prefix, port int32, proto, who string) *fixes.Plan {
	target := nv.Selecting[0]
	_, name, _ := strings.Cut(target, "/")
	hasRules := false
	for i := range pols {
		if pols[i].Namespace == ns && pols[i].Name == name {
			hasRules = len(pols[i].Spec.Ingress) > 0
		}
	}
	patch := netpol.IPBlockPatch(src, port, corev1.Protocol(strings.ToUpper(proto)), hasRules)
	sorted := append([]string(nil), nv.Selecting...)
	sort.Strings(sorted)
	return &fixes.Plan{
		ID:     "networkpolicy-allow/" + ns + "/" + name + "/" + strings.ReplaceAll(src.String(), "/", "_"),
		Title:  fmt.Sprintf("Admit %s (%s) in NetworkPolicy %s on %s:%d (advice)", src, who, target, proto, port),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{"the pods the policies select (" + strings.Join(sorted, ", ") + "): they admit " + src.String() + " on " + fmt.Sprintf("%s:%d", proto, port)},
		Description: fmt.Sprintf("NetworkPolicies are additive: one ingress rule with an ipBlock for %s on %s:%d, in any policy selecting these pods (%s), admits it; nothing else changes. "+
			"gkedoctor does not apply it: the policy is a security control its owner chose, and widening it is their decision. Undo: remove the rule (kubectl edit networkpolicy).",
			src, proto, port, strings.Join(sorted, ", ")),
		Diff: fixes.Diff("", fmt.Sprintf("spec.ingress += {from: [{ipBlock: {cidr: %s}}], ports: [{protocol: %s, port: %d}]}\n", src, strings.ToUpper(proto), port)),
		Commands: []string{
			fmt.Sprintf("kubectl get networkpolicy %s -n %s -o yaml > %s-before.yaml", name, ns, name),
			fmt.Sprintf("kubectl patch networkpolicy %s -n %s --type json -p '%s'", name, ns, patch),
		},
	}
}

// decideClientAddress: the Service is reachable in the VPC, but the client still calls its cluster
// name, which from the VPC resolves (at best) to the ClusterIP: warn until it calls the load
// balancer's address or a name you own for it (the client fix points it there).
func (r *reachRun) decideClientAddress(_ context.Context, t *target, cnl *couldNotLook) *verdict {
	if t.Dest.Kind != TargetClusterDNS || len(cnl.errs) > 0 {
		return nil // what could not be looked at makes it a skip (decidePass)
	}
	v := &verdict{T: t, Status: Warn, Cause: "client-calls-cluster-name", Dep: "ilb-provisioned"}
	switch l := t.viaL7(); {
	case t.usesILB():
		v.Summary = fmt.Sprintf("%s is reachable at %s:%d through %s/%s; %s still calls the cluster name %s, which from the VPC resolves at best to the ClusterIP: point it at %s (or a name you own for it)",
			t.Ref(), t.LBIP, t.ILBPort, t.ILB.Namespace, t.ILB.Name, r.who(t), t.Dest.Host, t.LBIP)
		v.Plans = append(v.Plans, r.pointClientPlans(t, t.LBIP, t.ILBPort, t.ILB.Namespace+"/"+t.ILB.Name)...)
	case l != nil && l.Address() != "":
		v.Summary = fmt.Sprintf("%s is reachable at %s:%d through %s (internal Application Load Balancer); %s still calls the cluster name %s: point it at the %s's address (or a name you own for it)",
			t.Ref(), l.Address(), l.Port, l.Ref(), r.who(t), t.Dest.Host, strings.ToLower(l.Kind))
		v.Plans = append(v.Plans, r.pointClientPlans(t, l.Address(), l.Port, l.Ref())...)
	default:
		return nil
	}
	return v
}

// envValue is the value of a Cloud Run service's environment variable (the first container that sets
// it), and whether it is set.
func envValue(src *Source, name string) (string, bool) {
	if src.Service == nil || src.Service.Template == nil {
		return "", false
	}
	for _, c := range src.Service.Template.Containers {
		for _, e := range c.Env {
			if e.Name == name && e.ValueSource == nil {
				return e.Value, true
			}
		}
	}
	return "", false
}

// pointClientPlans is the client fix: each URL of the target's clients that uses the target's host
// is pointed at ip:port (the internal load balancer's, or an internal Gateway's or Ingress's). Cloud
// Run variables change by a journaled, etag-guarded PATCH (a new revision; undo writes them back);
// App Engine versions change by redeploying, so theirs is advice. The address is not reserved: a name
// you own for it (dns-servfail's owned zone) survives a re-creation better.
func (r *reachRun) pointClientPlans(t *target, ip string, port int, via string) []*fixes.Plan {
	var out []*fixes.Plan
	for _, src := range r.f.sourcesOf(t) {
		for _, u := range src.URLs {
			if u.Host != t.Dest.Host || u.Port != t.Dest.Port {
				continue
			}
			nu := replaceHost(u.URL, ip, port)
			if src.Kind == KindAppEngine {
				out = append(out, appEngineEnvAdvice(src, u, nu))
				continue
			}
			id := "point-client-at-ilb/" + src.Location + "/" + src.Name + "/" + u.EnvVar
			old, ok := envValue(src, u.EnvVar)
			why := fmt.Sprintf("%s holds %s, which the VPC cannot reach; %s answers at %s:%d. The address is not reserved: a name you own for it (dns-servfail offers a private zone) survives a re-creation of the load balancer better.",
				u.EnvVar, u.URL, via, ip, port)
			if !ok || strings.Contains(old, "@") {
				out = append(out, &fixes.Plan{ID: id, Advice: true, Reversible: true,
					JudgedAgainst: []string{"a new revision of Cloud Run " + src.Name + ": every request that reads " + u.EnvVar},
					Title:         fmt.Sprintf("Point %s of Cloud Run %s at %s (%s)", u.EnvVar, src.Name, via, nu),
					Description:   why + " gkedoctor does not change this variable itself (it comes from a secret, or holds credentials): set it yourself.",
					Commands:      []string{fmt.Sprintf("gcloud run services update %s --region %s --project %s --update-env-vars %s=%s", src.Name, src.Location, gref.ProjectOf(src.FullName), u.EnvVar, nu)}})
				continue
			}
			out = append(out, fixes.NewPointClientPlan(r.env.FixDeps, fixes.PointClient{ID: id, Service: src.FullName, Name: src.Name, Region: src.Location,
				Project: gref.ProjectOf(src.FullName), Env: map[string]string{u.EnvVar: old}, New: map[string]string{u.EnvVar: strings.ReplaceAll(old, u.URL, nu)}, Why: why}))
		}
	}
	return out
}
