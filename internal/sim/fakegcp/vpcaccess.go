package fakegcp

import (
	"fmt"

	vpcaccess "google.golang.org/api/vpcaccess/v1"
)

func (s *Server) vpcaccessRoutes() []route {
	const api = "vpcaccess"
	return []route{
		r(api, "GET", "v1/projects/{project}/locations/{location}/connectors", s.listConnectors),
		r(api, "GET", "v1/projects/{project}/locations/{location}/connectors/{connector}", s.getConnector),
	}
}

func connectorPath(project, location, name string) string {
	return "projects/" + project + "/locations/" + location + "/connectors/" + name
}

// AddConnector seeds (or replaces) a Serverless VPC Access connector. c.Name may be short or the full
// projects/P/locations/L/connectors/C; state defaults to READY. Nil or unnamed connectors are ignored.
func (s *Server) AddConnector(project, location string, c *vpcaccess.Connector) {
	if c == nil || c.Name == "" {
		return
	}
	c = clone(c)
	short := lastSegment(c.Name)
	c.Name = connectorPath(project, location, short)
	if c.State == "" {
		c.State = "READY"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	s.connectors[key(project, location, short)] = c
}

// SetConnectorState sets a connector's state (READY, CREATING, DELETING, ERROR, UPDATING), as the
// platform would.
func (s *Server) SetConnectorState(project, location, name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connectors[key(project, location, name)]
	if !ok {
		return fmt.Errorf("fakegcp: connector %s not found", connectorPath(project, location, name))
	}
	c.State = state
	return nil
}

// Connector returns a copy of a connector.
func (s *Server) Connector(project, location, name string) (*vpcaccess.Connector, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connectors[key(project, location, name)]
	return clone(c), ok
}

func (s *Server) listConnectors(c *call) (any, *apiError) {
	p, l := c.v("project"), c.v("location")
	pre := []string{p, l}
	if l == "-" {
		pre = pre[:1]
	}
	s.mu.Lock()
	var items []*vpcaccess.Connector
	for _, k := range keysWithPrefix(s.connectors, pre...) {
		items = append(items, clone(s.connectors[k]))
	}
	s.mu.Unlock()
	page, next, err := paginate(c, items, "pageSize")
	if err != nil {
		return nil, err
	}
	return &vpcaccess.ListConnectorsResponse{Connectors: page, NextPageToken: next}, nil
}

func (s *Server) getConnector(c *call) (any, *apiError) {
	p, l, n := c.v("project"), c.v("location"), c.v("connector")
	s.mu.Lock()
	defer s.mu.Unlock()
	cn, ok := s.connectors[key(p, l, n)]
	if !ok {
		return nil, errNotFound(connectorPath(p, l, n))
	}
	return clone(cn), nil
}
