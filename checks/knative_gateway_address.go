package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// knative-gateway-address (FAILURE-MODES §7b, seed 002): Knative (or Cloud Run for Anthos) publishes
// its ingress gateway's load-balancer address to every Ingress and DomainMapping; a gateway switched
// to NodePort has none, and they wait - "Waiting for load balancer to be ready", or CRfA's "Waiting
// for Gateway IP". The check asks discovery which Knative APIs are served (none: skip, Knative is not
// installed), lists their objects, finds the gateway Service (config-istio's, else the platforms'
// usual ones) and decides, in order: the gateway is not a LoadBalancer; no gateway exists; its load
// balancer has no address yet; objects wait although it has one; objects are not Ready for another
// reason. Facts it could not read make it skip, never pass.

func init() {
	Register(CheckFunc{CheckID: "knative-gateway-address", Fn: runKnativeGatewayAddress})
}

// knGateway is one candidate gateway Service.
type knGateway struct {
	Ref    model.GatewayRef
	Svc    *corev1.Service // nil when absent or unreadable
	Absent bool
	Err    error
}

// knWaiting is an object that waits for the gateway's address, with the condition that says so.
type knWaiting struct {
	Obj  model.KnativeObject
	Cond model.KnativeCondition
}

func (w knWaiting) String() string { return w.Obj.Ref() + " waits (" + w.Cond.String() + ")" }

// knFacts is what the check read.
type knFacts struct {
	APIs     []model.KnativeAPI
	Objects  []model.KnativeObject
	ListErrs []error
	Gateways []*knGateway
	Waiting  []knWaiting
	NotReady []knWaiting // not Ready for another reason
}

func (f *knFacts) existing() []*knGateway {
	var out []*knGateway
	for _, g := range f.Gateways {
		if g.Svc != nil {
			out = append(out, g)
		}
	}
	return out
}

func runKnativeGatewayAddress(ctx context.Context, env *Env, rec *Recorder) Result {
	f := &knFacts{}
	if r := knAPIs(ctx, env, rec, f); r != nil {
		return *r
	}
	knObjects(ctx, env, rec, f)
	knGateways(ctx, env, rec, f)
	return knVerdict(ctx, env, rec, f)
}

// knVerdict is the decision list over what was read, in order; the first that decides wins.
func knVerdict(ctx context.Context, env *Env, rec *Recorder, f *knFacts) Result {
	for _, decide := range []func() *Result{
		func() *Result { return knDecideUnlisted(f) },
		func() *Result { return knDecideNotLoadBalancer(env, f) },
		func() *Result { return knDecideUnreadable(f) },
		func() *Result { return knDecideMissing(f) },
		func() *Result { return knDecidePending(ctx, env, rec, f) },
		func() *Result { return knDecideWaitingDespiteAddress(f) },
		func() *Result { return knDecideNotReady(f) },
		func() *Result { return knDecideCouldNotList(f) },
	} {
		if r := decide(); r != nil {
			return *r
		}
	}
	return PassResult(knPassSummary(f))
}

// knPassSummary: what every gateway found has, and that every object is Ready.
func knPassSummary(f *knFacts) string {
	var gws []string
	for _, g := range f.existing() {
		if a := model.GatewayAddress(g.Svc); a != "" {
			gws = append(gws, fmt.Sprintf("%s has the address %s", g.Ref.Ref(), a))
		} else {
			gws = append(gws, fmt.Sprintf("%s is type %s without an address, yet Knative publishes one (another gateway serves them)", g.Ref.Ref(), typeOf(g.Svc)))
		}
	}
	if len(gws) == 0 {
		return "no gateway Service at the usual places, but " + countObjects(f.Objects, "Ready") + ": Knative publishes an address for them"
	}
	return "the Knative gateway " + strings.Join(gws, ", ") + "; " + countObjects(f.Objects, "Ready")
}

// knAPIs asks discovery which Knative APIs the server serves: one version per group and resource,
// the first of model.KnativeAPIs. None: Knative is not installed.
func knAPIs(ctx context.Context, env *Env, rec *Recorder, f *knFacts) *Result {
	served := map[string]bool{}
	var errs couldNotLook
	var absent []string
	for _, api := range model.KnativeAPIs {
		if served[api.Group+"/"+api.Resource] {
			continue
		}
		l, err := env.Inv.APIResources(ctx, api.GroupVersion())
		switch {
		case apierr.KindOf(err) == apierr.NotFound:
			absent = append(absent, api.GroupVersion())
			continue
		case err != nil:
			errs.add(err)
			rec.Step("discover "+api.GroupVersion(), Skip, err.Error(), "kubectl api-resources --api-group="+api.Group)
			continue
		}
		for _, r := range l.APIResources {
			if r.Name == api.Resource {
				served[api.Group+"/"+api.Resource] = true
				f.APIs = append(f.APIs, api)
			}
		}
	}
	if len(f.APIs) == 0 {
		if len(errs.errs) > 0 {
			r := errs.result("discover the Knative APIs")
			return &r
		}
		rec.Step("Knative APIs", Skip, "the API server serves none of "+strings.Join(absent, ", "), "kubectl api-resources | grep -E 'knative|cloudrun'")
		r := SkipResult("knative-not-installed", "Knative is not installed: the API server serves no DomainMapping (serving.knative.dev, domains.cloudrun.com) or Knative Ingress (networking.internal.knative.dev) API")
		return &r
	}
	var names []string
	for _, a := range f.APIs {
		names = append(names, a.Kind+" "+a.String()+" ("+a.Product+")")
	}
	rec.Step("Knative APIs", Pass, strings.Join(names, ", "), "kubectl api-resources | grep -E 'knative|cloudrun'")
	return nil
}

// knObjects lists the objects of every served API and sorts them into waiting and not ready.
func knObjects(ctx context.Context, env *Env, rec *Recorder, f *knFacts) {
	for _, api := range f.APIs {
		cmd := fmt.Sprintf(`kubectl get %s.%s -A -o custom-columns='NAMESPACE:.metadata.namespace,NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,MESSAGE:.status.conditions[?(@.type=="Ready")].message'`, api.Resource, api.Group)
		items, err := env.Inv.CustomObjects(ctx, api.GVR())
		if err != nil {
			f.ListErrs = append(f.ListErrs, err)
			rec.Step(knPlural(api.Kind)+" ("+api.String()+")", Skip, "could not list them: "+err.Error(), cmd)
			continue
		}
		st := Pass
		var lines []string
		for i := range items {
			line, ost := f.add(model.KnativeObjectFrom(api, &items[i]))
			lines = append(lines, line)
			if ost == Fail || (ost == Warn && st == Pass) {
				st = ost
			}
		}
		if len(items) == 0 {
			lines = append(lines, "none")
		}
		rec.Step(fmt.Sprintf("%s (%s): %d", knPlural(api.Kind), api.String(), len(items)), st, strings.Join(lines, "\n"), cmd)
	}
}

// add sorts one object into waiting for the gateway, not Ready for another reason, or Ready, and
// says so in a line of evidence.
func (f *knFacts) add(o model.KnativeObject) (string, Status) {
	f.Objects = append(f.Objects, o)
	if c, ok := o.WaitingForLB(); ok {
		f.Waiting = append(f.Waiting, knWaiting{Obj: o, Cond: c})
		return o.Namespace + "/" + o.Name + ": waits for the load balancer: " + c.String(), Fail
	}
	if c, ok := o.NotReady(); ok {
		f.NotReady = append(f.NotReady, knWaiting{Obj: o, Cond: c})
		return o.Namespace + "/" + o.Name + ": not Ready: " + c.String(), Warn
	}
	d := o.Namespace + "/" + o.Name + ": Ready"
	if len(o.Addresses) > 0 {
		d += " (address " + strings.Join(o.Addresses, ", ") + ")"
	}
	return d, Pass
}

// knGateways finds the candidate gateway Services: those knative-serving/config-istio names, else
// the platforms' usual ones, plus those of the non-Istio ingress classes the Ingresses use; and reads
// each.
func knGateways(ctx context.Context, env *Env, rec *Recorder, f *knFacts) {
	cmCmd := fmt.Sprintf("kubectl get configmap %s -n %s -o yaml", model.ConfigIstioName, model.ConfigIstioNamespace)
	var refs []model.GatewayRef
	cm, err := env.Inv.ConfigMap(ctx, model.ConfigIstioNamespace, model.ConfigIstioName)
	switch {
	case err == nil:
		got, perr := model.GatewaysFromConfigIstio(cm.Data)
		switch {
		case perr != nil:
			rec.Step("gateways named by "+model.ConfigIstioNamespace+"/"+model.ConfigIstioName, Warn, perr.Error()+"; looking at the usual gateway Services instead", cmCmd)
		case len(got) == 0:
			rec.Step("gateways named by "+model.ConfigIstioNamespace+"/"+model.ConfigIstioName, Pass, "it names no external gateway; looking at the usual gateway Services", cmCmd)
		default:
			var names []string
			for _, g := range got {
				names = append(names, g.Ref())
			}
			rec.Step("gateways named by "+model.ConfigIstioNamespace+"/"+model.ConfigIstioName, Pass, strings.Join(names, ", "), cmCmd)
			refs = got
		}
	case apierr.KindOf(err) == apierr.NotFound:
		rec.Step("gateways named by "+model.ConfigIstioNamespace+"/"+model.ConfigIstioName, Pass, "no such ConfigMap (not net-istio, or not configured there); looking at the usual gateway Services", cmCmd)
	default:
		rec.Step("gateways named by "+model.ConfigIstioNamespace+"/"+model.ConfigIstioName, Skip, "could not read it: "+err.Error()+"; looking at the usual gateway Services", cmCmd)
	}
	if len(refs) == 0 {
		refs = append(refs, model.DefaultKnativeGateways...)
	}
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r.Ref()] = true
	}
	for _, o := range f.Objects {
		for class, g := range model.ClassGateways {
			if strings.Contains(o.Class, class) && !seen[g.Ref()] {
				seen[g.Ref()] = true
				refs = append(refs, g)
			}
		}
	}
	for _, r := range refs {
		g := &knGateway{Ref: r}
		f.Gateways = append(f.Gateways, g)
		s, err := env.Inv.Service(ctx, r.Namespace, r.Name)
		switch {
		case apierr.KindOf(err) == apierr.NotFound:
			g.Absent = true
			rec.Step("gateway Service "+r.Ref(), Pass, "absent ("+r.Why+")", kubectlSvc(r.Namespace, r.Name))
		case err != nil:
			g.Err = err
			rec.Step("gateway Service "+r.Ref(), Skip, "could not read it ("+r.Why+"): "+err.Error(), kubectlSvc(r.Namespace, r.Name))
		default:
			g.Svc = s
			st, addr := Pass, model.GatewayAddress(s)
			if s.Spec.Type != corev1.ServiceTypeLoadBalancer || addr == "" {
				st = Fail
			}
			if addr == "" {
				addr = "none (status.loadBalancer is empty)"
			}
			rec.Step("gateway Service "+r.Ref(), st, fmt.Sprintf("%s: type %s, ClusterIP %s, ports %s, load-balancer address %s", r.Why, typeOf(s), s.Spec.ClusterIP, knPorts(s), addr), kubectlSvc(r.Namespace, r.Name))
		}
	}
}

func knPorts(s *corev1.Service) string {
	var ps []string
	for _, p := range s.Spec.Ports {
		x := fmt.Sprint(p.Port)
		if p.NodePort != 0 {
			x += fmt.Sprintf(":%d", p.NodePort)
		}
		ps = append(ps, x+"/"+string(p.Protocol))
	}
	if len(ps) == 0 {
		return "(none)"
	}
	return strings.Join(ps, ",")
}

func knPlural(kind string) string {
	if strings.HasSuffix(kind, "s") {
		return kind + "es"
	}
	return kind + "s"
}

// knWaitingList renders the first few waiting objects, for a summary.
func knWaitingList(ws []knWaiting) string {
	var out []string
	for i, w := range ws {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(ws)-3))
			break
		}
		out = append(out, w.String())
	}
	return strings.Join(out, "; ")
}

// countObjects says how many DomainMappings and Ingresses there are, e.g. "1 DomainMapping and 2
// Ingresses are Ready".
func countObjects(objs []model.KnativeObject, state string) string {
	n := map[string]int{}
	for _, o := range objs {
		n[o.API.Kind]++
	}
	if len(n) == 0 {
		return "no DomainMapping or Knative Ingress exists yet"
	}
	var parts []string
	for _, k := range []string{"DomainMapping", "Ingress"} {
		switch {
		case n[k] == 1:
			parts = append(parts, "1 "+k)
		case n[k] > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n[k], knPlural(k)))
		}
	}
	verb := "are"
	if len(objs) == 1 {
		verb = "is"
	}
	return strings.Join(parts, " and ") + " " + verb + " " + state
}

// knDecideUnlisted: Knative objects could not be listed (a missing permission) and none that could
// be waits: skip naming what is missing; what the gateways look like is said alongside.
func knDecideUnlisted(f *knFacts) *Result {
	if len(f.ListErrs) == 0 || len(f.Waiting) > 0 {
		return nil
	}
	var errs couldNotLook
	for _, e := range f.ListErrs {
		errs.add(e)
	}
	r := errs.result("list the Knative DomainMappings and Ingresses")
	var gws []string
	for _, g := range f.existing() {
		a := model.GatewayAddress(g.Svc)
		if a == "" {
			a = "no load-balancer address"
		}
		gws = append(gws, fmt.Sprintf("%s is type %s with %s", g.Ref.Ref(), typeOf(g.Svc), a))
	}
	if len(gws) > 0 {
		r.Summary += " (the gateway " + strings.Join(gws, ", ") + ")"
	}
	return &r
}

// knDecideNotLoadBalancer: a gateway Service that is NodePort or ClusterIP never gets an address.
// With objects waiting that is the seed's failure; with no object yet, the first one will wait.
func knDecideNotLoadBalancer(env *Env, f *knFacts) *Result {
	var bad []*knGateway
	for _, g := range f.existing() {
		if g.Svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			bad = append(bad, g)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if len(f.Waiting) == 0 && len(f.Objects) > 0 {
		return nil // they are ready through something else: the later decisions say what
	}
	var gws []string
	for _, g := range bad {
		gws = append(gws, fmt.Sprintf("%s is type %s", g.Ref.Ref(), typeOf(g.Svc)))
	}
	head := "the Knative gateway " + strings.Join(gws, ", and ") + ", so it never gets a load-balancer address (status.loadBalancer stays empty) and net-istio has none to publish"
	var plans []*fixes.Plan
	for _, g := range bad {
		plans = append(plans, knGatewayPlans(env, f, g)...)
	}
	if len(f.Waiting) == 0 {
		r := WarnResult("gateway-not-loadbalancer", head+": "+countObjects(nil, "")+", and the first DomainMapping or Ingress will wait for it", plans...)
		return &r
	}
	r := FailResult("gateway-not-loadbalancer", head+": "+knWaitingList(f.Waiting), plans...)
	return &r
}

// knGatewayPlans offers the fix for one gateway: advice where the platform would revert it or the
// type cannot change in place; else the external and internal variants, --internal choosing which is
// recommended (a Service already annotated internal gets only the internal one).
func knGatewayPlans(env *Env, f *knFacts, g *knGateway) []*fixes.Plan {
	wait, poll := env.Waits.ilb()
	o := fixes.GatewayLB{Service: g.Svc, Users: knUsers(f), Followup: knFollowup(f), WaitTimeout: wait, PollInterval: poll,
		Waiting: knWaitingNow(env, f.APIs)}
	if why, recreate := fixes.GatewayLBRefusal(g.Svc); why != "" {
		return []*fixes.Plan{fixes.NewGatewayLBAdvice(o, why, recreate)}
	}
	asLB := g.Svc.DeepCopy()
	asLB.Spec.Type = corev1.ServiceTypeLoadBalancer
	if model.IsInternalLB(asLB) {
		in := o
		in.Internal = true
		return []*fixes.Plan{fixes.NewGatewayLBPlan(env.FixDeps, in)}
	}
	ext, in := o, o
	in.Internal = true
	ext.Alternative, in.Alternative = env.Targets.InternalGateway, !env.Targets.InternalGateway
	pe, pi := fixes.NewGatewayLBPlan(env.FixDeps, ext), fixes.NewGatewayLBPlan(env.FixDeps, in)
	if env.Targets.InternalGateway {
		return []*fixes.Plan{pi, pe}
	}
	return []*fixes.Plan{pe, pi}
}

func knUsers(f *knFacts) string {
	var refs []string
	for _, o := range f.Objects {
		refs = append(refs, o.Ref())
	}
	sort.Strings(refs)
	if len(refs) > 5 {
		refs = append(refs[:5], fmt.Sprintf("and %d more", len(refs)-5))
	}
	return strings.Join(refs, ", ")
}

func knFollowup(f *knFacts) []string {
	var out []string
	for _, a := range f.APIs {
		out = append(out, fmt.Sprintf("kubectl get %s.%s -A   # READY True once the gateway has its address", a.Resource, a.Group))
	}
	return out
}

// knWaitingNow re-lists the APIs afresh (not from this run's memo) and returns the objects that still
// wait for the gateway's address: the fix's wait polls it.
func knWaitingNow(env *Env, apis []model.KnativeAPI) func(ctx context.Context) ([]string, error) {
	inv := env.Inv
	return func(ctx context.Context) ([]string, error) {
		var out []string
		for _, api := range apis {
			items, err := inventory.ListCustomObjects(ctx, inv, api.GVR())
			if err != nil {
				return nil, err
			}
			for i := range items {
				o := model.KnativeObjectFrom(api, &items[i])
				if _, ok := o.WaitingForLB(); ok {
					out = append(out, o.Ref())
				}
			}
		}
		return out, nil
	}
}

// knDecideUnreadable: no gateway could be read, because of an error (a missing permission): skip,
// saying what waits.
func knDecideUnreadable(f *knFacts) *Result {
	if len(f.existing()) > 0 {
		return nil
	}
	var errs couldNotLook
	for _, g := range f.Gateways {
		errs.add(g.Err)
	}
	if len(errs.errs) == 0 {
		return nil
	}
	r := errs.result("read the Knative gateway Service")
	if len(f.Waiting) > 0 {
		r.Summary += fmt.Sprintf(" (meanwhile %d Knative object(s) wait for a load balancer: %s)", len(f.Waiting), knWaitingList(f.Waiting))
	}
	return &r
}

// knDecideMissing: objects wait and no candidate gateway Service exists.
func knDecideMissing(f *knFacts) *Result {
	if len(f.existing()) > 0 {
		return nil
	}
	var refs []string
	for _, g := range f.Gateways {
		refs = append(refs, g.Ref.Ref())
	}
	if len(f.Waiting) == 0 {
		if len(f.Objects) > 0 {
			return nil // nothing waits for a gateway: the later decisions say what else is wrong
		}
		r := SkipResult("not-applicable", "not applicable: Knative is installed but no gateway Service exists where it is usually found ("+strings.Join(refs, ", ")+") and "+countObjects(nil, ""))
		return &r
	}
	advice := &fixes.Plan{ID: "find-knative-gateway", Title: "Find (or install) the Knative ingress gateway and name it in config-istio", Advice: true,
		JudgedAgainst: []string{"every Knative object of the cluster (" + orNoneStr(knUsers(f)) + "): they share the one gateway config-istio names"},
		Description:   "Knative objects wait for a gateway address, but no gateway Service exists at " + strings.Join(refs, ", ") + ". Install the ingress layer (net-istio with an Istio ingress gateway of type LoadBalancer), or name the existing gateway Service in " + model.ConfigIstioNamespace + "/" + model.ConfigIstioName + ".",
		Commands: []string{"kubectl get services -A -l 'istio in (ingressgateway,ingress-gke-system)'", "kubectl get services -A --field-selector spec.type=LoadBalancer",
			fmt.Sprintf("kubectl get configmap %s -n %s -o yaml", model.ConfigIstioName, model.ConfigIstioNamespace)}}
	r := FailResult("gateway-service-missing", "no Knative gateway Service exists ("+strings.Join(refs, ", ")+" are absent) while "+knWaitingList(f.Waiting), advice)
	return &r
}

// knDecidePending: the gateway is a LoadBalancer without an address: provisioning, or failed (its
// events say).
func knDecidePending(ctx context.Context, env *Env, rec *Recorder, f *knFacts) *Result {
	for _, g := range f.existing() {
		s := g.Svc
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer || model.GatewayAddress(s) != "" {
			continue
		}
		evs, err := env.Inv.Events(ctx, s.Namespace, "Service", s.Name)
		failed := false
		var lines []string
		if err != nil {
			lines = append(lines, "could not read its events: "+err.Error())
		}
		sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
		for _, e := range evs {
			lines = append(lines, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, strings.TrimSpace(e.Message)))
			if e.Reason == "SyncLoadBalancerFailed" || e.Reason == "LoadBalancerManualChange" {
				failed = true
			}
		}
		if len(evs) == 0 && err == nil {
			lines = append(lines, "no events (the load-balancer controller has not reported anything yet)")
		}
		st := Warn
		summary := fmt.Sprintf("the Knative gateway %s is type LoadBalancer but its load balancer is still provisioning (EXTERNAL-IP <pending>)", g.Ref.Ref())
		if failed {
			st = Fail
			summary = fmt.Sprintf("the Knative gateway %s is type LoadBalancer but has no address: its events report a failure", g.Ref.Ref())
		}
		if len(f.Waiting) > 0 {
			summary += "; meanwhile " + knWaitingList(f.Waiting)
		}
		rec.Step("load balancer of "+g.Ref.Ref(), st, "pending; events:\n"+strings.Join(lines, "\n"), kubectlEvents(s.Namespace, s.Name))
		advice := &fixes.Plan{ID: "gateway-lb-events/" + s.Namespace + "/" + s.Name, Title: "Read why the gateway's load balancer has no address", Advice: true,
			JudgedAgainst: []string{"Knative objects served by gateway " + g.Ref.Ref() + ": " + orNoneStr(knUsers(f)), "nothing is changed: reading events only"},
			Description:   "The gateway is already type LoadBalancer: GKE's service controller is provisioning it or failed to. Its events say why (quota, a firewall change it asks a security admin for on Shared VPC, an address in use).",
			Commands:      []string{kubectlEvents(s.Namespace, s.Name), fmt.Sprintf("kubectl get service %s -n %s --watch", s.Name, s.Namespace)}}
		var r Result
		if failed {
			r = FailResult("gateway-lb-pending", summary, advice)
		} else {
			r = WarnResult("gateway-lb-pending", summary, advice)
		}
		return &r
	}
	return nil
}

// knDecideWaitingDespiteAddress: the gateway has its address, yet objects still wait.
func knDecideWaitingDespiteAddress(f *knFacts) *Result {
	if len(f.Waiting) == 0 {
		return nil
	}
	var gws []string
	for _, g := range f.existing() {
		gws = append(gws, g.Ref.Ref()+" ("+model.GatewayAddress(g.Svc)+")")
	}
	advice := &fixes.Plan{ID: "knative-reconcile", Title: "See whether net-istio has reconciled, and which gateway config-istio names", Advice: true,
		JudgedAgainst: []string{"every Knative object of the cluster (" + orNoneStr(knUsers(f)) + "), nothing is changed: reading config-istio and the controller's logs only"},
		Description:   "The gateway has an address but Knative has not published it: the networking controller catches up within minutes of the address appearing; if it does not, config-istio may name another gateway Service, or the controller logs say why.",
		Commands: []string{fmt.Sprintf("kubectl get configmap %s -n %s -o yaml", model.ConfigIstioName, model.ConfigIstioNamespace),
			"kubectl logs -n knative-serving deployment/net-istio-controller --tail=100"}}
	r := WarnResult("waiting-despite-address", "the Knative gateway "+strings.Join(gws, ", ")+" has its load-balancer address, yet "+knWaitingList(f.Waiting), advice)
	return &r
}

// knDecideNotReady: nothing waits for the gateway, but objects are not Ready for their own reasons.
func knDecideNotReady(f *knFacts) *Result {
	if len(f.NotReady) == 0 {
		return nil
	}
	var parts []string
	for i, w := range f.NotReady {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(f.NotReady)-3))
			break
		}
		parts = append(parts, w.Obj.Ref()+" is not Ready ("+w.Cond.String()+")")
	}
	r := WarnResult("mapping-not-ready", "the gateway has its address and nothing waits for it, but "+strings.Join(parts, "; "))
	return &r
}

// knDecideCouldNotList: the gateway is fine but some objects could not be listed: never a pass.
func knDecideCouldNotList(f *knFacts) *Result {
	var errs couldNotLook
	for _, e := range f.ListErrs {
		errs.add(e)
	}
	for _, g := range f.Gateways {
		errs.add(g.Err)
	}
	if len(errs.errs) == 0 {
		return nil
	}
	r := errs.result("read every Knative object and gateway")
	return &r
}

// orNoneStr is s, or "none" when empty.
func orNoneStr(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
