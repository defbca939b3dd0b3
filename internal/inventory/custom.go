package inventory

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Custom resources (Knative's DomainMappings and Ingresses): which API versions the server serves,
// through discovery, and the objects, through the dynamic client. An API the server does not serve
// is a NotFound error (apierr), which the checks read as "not installed".

// KeyDiscovery and KeyCustom prefix the memo keys of discovery answers and custom-resource lists.
const (
	KeyDiscovery = KeyKube + "discovery/"
	KeyCustom    = KeyKube + "custom/"
)

// SetDynamic gives the inventory the dynamic client it lists custom resources with (the session
// builds it from the same configuration, and so the same read-only guard, as the typed client). Call
// it before the run starts.
func (i *Inventory) SetDynamic(d dynamic.Interface) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.dyn = d
}

// Dynamic returns the dynamic client or the classified reason it is absent.
func (i *Inventory) Dynamic() (dynamic.Interface, error) {
	if _, err := i.Kube(); err != nil {
		return nil, err
	}
	i.mu.Lock()
	d := i.dyn
	i.mu.Unlock()
	if d == nil {
		return nil, apierr.NotConfiguredf("run gkedoctor with a kubeconfig (the session builds the dynamic client from it)", "no dynamic Kubernetes client in this run: custom resources cannot be read")
	}
	return d, nil
}

// APIResources returns the resources the server serves at groupVersion ("group/version"); an API
// group or version it does not serve is a NotFound error.
func (i *Inventory) APIResources(ctx context.Context, groupVersion string) (*metav1.APIResourceList, error) {
	return Memo(ctx, i, KeyDiscovery+groupVersion, func(ctx context.Context) (*metav1.APIResourceList, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		l, err := k.Discovery().ServerResourcesForGroupVersionWithContext(ctx, groupVersion)
		return l, kube.Map(err, "discover API", "/apis/"+groupVersion)
	})
}

// CustomObjects lists every object of gvr in every namespace (paged), without managedFields.
func (i *Inventory) CustomObjects(ctx context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	return Memo(ctx, i, KeyCustom+gvr.String(), func(ctx context.Context) ([]unstructured.Unstructured, error) {
		return ListCustomObjects(ctx, i, gvr)
	})
}

// ListCustomObjects lists gvr afresh, bypassing the memo: a fix's wait polls with it.
func ListCustomObjects(ctx context.Context, i *Inventory, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	d, err := i.Dynamic()
	if err != nil {
		return nil, err
	}
	what := gvr.Resource + "." + gvr.Group
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: listPage}
	for {
		l, err := d.Resource(gvr).List(ctx, opts)
		if err != nil {
			return nil, kube.Map(err, "list "+what, "all namespaces")
		}
		for j := range l.Items {
			l.Items[j].SetManagedFields(nil)
		}
		out = append(out, l.Items...)
		if l.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = l.GetContinue()
	}
}
