package checks

// Shared facts of the reachability checks (FAILURE-MODES §1): the cluster's ranges and network, each
// destination resolved to the Service and the address the client's packets go to, and the internal
// load balancer that exposes it. The supporting checks (run-vpc-egress, vpc-connector-ready,
// ilb-provisioned, firewall-serverless-to-nodes) and the primary (clusterip-unreachable) all read
// these through inventory.Memo, so each fact is gathered once per run whoever asks first.

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

func clusterCommand(env *Env) string {
	s := env.Inv.Scope
	return fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format='value(servicesIpv4Cidr,clusterIpv4Cidr,networkConfig.network,currentMasterVersion)'",
		orPlaceholder(s.Cluster, "CLUSTER"), orPlaceholder(s.Location, "LOCATION"), orPlaceholder(s.Project, "PROJECT"))
}

func orPlaceholder(s, ph string) string {
	if s == "" {
		return ph
	}
	return s
}

// target is one destination with the facts every aspect of the path needs.
type target struct {
	Dest     Dest
	Svc      *corev1.Service     // the Service the client means; nil when not in the cluster or not found
	SvcPort  *corev1.ServicePort // the port of Svc the client uses
	ILB      *corev1.Service     // the internal LB Service exposing Svc (Svc itself or a sibling)
	ILBPort  int                 // ILB's port for SvcPort
	LBIP     string              // ILB's ingress IP when provisioned
	External *corev1.Service     // an external LB for Svc, when there is no internal one
	Addr     netip.Addr          // where the client's packets go; invalid when unknown
	Port     int                 // destination port of the packets
	Protocol string              // tcp or udp
	Class    string              // how Addr classifies, for people
	Err      error               // could not look at the cluster's Services
	// L7 are the internal Application Load Balancers (Gateway gke-l7-rilb, Ingress gce-internal) in
	// front of Svc, when no L4 internal LB exposes it; L7Err says why they could not be read.
	L7    []model.L7
	L7Err error
}

// viaL7 is the internal L7 exposure the target is judged through (the first), or nil.
func (t *target) viaL7() *model.L7 {
	if len(t.L7) == 0 {
		return nil
	}
	return &t.L7[0]
}

// headless reports whether the target Service has no virtual IP (clusterIP: None).
func (t *target) headless() bool {
	return t.Svc != nil && model.ExposureOf(t.Svc) == model.ExposeHeadless
}

// Ref names the target.
func (t *target) Ref() string { return t.Dest.Ref() }

// usesILB reports whether the client's packets go to the internal LB.
func (t *target) usesILB() bool { return t.LBIP != "" && t.Addr.IsValid() && t.Addr.String() == t.LBIP }

// addrPort is IP:PORT of the packets, or the host the client uses when the address is unknown.
func (t *target) addrPort() string {
	if t.Addr.IsValid() {
		return netip.AddrPortFrom(t.Addr, uint16(t.Port)).String()
	}
	return t.Dest.Host + ":" + strconv.Itoa(t.Port)
}

// reachFacts are the path and its targets.
type reachFacts struct {
	Path  *Path
	Model *model.Model
	// Cluster is the cluster, or a stand-in holding the scope when ClusterErr says it could not be read.
	Cluster    *model.Cluster
	ClusterErr error
	Targets    []*target
	// RunErr is why the Cloud Run services could not be listed, when discovery went on without them.
	RunErr error
}

// sourcesOf returns the sources whose packets go to t: its own source, or every source for --service.
func (f *reachFacts) sourcesOf(t *target) []*Source {
	var out []*Source
	for i := range f.Path.Sources {
		s := &f.Path.Sources[i]
		if t.Dest.Source == "" || t.Dest.Source == s.Name {
			out = append(out, s)
		}
	}
	return out
}

// targetsOf returns the targets a source sends packets to.
func (f *reachFacts) targetsOf(s *Source) []*target {
	var out []*target
	for _, t := range f.Targets {
		if t.Dest.Source == "" || t.Dest.Source == s.Name {
			out = append(out, t)
		}
	}
	return out
}

var reachFactsSlot = inventory.NewSlot[*reachFacts]("reach-facts")

// getReachFacts discovers the path and resolves its targets, once per run.
func getReachFacts(ctx context.Context, env *Env) (*reachFacts, error) {
	return inventory.Derive(ctx, env.Inv, reachFactsSlot, func(ctx context.Context) (*reachFacts, error) {
		p, err := DiscoverPath(ctx, env)
		if err != nil {
			return nil, err
		}
		m := model.For(ctx, env.Inv)
		f := &reachFacts{Path: p, Model: m, Cluster: m.ClusterOrScope(), ClusterErr: m.ClusterErr}
		// The first project (the cluster's, then each --source-project) whose Cloud Run services
		// could not be listed.
		for _, project := range discoveryProjects(env) {
			if err := p.ListErrs[project]; err != nil && f.RunErr == nil {
				f.RunErr = err
			}
		}
		for _, d := range p.Dests {
			f.Targets = append(f.Targets, resolveTarget(d, m))
		}
		attachL7(ctx, env, f)
		return f, nil
	})
}

// warmNetwork fetches, beside the Service list the model waits on, what the VPC enforces on the
// cluster's network (its firewall rules and policies): on a large cluster the list is the longest
// wait of a run, and the firewall of a large network the next one, and the firewall does not depend
// on the Services. Only the checks whose verdict rests on that firewall call it, before they wait
// for the reach facts: firewall-serverless-to-nodes, and clusterip-unreachable, whose supporting
// checks judge it (a check must not have a fact read on its behalf that its verdict does not rest
// on: the fault matrix holds each check to the reads it makes). Nothing waits for it; the checks
// read the same memoised fact (and its error, if any) when they get to it. The fetch is not cut short when the
// caller is done (a check that joined it would get the cancellation as its answer), only at the
// caller's deadline.
func warmNetwork(ctx context.Context, env *Env) {
	wctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); ok {
		wctx, cancel = context.WithDeadline(wctx, d)
	}
	go func() {
		defer cancel()
		c, err := env.Inv.Cluster(wctx)
		if err != nil || c == nil {
			return
		}
		if cf := model.ClusterFrom(c, env.Inv.Scope.Project); cf.Network != "" {
			_, _ = env.Inv.FirewallSet(wctx, cf.NetworkProject, cf.Network, cf.Region)
		}
	}()
}

// resolveTarget decides where the client's packets for d go and which load balancer exposes the
// Service it means, from the model's Service index:
//  1. an IP literal in the URL is where the packets go (on the URL's port); a name in a private zone
//     goes where its A record points;
//  2. the Service's port the client uses decides the protocol;
//  3. the Service itself when it is a LoadBalancer, else its sibling internal LB (the one finder,
//     model.Services.InternalLBFor), else an external one;
//  4. a cluster name or --service reaches the Service at its internal LB once one is provisioned
//     (publishing a name for it is the DNS checks' part), else at its ClusterIP.
func resolveTarget(d Dest, m *model.Model) *target {
	t := &target{Dest: d, Svc: d.Service, Port: d.Port, Protocol: "tcp"}
	if ip, err := netip.ParseAddr(d.Host); err == nil {
		t.Addr = ip.Unmap()
	} else if d.Resolved.IsValid() {
		t.Addr = d.Resolved
	}
	if t.Svc != nil {
		t.SvcPort = model.PortOf(t.Svc, d.Port)
		if t.SvcPort != nil && t.SvcPort.Protocol == corev1.ProtocolUDP {
			t.Protocol = "udp"
		}
		if model.IsInternalLB(t.Svc) {
			t.ILB, t.ILBPort = m.Services.InternalLBFor(t.Svc, t.SvcPort)
		} else {
			if t.Svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				t.External = t.Svc
			}
			if m.ServicesErr != nil {
				t.Err = m.ServicesErr // whether a sibling internal LB exists is unknown
			} else if t.ILB, t.ILBPort = m.Services.InternalLBFor(t.Svc, t.SvcPort); t.ILB == nil && t.External == nil {
				t.External, _ = m.Services.ExternalLBFor(t.Svc, t.SvcPort)
			}
		}
		t.LBIP = model.IngressIP(t.ILB)
		if !t.Addr.IsValid() || d.Kind == TargetFlag {
			t.Addr = netip.Addr{}
			t.Port = svcPortNumber(t.SvcPort, d.Port)
			switch {
			case t.LBIP != "":
				t.Addr, _ = netip.ParseAddr(t.LBIP)
				t.Port = t.ILBPort
			case t.Svc.Spec.ClusterIP != "" && t.Svc.Spec.ClusterIP != corev1.ClusterIPNone:
				t.Addr, _ = netip.ParseAddr(t.Svc.Spec.ClusterIP)
			}
		}
	}
	if t.Svc == nil && m.ServicesErr != nil && d.Kind != TargetOtherName {
		t.Err = m.ServicesErr // whether the host is a Service of this cluster is unknown
	}
	t.Class = m.Classify(t.Addr)
	return t
}

// attachL7 finds the internal Application Load Balancers in front of each target Service that no L4
// internal load balancer exposes (a Gateway of class gke-l7-rilb or gke-l7-rilb-mc with an HTTPRoute
// to it, an Ingress of class gce-internal): such a Service is exposed in the VPC, and a client that
// calls it by its cluster name or --service reaches it at the exposure's address once it has one.
func attachL7(ctx context.Context, env *Env, f *reachFacts) {
	var need []*target
	for _, t := range f.Targets {
		if t.Svc != nil && t.ILB == nil && t.Err == nil && !t.headless() && t.Svc.Spec.Type != corev1.ServiceTypeExternalName {
			need = append(need, t)
		}
	}
	if len(need) == 0 {
		return
	}
	x := model.L7For(ctx, env.Inv)
	for _, t := range need {
		t.L7 = x.For(t.Svc.Namespace, t.Svc.Name)
		if len(t.L7) == 0 {
			t.L7Err = x.Err()
			continue
		}
		l := t.L7[0]
		if t.Dest.Kind != TargetL7Addr && l.Address() != "" && (t.Dest.Kind == TargetClusterDNS || t.Dest.Kind == TargetFlag) {
			if a, err := netip.ParseAddr(l.Address()); err == nil {
				t.Addr, t.Port = a.Unmap(), l.Port
				t.Class = f.Model.Classify(t.Addr)
			}
		}
		if t.Dest.Kind == TargetL7Addr {
			t.Class = "address of " + l.Ref() + " (internal Application Load Balancer)"
		}
	}
}

// isClusterIPAddr reports whether the packets go to a ClusterIP: a Service's, or in the services range.
func (t *target) isClusterIPAddr(m *model.Model) bool {
	return t.Addr.IsValid() && m.IsClusterIP(t.Addr)
}

func svcPortNumber(p *corev1.ServicePort, fallback int) int {
	if p != nil {
		return int(p.Port)
	}
	return fallback
}

// couldNotLook collects the reasons a verdict could not be confirmed.
type couldNotLook struct{ errs []error }

func (c *couldNotLook) add(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// result is the honest skip for the first reason, classified (a missing permission is named).
func (c *couldNotLook) result(what string) Result { return FromErr(what, c.errs[0]) }

// kubectlSvc is the kubectl command that shows a Service's reachability fields.
func kubectlSvc(ns, name string) string {
	return fmt.Sprintf("kubectl get service %s -n %s -o jsonpath='{.spec.type} {.spec.clusterIP} {.metadata.annotations} {.status.loadBalancer.ingress}'", name, ns)
}

func kubectlEvents(ns, name string) string {
	return fmt.Sprintf("kubectl get events -n %s --field-selector involvedObject.kind=Service,involvedObject.name=%s", ns, name)
}

func runDescribe(s *Source) string {
	if s.Kind == KindAppEngine {
		svc, ver, _ := strings.Cut(s.Name, "/")
		return fmt.Sprintf("gcloud app versions describe %s --service %s --project %s --format='value(vpcAccessConnector)'", ver, svc, s.ProjectID())
	}
	return fmt.Sprintf("gcloud run services describe %s --region %s --project %s --format='value(template.vpcAccess)'", s.Name, s.Location, s.ProjectID())
}

// sourceLabel names a source with its kind and location.
func sourceLabel(s *Source) string {
	return fmt.Sprintf("%s %s (%s)", s.KindLabel(), s.Name, s.Location)
}

// noTargetsReason explains why there is nothing to analyse.
func noTargetsReason(f *reachFacts) string {
	msg := "not applicable: no target: no Cloud Run service with VPC access calls a GKE Service by URL in its environment, and no --service NS/NAME was given"
	if len(f.Path.Notes) > 0 {
		msg += " (" + strings.Join(f.Path.Notes, "; ") + ")"
	}
	return msg
}

// reachSkip turns a failed discovery into the honest result (skip naming what was missing).
func reachSkip(err error) Result {
	return FromErr("discover the path from Cloud Run to the cluster", err)
}
