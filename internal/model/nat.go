package model

import (
	"fmt"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// NATCoverage says whether Cloud NAT translates the traffic of a subnet of a network in one region
// (the routers given are that region's).
type NATCoverage struct {
	Covered bool
	By      string // "router/nat" when covered
	Why     string // one sentence either way
}

// NATCovers judges the routers of a region for network and subnet (a subnetwork name or reference;
// "" when the source has no subnet of its own, such as a connector given by an IP range, which only an
// all-subnets NAT covers).
func NATCovers(routers []*compute.Router, network, subnet string) NATCoverage {
	var partial []string
	for _, r := range routers {
		if r == nil || !gref.NetworkMatches(r.Network, network) {
			continue
		}
		for _, n := range r.Nats {
			if n == nil {
				continue
			}
			by := r.Name + "/" + n.Name
			switch n.SourceSubnetworkIpRangesToNat {
			case "ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES":
				return NATCoverage{Covered: true, By: by, Why: fmt.Sprintf("Cloud NAT %s translates every subnet of network %s in this region", by, gref.NetworkName(network))}
			case "LIST_OF_SUBNETWORKS":
				var names []string
				for _, s := range n.Subnetworks {
					if s == nil {
						continue
					}
					names = append(names, gref.ShortName(s.Name))
					if subnet != "" && gref.ShortName(s.Name) == gref.ShortName(subnet) {
						return NATCoverage{Covered: true, By: by, Why: fmt.Sprintf("Cloud NAT %s translates subnet %s", by, gref.ShortName(subnet))}
					}
				}
				partial = append(partial, fmt.Sprintf("%s (only %s)", by, strings.Join(names, ", ")))
			}
		}
	}
	if len(partial) > 0 {
		which := "the source's range"
		if subnet != "" {
			which = "subnet " + gref.ShortName(subnet)
		}
		return NATCoverage{Why: fmt.Sprintf("Cloud NAT on network %s does not translate %s: %s", gref.NetworkName(network), which, strings.Join(partial, "; "))}
	}
	return NATCoverage{Why: fmt.Sprintf("no Cloud NAT on network %s in this region", gref.NetworkName(network))}
}
