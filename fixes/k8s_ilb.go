package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/yaml"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// The internal load balancer fix (FAILURE-MODES §1, "Create a separate internal LB Service; do not
// change the existing ClusterIP Service"): a new Service NAME-ilb of type LoadBalancer with the
// internal annotation, the original's selector and ports. Undo deletes it (GKE then tears down the
// forwarding rule, backend service, health check and firewall rules it made).

// Labels and annotations gkedoctor puts on what it creates.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	ManagedByValue      = "gkedoctor"
	AnnotationExposes   = "gkedoctor/exposes"
	undoDeleteService   = "kubernetes.delete-service"
	ilbAnnotationKey    = "networking.gke.io/load-balancer-type"
	ilbAnnotationLegacy = "cloud.google.com/load-balancer-type"
	ilbGlobalAccess     = "networking.gke.io/internal-load-balancer-allow-global-access"
)

// InternalLB describes the NAME-ilb Service to create.
type InternalLB struct {
	Original *corev1.Service
	// Legacy uses cloud.google.com/load-balancer-type, for clusters older than 1.17.
	Legacy bool
	// GlobalAccess adds networking.gke.io/internal-load-balancer-allow-global-access: "true", for
	// clients in another region.
	GlobalAccess bool
	// Why explains the choices (version, regions) in the plan's description.
	Why string
	// WaitTimeout bounds the wait for the ingress IP (default 10 minutes); PollInterval paces it
	// (default 2 seconds).
	WaitTimeout  time.Duration
	PollInterval time.Duration
}

// InternalLBName is the name of the sibling Service: NAME-ilb, shortened to fit 63 characters.
func InternalLBName(name string) string {
	n := name
	if len(n) > 59 {
		n = strings.TrimRight(n[:59], "-")
	}
	return n + "-ilb"
}

// InternalLBService returns the Service the fix creates.
func InternalLBService(o InternalLB) *corev1.Service {
	orig := o.Original
	key := ilbAnnotationKey
	if o.Legacy {
		key = ilbAnnotationLegacy
	}
	ann := map[string]string{key: "Internal", AnnotationExposes: orig.Namespace + "/" + orig.Name}
	if o.GlobalAccess {
		ann[ilbGlobalAccess] = "true"
	}
	sel := map[string]string{}
	for k, v := range orig.Spec.Selector {
		sel[k] = v
	}
	var ports []corev1.ServicePort
	for _, p := range orig.Spec.Ports {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol})
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: InternalLBName(orig.Name), Namespace: orig.Namespace, Annotations: ann,
			Labels: map[string]string{LabelManagedBy: ManagedByValue}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: sel, Ports: ports},
	}
}

// manifest renders the Service as a person would write it (no status, no empty fields).
func manifest(s *corev1.Service) string {
	var ports []map[string]any
	for _, p := range s.Spec.Ports {
		m := map[string]any{"port": p.Port, "targetPort": p.TargetPort.String()}
		if p.TargetPort.Type == 0 {
			m["targetPort"] = p.TargetPort.IntVal
		}
		if p.Name != "" {
			m["name"] = p.Name
		}
		if p.Protocol != "" {
			m["protocol"] = string(p.Protocol)
		}
		ports = append(ports, m)
	}
	doc := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": s.Name, "namespace": s.Namespace, "annotations": s.Annotations, "labels": s.Labels},
		"spec":     map[string]any{"type": string(s.Spec.Type), "selector": s.Spec.Selector, "ports": ports},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Sprintf("%+v", s)
	}
	return string(b)
}

type deleteServiceParams struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID guards the delete: only the object the fix created is deleted. Empty (the process died
	// between create and journal update) means: only if it carries gkedoctor's managed-by label and
	// its content is the one the fix creates (Expect).
	UID string `json:"uid,omitempty"`
	// Expect is the fix's fields of the Service as created (ilbFields): undo refuses to delete one
	// someone changed since, showing the difference, unless --force.
	Expect string `json:"expect,omitempty"`
	// Keys are the annotations and labels the fix set (the ones Expect covers).
	AnnotationKeys []string `json:"annotationKeys,omitempty"`
	LabelKeys      []string `json:"labelKeys,omitempty"`
}

// ilbFields renders the fields of a Service the ILB fix sets — type, selector, ports (API defaults
// filled in), and the given annotations and labels — for comparison and diffs.
func ilbFields(s *corev1.Service, annKeys, labelKeys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type: %s\n", s.Spec.Type)
	var sel []string
	for k, v := range s.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	sort.Strings(sel)
	fmt.Fprintf(&b, "selector: %s\n", strings.Join(sel, ","))
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		tp := p.TargetPort.String()
		if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
			tp = fmt.Sprint(p.Port)
		}
		fmt.Fprintf(&b, "port: %s %s/%d -> %s\n", p.Name, proto, p.Port, tp)
	}
	for _, k := range annKeys {
		v, ok := s.Annotations[k]
		if !ok {
			v = "(absent)"
		}
		fmt.Fprintf(&b, "annotation %s: %s\n", k, v)
	}
	for _, k := range labelKeys {
		v, ok := s.Labels[k]
		if !ok {
			v = "(absent)"
		}
		fmt.Fprintf(&b, "label %s: %s\n", k, v)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func init() {
	RegisterUndoer(undoDeleteService, undoDeleteServiceFn)
}

// ilbJudged is what the new internal LB Service touches: the pods its selector picks, on which ports,
// and from how far (regional, or every region with global access).
func ilbJudged(o InternalLB, want *corev1.Service) []string {
	var sel []string
	for _, k := range sortedKeys(want.Spec.Selector) {
		sel = append(sel, k+"="+want.Spec.Selector[k])
	}
	var ports []string
	for _, p := range want.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		ports = append(ports, fmt.Sprintf("%d/%s", p.Port, proto))
	}
	out := []string{fmt.Sprintf("the pods Service %s/%s selects (%s), on ports %s", o.Original.Namespace, o.Original.Name, strings.Join(sel, ","), strings.Join(ports, ", "))}
	if o.GlobalAccess {
		out = append(out, "the LB is reachable from every region of the network (global access on)")
	} else {
		out = append(out, "the LB is regional (global access off): only clients in the cluster's region")
	}
	return out
}

// NewInternalLBPlan builds the fix. deps may be nil (a plan shown but not applicable: Apply says why).
func NewInternalLBPlan(deps *Deps, o InternalLB) *Plan {
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	want := InternalLBService(o)
	ns, name := want.Namespace, want.Name
	annKeys, labelKeys := sortedKeys(want.Annotations), sortedKeys(want.Labels)
	undoParams := deleteServiceParams{Namespace: ns, Name: name, Expect: ilbFields(want, annKeys, labelKeys), AnnotationKeys: annKeys, LabelKeys: labelKeys}
	ref := ns + "/" + name
	orig := o.Original
	firstPort := int32(0)
	if len(want.Spec.Ports) > 0 {
		firstPort = want.Spec.Ports[0].Port
	}
	desc := fmt.Sprintf("Creates %s beside %s/%s (which is not changed): type LoadBalancer, internal, same selector and ports. "+
		"GKE then provisions an internal passthrough load balancer with an IP in the VPC; the client should call that IP (or a name you publish for it). "+
		"The IP is not reserved: it can change if the Service is deleted and re-created.", ref, orig.Namespace, orig.Name)
	if o.Why != "" {
		desc += " " + o.Why
	}
	p := &Plan{
		ID:          "create-internal-lb/" + orig.Namespace + "/" + orig.Name,
		Title:       fmt.Sprintf("Expose %s/%s on an internal load balancer (new Service %s)", orig.Namespace, orig.Name, name),
		Description: desc,
		Diff:        Diff("# "+ref+": absent\n", manifest(want)),
		Reversible:  true,
		Commands: []string{
			"cat <<'EOF' | kubectl apply -f -\n" + manifest(want) + "EOF",
			fmt.Sprintf("kubectl get service %s -n %s --watch   # wait for EXTERNAL-IP", name, ns),
		},
		WaitTimeout: o.WaitTimeout,
	}
	p.Judge(ilbJudged(o, want))
	p.Snapshot = func(ctx context.Context) (Snapshot, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Snapshot{}, err
		}
		cur, err := k.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			return Snapshot{}, &apierr.Error{Kind: apierr.Conflict, Op: "create Service", Resource: ref,
				Err: fmt.Errorf("%s already exists (type %s, created %s): not touching it; delete it or expose the Service yourself", ref, cur.Spec.Type, cur.CreationTimestamp.UTC().Format(time.RFC3339))}
		case !apierrors.IsNotFound(err):
			return Snapshot{}, kube.Map(err, "get Service", ref)
		}
		return Snapshot{
			Prior: []Object{{API: "kubernetes", Kind: "Service", Name: ref, Absent: true}},
			Undo:  []UndoAction{NewUndo(undoDeleteService, undoParams)},
		}, nil
	}
	p.Apply = func(ctx context.Context, _ Snapshot) (Outcome, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return Outcome{}, err
		}
		got, err := k.CoreV1().Services(ns).Create(ctx, want.DeepCopy(), metav1.CreateOptions{})
		if err != nil {
			if apierrors.IsAlreadyExists(err) {
				return Outcome{}, &apierr.Error{Kind: apierr.Conflict, Op: "create Service", Resource: ref, Err: errors.New("created by someone else since it was read")}
			}
			return Outcome{}, kube.Map(err, "create Service", ref)
		}
		got.ManagedFields = nil
		b, _ := json.Marshal(got)
		done := undoParams
		done.UID = string(got.UID)
		return Outcome{
			Message: fmt.Sprintf("created %s (ClusterIP %s).", ref, got.Spec.ClusterIP),
			Created: []Object{{API: "kubernetes", Kind: "Service", Name: ref, Version: got.ResourceVersion, Contents: b}},
			Undo:    []UndoAction{NewUndo(undoDeleteService, done)},
		}, nil
	}
	p.Wait = func(ctx context.Context, progress func(string)) (string, error) {
		k, err := kubeOf(deps)
		if err != nil {
			return "", err
		}
		deadline, _ := ctx.Deadline()
		lastNote, started := time.Time{}, time.Now()
		for {
			s, err := k.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				for _, in := range s.Status.LoadBalancer.Ingress {
					if in.IP != "" {
						port := firstPort
						if len(s.Spec.Ports) > 0 {
							port = s.Spec.Ports[0].Port
						}
						return fmt.Sprintf("%s has the internal IP %s: point the client at http://%s:%d (or publish a name for it)", ref, in.IP, in.IP, port), nil
					}
				}
			} else if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				progress("reading " + ref + ": " + err.Error())
			}
			if time.Since(lastNote) >= 15*time.Second {
				lastNote = time.Now()
				left := "no deadline"
				if !deadline.IsZero() {
					left = time.Until(deadline).Round(time.Second).String() + " left"
				}
				progress(fmt.Sprintf("waiting for the internal load balancer IP of %s (EXTERNAL-IP <pending>, %s)", ref, left))
			}
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.Canceled) {
					// Cancelled (a signal), not timed out: say so, with the time really waited.
					return fmt.Sprintf("waiting for the internal load balancer IP of %s was cancelled after %s; the Service stays in place and may still get one: re-run the check later, or undo the fix", ref, time.Since(started).Round(time.Second)), context.Cause(ctx)
				}
				return pendingMessage(k, ns, name, time.Since(started)), ctx.Err()
			case <-time.After(o.PollInterval):
			}
		}
	}
	return p
}

// pendingMessage says honestly that the IP did not come, with the Service's events.
func pendingMessage(k kubeClient, ns, name string, waited time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("%s/%s still has no IP after %s (EXTERNAL-IP <pending>); it stays in place and may still get one: re-run the check later, or undo the fix", ns, name, waited.Round(time.Second))
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", "Service"), fields.OneTermEqualSelector("involvedObject.name", name))
	evs, err := k.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	switch {
	case err != nil:
		msg += "; its events could not be read: " + err.Error()
	case len(evs.Items) == 0:
		msg += "; it has no events: no load-balancer controller has acted on it (is this a GKE cluster?)"
	default:
		items := evs.Items
		sort.SliceStable(items, func(i, j int) bool { return items[i].LastTimestamp.Before(&items[j].LastTimestamp) })
		var lines []string
		for _, e := range items {
			lines = append(lines, fmt.Sprintf("%s %s: %s", e.Type, e.Reason, strings.TrimSpace(e.Message)))
		}
		msg += "; its events:\n" + strings.Join(lines, "\n")
	}
	return msg
}

func undoDeleteServiceFn(ctx context.Context, deps *Deps, raw json.RawMessage) error {
	var p deleteServiceParams
	if err := json.Unmarshal(raw, &p); err != nil || p.Namespace == "" || p.Name == "" {
		return fmt.Errorf("bad undo parameters %s", raw)
	}
	k, err := kubeOf(deps)
	if err != nil {
		return err
	}
	ref := p.Namespace + "/" + p.Name
	cur, err := k.CoreV1().Services(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Absent("Service " + ref)
	}
	if err != nil {
		return kube.Map(err, "get Service", ref)
	}
	switch {
	case p.UID != "" && string(cur.UID) != p.UID:
		// Identity, not content: a Service someone re-created is theirs, --force or not.
		return &ChangedError{Resource: "Service " + ref, Why: fmt.Sprintf("it was deleted and re-created since the fix (UID %s, the fix created %s): it is someone else's", cur.UID, p.UID)}
	case p.UID == "" && cur.Labels[LabelManagedBy] != ManagedByValue:
		return &ChangedError{Resource: "Service " + ref, Why: "it is not labelled as created by gkedoctor, and the fix stopped before it learned the UID of what it created: it is someone else's"}
	}
	if p.Expect != "" && !deps.Force {
		if now := ilbFields(cur, p.AnnotationKeys, p.LabelKeys); now != p.Expect {
			return &ChangedError{Resource: "Service " + ref, Why: "someone changed it since the fix", Diff: Diff(p.Expect, now), Forceable: true}
		}
	}
	uid := cur.UID
	err = k.CoreV1().Services(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) {
		return Absent("Service " + ref)
	}
	return kube.Map(err, "delete Service", ref)
}
