package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The Knative gateway fix (FAILURE-MODES §7b): patch the ingress gateway Service to type
// LoadBalancer - internal when asked, with networking.gke.io/load-balancer-type: Internal - so that
// GKE gives it an address and net-istio publishes it to the DomainMappings. Nothing else of the
// Service changes: its ports keep their nodePorts, so whatever reaches the gateway through them (an
// HTTPS Ingress with NEGs, as in seed 002) keeps working. The change is journaled, made under the
// resourceVersion read, and undone by patching back exactly what it changed: the type, the ports
// with their nodePorts, the annotation it set, and the fields the API server defaults for a load
// balancer. Where the platform would put the Service back at once (the addon manager, an operator
// owning it) or the type cannot change in place (headless, ExternalName), the plan is advice.

const (
	undoRestoreGateway = "kubernetes.restore-gateway-service"
	// AnnotationAddonManagerMode is the GKE/Kubernetes addon manager's label: Reconcile means it
	// writes the object back to its manifest periodically.
	AnnotationAddonManagerMode = "addonmanager.kubernetes.io/mode"
	labelHelm                  = "app.kubernetes.io/managed-by"
	labelIstioOperator         = "operator.istio.io/component"
)

// GatewayWaitTimeout and GatewayPollInterval bound and pace the wait for the gateway's address and
// for the Knative objects to follow (tests and the demo shorten them through GatewayLB).
var (
	GatewayWaitTimeout  = 10 * time.Minute
	GatewayPollInterval = 2 * time.Second
)

func init() {
	RegisterUndoer(undoRestoreGateway, undoRestoreGatewayFn)
}

// GatewayLB describes the change to one gateway Service.
type GatewayLB struct {
	Service *corev1.Service // as the check read it
	// Internal adds networking.gke.io/load-balancer-type: Internal: an internal passthrough load
	// balancer with an IP in the VPC instead of an external one with a public IP.
	Internal bool
	// Alternative marks the variant `gkedoctor fix CHECK-ID` does not pick (it has its own id).
	Alternative bool
	// Users says who depends on the gateway ("DomainMapping default/x, Ingress default/y"), for the
	// plan's Affects line.
	Users string
	// Waiting lists, read afresh, the Knative objects that still wait for the gateway's address; the
	// fix's wait ends when it returns none. Nil: the wait ends with the address.
	Waiting func(ctx context.Context) ([]string, error)
	// Followup are commands that show the Knative objects' status (kubectl get domainmappings …).
	Followup []string
	// WaitTimeout and PollInterval default to GatewayWaitTimeout and GatewayPollInterval.
	WaitTimeout, PollInterval time.Duration
}

func (o GatewayLB) ref() string { return o.Service.Namespace + "/" + o.Service.Name }

// GatewayLBRefusal says why patching the type of s in place would not work or would not last, or ""
// when it can be done. recreate means the Service must be deleted and re-created instead.
func GatewayLBRefusal(s *corev1.Service) (why string, recreate bool) {
	ref := s.Namespace + "/" + s.Name
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		return ref + " is an ExternalName Service (a DNS alias), not the gateway's pods: re-create it as the gateway Service of type LoadBalancer", true
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		return ref + " is headless (clusterIP: None), and a LoadBalancer Service needs a cluster IP, which cannot be added in place: it must be deleted and re-created", true
	case s.Labels[AnnotationAddonManagerMode] == "Reconcile":
		return ref + " is labelled " + AnnotationAddonManagerMode + "=Reconcile: the addon manager writes it back to its manifest within about a minute, so a patch would not last; change it where the platform configures the gateway", false
	}
	for _, or := range s.OwnerReferences {
		if or.Controller != nil && *or.Controller {
			return fmt.Sprintf("%s is controlled by %s %s, which writes the Service back from its own spec: change the gateway's type there", ref, or.Kind, or.Name), false
		}
	}
	return "", false
}

// platformNotes warns about the installers that put the Service back later (not at once).
func platformNotes(s *corev1.Service) string {
	var notes []string
	if s.Labels[labelHelm] == "Helm" {
		notes = append(notes, "it is labelled "+labelHelm+"=Helm: the next helm upgrade puts back the chart's type unless the chart's values say LoadBalancer too")
	}
	if _, ok := s.Labels[labelIstioOperator]; ok {
		notes = append(notes, "it was installed by istioctl or the Istio operator ("+labelIstioOperator+"): set spec.components.ingressGateways[].k8s.service.type: LoadBalancer in the IstioOperator, or the next install reverts it")
	}
	if s.Labels[AnnotationAddonManagerMode] == "EnsureExists" {
		notes = append(notes, "it is an add-on ("+AnnotationAddonManagerMode+"=EnsureExists): the addon manager leaves changes alone, but an upgrade of the add-on may re-create it")
	}
	if len(notes) == 0 {
		return ""
	}
	return " Also: " + strings.Join(notes, "; ") + "."
}

func gatewayPorts(s *corev1.Service) string {
	var ps []string
	for _, p := range s.Spec.Ports {
		x := strconv.Itoa(int(p.Port))
		if p.NodePort != 0 {
			x += ":" + strconv.Itoa(int(p.NodePort))
		}
		ps = append(ps, x+"/"+string(orProtocol(p.Protocol)))
	}
	if len(ps) == 0 {
		return "(none)"
	}
	return strings.Join(ps, ", ")
}

func orProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func svcType(s *corev1.Service) corev1.ServiceType {
	if s.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return s.Spec.Type
}

// gatewayPatch is the merge patch the fix sends.
func gatewayPatch(o GatewayLB, resourceVersion string) []byte {
	meta := map[string]any{"resourceVersion": resourceVersion}
	if o.Internal {
		meta["annotations"] = map[string]any{ilbAnnotationKey: "Internal"}
	}
	b, _ := json.Marshal(map[string]any{"metadata": meta, "spec": map[string]any{"type": "LoadBalancer"}})
	return b
}

func gatewayPatchCommand(o GatewayLB) string {
	s := o.Service
	p := `{"spec":{"type":"LoadBalancer"}}`
	if o.Internal {
		p = `{"metadata":{"annotations":{"` + ilbAnnotationKey + `":"Internal"}},"spec":{"type":"LoadBalancer"}}`
	}
	return fmt.Sprintf("kubectl patch service %s -n %s --type merge -p '%s'", s.Name, s.Namespace, p)
}

// NewGatewayLBPlan builds the fix for o.Service (the caller has checked GatewayLBRefusal). deps may be
// nil (a plan shown but not applicable: Apply says why).
func NewGatewayLBPlan(deps *Deps, o GatewayLB) *Plan {
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = GatewayWaitTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = GatewayPollInterval
	}
	s := o.Service
	ns, name, ref := s.Namespace, s.Name, o.ref()
	uid := s.UID
	from := svcType(s)
	kind, id, lb, reach := "external", "gateway-loadbalancer/", "an external passthrough network load balancer with a public IP", "any address on the Internet"
	if o.Internal {
		kind, id, lb, reach = "internal", "gateway-internal-loadbalancer/", "an internal passthrough load balancer with an IP in the VPC", "clients in the VPC (and networks connected to it)"
	}
	beforeAnn, afterAnn := "", ""
	if o.Internal {
		beforeAnn = "metadata:\n  annotations:\n"
		afterAnn = "metadata:\n  annotations:\n    " + ilbAnnotationKey + ": Internal\n"
		if v, ok := s.Annotations[ilbAnnotationKey]; ok {
			beforeAnn += "    " + ilbAnnotationKey + ": " + v + "\n"
		}
	}
	ports := gatewayPorts(s)
	p := &Plan{
		ID:    id + ns + "/" + name,
		Title: fmt.Sprintf("Make the Knative gateway %s type LoadBalancer (%s) so it gets an address", ref, kind),
		Description: fmt.Sprintf("Patches %s from type %s to LoadBalancer", ref, from) + map[bool]string{true: " with " + ilbAnnotationKey + ": Internal", false: ""}[o.Internal] +
			fmt.Sprintf(", under the resourceVersion read. Its ports keep their nodePorts (%s) and its selector and other annotations stay, so anything that reaches the gateway through them (an HTTPS Ingress with NEGs, as in the Cloud Run for Anthos guide) keeps working. GKE provisions %s; net-istio publishes its address and the DomainMappings and Ingresses waiting for it become Ready. ", ports, lb) +
			"The platform that installed the gateway (Cloud Run for Anthos's add-on, upgraded with the GKE control plane; the Istio or ASM operator) may put the Service back on its next upgrade: re-apply then, or set the type in the platform's configuration. " +
			"Some installs refuse a type change in place and need the Service deleted and re-created: the fix then stops with the API server's error and changes nothing. " +
			"Undo patches back the type, the ports with their nodePorts and the annotation it set." + platformNotes(s),
		Diff:       Diff(beforeAnn+"spec:\n  type: "+string(from)+"\n  ports: "+ports+"\n", afterAnn+"spec:\n  type: LoadBalancer\n  ports: "+ports+"\n"),
		Reversible: true,
		// Both variants make GKE create a load balancer and VPC firewall rules: a second key first.
		VPCWide:     true,
		Alternative: o.Alternative,
		Affects:     fmt.Sprintf("GKE creates %s in front of the gateway and VPC firewall rules (k8s-fw-…) that admit %s to the nodes on the gateway's ports (%s): every Knative Route and DomainMapping this gateway serves becomes reachable there", lb, reach, ports),
		Commands: append([]string{
			fmt.Sprintf("kubectl get service %s -n %s -o yaml > %s-before.yaml   # keep the Service as it is", name, ns, name),
			gatewayPatchCommand(o),
			fmt.Sprintf("kubectl get service %s -n %s --watch   # wait for EXTERNAL-IP", name, ns),
		}, o.Followup...),
		WaitTimeout: o.WaitTimeout,
		JudgedAgainst: []string{
			"Knative objects served by gateway " + ref + ": " + orDash(o.Users, "none yet"),
			fmt.Sprintf("the gateway's ports and nodePorts (%s), kept as they are; its selector and other annotations stay", ports),
			fmt.Sprintf("the network's firewall: GKE adds k8s-fw-… rules admitting %s to the nodes on those ports", reach),
		},
	}
	if o.Users != "" {
		p.Affects += "; it is the gateway of " + o.Users
	}
	setAnn := map[string]string{}
	if o.Internal {
		setAnn[ilbAnnotationKey] = "Internal"
	}
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := k.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Snapshot{}, kube.Map(err, "get Service", ref)
		}
		switch {
		case uid != "" && cur.UID != uid:
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "patch Service", Resource: ref, Err: fmt.Errorf("it was re-created since the check read it (UID %s, read %s)", cur.UID, uid)}
		case cur.Spec.Type == corev1.ServiceTypeLoadBalancer:
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "patch Service", Resource: ref, Err: errors.New("it is already type LoadBalancer: it changed since the check read it")}
		}
		if why, _ := GatewayLBRefusal(cur); why != "" {
			return Snapshot{}, fmt.Errorf("not patching %s: %s", ref, why)
		}
		saved := cur.DeepCopy()
		saved.ManagedFields = nil
		b, err := json.Marshal(saved)
		if err != nil {
			return Snapshot{}, err
		}
		params := restoreGatewayParams{Namespace: ns, Name: name, UID: string(cur.UID), SetType: string(corev1.ServiceTypeLoadBalancer), SetAnnotations: setAnn,
			PriorType: string(svcType(cur)), PriorPorts: cur.Spec.Ports, PriorAnnotations: map[string]*string{},
			PriorExternalTrafficPolicy: string(cur.Spec.ExternalTrafficPolicy), PriorAllocateLoadBalancerNodePorts: cur.Spec.AllocateLoadBalancerNodePorts}
		for k := range setAnn {
			if v, ok := cur.Annotations[k]; ok {
				params.PriorAnnotations[k] = &v
			} else {
				params.PriorAnnotations[k] = nil
			}
		}
		return Snapshot{
			Prior: []Object{{API: "kubernetes", Kind: "Service", Name: ref, Version: cur.ResourceVersion, Contents: b}},
			Undo:  []UndoAction{NewUndo(undoRestoreGateway, params)},
		}, nil
	}
	p.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		rv, err := snap.RequireVersion()
		if err != nil {
			return Outcome{}, err
		}
		got, err := k.CoreV1().Services(ns).Patch(ctx, name, types.MergePatchType, gatewayPatch(o, rv), metav1.PatchOptions{})
		if err != nil {
			if apierrors.IsInvalid(err) {
				return Outcome{}, fmt.Errorf("the API server refused the type change of %s (%v): this install needs the Service deleted and re-created with type LoadBalancer; nothing was changed", ref, err)
			}
			return Outcome{}, kube.Map(err, "patch Service", ref)
		}
		return Outcome{Message: fmt.Sprintf("%s is now type LoadBalancer (%s); ports kept: %s.", ref, kind, gatewayPorts(got))}, nil
	}
	p.Wait = func(ctx context.Context, progress func(string)) (string, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return "", err
		}
		deadline, _ := ctx.Deadline()
		left := func() string {
			if deadline.IsZero() {
				return "no deadline"
			}
			return time.Until(deadline).Round(time.Second).String() + " left"
		}
		lastNote := time.Time{}
		addr := ""
		for addr == "" {
			s, err := k.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				for _, in := range s.Status.LoadBalancer.Ingress {
					if addr = in.IP; addr == "" {
						addr = in.Hostname
					}
					if addr != "" {
						break
					}
				}
			} else if ctx.Err() == nil {
				progress("reading " + ref + ": " + err.Error())
			}
			if addr != "" {
				break
			}
			if time.Since(lastNote) >= 15*time.Second {
				lastNote = time.Now()
				progress(fmt.Sprintf("waiting for the load-balancer address of %s (EXTERNAL-IP <pending>, %s)", ref, left()))
			}
			select {
			case <-ctx.Done():
				return pendingMessage(k, ns, name, o.WaitTimeout), ctx.Err()
			case <-time.After(o.PollInterval):
			}
		}
		msg := fmt.Sprintf("%s has the address %s", ref, addr)
		if o.Waiting == nil {
			return msg, nil
		}
		progress(msg + "; waiting for Knative to publish it")
		lastNote = time.Time{}
		for {
			waiting, err := o.Waiting(ctx)
			switch {
			case err == nil && len(waiting) == 0:
				return msg + "; no DomainMapping or Ingress waits for it any more", nil
			case err != nil && ctx.Err() == nil:
				progress("reading the Knative objects: " + err.Error())
			}
			if time.Since(lastNote) >= 15*time.Second && len(waiting) > 0 {
				lastNote = time.Now()
				progress(fmt.Sprintf("%d Knative object(s) still wait for the address (%s)", len(waiting), left()))
			}
			select {
			case <-ctx.Done():
				sort.Strings(waiting)
				return fmt.Sprintf("%s, but Knative has not published it yet: still waiting: %s (net-istio reconciles within minutes; re-run the check later)", msg, strings.Join(waiting, ", ")), ctx.Err()
			case <-time.After(o.PollInterval):
			}
		}
	}
	return p
}

// NewGatewayLBAdvice is the plan when the type cannot (recreate) or should not be patched in place:
// the commands a person runs, never applied by the tool.
func NewGatewayLBAdvice(o GatewayLB, why string, recreate bool) *Plan {
	s := o.Service
	ns, name, ref := s.Namespace, s.Name, o.ref()
	p := &Plan{
		ID:          "gateway-loadbalancer-advice/" + ns + "/" + name,
		Title:       fmt.Sprintf("Give the Knative gateway %s a load-balancer address the platform's way", ref),
		Description: "Not applied by gkedoctor: " + why + ". The gateway Service must end up type LoadBalancer (internal: with " + ilbAnnotationKey + ": Internal) for net-istio to publish an address.",
		Advice:      true,
		Reversible:  true,
		Commands:    append([]string{gatewayPatchCommand(o) + "   # the end state; make it in the platform's configuration"}, o.Followup...),
		JudgedAgainst: []string{"Knative objects served by gateway " + ref + ": " + orDash(o.Users, "none yet"),
			"the platform that installed the gateway (it may put the Service back)"},
	}
	if recreate {
		p.Title = fmt.Sprintf("Re-create the Knative gateway %s as type LoadBalancer", ref)
		p.Destructive = true
		p.Affects = "deleting the Service interrupts every Knative Route and DomainMapping served by the gateway until it is re-created and has its address"
		p.Commands = append([]string{
			fmt.Sprintf("kubectl get service %s -n %s -o yaml > %s-before.yaml", name, ns, name),
			"# edit a copy: spec.type: LoadBalancer, remove clusterIP/clusterIPs (and, for ExternalName, set the gateway pods' selector and ports), drop status and metadata.resourceVersion/uid",
			fmt.Sprintf("kubectl delete service %s -n %s && kubectl apply -f %s-new.yaml", name, ns, name),
		}, o.Followup...)
	}
	return p
}

func portsSansNodePorts(ps []corev1.ServicePort) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s:%d/%s→%s", p.Name, p.Port, orProtocol(p.Protocol), p.TargetPort.String()))
	}
	return strings.Join(out, ",")
}

type restoreGatewayParams struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// What the fix set: undo refuses to overwrite a Service someone changed since.
	SetType        string            `json:"setType"`
	SetAnnotations map[string]string `json:"setAnnotations,omitempty"`
	// What was there before, for exactly the fields the fix changed (and the API server defaulted).
	PriorType                          string               `json:"priorType"`
	PriorPorts                         []corev1.ServicePort `json:"priorPorts"`
	PriorAnnotations                   map[string]*string   `json:"priorAnnotations,omitempty"` // nil value: absent before
	PriorExternalTrafficPolicy         string               `json:"priorExternalTrafficPolicy,omitempty"`
	PriorAllocateLoadBalancerNodePorts *bool                `json:"priorAllocateLoadBalancerNodePorts,omitempty"`
}

func undoRestoreGatewayFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p restoreGatewayParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Namespace == "" || p.Name == "" || p.PriorType == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := kubeOf(deps)
	if err != nil {
		return err
	}
	ref := p.Namespace + "/" + p.Name
	conflict := func(format string, args ...any) error {
		return &apierr.Error{Kind: apierr.Conflict, Op: "restore Service", Resource: ref, Err: fmt.Errorf(format, args...)}
	}
	// The patch carries the resourceVersion read with the guards: a write in between (a controller
	// updating the Service's status) makes it 409, and the guards are checked again on a fresh read —
	// an unrelated change is not a reason to give up, a change to what the fix set still is.
	for attempt := 1; ; attempt++ {
		err, stale := restoreGatewayOnce(ctx, k, p, ref, conflict)
		if !stale || attempt == 5 {
			return err
		}
	}
}

// restoreGatewayOnce reads, checks the guards and patches once; stale reports a 409 on the patch (the
// Service changed between the read and the write: read again).
func restoreGatewayOnce(ctx context.Context, k kubernetes.Interface, p restoreGatewayParams, ref string, conflict func(string, ...any) error) (err error, stale bool) {
	cur, err := k.CoreV1().Services(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return conflict("it was deleted since the fix; not re-creating it (its prior state is in the journal entry)"), false
	}
	if err != nil {
		return kube.Map(err, "get Service", ref), false
	}
	if p.UID != "" && string(cur.UID) != p.UID {
		return conflict("it was re-created since the fix (UID %s, the fix changed %s)", cur.UID, p.UID), false
	}
	annBack := true
	for key, v := range p.PriorAnnotations {
		got, ok := cur.Annotations[key]
		if (v == nil && ok) || (v != nil && (!ok || got != *v)) {
			annBack = false
		}
	}
	if string(svcType(cur)) == p.PriorType && annBack {
		return Absent("Service " + ref + " (type " + p.PriorType + ")"), false
	}
	if string(svcType(cur)) != p.SetType {
		return conflict("its type is now %s, not the %s the fix set: someone changed it since; not overwriting", svcType(cur), p.SetType), false
	}
	for key, v := range p.SetAnnotations {
		if cur.Annotations[key] != v {
			return conflict("its annotation %s is now %q, not the %q the fix set: someone changed it since; not overwriting", key, cur.Annotations[key], v), false
		}
	}
	// The ports are written back whole: only if nobody changed them since (nodePorts aside, which the
	// API server allocates for a LoadBalancer).
	if a, b := portsSansNodePorts(cur.Spec.Ports), portsSansNodePorts(p.PriorPorts); a != b {
		return conflict("its ports changed since the fix (now %s, before %s); not overwriting them", a, b), false
	}
	ann := map[string]any{}
	for key, v := range p.PriorAnnotations {
		if v == nil {
			ann[key] = nil
		} else {
			ann[key] = *v
		}
	}
	spec := map[string]any{"type": p.PriorType, "ports": p.PriorPorts,
		"externalTrafficPolicy": nil, "allocateLoadBalancerNodePorts": nil}
	if p.PriorExternalTrafficPolicy != "" {
		spec["externalTrafficPolicy"] = p.PriorExternalTrafficPolicy
	}
	if p.PriorAllocateLoadBalancerNodePorts != nil {
		spec["allocateLoadBalancerNodePorts"] = *p.PriorAllocateLoadBalancerNodePorts
	}
	meta := map[string]any{"resourceVersion": cur.ResourceVersion}
	if len(ann) > 0 {
		meta["annotations"] = ann
	}
	body, err := json.Marshal(map[string]any{"metadata": meta, "spec": spec})
	if err != nil {
		return err, false
	}
	_, err = k.CoreV1().Services(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsConflict(err) {
		return kube.Map(err, "restore Service", ref), true
	}
	return kube.Map(err, "restore Service", ref), false
}
