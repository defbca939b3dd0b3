package inventory

import (
	"bytes"
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Invalidation prefixes for Kubernetes facts.
const (
	KeyKube     = "k8s/"
	KeyServices = "k8s/services"
	KeyEvents   = "k8s/events/"
)

// listPage is the page size for large lists; protobuf plus paging keeps memory flat on big clusters.
const listPage = 500

// Service returns one Service.
func (i *Inventory) Service(ctx context.Context, ns, name string) (*corev1.Service, error) {
	return Memo(ctx, i, KeyServices+"/"+ns+"/"+name, func(ctx context.Context) (*corev1.Service, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		s, err := k.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && s.Name == "" {
			return nil, notAnObject("get Service", ns+"/"+name, "Service")
		}
		return s, kube.Map(err, "get Service", ns+"/"+name)
	})
}

// ServicePages lists every Service in every namespace, page by page (protobuf, listPage at a time),
// handing each page to fn as it arrives; first is called once, before the first page, with the
// number of Services the list holds (0 when the server does not say). The pages are not kept: the
// list of a large cluster is tens of thousands of objects, so its one reader — the run's model
// (model.For), built once per run like a fact — keeps what the checks read and lets each page go.
// It is not memoised itself: call it through the model. Objects a fix writes back are read with
// Service (a GET), never taken from this list.
func (i *Inventory) ServicePages(ctx context.Context, first func(total int), fn func(page []corev1.Service)) error {
	k, err := i.Kube()
	if err != nil {
		return err
	}
	i.mu.Lock()
	i.fetches[KeyServices+"-all"]++
	i.mu.Unlock()
	opts := metav1.ListOptions{Limit: listPage}
	var buf bytes.Buffer
	for n := 0; ; n++ {
		l, err := servicePage(ctx, k, opts, &buf)
		if err != nil {
			return kube.Map(err, "list Services", "all namespaces")
		}
		if unnamed(l.Items, func(s *corev1.Service) string { return s.Name }) {
			return notAnObject("list Services", "all namespaces", "Service")
		}
		if n == 0 && first != nil {
			total := len(l.Items)
			if rem := l.RemainingItemCount; rem != nil && *rem > 0 {
				total += int(*rem)
			}
			first(total)
		}
		fn(l.Items)
		if l.Continue == "" {
			return nil
		}
		opts.Continue = l.Continue
	}
}

// Events lists the events about one object.
func (i *Inventory) Events(ctx context.Context, ns, kind, name string) ([]corev1.Event, error) {
	return Memo(ctx, i, KeyEvents+ns+"/"+kind+"/"+name, func(ctx context.Context) ([]corev1.Event, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", kind), fields.OneTermEqualSelector("involvedObject.name", name))
		l, err := k.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
		if err != nil {
			return nil, kube.Map(err, "list events", ns+"/"+kind+"/"+name)
		}
		return l.Items, nil
	})
}

// ServiceEvents lists the events about every Service of the cluster in one paged list (field
// selector involvedObject.kind=Service), by "namespace/name". A check that reads the events of
// many load balancers asks once instead of once per Service: 200 field-selected lists took two
// seconds of a large audit. It needs list events in every namespace; a caller falls back to Events
// when it is refused.
func (i *Inventory) ServiceEvents(ctx context.Context) (map[string][]corev1.Event, error) {
	return Memo(ctx, i, KeyEvents+"*/Service", func(ctx context.Context) (map[string][]corev1.Event, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		out := map[string][]corev1.Event{}
		opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.kind", "Service").String(), Limit: listPage}
		for {
			l, err := k.CoreV1().Events("").List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list events", "Services in all namespaces")
			}
			for _, e := range l.Items {
				if e.InvolvedObject.Kind == "Service" { // a server that ignores the selector
					ns := e.InvolvedObject.Namespace
					if ns == "" {
						ns = e.Namespace
					}
					key := ns + "/" + e.InvolvedObject.Name
					out[key] = append(out[key], e)
				}
			}
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// EndpointSlices lists the EndpointSlices of a Service.
func (i *Inventory) EndpointSlices(ctx context.Context, ns, svc string) ([]discoveryv1.EndpointSlice, error) {
	return Memo(ctx, i, "k8s/endpointslices/"+ns+"/"+svc, func(ctx context.Context) ([]discoveryv1.EndpointSlice, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		l, err := k.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return nil, kube.Map(err, "list EndpointSlices", ns+"/"+svc)
		}
		return l.Items, nil
	})
}

// Nodes lists the nodes (paged).
func (i *Inventory) Nodes(ctx context.Context) ([]corev1.Node, error) {
	return Memo(ctx, i, "k8s/nodes", func(ctx context.Context) ([]corev1.Node, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []corev1.Node
		opts := metav1.ListOptions{Limit: listPage}
		for {
			l, err := k.CoreV1().Nodes().List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list nodes", "")
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// ConfigMap returns one ConfigMap.
func (i *Inventory) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return Memo(ctx, i, "k8s/configmap/"+ns+"/"+name, func(ctx context.Context) (*corev1.ConfigMap, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		c, err := k.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		return c, kube.Map(err, "get ConfigMap", ns+"/"+name)
	})
}

// DaemonSet returns one DaemonSet.
func (i *Inventory) DaemonSet(ctx context.Context, ns, name string) (*appsv1.DaemonSet, error) {
	return Memo(ctx, i, "k8s/daemonset/"+ns+"/"+name, func(ctx context.Context) (*appsv1.DaemonSet, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		d, err := k.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		return d, kube.Map(err, "get DaemonSet", ns+"/"+name)
	})
}

// ServiceAccount returns one ServiceAccount.
func (i *Inventory) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	return Memo(ctx, i, "k8s/serviceaccount/"+ns+"/"+name, func(ctx context.Context) (*corev1.ServiceAccount, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		s, err := k.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		return s, kube.Map(err, "get ServiceAccount", ns+"/"+name)
	})
}

// notAnObject is the error for a 200 whose body decoded to an object with no name: a proxy's page, a
// foreign or truncated document that happened to parse. Its fields would all read as zero values (no
// ports, no addresses), which a check must not take for the cluster's facts.
func notAnObject(op, resource, kind string) error {
	return &apierr.Error{Kind: apierr.Other, Op: op, Resource: resource,
		Err: fmt.Errorf("the Kubernetes API server answered with a body that is not a %s (an object with no name)", kind)}
}

// unnamed reports whether a list holds an object with no name (see notAnObject).
func unnamed[T any](items []T, name func(*T) string) bool {
	for i := range items {
		if name(&items[i]) == "" {
			return true
		}
	}
	return false
}
