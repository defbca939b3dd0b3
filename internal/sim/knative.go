package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Seed 002 in the demo world: Cloud Run for Anthos (Knative) on the cluster, its Istio ingress gateway
// gke-system/istio-ingress switched to NodePort to sit behind an HTTPS Ingress (its NEG annotation
// kept), and the DomainMapping my-service.example.com stuck with "Waiting for Gateway IP" - the seed's
// domains.cloudrun.com object, conditions as the report shows them - beside the Knative Ingress of the
// route, waiting with "Waiting for load balancer to be ready". The custom resources live in a store of
// their own, served through a dynamic client (KubeDynamic) that behaves like kube-apiserver where the
// check looks (404 for an API the cluster does not serve, resourceVersions and conflicts, status kept
// apart from spec) and, read-only, refuses writes as internal/kube's guard does. Discovery serves the
// APIs Cloud Run for Anthos installed. The Knative controller follows the gateway: once the service
// controller gives it a load-balancer address it publishes it and the objects become Ready; without
// one they wait again.

// Seed 002's names.
const (
	GatewayNamespace  = "gke-system"
	GatewayService    = "istio-ingress"
	GatewayClusterIP  = "34.118.236.174"
	DomainMappingName = "my-service.example.com"
	KnativeRoute      = "my-service"
)

var (
	gvrCRfADomainMappings = schema.GroupVersionResource{Group: "domains.cloudrun.com", Version: "v1alpha1", Resource: "domainmappings"}
	gvrKnativeIngresses   = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses"}
	gvrKnativeServices    = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	gvrKnativeRoutes      = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "routes"}
)

// knativeKinds are the custom resources the demo cluster serves, with their kinds.
var knativeKinds = map[schema.GroupVersionResource]string{
	gvrCRfADomainMappings: "DomainMapping",
	gvrKnativeIngresses:   "Ingress",
	gvrKnativeServices:    "Service",
	gvrKnativeRoutes:      "Route",
}

// seedKnativeKube adds seed 002's Kubernetes objects: the namespaces and the NodePort gateway.
func (s *seeder) seedKnativeKube() {
	const day = 24 * time.Hour
	for _, ns := range []string{GatewayNamespace, "knative-serving"} {
		s.add(&corev1.Namespace{ObjectMeta: s.meta("", ns, 60*day, map[string]string{"kubernetes.io/metadata.name": ns}),
			Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}})
		s.add(&corev1.ServiceAccount{ObjectMeta: s.meta(ns, "default", 60*day, nil)})
	}
	m := s.meta(GatewayNamespace, GatewayService, 60*day, map[string]string{"app": "istio-ingress", "istio": "ingress-gke-system"})
	m.Annotations = map[string]string{"cloud.google.com/neg": `{"exposed_ports": {"80":{}}}`}
	svc := clusterIPService(m, GatewayClusterIP, map[string]string{"app": "istio-ingress", "istio": "ingress-gke-system"},
		corev1.ServicePort{Name: "status-port", Protocol: corev1.ProtocolTCP, Port: 15020, TargetPort: intstr.FromInt32(15020), NodePort: 32600},
		corev1.ServicePort{Name: "http2", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 32760},
		corev1.ServicePort{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(8443), NodePort: 32520})
	svc.Spec.Type = corev1.ServiceTypeNodePort
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	s.add(svc)
}

// knStatus is what the Knative controllers write for one object, waiting for the gateway (addr "")
// or with its address.
func knStatus(gvr schema.GroupVersionResource, addr string, since string) map[string]any {
	c := func(typ, status, reason, msg string) map[string]any {
		m := map[string]any{"type": typ, "status": status, "lastTransitionTime": since}
		if reason != "" {
			m["reason"] = reason
		}
		if msg != "" {
			m["message"] = msg
		}
		return m
	}
	switch {
	case gvr == gvrCRfADomainMappings && addr == "":
		// Seed 002, verbatim.
		return map[string]any{"conditions": []any{
			c("CertificateProvisioned", "True", "NotNeeded", "Certificate is not needed as TLS is not enabled."),
			c("DomainMappingGatewayReady", "True", "NotNeeded", "DomainMapping specific Gateway is not needed as TLS is not enabled."),
			c("GatewayReady", "Unknown", "GatewayNotReady", "Waiting for Gateway IP"),
			c("Ready", "Unknown", "GatewayNotReady", "Waiting for Gateway IP"),
			c("RouteReady", "True", "", "")}, "mappedRouteName": KnativeRoute}
	case gvr == gvrCRfADomainMappings:
		return map[string]any{"conditions": []any{
			c("CertificateProvisioned", "True", "NotNeeded", "Certificate is not needed as TLS is not enabled."),
			c("DomainMappingGatewayReady", "True", "NotNeeded", "DomainMapping specific Gateway is not needed as TLS is not enabled."),
			c("GatewayReady", "True", "", ""), c("Ready", "True", "", ""), c("RouteReady", "True", "", "")},
			"mappedRouteName": KnativeRoute,
			"resourceRecords": []any{map[string]any{"name": KnativeRoute + ".default", "rrdata": addr, "type": "A"}},
			"url":             "http://" + DomainMappingName}
	case gvr == gvrKnativeIngresses && addr == "":
		return map[string]any{"conditions": []any{
			c("LoadBalancerReady", "Unknown", "Uninitialized", "Waiting for load balancer to be ready"),
			c("NetworkConfigured", "True", "", ""),
			c("Ready", "Unknown", "Uninitialized", "Waiting for load balancer to be ready")}, "observedGeneration": int64(1)}
	case gvr == gvrKnativeIngresses:
		return map[string]any{"conditions": []any{c("LoadBalancerReady", "True", "", ""), c("NetworkConfigured", "True", "", ""), c("Ready", "True", "", "")},
			"observedGeneration":  int64(1),
			"publicLoadBalancer":  map[string]any{"ingress": []any{map[string]any{"domainInternal": GatewayService + "." + GatewayNamespace + ".svc.cluster.local"}}},
			"privateLoadBalancer": map[string]any{"ingress": []any{map[string]any{"domainInternal": "cluster-local-gateway." + GatewayNamespace + ".svc.cluster.local"}}}}
	}
	return nil
}

// crStore holds the cluster's custom resources.
type crStore struct {
	w  *World
	mu sync.Mutex
	// objs by resource, then NAMESPACE/NAME.
	objs   map[schema.GroupVersionResource]map[string]*unstructured.Unstructured
	writes []string // "METHOD PATH" of every write that reached the store
}

func newCRStore(w *World) *crStore {
	s := &crStore{w: w, objs: map[schema.GroupVersionResource]map[string]*unstructured.Unstructured{}}
	for gvr := range knativeKinds {
		s.objs[gvr] = map[string]*unstructured.Unstructured{}
	}
	created := time.Now().Add(-17 * time.Hour).UTC().Truncate(time.Second)
	since := created.Format(time.RFC3339)
	add := func(gvr schema.GroupVersionResource, name string, ann map[string]string, spec map[string]any) {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": knativeKinds[gvr],
			"metadata": map[string]any{"name": name, "namespace": "default", "uid": newUID(), "generation": int64(1),
				"creationTimestamp": since, "resourceVersion": w.kube.nextRV()},
			"spec": spec, "status": knStatus(gvr, "", since)}}
		if ann != nil {
			u.SetAnnotations(ann)
		}
		s.objs[gvr]["default/"+name] = u
	}
	add(gvrCRfADomainMappings, DomainMappingName, nil, map[string]any{"certificateMode": "AUTOMATIC", "routeName": KnativeRoute})
	add(gvrKnativeIngresses, KnativeRoute, map[string]string{"networking.knative.dev/ingress.class": "istio.ingress.networking.knative.dev",
		"serving.knative.dev/creator": DemoUser}, map[string]any{"rules": []any{map[string]any{"hosts": []any{KnativeRoute + ".default.example.com", DomainMappingName},
		"visibility": "ExternalIP", "http": map[string]any{"paths": []any{map[string]any{"splits": []any{map[string]any{
			"serviceName": KnativeRoute + "-00001", "serviceNamespace": "default", "servicePort": int64(80), "percent": int64(100)}}}}}}}})
	return s
}

// discoveryResources are what discovery answers for the custom resources' API groups.
func discoveryResources() []*metav1.APIResourceList {
	by := map[string]*metav1.APIResourceList{}
	var gvs []string
	for gvr, kind := range knativeKinds {
		gv := gvr.GroupVersion().String()
		if by[gv] == nil {
			by[gv] = &metav1.APIResourceList{GroupVersion: gv}
			gvs = append(gvs, gv)
		}
		by[gv].APIResources = append(by[gv].APIResources, metav1.APIResource{Name: gvr.Resource, SingularName: strings.ToLower(kind), Namespaced: true,
			Kind: kind, Verbs: metav1.Verbs{"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"}},
			metav1.APIResource{Name: gvr.Resource + "/status", Namespaced: true, Kind: kind, Verbs: metav1.Verbs{"get", "patch", "update"}})
	}
	sort.Strings(gvs)
	var out []*metav1.APIResourceList
	for _, gv := range gvs {
		out = append(out, by[gv])
	}
	return out
}

// installKnativeDiscovery makes both clientsets' discovery serve the custom resources' APIs.
func (k *kubeSide) installKnativeDiscovery() {
	for _, cs := range []*clientset{k.rw, k.ro} {
		cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = discoveryResources()
	}
}

// --- the dynamic client ---

type dynClient struct {
	s        *crStore
	readOnly bool
}

var _ dynamic.Interface = (*dynClient)(nil)

// KubeDynamic returns a dynamic client on the world's custom resources; with readOnly every write is
// refused with an *apierr.Error of kind ReadOnly, as internal/kube's guard does.
func (w *World) KubeDynamic(readOnly bool) dynamic.Interface {
	return &dynClient{s: w.crs, readOnly: readOnly}
}

// CRWrites lists the writes ("METHOD PATH") that reached the custom-resource store, controllers'
// included.
func (w *World) CRWrites() []string {
	w.crs.mu.Lock()
	defer w.crs.mu.Unlock()
	return append([]string(nil), w.crs.writes...)
}

// CustomObject returns a copy of one custom resource (tests).
func (w *World) CustomObject(gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, bool) {
	w.crs.mu.Lock()
	defer w.crs.mu.Unlock()
	o, ok := w.crs.objs[gvr][ns+"/"+name]
	if !ok {
		return nil, false
	}
	return o.DeepCopy(), true
}

func (c *dynClient) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &dynResource{c: c, gvr: gvr}
}

type dynResource struct {
	c   *dynClient
	gvr schema.GroupVersionResource
	ns  string
}

func (r *dynResource) Namespace(ns string) dynamic.ResourceInterface {
	return &dynResource{c: r.c, gvr: r.gvr, ns: ns}
}

func (r *dynResource) path(name, sub string) string {
	p := "/apis/" + r.gvr.Group + "/" + r.gvr.Version
	if r.ns != "" {
		p += "/namespaces/" + r.ns
	}
	p += "/" + r.gvr.Resource
	if name != "" {
		p += "/" + name
	}
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// begin does what every request goes through: the deadline, the read-only guard, the world being
// open, the API being served.
func (r *dynResource) begin(ctx context.Context, method, name, sub string) (map[string]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := r.path(name, sub)
	if r.c.readOnly && !kube.Allowed(method, path) {
		return nil, &apierr.Error{Kind: apierr.ReadOnly, Op: method, Resource: path, Err: errors.New("refused by the read-only guard: not a read")}
	}
	if r.c.s.w.ctx.Err() != nil {
		return nil, errWorldClosed
	}
	m, ok := r.c.s.objs[r.gvr]
	if !ok {
		return nil, apierrors.NewNotFound(r.gvr.GroupResource(), "")
	}
	if method != "GET" {
		r.c.s.writes = append(r.c.s.writes, method+" "+path)
	}
	return m, nil
}

func (r *dynResource) gr() schema.GroupResource { return r.gvr.GroupResource() }

func (r *dynResource) Get(ctx context.Context, name string, _ metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	m, err := r.begin(ctx, "GET", name, strings.Join(sub, "/"))
	if err != nil {
		return nil, err
	}
	o, ok := m[r.ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(r.gr(), name)
	}
	return o.DeepCopy(), nil
}

func (r *dynResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	m, err := r.begin(ctx, "GET", "", "")
	if err != nil {
		return nil, err
	}
	if opts.FieldSelector != "" || opts.LabelSelector != "" {
		return nil, apierrors.NewBadRequest("the demo world's custom resources take no selectors")
	}
	var keys []string
	for k := range m {
		if r.ns == "" || strings.HasPrefix(k, r.ns+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": r.gvr.GroupVersion().String(), "kind": knativeKinds[r.gvr] + "List",
		"metadata": map[string]any{"resourceVersion": r.c.s.w.kube.nextRV()}}}
	for _, k := range keys {
		l.Items = append(l.Items, *m[k].DeepCopy())
	}
	return l, nil
}

func (r *dynResource) Create(ctx context.Context, obj *unstructured.Unstructured, _ metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	if len(sub) > 0 {
		return nil, apierrors.NewMethodNotSupported(r.gr(), "create "+strings.Join(sub, "/"))
	}
	m, err := r.begin(ctx, "POST", "", "")
	if err != nil {
		return nil, err
	}
	o := obj.DeepCopy()
	if o.GetNamespace() == "" {
		o.SetNamespace(r.ns)
	}
	key := o.GetNamespace() + "/" + o.GetName()
	if o.GetName() == "" {
		return nil, apierrors.NewBadRequest("resource name may not be empty")
	}
	if _, ok := m[key]; ok {
		return nil, apierrors.NewAlreadyExists(r.gr(), o.GetName())
	}
	o.SetUID(types.UID(newUID()))
	o.SetResourceVersion(r.c.s.w.kube.nextRV())
	o.SetGeneration(1)
	o.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	unstructured.RemoveNestedField(o.Object, "status")
	m[key] = o
	r.c.s.w.kickKube()
	return o.DeepCopy(), nil
}

// store writes obj in place of the current object, spec or status only, under its resourceVersion.
func (r *dynResource) store(ctx context.Context, method string, obj *unstructured.Unstructured, status bool) (*unstructured.Unstructured, error) {
	sub := ""
	if status {
		sub = "status"
	}
	m, err := r.begin(ctx, method, obj.GetName(), sub)
	if err != nil {
		return nil, err
	}
	key := r.ns + "/" + obj.GetName()
	cur, ok := m[key]
	if !ok {
		return nil, apierrors.NewNotFound(r.gr(), obj.GetName())
	}
	if rv := obj.GetResourceVersion(); rv != "" && rv != cur.GetResourceVersion() {
		return nil, apierrors.NewConflict(r.gr(), obj.GetName(), errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	}
	next := cur.DeepCopy()
	if status {
		next.Object["status"] = obj.DeepCopy().Object["status"]
	} else {
		in := obj.DeepCopy()
		in.Object["status"] = cur.Object["status"]
		in.SetUID(cur.GetUID())
		in.SetCreationTimestamp(cur.GetCreationTimestamp())
		in.SetGeneration(cur.GetGeneration())
		if !reflect.DeepEqual(in.Object["spec"], cur.Object["spec"]) {
			in.SetGeneration(cur.GetGeneration() + 1)
		}
		next = in
	}
	next.SetResourceVersion(r.c.s.w.kube.nextRV())
	m[key] = next
	r.c.s.w.kickKube()
	return next.DeepCopy(), nil
}

func (r *dynResource) Update(ctx context.Context, obj *unstructured.Unstructured, _ metav1.UpdateOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	return r.store(ctx, "PUT", obj, len(sub) == 1 && sub[0] == "status")
}

func (r *dynResource) UpdateStatus(ctx context.Context, obj *unstructured.Unstructured, _ metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	return r.store(ctx, "PUT", obj, true)
}

// Patch takes merge patches (what gkedoctor and kubectl --type merge send); a patch carrying a
// resourceVersion is conditional on it.
func (r *dynResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, _ metav1.PatchOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	if pt != types.MergePatchType {
		return nil, apierrors.NewBadRequest("the demo world's custom resources take merge patches only, not " + string(pt))
	}
	sub0 := strings.Join(sub, "/")
	if r.c.readOnly && !kube.Allowed("PATCH", r.path(name, sub0)) {
		return nil, &apierr.Error{Kind: apierr.ReadOnly, Op: "PATCH", Resource: r.path(name, sub0), Err: errors.New("refused by the read-only guard: not a read")}
	}
	cur, ok := r.c.s.objs[r.gvr][r.ns+"/"+name]
	if _, served := r.c.s.objs[r.gvr]; !served || !ok {
		return nil, apierrors.NewNotFound(r.gr(), name)
	}
	b, err := json.Marshal(cur.Object)
	if err != nil {
		return nil, err
	}
	out, err := jsonpatch.MergePatch(b, data)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	next := &unstructured.Unstructured{}
	if err := json.Unmarshal(out, &next.Object); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if next.GetResourceVersion() == cur.GetResourceVersion() {
		next.SetResourceVersion("") // the patch did not set one: unconditional
	}
	return r.store(ctx, "PATCH", next, sub0 == "status")
}

func (r *dynResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	r.c.s.mu.Lock()
	defer r.c.s.mu.Unlock()
	m, err := r.begin(ctx, "DELETE", name, strings.Join(sub, "/"))
	if err != nil {
		return err
	}
	cur, ok := m[r.ns+"/"+name]
	if !ok {
		return apierrors.NewNotFound(r.gr(), name)
	}
	if p := opts.Preconditions; p != nil {
		if (p.UID != nil && *p.UID != cur.GetUID()) || (p.ResourceVersion != nil && *p.ResourceVersion != cur.GetResourceVersion()) {
			return apierrors.NewConflict(r.gr(), name, errors.New("precondition failed"))
		}
	}
	delete(m, r.ns+"/"+name)
	r.c.s.w.kickKube()
	return nil
}

func (r *dynResource) DeleteCollection(context.Context, metav1.DeleteOptions, metav1.ListOptions) error {
	return apierrors.NewMethodNotSupported(r.gr(), "deletecollection")
}

func (r *dynResource) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, apierrors.NewMethodNotSupported(r.gr(), "watch")
}

func (r *dynResource) Apply(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, apierrors.NewBadRequest("server-side apply is not supported by the demo world; use update or a merge patch")
}

func (r *dynResource) ApplyStatus(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions) (*unstructured.Unstructured, error) {
	return nil, apierrors.NewBadRequest("server-side apply is not supported by the demo world; use update or a merge patch")
}

// --- the Knative controller ---

// knativeController plays Knative's networking controller (net-istio) and Cloud Run for Anthos's
// domain-mapping controller: the gateway's load-balancer address, once there, is published to every
// Ingress and DomainMapping (they become Ready); without one they wait. It acts a few seconds (scaled)
// after the address changes.
type knativeController struct {
	w    *World
	loop *loop

	mu       sync.Mutex
	seenAddr string
	dueAt    time.Time
}

// gatewayAddress is the gateway Service's load-balancer address, "" when it has none (or is gone).
func (w *World) gatewayAddress() string {
	svc, err := getT[*corev1.Service](w.kube, gvrServices, GatewayNamespace, GatewayService)
	if err != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return ""
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
	}
	return ""
}

func (c *knativeController) reconcile(now time.Time) time.Time {
	addr := c.w.gatewayAddress()
	c.mu.Lock()
	if addr != c.seenAddr {
		c.seenAddr, c.dueAt = addr, now.Add(c.w.after(5*time.Second))
	}
	due := c.dueAt
	c.mu.Unlock()
	if now.Before(due) {
		return due
	}
	s := c.w.crs
	s.mu.Lock()
	defer s.mu.Unlock()
	since := now.UTC().Truncate(time.Second).Format(time.RFC3339)
	for _, gvr := range []schema.GroupVersionResource{gvrKnativeIngresses, gvrCRfADomainMappings} {
		for key, o := range s.objs[gvr] {
			want := knStatus(gvr, addr, since)
			if sameConditions(o.Object["status"], want) {
				continue
			}
			next := o.DeepCopy()
			next.Object["status"] = want
			next.SetResourceVersion(c.w.kube.nextRV())
			s.objs[gvr][key] = next
			s.writes = append(s.writes, fmt.Sprintf("PUT /apis/%s/%s/namespaces/%s/%s/%s/status (controller)", gvr.Group, gvr.Version, next.GetNamespace(), gvr.Resource, next.GetName()))
		}
	}
	return time.Time{}
}

// sameConditions compares two statuses ignoring the conditions' transition times.
func sameConditions(a, b any) bool {
	strip := func(v any) string {
		bs, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(bs, &m)
		if cs, ok := m["conditions"].([]any); ok {
			for _, c := range cs {
				if cm, ok := c.(map[string]any); ok {
					delete(cm, "lastTransitionTime")
				}
			}
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	return strip(a) == strip(b)
}
