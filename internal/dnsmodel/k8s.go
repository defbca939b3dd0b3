package dnsmodel

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gkedoctor/gkedoctor/internal/model"
)

// SpecRecords is what the Kubernetes DNS specification (kubernetes/dns docs/specification.md), and so
// GKE's Cloud DNS controller, publishes for NAME.NS.svc.DOMAIN.
type SpecRecords struct {
	// A holds the IPv4 addresses: the ClusterIPs of a normal Service (LoadBalancer included: never
	// its load-balancer IP), or one per ready endpoint of a headless Service.
	A []string
	// CNAME is the target of an ExternalName Service.
	CNAME    string
	Headless bool
	// NXDOMAIN is true for a headless Service with no ready endpoint: the name does not exist.
	NXDOMAIN bool
}

// ServiceRecords returns the spec's records for svc; slices are its EndpointSlices (only read for a
// headless Service).
func ServiceRecords(svc *corev1.Service, slices []discoveryv1.EndpointSlice) SpecRecords {
	var out SpecRecords
	if svc == nil {
		out.NXDOMAIN = true
		return out
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		out.CNAME = model.Fqdn(svc.Spec.ExternalName)
		return out
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out.Headless = true
		seen := map[string]bool{}
		for _, sl := range slices {
			if sl.AddressType != discoveryv1.AddressTypeIPv4 {
				continue
			}
			for _, ep := range sl.Endpoints {
				// The spec publishes ready endpoints; Ready nil means ready (EndpointSlice API).
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					if !seen[a] {
						seen[a] = true
						out.A = append(out.A, a)
					}
				}
			}
		}
		sortIPs(out.A)
		out.NXDOMAIN = len(out.A) == 0
		return out
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out.A = append(out.A, a.String())
		}
	}
	return out
}

func sortIPs(ips []string) {
	sort.Slice(ips, func(i, j int) bool {
		a, e1 := netip.ParseAddr(ips[i])
		b, e2 := netip.ParseAddr(ips[j])
		if e1 != nil || e2 != nil {
			return ips[i] < ips[j]
		}
		return a.Less(b)
	})
}

// SameIPs reports whether two address lists hold the same set.
func SameIPs(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			if ip, err := netip.ParseAddr(s); err == nil {
				s = ip.Unmap().String()
			}
			m[s] = true
		}
		return m
	}
	x, y := set(a), set(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}
