package checks

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// ilb-provisioned: for each target Service, an internal LoadBalancer (the Service itself or a sibling
// such as NAME-ilb), with status.loadBalancer.ingress set; while pending, its events (including
// LoadBalancerManualChange with the firewall command GKE asks for); and, when the client is in another
// region, global access on the forwarding rule.

func init() {
	Register(CheckFunc{CheckID: "ilb-provisioned", Fn: runILBProvisioned})
}

// ilbFinding is what ilb-provisioned found for one target.
type ilbFinding struct {
	T            *target
	Status       Status // pass, fail, warn, skip
	Cause        string
	Summary      string
	Evidence     []Evidence
	Err          error           // could not look
	Events       []corev1.Event  // of the ILB Service, when pending
	ManualChange string          // the gcloud command of a LoadBalancerManualChange event
	Region       []regionFinding // one per source in another region
	HealthPlan   *fixes.Plan     // the firewall fix for Google's health checks, when they are blocked
}

// regionFinding compares a client's region with the internal LB's.
type regionFinding struct {
	Src                    *Source
	SrcRegion, LBRegion    string
	GlobalAccess, Mismatch bool
	From                   string // where global access was read: the forwarding rule or the annotation
	Err                    error
}

type ilbAnalysis struct {
	Facts    *reachFacts
	Findings []*ilbFinding
}

func (a *ilbAnalysis) finding(t *target) *ilbFinding {
	for _, f := range a.Findings {
		if f.T == t {
			return f
		}
	}
	return nil
}

var ilbSlot = inventory.NewSlot[*ilbAnalysis]("ilb-provisioned")

// ilbConcurrency bounds the targets decided at once (each may read its load balancer's events).
const ilbConcurrency = 8

func analyseILB(ctx context.Context, env *Env) (*ilbAnalysis, error) {
	return inventory.Derive(ctx, env.Inv, ilbSlot, func(ctx context.Context) (*ilbAnalysis, error) {
		f, err := getReachFacts(ctx, env)
		if err != nil {
			return nil, err
		}
		a := &ilbAnalysis{Facts: f}
		for _, t := range f.Targets {
			if (t.Svc == nil && t.Err == nil) || (t.Svc != nil && t.Svc.Spec.Type == corev1.ServiceTypeExternalName) {
				continue // not a Service of this cluster, or a CNAME: nothing to expose
			}
			a.Findings = append(a.Findings, nil)
		}
		// The targets are independent (each reads its own load balancer's events through the
		// inventory): decided a few at a time, kept in the targets' order.
		lbs := 0
		for _, t := range f.Targets {
			if t.ILB != nil {
				lbs++
			}
		}
		events := eventsReader(ctx, env, lbs)
		var g errgroup.Group
		g.SetLimit(ilbConcurrency)
		k := 0
		for _, t := range f.Targets {
			if (t.Svc == nil && t.Err == nil) || (t.Svc != nil && t.Svc.Spec.Type == corev1.ServiceTypeExternalName) {
				continue
			}
			slot := k
			k++
			g.Go(func() error {
				a.Findings[slot] = ilbFor(ctx, env, f, t, events)
				return nil
			})
		}
		_ = g.Wait() // ilbFor returns no error: each finding says what it could not read
		return a, nil
	})
}

// serviceEventsFunc reads the events of one Service.
type serviceEventsFunc func(ctx context.Context, ns, name string) ([]corev1.Event, error)

// eventsReader returns how to read the events of n load balancers: one request per Service when
// they are few (it needs list events only in their namespaces), else one list of every Service's
// events in the cluster, falling back to one request per Service when that list is refused.
func eventsReader(ctx context.Context, env *Env, n int) serviceEventsFunc {
	one := func(ctx context.Context, ns, name string) ([]corev1.Event, error) {
		return env.Inv.Events(ctx, ns, "Service", name)
	}
	if n <= ilbConcurrency {
		return one
	}
	all, err := env.Inv.ServiceEvents(ctx)
	if err != nil {
		return one
	}
	return func(_ context.Context, ns, name string) ([]corev1.Event, error) { return all[ns+"/"+name], nil }
}

var backquoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("`([^`]+)`") })

// ilbFor decides whether an internal load balancer exposes the target, in order: the Services could
// be listed; one exists (not only an external one); it is provisioned (its events say why not); every
// client's region can reach it (global access).
func ilbFor(ctx context.Context, env *Env, f *reachFacts, t *target, events serviceEventsFunc) *ilbFinding {
	fd := &ilbFinding{T: t}
	if t.Err != nil {
		fd.Status, fd.Err = Skip, t.Err
		fd.Summary = "could not list the cluster's Services to find a load balancer for " + t.Ref() + ": " + t.Err.Error()
		fd.step(Skip, "find a load balancer for "+t.Ref(), t.Err.Error(), "kubectl get services -A")
		return fd
	}
	s := t.Svc
	fd.step(Pass, "Service "+s.Namespace+"/"+s.Name, fmt.Sprintf("type %s, ClusterIP %s, selector %s", typeOf(s), s.Spec.ClusterIP, selectorString(s.Spec.Selector)), kubectlSvc(s.Namespace, s.Name))
	for _, decide := range []func() bool{
		func() bool { return fd.decideNotL4(f, t) },
		func() bool { return fd.decideExists(t) },
		func() bool { return fd.decideProvisioned(ctx, t, events) },
		func() bool { return fd.decideHealthChecks(ctx, env, f, t) },
		func() bool { return fd.decideRegions(ctx, env, f, t) },
	} {
		if decide() {
			break
		}
	}
	return fd
}

func (fd *ilbFinding) step(st Status, s, detail, cmd string) {
	fd.Evidence = append(fd.Evidence, Evidence{Step: s, Status: st, Detail: detail, Command: cmd})
}

// decideNotL4: targets that need no L4 internal load balancer — a headless Service (its pods are
// called directly), one behind an internal Gateway or Ingress (an internal Application Load
// Balancer), an external load balancer's public address called over the internet — are not judged
// here; clusterip-unreachable judges their path.
func (fd *ilbFinding) decideNotL4(f *reachFacts, t *target) bool {
	s := t.Svc
	ref := s.Namespace + "/" + s.Name
	switch l := t.viaL7(); {
	case t.headless():
		fd.Status, fd.Cause = Skip, "not-applicable"
		fd.Summary = fmt.Sprintf("not applicable: %s is headless (clusterIP: None): clients reach its pods directly, no load balancer is expected", ref)
		fd.step(Skip, "internal load balancer for "+ref, "headless Service: its name answers with pod IPs; one load balancer in front of it would lose per-pod identity", kubectlSvc(s.Namespace, s.Name))
		return true
	case t.ILB == nil && l != nil && l.Address() == "":
		fd.Status, fd.Cause = Warn, "ilb-pending"
		fd.Summary = fmt.Sprintf("%s (class %s) routes to %s but has no address yet", l.Ref(), l.Class, ref)
		fd.step(Warn, "internal Application Load Balancer for "+ref, fd.Summary, fmt.Sprintf("kubectl describe %s %s -n %s", strings.ToLower(l.Kind), l.Name, l.Namespace))
		return true
	case t.ILB == nil && l != nil:
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("%s is exposed in the VPC at %s:%d by %s (class %s, an internal Application Load Balancer): no L4 internal load balancer is needed", ref, l.Address(), l.Port, l.Ref(), l.Class)
		what := l.Ref()
		if l.Route != "" {
			what += " through HTTPRoute " + l.Route
		}
		fd.step(Pass, "internal Application Load Balancer for "+ref, what+", address "+l.Address(), fmt.Sprintf("kubectl get %s %s -n %s -o wide", strings.ToLower(l.Kind), l.Name, l.Namespace))
		return true
	case t.ILB == nil && t.L7Err != nil:
		fd.Status, fd.Err = Skip, t.L7Err
		fd.Summary = "no L4 internal load balancer exposes " + ref + ", and whether an internal Gateway or Ingress does could not be read: " + t.L7Err.Error()
		fd.step(Skip, "internal Gateway or Ingress for "+ref, t.L7Err.Error(), "kubectl get gateways,httproutes,ingresses -A")
		return true
	}
	if (t.Dest.Kind == TargetLBIP || t.Dest.Kind == TargetZoneName) && t.Addr.IsValid() && !model.IsPrivate(t.Addr) {
		if o, ok := f.Model.Services.OwnerOfKind(t.Addr, model.AddrExternalLB); ok {
			fd.Status, fd.Cause = Skip, "not-applicable"
			fd.Summary = fmt.Sprintf("not applicable: the client calls %s, the public address of the external load balancer %s/%s, over the internet", t.addrPort(), o.Service.Namespace, o.Service.Name)
			fd.step(Skip, "internal load balancer for "+ref, fd.Summary, kubectlSvc(o.Service.Namespace, o.Service.Name))
			return true
		}
	}
	return false
}

// decideExists: an internal load balancer exposes the Service (the target itself or a sibling); an
// external one, or none, is the cause.
func (fd *ilbFinding) decideExists(t *target) bool {
	step := fd.step
	s := t.Svc
	ref := s.Namespace + "/" + s.Name
	if t.ILB == nil {
		switch {
		case t.External != nil:
			fd.Status, fd.Cause = Fail, "ilb-external"
			fd.Summary = fmt.Sprintf("%s is exposed only by the external load balancer %s/%s: without %s: \"Internal\" GKE creates an external one, not reachable on an internal address from the VPC",
				ref, t.External.Namespace, t.External.Name, model.AnnotationLBType)
			step(Fail, "internal load balancer for "+ref, fmt.Sprintf("%s/%s is type LoadBalancer without the internal annotation (annotations: %s)", t.External.Namespace, t.External.Name, annotationsString(t.External)), kubectlSvc(t.External.Namespace, t.External.Name))
		default:
			fd.Status, fd.Cause = Fail, "target-is-clusterip"
			fd.Summary = fmt.Sprintf("no internal load balancer exposes %s: it is %s, reachable only from inside the cluster", ref, typeOf(s))
			detail := "no Service of type LoadBalancer with " + model.AnnotationLBType + ": \"Internal\" selects the same pods on port " + portString(t.SvcPort)
			if len(s.Spec.Selector) == 0 {
				detail = "the Service has no selector (its endpoints are managed by hand), so no sibling load balancer can select the same pods"
			}
			step(Fail, "internal load balancer for "+ref, detail, fmt.Sprintf("kubectl get services -n %s -o wide", s.Namespace))
		}
		return true
	}
	return false
}

// decideProvisioned: the internal load balancer has its IP; its events say why not (and carry GKE's
// request for a firewall change it could not make, which matters even once the IP is there).
func (fd *ilbFinding) decideProvisioned(ctx context.Context, t *target, events serviceEventsFunc) bool {
	step := fd.step
	ref := t.Svc.Namespace + "/" + t.Svc.Name
	ilb := t.ILB
	ilbRef := ilb.Namespace + "/" + ilb.Name
	how := "annotation " + model.AnnotationLBType
	if _, ok := ilb.Annotations[model.AnnotationLBType]; !ok {
		if _, ok := ilb.Annotations[model.AnnotationLBTypeLegacy]; ok {
			how = "legacy annotation " + model.AnnotationLBTypeLegacy
		} else {
			how = "spec.loadBalancerClass " + *ilb.Spec.LoadBalancerClass
		}
	}
	step(Pass, "internal load balancer for "+ref, fmt.Sprintf("%s is type LoadBalancer, internal by %s, port %d", ilbRef, how, t.ILBPort), kubectlSvc(ilb.Namespace, ilb.Name))
	// Events: why an IP is pending, and GKE's request for a firewall change it could not make
	// (LoadBalancerManualChange, on Shared VPC), which matters even once the IP is there.
	evs, evErr := events(ctx, ilb.Namespace, ilb.Name)
	failed := false
	var lines []string
	if evErr != nil {
		lines = append(lines, "could not read its events: "+evErr.Error())
	}
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	for _, e := range evs {
		lines = append(lines, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, strings.TrimSpace(e.Message)))
		switch e.Reason {
		case "SyncLoadBalancerFailed":
			failed = true
		case "LoadBalancerManualChange":
			if m := backquoted().FindStringSubmatch(e.Message); m != nil {
				fd.ManualChange = m[1]
			}
			failed = true
		}
	}
	fd.Events = evs
	if t.LBIP == "" {
		if len(evs) == 0 && evErr == nil {
			lines = append(lines, "no events (the load-balancer controller has not reported anything yet)")
		}
		fd.Cause = "ilb-pending"
		if failed {
			fd.Status = Fail
			fd.Summary = fmt.Sprintf("the internal load balancer %s has no IP: its events report a failure", ilbRef)
		} else {
			fd.Status = Warn
			fd.Summary = fmt.Sprintf("the internal load balancer %s is still provisioning: status.loadBalancer.ingress is empty (EXTERNAL-IP <pending>)", ilbRef)
		}
		if fd.ManualChange != "" {
			fd.Summary += "; GKE asks a security admin to run: " + fd.ManualChange
		}
		step(fd.Status, "ingress IP of "+ilbRef, "pending; events:\n"+strings.Join(lines, "\n"), kubectlEvents(ilb.Namespace, ilb.Name))
		return true
	}
	step(Pass, "ingress IP of "+ilbRef, fmt.Sprintf("%s (clients in the VPC use http://%s:%d)", t.LBIP, t.LBIP, t.ILBPort),
		fmt.Sprintf("kubectl get service %s -n %s -o jsonpath='{.status.loadBalancer.ingress[*].ip}'", ilb.Name, ilb.Namespace))
	if fd.ManualChange != "" {
		step(Warn, "firewall change GKE asked for", "GKE could not open the firewall for "+ilbRef+" itself (Shared VPC?): a security admin must run: "+fd.ManualChange, kubectlEvents(ilb.Namespace, ilb.Name))
	}
	return false
}

// decideRegions: every client calls from the load balancer's region, or global access is on.
func (fd *ilbFinding) decideRegions(ctx context.Context, env *Env, f *reachFacts, t *target) bool {
	step := fd.step
	ref := t.Svc.Namespace + "/" + t.Svc.Name
	ilbRef := t.ILB.Namespace + "/" + t.ILB.Name
	// Region versus global access, per client.
	for _, src := range f.sourcesOf(t) {
		rf := regionFor(ctx, env, f, t, src)
		fd.Region = append(fd.Region, rf)
		cmd := fmt.Sprintf("gcloud compute forwarding-rules list --project %s --regions %s --filter='IPAddress=%s' --format='value(name,loadBalancingScheme,allowGlobalAccess)'",
			orPlaceholder(env.Inv.Scope.Project, "PROJECT"), rf.LBRegion, t.LBIP)
		switch {
		case rf.SrcRegion == rf.LBRegion:
			step(Pass, "region of "+sourceLabel(src), fmt.Sprintf("same region as the load balancer (%s)", rf.LBRegion), "")
		case rf.Err != nil:
			step(Skip, "global access of "+ilbRef, fmt.Sprintf("%s is in %s, the load balancer in %s; could not read its forwarding rule: %v", sourceLabel(src), rf.SrcRegion, rf.LBRegion, rf.Err), cmd)
		case rf.Mismatch:
			step(Fail, "global access of "+ilbRef, fmt.Sprintf("%s is in %s, the load balancer in %s, and global access is off (%s): an internal passthrough load balancer only accepts clients from its own region", sourceLabel(src), rf.SrcRegion, rf.LBRegion, rf.From), cmd)
		default:
			step(Pass, "global access of "+ilbRef, fmt.Sprintf("%s is in %s, the load balancer in %s, with global access on (%s)", sourceLabel(src), rf.SrcRegion, rf.LBRegion, rf.From), cmd)
		}
	}
	var bad []string
	var errs couldNotLook
	for _, rf := range fd.Region {
		if rf.Err != nil {
			errs.add(rf.Err)
		} else if rf.Mismatch {
			bad = append(bad, fmt.Sprintf("%s (%s)", rf.Src.Name, rf.SrcRegion))
		}
	}
	switch {
	case len(bad) > 0:
		fd.Status, fd.Cause = Fail, "region-mismatch"
		fd.Summary = fmt.Sprintf("%s reaches %s only from %s, but %s calls it from another region without global access", ilbRef, t.LBIP, fd.Region[0].LBRegion, strings.Join(bad, ", "))
	case len(errs.errs) > 0:
		r := errs.result("check the forwarding rule of " + ilbRef)
		fd.Status, fd.Cause, fd.Summary, fd.Err = Skip, r.Cause, r.Summary, errs.errs[0]
	default:
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("%s is exposed at %s:%d by the internal load balancer %s", ref, t.LBIP, t.ILBPort, ilbRef)
	}
	return true
}

func regionFor(ctx context.Context, env *Env, f *reachFacts, t *target, src *Source) regionFinding {
	rf := regionFinding{Src: src, SrcRegion: gref.Region(src.Location), LBRegion: f.Cluster.Region}
	if rf.SrcRegion == "" || rf.LBRegion == "" || rf.SrcRegion == rf.LBRegion {
		return rf
	}
	rules, err := env.Inv.ForwardingRules(ctx, env.Inv.Scope.Project, rf.LBRegion)
	if err != nil {
		rf.Err = err
		return rf
	}
	for _, fr := range rules {
		if fr.IPAddress == t.LBIP {
			rf.GlobalAccess = fr.AllowGlobalAccess
			rf.From = "forwarding rule " + fr.Name + fmt.Sprintf(" allowGlobalAccess=%v", fr.AllowGlobalAccess)
			rf.Mismatch = !rf.GlobalAccess
			return rf
		}
	}
	v := t.ILB.Annotations[model.AnnotationGlobalAccess]
	rf.GlobalAccess = strings.EqualFold(v, "true")
	rf.From = fmt.Sprintf("no forwarding rule holds %s yet; annotation %s=%q", t.LBIP, model.AnnotationGlobalAccess, v)
	rf.Mismatch = !rf.GlobalAccess
	return rf
}

func runILBProvisioned(ctx context.Context, env *Env, rec *Recorder) Result {
	a, err := analyseILB(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(a.Findings) == 0 {
		return SkipResult("not-applicable", noTargetsReason(a.Facts)+"; no target is a Service of this cluster")
	}
	r := combineFindings(rec, a.Findings, func(fd *ilbFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		return fmt.Sprintf("%d target Service(s) are exposed by provisioned internal load balancers reachable from their clients' regions", n)
	})
	fixHint(rec, r)
	return r
}

// combineFindings records every finding's evidence and returns the worst one as the result: fail,
// then warn, then skip (could not look), else pass.
func combineFindings[F any](rec *Recorder, fs []F, get func(F) (Status, string, string, []Evidence, error), passSummary func(n int) string) Result {
	var worst *Result
	rank := map[Status]int{Fail: 4, Warn: 3, Skip: 2, Error: 1, Pass: 0}
	var fails []string
	for _, f := range fs {
		st, cause, summary, ev, err := get(f)
		for _, e := range ev {
			rec.Step(e.Step, e.Status, e.Detail, e.Command)
		}
		var r Result
		switch st {
		case Skip:
			if err != nil {
				r = FromErr("look", err)
				r.Summary = summary
			} else {
				r = SkipResult(cause, summary)
			}
		default:
			r = Result{Status: st, Cause: cause, Summary: summary}
		}
		if st == Fail {
			fails = append(fails, summary)
		}
		if worst == nil || rank[r.Status] > rank[worst.Status] {
			rr := r
			worst = &rr
		}
	}
	if worst == nil || worst.Status == Pass {
		return PassResult(passSummary(len(fs)))
	}
	if worst.Status == Fail && len(fails) > 1 {
		worst.Summary = JoinSummaries(fails)
	}
	return *worst
}

func typeOf(s *corev1.Service) string {
	t := string(s.Spec.Type)
	if t == "" {
		t = "ClusterIP"
	}
	if s.Spec.ClusterIP == corev1.ClusterIPNone {
		return "headless ClusterIP"
	}
	return t
}

func selectorString(m map[string]string) string {
	if len(m) == 0 {
		return "(none)"
	}
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func annotationsString(s *corev1.Service) string {
	if len(s.Annotations) == 0 {
		return "none"
	}
	var kv []string
	for k, v := range s.Annotations {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ", ")
}

func portString(p *corev1.ServicePort) string {
	if p == nil {
		return "(none)"
	}
	return fmt.Sprintf("%d/%s → %s", p.Port, p.Protocol, p.TargetPort.String())
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
