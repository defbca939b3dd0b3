package inventory

import (
	"context"

	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// Facts the cross-project pod egress check (pod-egress-cross-project) needs beyond the shared
// getters: a project's static routes and the routes exchanged over a peering.

// Permissions of the calls whose 403 may name none.
const (
	PermRoutesList             = "compute.routes.list"
	PermNetworksListPeeringRts = "compute.networks.listPeeringRoutes"
	PermNetworksGet            = "compute.networks.get"
)

// KeyRoutes prefixes the routes lists; KeyPeeringRoutes the listPeeringRoutes answers. Both sit under
// KeyNetworks, so a fix that invalidates a network (updatePeering) invalidates what it exchanges.
const (
	KeyRoutes        = KeyNetworks + "routes/"
	KeyPeeringRoutes = KeyNetworks + "peeringRoutes/"
)

// Routes lists every static route of a project (all pages; every network's).
func (i *Inventory) Routes(ctx context.Context, project string) ([]*compute.Route, error) {
	return Memo(ctx, i, KeyRoutes+project, func(ctx context.Context) ([]*compute.Route, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*compute.Route
		err = g.Compute.Routes.List(project).Pages(ctx, func(l *compute.RouteList) error {
			out = append(out, l.Items...)
			return nil
		})
		return out, gcp.MapWith(err, "list routes", "projects/"+project+"/global/routes", PermRoutesList)
	})
}

// PeeringRoutes returns networks.listPeeringRoutes of one peering of project/network in one direction
// (INCOMING: what the peer sends here; OUTGOING: what this network sends), all pages. region narrows
// dynamic routes ("" leaves it out).
func (i *Inventory) PeeringRoutes(ctx context.Context, project, network, peering, direction, region string) ([]*compute.ExchangedPeeringRoute, error) {
	key := KeyPeeringRoutes + project + "/" + network + "/" + peering + "/" + direction + "/" + region
	return Memo(ctx, i, key, func(ctx context.Context) ([]*compute.ExchangedPeeringRoute, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		call := g.Compute.Networks.ListPeeringRoutes(project, network).PeeringName(peering).Direction(direction)
		if region != "" {
			call = call.Region(region)
		}
		var out []*compute.ExchangedPeeringRoute
		err = call.Pages(ctx, func(l *compute.ExchangedPeeringRoutesList) error {
			out = append(out, l.Items...)
			return nil
		})
		return out, gcp.MapWith(err, "list peering routes", "projects/"+project+"/global/networks/"+network+" peering "+peering+" "+direction, PermNetworksListPeeringRts)
	})
}
