package fakegcp

import (
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Cloud Routers (compute.routers), for their Cloud NAT configurations: read-only here.

func (s *Server) routerRoutes() []route {
	const p = "compute/v1/projects/{project}/"
	return []route{
		r("compute", "GET", p+"regions/{region}/routers", s.listRouters),
		r("compute", "GET", p+"regions/{region}/routers/{router}", s.getRouter),
	}
}

// AddRouter seeds (or replaces) a Cloud Router; its network reference may be partial. Nil or unnamed
// routers are ignored.
func (s *Server) AddRouter(project, region string, rt *compute.Router) {
	if rt == nil || rt.Name == "" {
		return
	}
	rt = clone(rt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	rt.Kind = "compute#router"
	rt.Region = regionLink(project, region)
	rt.SelfLink = regionalLink(project, region, "routers", rt.Name)
	rt.Network = normalizeLink(project, "networks", rt.Network)
	if rt.Id == 0 {
		rt.Id = s.id()
	}
	for _, n := range rt.Nats {
		for _, sn := range n.Subnetworks {
			if sn != nil {
				sn.Name = normalizeSubnetLink(project, region, sn.Name)
			}
		}
	}
	s.routers[key(project, region, rt.Name)] = rt
}

// normalizeSubnetLink makes a short subnetwork name a full link, as the API returns it.
func normalizeSubnetLink(project, region, v string) string {
	if v == "" || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "projects/") {
		return v
	}
	return regionalLink(project, region, "subnetworks", v)
}

func (s *Server) getRouter(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, rg, n := c.v("project"), c.v("region"), c.v("router")
	rt, ok := s.routers[key(p, rg, n)]
	if !ok {
		return nil, errNotFound(regionalPath(p, rg, "routers", n))
	}
	return clone(rt), nil
}

func (s *Server) listRouters(c *call) (any, *apiError) {
	p, rg := c.v("project"), c.v("region")
	s.mu.Lock()
	var items []*compute.Router
	for _, k := range keysWithPrefix(s.routers, p, rg) {
		items = append(items, clone(s.routers[k]))
	}
	s.mu.Unlock()
	items, err := filterItems(c, items)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(c, items, "maxResults")
	if err != nil {
		return nil, err
	}
	return &compute.RouterList{Kind: "compute#routerList", Id: "projects/" + p + "/regions/" + rg + "/routers",
		SelfLink: regionLink(p, rg) + "/routers", Items: page, NextPageToken: next}, nil
}
