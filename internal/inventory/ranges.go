package inventory

import (
	"context"
	"fmt"
	"net/netip"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// maxSubnetsRead bounds NetworkRanges: a network with more subnets than this is not read whole, and a
// partial list must not be used to call an address "outside the VPC".
const maxSubnetsRead = 200

// NetworkRanges returns the IP ranges of a VPC network's subnets, primary and secondary, read from the
// subnetwork links the network lists (compute.networks.get, then compute.subnetworks.get for each).
// Any subnet that cannot be read makes the answer an error: a partial list would call an address in
// the VPC an outside one.
func (i *Inventory) NetworkRanges(ctx context.Context, network string) ([]netip.Prefix, error) {
	project, name := gref.SplitNetwork(network)
	return Memo(ctx, i, "gcp/compute/network-ranges/"+project+"/"+name, func(ctx context.Context) ([]netip.Prefix, error) {
		if project == "" || name == "" {
			return nil, fmt.Errorf("network %q has no project", network)
		}
		n, err := i.Network(ctx, project, name)
		if err != nil {
			return nil, err
		}
		if len(n.Subnetworks) > maxSubnetsRead {
			return nil, fmt.Errorf("network %s has %d subnets (more than %d are not read)", name, len(n.Subnetworks), maxSubnetsRead)
		}
		var out []netip.Prefix
		for _, link := range n.Subnetworks {
			sp, region, sn := gref.SplitSubnetwork(link)
			if sp == "" {
				sp = project
			}
			s, err := i.Subnetwork(ctx, sp, region, sn)
			if err != nil {
				return nil, err
			}
			cidrs := []string{s.IpCidrRange}
			for _, r := range s.SecondaryIpRanges {
				if r != nil {
					cidrs = append(cidrs, r.IpCidrRange)
				}
			}
			for _, c := range cidrs {
				if c == "" {
					continue
				}
				p, err := netip.ParsePrefix(c)
				if err != nil {
					return nil, fmt.Errorf("subnetwork %s has a malformed range %q: %v", sn, c, err)
				}
				out = append(out, p.Masked())
			}
		}
		return out, nil
	})
}

// Routers lists the Cloud Routers of a region (with their Cloud NAT configurations).
func (i *Inventory) Routers(ctx context.Context, project, region string) ([]*compute.Router, error) {
	return Memo(ctx, i, "gcp/compute/routers/"+project+"/"+region, func(ctx context.Context) ([]*compute.Router, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*compute.Router
		err = g.Compute.Routers.List(project, region).Pages(ctx, func(l *compute.RouterList) error {
			out = append(out, l.Items...)
			return nil
		})
		return out, gcp.MapWith(err, "list Cloud Routers", "projects/"+project+"/regions/"+region+"/routers", "compute.routers.list")
	})
}
