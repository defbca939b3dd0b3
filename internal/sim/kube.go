package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// GroupVersionResources the world reads and writes directly.
var (
	gvrServices        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPods            = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrNodes           = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	gvrNamespaces      = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecrets         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServiceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrEndpointSlices  = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	gvrDaemonSets      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	gvrReplicaSets     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	gvrClusterRoles    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	gvrClusterRBs      = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	gvrRoles           = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	gvrRoleBindings    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

// kubeSide is the world's Kubernetes API: client-go's fake clients (clientset.go) made to behave like kube-apiserver
// where gkedoctor looks. Every request goes through react (in front of the fake's object tracker),
// which does what the API server does and the tracker does not: uids, creation timestamps,
// generateName, resourceVersions with 409 conflicts, status kept apart from spec, Service ClusterIP
// and NodePort allocation, field selectors, and kicking the simulated controllers after each change.
type kubeSide struct {
	w       *World
	rw, ro  *clientset
	tracker clienttesting.ObjectTracker

	mu          sync.Mutex
	rv          int64
	watches     map[*filterWatch]bool
	closed      bool
	legacyToken string
}

func newKubeSide(w *World) (*kubeSide, error) {
	k := &kubeSide{w: w, rv: 4200, watches: map[*filterWatch]bool{}}
	k.rw = newClientset()
	k.tracker = k.rw.Tracker()
	objs, legacy, err := seedKube()
	if err != nil {
		return nil, err
	}
	k.legacyToken = legacy
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		m.SetResourceVersion(k.nextRV())
		if err := k.tracker.Add(o); err != nil {
			return nil, fmt.Errorf("seed %T %s/%s: %w", o, m.GetNamespace(), m.GetName(), err)
		}
	}
	// The EndpointSlice controller's work is done before the world starts, so that its first sync
	// writes nothing (a read-only run then sees no writes at all in the action log).
	pods := k.pods()
	for _, svc := range k.services() {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		es := desiredSlice(&svc, pods)
		es.UID, es.ResourceVersion, es.CreationTimestamp = types.UID(newUID()), k.nextRV(), svc.CreationTimestamp
		if err := k.tracker.Add(es); err != nil {
			return nil, fmt.Errorf("seed EndpointSlice %s: %w", es.Name, err)
		}
	}
	// The fake's own reactors stay at the end of the chain; ours answer first.
	k.rw.PrependReactor("*", "*", k.react)
	k.rw.PrependReactor("create", "*", k.reviews)
	k.rw.PrependWatchReactor("*", k.watch)
	serverVersion := &version.Info{Major: "1", Minor: "33", GitVersion: "v" + Version, Platform: "linux/amd64", GoVersion: "go1.24.6"}
	k.rw.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = serverVersion

	// The read-only client shares the reaction chains (and so the tracker) behind the guard.
	k.ro = newClientset()
	k.ro.ReactionChain = append([]clienttesting.Reactor{&clienttesting.SimpleReactor{Verb: "*", Resource: "*", Reaction: guardReadOnly}},
		k.rw.ReactionChain...)
	k.ro.WatchReactionChain = append([]clienttesting.WatchReactor(nil), k.rw.WatchReactionChain...)
	k.ro.ProxyReactionChain = nil
	k.ro.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = serverVersion
	return k, nil
}

func (k *kubeSide) close() {
	k.mu.Lock()
	k.closed = true
	ws := make([]*filterWatch, 0, len(k.watches))
	for fw := range k.watches {
		ws = append(ws, fw)
	}
	k.mu.Unlock()
	for _, fw := range ws {
		fw.Stop()
	}
}

// maxActions bounds the fake clientsets' action logs (they record every call, forever): a demo left
// running for hours must not grow without bound. Tests read far fewer.
const maxActions = 20_000

// trimActions empties an action log that grew past maxActions; it runs every half minute.
func (k *kubeSide) trimActions(now time.Time) time.Time {
	for _, c := range []*clientset{k.rw, k.ro} {
		if len(c.Actions()) > maxActions {
			c.ClearActions()
		}
	}
	return now.Add(30 * time.Second)
}

func (k *kubeSide) nextRV() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rv++
	return strconv.FormatInt(k.rv, 10)
}

// guardReadOnly refuses what internal/kube's read-only transport refuses, with the same error.
func guardReadOnly(action clienttesting.Action) (bool, runtime.Object, error) {
	method, path := requestOf(action)
	if kube.Allowed(method, path) {
		return false, nil, nil
	}
	return true, nil, &apierr.Error{Kind: apierr.ReadOnly, Op: method, Resource: path,
		Err: errors.New("refused by the read-only guard: not a read")}
}

// requestOf renders an action as the HTTP request client-go would send.
func requestOf(a clienttesting.Action) (method, path string) {
	switch a.GetVerb() {
	case "get", "list", "watch":
		method = "GET"
	case "create":
		method = "POST"
	case "update":
		method = "PUT"
	case "patch":
		method = "PATCH"
	case "delete", "deletecollection":
		method = "DELETE"
	default:
		method = strings.ToUpper(a.GetVerb())
	}
	gvr := a.GetResource()
	if gvr.Resource == "version" && gvr.Group == "" && gvr.Version == "" {
		return method, "/version"
	}
	if gvr.Group == "" {
		path = "/api/" + gvr.Version
	} else {
		path = "/apis/" + gvr.Group + "/" + gvr.Version
	}
	if ns := a.GetNamespace(); ns != "" {
		path += "/namespaces/" + ns
	}
	path += "/" + gvr.Resource
	name := ""
	switch x := a.(type) {
	case clienttesting.GetActionImpl:
		name = x.Name
	case clienttesting.PatchActionImpl:
		name = x.Name
	case clienttesting.DeleteActionImpl:
		name = x.Name
	case clienttesting.CreateActionImpl:
		name = x.Name
	case clienttesting.UpdateActionImpl:
		if m, err := meta.Accessor(x.Object); err == nil {
			name = m.GetName()
		}
	}
	if name != "" {
		path += "/" + name
	}
	if sub := a.GetSubresource(); sub != "" {
		path += "/" + sub
	}
	return method, path
}

// react is the API server in front of the tracker.
func (k *kubeSide) react(action clienttesting.Action) (bool, runtime.Object, error) {
	switch a := action.(type) {
	case clienttesting.ListActionImpl:
		obj, err := k.list(a)
		return true, obj, err
	case clienttesting.CreateActionImpl:
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		obj, err := k.create(a.GetResource(), a.GetNamespace(), a.GetObject())
		return true, obj, err
	case clienttesting.UpdateActionImpl:
		if sub := a.GetSubresource(); sub != "" && sub != "status" {
			return false, nil, nil
		}
		obj, err := k.update(a.GetResource(), a.GetNamespace(), a.GetSubresource(), a.GetObject(), true)
		return true, obj, err
	case clienttesting.PatchActionImpl:
		if sub := a.GetSubresource(); sub != "" && sub != "status" {
			return false, nil, nil
		}
		obj, err := k.patch(a)
		return true, obj, err
	case clienttesting.DeleteActionImpl:
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		err := k.delete(a)
		return true, nil, err
	}
	return false, nil, nil
}

func (k *kubeSide) list(a clienttesting.ListActionImpl) (runtime.Object, error) {
	obj, err := k.tracker.List(a.GetResource(), a.GetKind(), a.GetNamespace())
	if err != nil {
		return nil, err
	}
	fs := a.ListOptions.FieldSelector
	if fs == "" {
		return obj, nil
	}
	sel, err := fields.ParseSelector(fs)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", fs, err))
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return nil, err
	}
	var keep []runtime.Object
	for _, it := range items {
		set := fieldSet(it)
		for _, r := range sel.Requirements() {
			if _, ok := set[r.Field]; !ok {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
			}
		}
		if sel.Matches(set) {
			keep = append(keep, it)
		}
	}
	if err := meta.SetList(obj, keep); err != nil {
		return nil, err
	}
	return obj, nil
}

// fieldSet is what field selectors can match on, per kind (the fields kube-apiserver supports).
func fieldSet(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		set["metadata.namespace"] = m.GetNamespace()
	}
	switch o := obj.(type) {
	case *corev1.Event:
		io := o.InvolvedObject
		set["involvedObject.kind"], set["involvedObject.namespace"], set["involvedObject.name"] = io.Kind, io.Namespace, io.Name
		set["involvedObject.uid"], set["involvedObject.apiVersion"] = string(io.UID), io.APIVersion
		set["involvedObject.resourceVersion"], set["involvedObject.fieldPath"] = io.ResourceVersion, io.FieldPath
		set["reason"], set["reportingComponent"], set["source"], set["type"] = o.Reason, o.ReportingController, o.Source.Component, o.Type
	case *corev1.Pod:
		set["spec.nodeName"], set["spec.restartPolicy"], set["spec.schedulerName"] = o.Spec.NodeName, string(o.Spec.RestartPolicy), o.Spec.SchedulerName
		set["spec.serviceAccountName"], set["spec.hostNetwork"] = o.Spec.ServiceAccountName, strconv.FormatBool(o.Spec.HostNetwork)
		set["status.phase"], set["status.podIP"], set["status.nominatedNodeName"] = string(o.Status.Phase), o.Status.PodIP, o.Status.NominatedNodeName
	case *corev1.Secret:
		set["type"] = string(o.Type)
	case *corev1.Node:
		set["spec.unschedulable"] = strconv.FormatBool(o.Spec.Unschedulable)
	case *corev1.Namespace:
		set["status.phase"] = string(o.Status.Phase)
	case *corev1.Service:
		set["spec.clusterIP"], set["spec.type"] = o.Spec.ClusterIP, string(o.Spec.Type)
	}
	return set
}

func (k *kubeSide) create(gvr schema.GroupVersionResource, ns string, obj runtime.Object) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + randomSuffix(5))
	}
	if m.GetName() == "" {
		return nil, apierrors.NewBadRequest("resource name may not be empty")
	}
	if ns != "" && m.GetNamespace() != "" && m.GetNamespace() != ns {
		return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if ns != "" {
		if _, err := k.tracker.Get(gvrNamespaces, "", ns); err != nil && gvr != gvrNamespaces {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
		}
	}
	m.SetUID(types.UID(newUID()))
	m.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	m.SetResourceVersion(k.nextRV())
	m.SetDeletionTimestamp(nil)
	if hasSpec(obj) {
		m.SetGeneration(1)
	}
	if svc, ok := obj.(*corev1.Service); ok {
		if err := k.admitService(svc, nil); err != nil {
			return nil, err
		}
	}
	if err := k.tracker.Create(gvr, obj, ns); err != nil {
		return nil, err
	}
	k.w.kickKube()
	return k.tracker.Get(gvr, ns, m.GetName())
}

// update stores obj in place of the current object. checkRV applies optimistic concurrency with the
// object's resourceVersion (an update without one is unconditional, as in the API).
func (k *kubeSide) update(gvr schema.GroupVersionResource, ns, sub string, obj runtime.Object, checkRV bool) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	old, err := k.tracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return nil, err
	}
	om, _ := meta.Accessor(old)
	if checkRV && m.GetResourceVersion() != "" && m.GetResourceVersion() != om.GetResourceVersion() {
		return nil, apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	}
	if m.GetUID() != "" && m.GetUID() != om.GetUID() {
		return nil, apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.GetUID(), om.GetUID()))
	}
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetGeneration(om.GetGeneration())
	if sub == "status" {
		// A status write changes the status only.
		copyField(obj, old, "Spec")
		m.SetLabels(om.GetLabels())
		m.SetAnnotations(om.GetAnnotations())
		m.SetFinalizers(om.GetFinalizers())
		m.SetOwnerReferences(om.GetOwnerReferences())
	} else {
		copyField(obj, old, "Status")
		if svc, ok := obj.(*corev1.Service); ok {
			if err := k.admitService(svc, old.(*corev1.Service)); err != nil {
				return nil, err
			}
		}
		if hasSpec(obj) && !reflect.DeepEqual(fieldOf(obj, "Spec"), fieldOf(old, "Spec")) {
			m.SetGeneration(om.GetGeneration() + 1)
		}
	}
	m.SetResourceVersion(k.nextRV())
	if err := k.tracker.Update(gvr, obj, ns); err != nil {
		return nil, err
	}
	k.w.kickKube()
	return k.tracker.Get(gvr, ns, m.GetName())
}

func (k *kubeSide) patch(a clienttesting.PatchActionImpl) (runtime.Object, error) {
	gvr, ns := a.GetResource(), a.GetNamespace()
	if a.GetPatchType() == types.ApplyPatchType || a.GetPatchType() == types.ApplyCBORPatchType {
		return nil, apierrors.NewBadRequest("server-side apply is not supported by the demo world; use update or a merge patch")
	}
	old, err := k.tracker.Get(gvr, ns, a.GetName())
	if err != nil {
		return nil, err
	}
	oldJSON, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	var modified []byte
	switch a.GetPatchType() {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(a.GetPatch())
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if modified, err = p.Apply(oldJSON); err != nil {
			return nil, apierrors.NewInvalid(kindOf(old, gvr), a.GetName(), nil)
		}
	case types.MergePatchType:
		if modified, err = jsonpatch.MergePatch(oldJSON, a.GetPatch()); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		if modified, err = strategicpatch.StrategicMergePatch(oldJSON, a.GetPatch(), old); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	default:
		return nil, apierrors.NewBadRequest("unsupported patch type " + string(a.GetPatchType()))
	}
	obj := reflect.New(reflect.TypeOf(old).Elem()).Interface().(runtime.Object)
	if err := json.Unmarshal(modified, obj); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	// A patch that carries a resourceVersion is conditional on it, as in the API.
	return k.update(gvr, ns, a.GetSubresource(), obj, true)
}

func (k *kubeSide) delete(a clienttesting.DeleteActionImpl) error {
	gvr, ns := a.GetResource(), a.GetNamespace()
	if p := a.DeleteOptions.Preconditions; p != nil {
		old, err := k.tracker.Get(gvr, ns, a.GetName())
		if err != nil {
			return err
		}
		om, _ := meta.Accessor(old)
		if p.UID != nil && *p.UID != om.GetUID() {
			return apierrors.NewConflict(gvr.GroupResource(), a.GetName(),
				fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *p.UID, om.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != om.GetResourceVersion() {
			return apierrors.NewConflict(gvr.GroupResource(), a.GetName(),
				fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *p.ResourceVersion, om.GetResourceVersion()))
		}
	}
	if err := k.tracker.Delete(gvr, ns, a.GetName()); err != nil {
		return err
	}
	k.w.kickKube()
	return nil
}

// admitService does what the API server's Service registry does on create (old == nil) and update:
// ClusterIP allocation from the services range and immutability, NodePorts for NodePort and
// LoadBalancer Services.
func (k *kubeSide) admitService(svc, old *corev1.Service) error {
	if svc.Spec.Type == "" {
		svc.Spec.Type = corev1.ServiceTypeClusterIP
	}
	if svc.Spec.SessionAffinity == "" {
		svc.Spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
			p.TargetPort.IntVal = p.Port
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		return nil
	}
	if old != nil && old.Spec.ClusterIP != "" {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		} else if svc.Spec.ClusterIP != old.Spec.ClusterIP {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, nil)
		}
	}
	taken := map[string]bool{}
	if l, err := k.tracker.List(gvrServices, corev1.SchemeGroupVersion.WithKind("Service"), ""); err == nil {
		for _, s := range l.(*corev1.ServiceList).Items {
			if old == nil || s.UID != old.UID {
				taken[s.Spec.ClusterIP] = true
				for _, p := range s.Spec.Ports {
					taken["np:"+strconv.Itoa(int(p.NodePort))] = true
				}
			}
		}
	}
	switch {
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
	case svc.Spec.ClusterIP == "":
		ip, ok := allocate(mustPrefix(ServicesCIDR), svc.Namespace+"/"+svc.Name, taken)
		if !ok {
			return apierrors.NewInternalError(errors.New("the services range 34.118.224.0/20 is full"))
		}
		svc.Spec.ClusterIP = ip
	default:
		if old == nil && taken[svc.Spec.ClusterIP] {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, nil)
		}
	}
	if svc.Spec.ClusterIP != "" {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		if svc.Spec.IPFamilies == nil && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			single := corev1.IPFamilyPolicySingleStack
			svc.Spec.IPFamilyPolicy = &single
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		if svc.Spec.ExternalTrafficPolicy == "" {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			if old != nil {
				for _, op := range old.Spec.Ports {
					if op.Port == p.Port && op.Protocol == p.Protocol && op.NodePort != 0 {
						p.NodePort = op.NodePort
					}
				}
			}
			for n := 30000 + int32(hashString(svc.Namespace+"/"+svc.Name+"/"+strconv.Itoa(int(p.Port)))%2768); p.NodePort == 0; n++ {
				if n > 32767 {
					n = 30000
				}
				if !taken["np:"+strconv.Itoa(int(n))] {
					p.NodePort = n
					taken["np:"+strconv.Itoa(int(n))] = true
				}
			}
		}
	} else {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	return nil
}

// --- watches ---

// watch answers watches from the tracker through a filterWatch: selectors are applied (the fake does
// not), and a consumer that reads slowly can never make the tracker's fixed-size channel overflow,
// which would panic the whole process.
func (k *kubeSide) watch(action clienttesting.Action) (bool, watch.Interface, error) {
	a, ok := action.(clienttesting.WatchActionImpl)
	if !ok {
		return false, nil, nil
	}
	gvr, ns := a.GetResource(), a.GetNamespace()
	r := a.GetWatchRestrictions()
	lsel, fsel := r.Labels, r.Fields
	if lsel == nil {
		lsel = labels.Everything()
	}
	if fsel == nil {
		fsel = fields.Everything()
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return true, nil, errWorldClosed
	}
	k.mu.Unlock()
	inner, err := k.tracker.Watch(gvr, ns) // no options: nothing replayed into its small channel
	if err != nil {
		return true, nil, err
	}
	fw := newFilterWatch(inner, lsel, fsel, func(fw *filterWatch) {
		k.mu.Lock()
		delete(k.watches, fw)
		k.mu.Unlock()
	})
	// "Get state and start at most recent": without a resourceVersion, the watch begins with a
	// synthetic ADDED for every existing object.
	if rv := r.ResourceVersion; rv == "" || rv == "0" {
		if gvk, err := kindFor(gvr); err == nil {
			if l, err := k.tracker.List(gvr, gvk, ns); err == nil {
				items, _ := meta.ExtractList(l)
				for _, it := range items {
					fw.offer(watch.Event{Type: watch.Added, Object: it})
				}
			}
		}
	}
	k.mu.Lock()
	k.watches[fw] = true
	k.mu.Unlock()
	fw.start()
	return true, fw, nil
}

// kindFor maps a resource to its kind through the clientset's scheme.
func kindFor(gvr schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	for gvk := range scheme().AllKnownTypes() {
		if gvk.Group != gvr.Group || gvk.Version != gvr.Version {
			continue
		}
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		if plural.Resource == gvr.Resource {
			return gvk, nil
		}
	}
	return schema.GroupVersionKind{}, fmt.Errorf("no kind for %s", gvr)
}

// filterWatch relays a tracker watch through an unbounded queue, applying selectors.
type filterWatch struct {
	inner    watch.Interface
	lsel     labels.Selector
	fsel     fields.Selector
	out      chan watch.Event
	stop     chan struct{}
	stopOnce sync.Once
	onStop   func(*filterWatch)

	mu    sync.Mutex
	queue []watch.Event
	wake  chan struct{}
}

func newFilterWatch(inner watch.Interface, lsel labels.Selector, fsel fields.Selector, onStop func(*filterWatch)) *filterWatch {
	return &filterWatch{inner: inner, lsel: lsel, fsel: fsel, out: make(chan watch.Event), stop: make(chan struct{}),
		wake: make(chan struct{}, 1), onStop: onStop}
}

func (f *filterWatch) matches(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return true
	}
	return f.lsel.Matches(labels.Set(m.GetLabels())) && f.fsel.Matches(fieldSet(obj))
}

// offer queues an event if it passes the selectors.
func (f *filterWatch) offer(e watch.Event) {
	if e.Object != nil && !f.matches(e.Object) {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, e)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *filterWatch) start() {
	// Drain the tracker's channel at once, whatever the consumer does.
	go func() {
		for {
			select {
			case <-f.stop:
				return
			case e, ok := <-f.inner.ResultChan():
				if !ok {
					f.Stop()
					return
				}
				f.offer(e)
			}
		}
	}()
	// Deliver in order.
	go func() {
		defer close(f.out)
		for {
			f.mu.Lock()
			var e watch.Event
			have := len(f.queue) > 0
			if have {
				e = f.queue[0]
				f.queue = f.queue[1:]
			}
			f.mu.Unlock()
			if !have {
				select {
				case <-f.stop:
					return
				case <-f.wake:
				}
				continue
			}
			select {
			case <-f.stop:
				return
			case f.out <- e:
			}
		}
	}()
}

// Stop implements watch.Interface.
func (f *filterWatch) Stop() {
	f.stopOnce.Do(func() {
		close(f.stop)
		f.inner.Stop()
		if f.onStop != nil {
			f.onStop(f)
		}
	})
}

// ResultChan implements watch.Interface.
func (f *filterWatch) ResultChan() <-chan watch.Event { return f.out }

// --- helpers ---

func hasSpec(obj runtime.Object) bool { return fieldOf(obj, "Spec") != nil }

// fieldOf returns the value of a top-level struct field of obj, or nil.
func fieldOf(obj runtime.Object, name string) any {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}

// copyField sets dst.name = src.name for a top-level struct field both have.
func copyField(dst, src runtime.Object, name string) {
	dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src)
	if dv.Kind() != reflect.Pointer || sv.Kind() != reflect.Pointer || dv.Type() != sv.Type() {
		return
	}
	df, sf := dv.Elem().FieldByName(name), sv.Elem().FieldByName(name)
	if df.IsValid() && sf.IsValid() && df.CanSet() {
		df.Set(sf)
	}
}

func kindOf(obj runtime.Object, gvr schema.GroupVersionResource) schema.GroupKind {
	if gvks, _, err := scheme().ObjectKinds(obj); err == nil && len(gvks) > 0 {
		return gvks[0].GroupKind()
	}
	return schema.GroupKind{Group: gvr.Group, Kind: gvr.Resource}
}

// getT reads one object from the tracker.
func getT[T runtime.Object](k *kubeSide, gvr schema.GroupVersionResource, ns, name string) (T, error) {
	var zero T
	o, err := k.tracker.Get(gvr, ns, name)
	if err != nil {
		return zero, err
	}
	t, ok := o.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected %T for %s", o, gvr)
	}
	return t, nil
}

func (k *kubeSide) services() []corev1.Service {
	l, err := k.tracker.List(gvrServices, corev1.SchemeGroupVersion.WithKind("Service"), "")
	if err != nil {
		return nil
	}
	return l.(*corev1.ServiceList).Items
}

func (k *kubeSide) pods() []corev1.Pod {
	l, err := k.tracker.List(gvrPods, corev1.SchemeGroupVersion.WithKind("Pod"), "")
	if err != nil {
		return nil
	}
	return l.(*corev1.PodList).Items
}

func (k *kubeSide) nodes() []corev1.Node {
	l, err := k.tracker.List(gvrNodes, corev1.SchemeGroupVersion.WithKind("Node"), "")
	if err != nil {
		return nil
	}
	return l.(*corev1.NodeList).Items
}

func (k *kubeSide) endpointSlices(ns string) []discoveryv1.EndpointSlice {
	l, err := k.tracker.List(gvrEndpointSlices, discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), ns)
	if err != nil {
		return nil
	}
	return l.(*discoveryv1.EndpointSliceList).Items
}
