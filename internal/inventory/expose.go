package inventory

import (
	"context"
	"strings"

	compute "google.golang.org/api/compute/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Facts of exposure and policy inside the cluster: Ingresses, NetworkPolicies, and the subnetworks of
// a region (the proxy-only subnet internal Gateways and Ingresses need). Gateway API objects are
// custom resources, read with CustomObjects.

// Ingresses lists every Ingress (networking.k8s.io/v1) in every namespace (paged).
func (i *Inventory) Ingresses(ctx context.Context) ([]networkingv1.Ingress, error) {
	return Memo(ctx, i, KeyKube+"ingresses", func(ctx context.Context) ([]networkingv1.Ingress, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []networkingv1.Ingress
		opts := metav1.ListOptions{Limit: listPage}
		for {
			l, err := k.NetworkingV1().Ingresses("").List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list ingresses.networking.k8s.io", "all namespaces")
			}
			if unnamed(l.Items, func(x *networkingv1.Ingress) string { return x.Name }) {
				return nil, notAnObject("list ingresses.networking.k8s.io", "all namespaces", "Ingress")
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// NetworkPolicies lists the NetworkPolicies (networking.k8s.io/v1) of one namespace.
func (i *Inventory) NetworkPolicies(ctx context.Context, ns string) ([]networkingv1.NetworkPolicy, error) {
	return Memo(ctx, i, KeyKube+"networkpolicies/"+ns, func(ctx context.Context) ([]networkingv1.NetworkPolicy, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		var out []networkingv1.NetworkPolicy
		opts := metav1.ListOptions{Limit: listPage}
		for {
			l, err := k.NetworkingV1().NetworkPolicies(ns).List(ctx, opts)
			if err != nil {
				return nil, kube.Map(err, "list networkpolicies.networking.k8s.io", "namespace "+ns)
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
}

// Subnetworks lists the subnetworks of a project in one region (compute.subnetworks.list).
func (i *Inventory) Subnetworks(ctx context.Context, project, region string) ([]*compute.Subnetwork, error) {
	return Memo(ctx, i, "gcp/compute/subnetworks/"+project+"/"+region, func(ctx context.Context) ([]*compute.Subnetwork, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*compute.Subnetwork
		err = g.Compute.Subnetworks.List(project, region).Pages(ctx, func(l *compute.SubnetworkList) error {
			out = append(out, l.Items...)
			return nil
		})
		return out, gcp.MapWith(err, "list subnetworks", "projects/"+project+"/regions/"+strings.TrimSpace(region), "compute.subnetworks.list")
	})
}
