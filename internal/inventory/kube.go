package inventory

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

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
		return s, kube.Map(err, "get Service", ns+"/"+name)
	})
}

// Services lists every Service in every namespace (paged). The list is kept for the whole run, so it
// is kept slim: the result is allocated once at its final size (the first page says how many remain)
// instead of growing by doubling, and each Service's metadata.managedFields — field-manager
// bookkeeping no check reads, often the largest part of a small Service — is dropped as its page
// arrives. Objects a fix writes back are read with Service (a GET), never taken from this list.
func (i *Inventory) Services(ctx context.Context) ([]corev1.Service, error) {
	return Memo(ctx, i, KeyServices+"-all", func(ctx context.Context) ([]corev1.Service, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []corev1.Service
		opts := metav1.ListOptions{Limit: listPage}
		for {
			l, err := k.CoreV1().Services("").List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list Services", "all namespaces")
			}
			if out == nil {
				n := len(l.Items)
				if rem := l.RemainingItemCount; rem != nil && *rem > 0 {
					n += int(*rem)
				}
				out = make([]corev1.Service, 0, n)
			}
			for j := range l.Items {
				l.Items[j].ManagedFields = nil
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
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
