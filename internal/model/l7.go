package model

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// Internal L7 exposure: GKE's internal Application Load Balancer in front of a Service, asked for by
// a Gateway of class gke-l7-rilb (or gke-l7-rilb-mc, multi-cluster) with an HTTPRoute to the
// Service, or by an Ingress of class gce-internal. Its proxies run in the region's proxy-only subnet
// (purpose REGIONAL_MANAGED_PROXY) and connect to the backends from that subnet's range.

// Gateway and Ingress classes of GKE's internal Application Load Balancer.
const (
	GatewayClassRILB       = "gke-l7-rilb"
	GatewayClassRILBMC     = "gke-l7-rilb-mc"
	IngressClassInternal   = "gce-internal"
	AnnotationIngressClass = "kubernetes.io/ingress.class"
	// ProxyOnlyPurpose is the purpose of a proxy-only subnet (compute v1 Subnetwork.purpose).
	ProxyOnlyPurpose = "REGIONAL_MANAGED_PROXY"
)

// The Gateway API resources read (served at gateway.networking.k8s.io/v1 on current GKE).
var (
	GatewayAPIVersion = "gateway.networking.k8s.io/v1"
	GatewayGVR        = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	HTTPRouteGVR      = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

// L7 is one internal L7 exposure of a Service.
type L7 struct {
	Kind      string // "Gateway" or "Ingress"
	Namespace string
	Name      string
	Class     string
	Route     string   // the HTTPRoute NS/NAME that sends traffic to the Service (Gateway only)
	Addresses []string // the load balancer's addresses (status), empty while provisioning
	Port      int      // the port clients call (first listener; 80 for an Ingress, 443 with TLS only)
	// Backend is the Service (NS/NAME) and BackendPort its port the exposure sends traffic to.
	Backend     string
	BackendPort int
}

// Ref is KIND NS/NAME.
func (l L7) Ref() string { return l.Kind + " " + l.Namespace + "/" + l.Name }

// Address is the first address, "" while provisioning.
func (l L7) Address() string {
	if len(l.Addresses) > 0 {
		return l.Addresses[0]
	}
	return ""
}

// L7Index is every internal L7 exposure of the cluster, with why a kind could not be read.
type L7Index struct {
	All []L7
	// GatewayErr / IngressErr say why Gateways (and HTTPRoutes) or Ingresses could not be read; an API
	// the server does not serve (the Gateway API CRDs not installed) is not an error.
	GatewayErr error
	IngressErr error
	// GatewaysInstalled: the server serves the Gateway API.
	GatewaysInstalled bool
}

// For returns the exposures of the Service NS/NAME.
func (x *L7Index) For(ns, name string) []L7 {
	var out []L7
	for _, l := range x.All {
		if l.Backend == ns+"/"+name {
			out = append(out, l)
		}
	}
	return out
}

// ByAddress returns the exposures answering on a.
func (x *L7Index) ByAddress(a netip.Addr) []L7 {
	var out []L7
	for _, l := range x.All {
		for _, s := range l.Addresses {
			if b, err := netip.ParseAddr(s); err == nil && b.Unmap() == a.Unmap() {
				out = append(out, l)
			}
		}
	}
	return out
}

// Err is the first reason something could not be read.
func (x *L7Index) Err() error {
	if x.GatewayErr != nil {
		return x.GatewayErr
	}
	return x.IngressErr
}

// L7For reads the internal L7 exposures of the cluster once per run: Gateways and HTTPRoutes through
// discovery and the dynamic client (CRDs absent: not installed), Ingresses through the typed client.
func L7For(ctx context.Context, inv *inventory.Inventory) *L7Index {
	x, _ := inventory.Memo(ctx, inv, inventory.KeyDerived+"l7-exposure", func(ctx context.Context) (*L7Index, error) {
		x := &L7Index{}
		if _, err := inv.APIResources(ctx, GatewayAPIVersion); err == nil {
			x.GatewaysInstalled = true
			gws, err := inv.CustomObjects(ctx, GatewayGVR)
			if err != nil {
				x.GatewayErr = err
			} else if routes, err := inv.CustomObjects(ctx, HTTPRouteGVR); err != nil {
				x.GatewayErr = err
			} else {
				x.All = append(x.All, GatewayExposures(gws, routes)...)
			}
		} else if apierr.KindOf(err) != apierr.NotFound {
			x.GatewayErr = err
		}
		if ings, err := inv.Ingresses(ctx); err != nil {
			x.IngressErr = err
		} else {
			x.All = append(x.All, IngressExposures(ings)...)
		}
		return x, nil
	})
	return x
}

// IsInternalGatewayClass reports whether a Gateway class makes an internal Application Load Balancer.
func IsInternalGatewayClass(c string) bool { return c == GatewayClassRILB || c == GatewayClassRILBMC }

// GatewayExposures pairs internal Gateways with the HTTPRoutes attached to them and the Services
// those routes send traffic to.
func GatewayExposures(gws, routes []unstructured.Unstructured) []L7 {
	type gw struct {
		class string
		addrs []string
		port  int
	}
	byRef := map[string]gw{}
	for _, g := range gws {
		class, _, _ := unstructured.NestedString(g.Object, "spec", "gatewayClassName")
		if !IsInternalGatewayClass(class) {
			continue
		}
		v := gw{class: class}
		listeners, _, _ := unstructured.NestedSlice(g.Object, "spec", "listeners")
		for _, l := range listeners {
			if m, ok := l.(map[string]any); ok && v.port == 0 {
				if p, ok := m["port"].(int64); ok {
					v.port = int(p)
				}
			}
		}
		addrs, _, _ := unstructured.NestedSlice(g.Object, "status", "addresses")
		for _, a := range addrs {
			if m, ok := a.(map[string]any); ok {
				if s, ok := m["value"].(string); ok && s != "" {
					v.addrs = append(v.addrs, s)
				}
			}
		}
		byRef[g.GetNamespace()+"/"+g.GetName()] = v
	}
	var out []L7
	seen := map[string]bool{}
	for _, r := range routes {
		rns := r.GetNamespace()
		parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		for _, p := range parents {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			if k, _ := pm["kind"].(string); k != "" && k != "Gateway" {
				continue
			}
			pns, _ := pm["namespace"].(string)
			if pns == "" {
				pns = rns
			}
			pname, _ := pm["name"].(string)
			g, ok := byRef[pns+"/"+pname]
			if !ok {
				continue
			}
			for _, rule := range rules {
				rm, ok := rule.(map[string]any)
				if !ok {
					continue
				}
				refs, _ := rm["backendRefs"].([]any)
				for _, b := range refs {
					bm, ok := b.(map[string]any)
					if !ok {
						continue
					}
					if k, _ := bm["kind"].(string); k != "" && k != "Service" {
						continue
					}
					if grp, _ := bm["group"].(string); grp != "" {
						continue
					}
					bns, _ := bm["namespace"].(string)
					if bns == "" {
						bns = rns
					}
					bname, _ := bm["name"].(string)
					port := 0
					if p, ok := bm["port"].(int64); ok {
						port = int(p)
					}
					l := L7{Kind: "Gateway", Namespace: pns, Name: pname, Class: g.class, Route: rns + "/" + r.GetName(),
						Addresses: g.addrs, Port: g.port, Backend: bns + "/" + bname, BackendPort: port}
					key := l.Ref() + "|" + l.Backend
					if !seen[key] {
						seen[key] = true
						out = append(out, l)
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ref() < out[j].Ref() })
	return out
}

// IngressClass is an Ingress's class: spec.ingressClassName, else the kubernetes.io/ingress.class
// annotation (which GKE's Ingress controller still reads).
func IngressClass(ing *networkingv1.Ingress) string {
	if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName != "" {
		return *ing.Spec.IngressClassName
	}
	return ing.Annotations[AnnotationIngressClass]
}

// IngressExposures lists the Services behind gce-internal Ingresses.
func IngressExposures(ings []networkingv1.Ingress) []L7 {
	var out []L7
	for i := range ings {
		ing := &ings[i]
		if IngressClass(ing) != IngressClassInternal {
			continue
		}
		port := 80
		if len(ing.Spec.TLS) > 0 && ing.Annotations["kubernetes.io/ingress.allow-http"] == "false" {
			port = 443
		}
		var addrs []string
		for _, in := range ing.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				addrs = append(addrs, in.IP)
			}
		}
		seen := map[string]bool{}
		add := func(b *networkingv1.IngressBackend) {
			if b == nil || b.Service == nil || b.Service.Name == "" {
				return
			}
			ref := ing.Namespace + "/" + b.Service.Name
			if seen[ref] {
				return
			}
			seen[ref] = true
			out = append(out, L7{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name, Class: IngressClassInternal,
				Addresses: addrs, Port: port, Backend: ref, BackendPort: int(b.Service.Port.Number)})
		}
		add(ing.Spec.DefaultBackend)
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				add(&p.Backend)
			}
		}
	}
	return out
}

// ProxyOnlySubnet is the active proxy-only subnet of a network in a region.
type ProxyOnlySubnet struct {
	Name  string
	Range netip.Prefix
	Role  string
}

// ProxyOnlySubnetOf finds the ACTIVE REGIONAL_MANAGED_PROXY subnet of network among a region's
// subnetworks (project/name spellings compared through SameNetwork by the caller's filter).
func ProxyOnlySubnetOf(subnets []ProxyOnlySubnet) (ProxyOnlySubnet, bool) {
	for _, s := range subnets {
		if strings.EqualFold(s.Role, "ACTIVE") {
			return s, true
		}
	}
	return ProxyOnlySubnet{}, false
}
