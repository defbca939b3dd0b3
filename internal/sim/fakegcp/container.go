package fakegcp

import (
	"strconv"
	"time"

	container "google.golang.org/api/container/v1"
)

// containerBase prefixes container selfLinks, as the real API writes them.
const containerBase = "https://container.googleapis.com/v1/"

// containerOp is a cluster operation; it is DONE once doneAt has passed.
type containerOp struct {
	op         *container.Operation
	clusterKey string
	doneAt     time.Time
}

func (s *Server) containerRoutes() []route {
	const api = "container"
	return []route{
		r(api, "GET", "v1/projects/{project}/locations/{location}/clusters", s.listClusters),
		r(api, "GET", "v1/projects/{project}/locations/{location}/clusters/{cluster}", s.getCluster),
		r(api, "PUT", "v1/projects/{project}/locations/{location}/clusters/{cluster}", s.updateCluster),
		r(api, "GET", "v1/projects/{project}/locations/{location}/operations/{operation}", s.getContainerOp),
		// The legacy zonal form: same state, the zone is the location.
		r(api, "GET", "v1/projects/{project}/zones/{location}/clusters", s.listClusters),
		r(api, "GET", "v1/projects/{project}/zones/{location}/clusters/{cluster}", s.getCluster),
		r(api, "PUT", "v1/projects/{project}/zones/{location}/clusters/{cluster}", s.updateCluster),
		r(api, "GET", "v1/projects/{project}/zones/{location}/operations/{operation}", s.getContainerOp),
	}
}

func clusterPath(project, location, name string) string {
	return "projects/" + project + "/locations/" + location + "/clusters/" + name
}

// AddCluster seeds (or replaces) a GKE cluster. Output-only fields the API always sets are filled in
// when empty: selfLink, location, zone, id, createTime, status RUNNING, and
// networkConfig.dnsConfig.clusterDnsDomain "cluster.local" when a dnsConfig is present. Nil or
// unnamed clusters are ignored.
func (s *Server) AddCluster(project, location string, c *container.Cluster) {
	if c == nil || c.Name == "" {
		return
	}
	c = clone(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markProject(project)
	c.SelfLink = containerBase + clusterPath(project, location, c.Name)
	c.Location, c.Zone = location, location
	if c.Id == "" {
		c.Id = s.randString(32, lowerHex)
	}
	if c.CreateTime == "" {
		c.CreateTime = rfc3339(time.Now())
	}
	if c.Status == "" {
		c.Status = "RUNNING"
	}
	if c.NetworkConfig != nil && c.NetworkConfig.DnsConfig != nil && c.NetworkConfig.DnsConfig.ClusterDnsDomain == "" {
		c.NetworkConfig.DnsConfig.ClusterDnsDomain = "cluster.local"
	}
	s.clusters[key(project, location, c.Name)] = c
}

// Cluster returns a copy of a cluster.
func (s *Server) Cluster(project, location, name string) (*container.Cluster, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleContainerOps()
	c, ok := s.clusters[key(project, location, name)]
	return clone(c), ok
}

// settleContainerOps completes operations whose time has come. Callers hold s.mu.
func (s *Server) settleContainerOps() {
	now := time.Now()
	for _, o := range s.containerOps {
		if o.op.Status == "DONE" || now.Before(o.doneAt) {
			continue
		}
		o.op.Status = "DONE"
		o.op.EndTime = rfc3339(now)
		o.op.Progress = nil
		if c, ok := s.clusters[o.clusterKey]; ok && c.Status == "RECONCILING" {
			c.Status = "RUNNING"
		}
	}
}

func (s *Server) listClusters(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleContainerOps()
	p, l := c.v("project"), c.v("location")
	pre := []string{p, l}
	if l == "-" {
		pre = pre[:1]
	}
	resp := &container.ListClustersResponse{}
	for _, k := range keysWithPrefix(s.clusters, pre...) {
		resp.Clusters = append(resp.Clusters, clone(s.clusters[k]))
	}
	return resp, nil
}

func (s *Server) getCluster(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleContainerOps()
	p, l, n := c.v("project"), c.v("location"), c.v("cluster")
	cl, ok := s.clusters[key(p, l, n)]
	if !ok {
		return nil, errNotFound(clusterPath(p, l, n))
	}
	return clone(cl), nil
}

// simulatedUpdates are the ClusterUpdate fields updateCluster applies; any other field is answered
// 400 so a missing simulation shows up instead of passing silently.
var simulatedUpdates = map[string]bool{
	"desiredDnsConfig":             true,
	"desiredMasterVersion":         true,
	"desiredNodeVersion":           true, // accepted, no visible effect
	"desiredDefaultSnatStatus":     true,
	"desiredL4ilbSubsettingConfig": true,
}

// updateCluster applies {"update":{…}} and returns an UPDATE_CLUSTER operation. The change is
// visible at once; with an operation delay the cluster reads RECONCILING and the operation RUNNING
// until it is due.
//
// desiredDnsConfig replaces networkConfig.dnsConfig (an empty clusterDnsDomain keeps the current
// one). Like the API it refuses additiveVpcScopeDnsDomain unless clusterDns is CLOUD_DNS with
// CLUSTER_SCOPE, and — following GKE's documentation that the scope cannot change once set — it
// refuses to change an explicitly set clusterDnsScope (400 FAILED_PRECONDITION).
func (s *Server) updateCluster(c *call) (any, *apiError) {
	raw, err := c.rawBody()
	if err != nil {
		return nil, err
	}
	var req container.UpdateClusterRequest
	if err := c.decode(&req, true); err != nil {
		return nil, err
	}
	upd, _ := raw["update"].(map[string]any)
	if req.Update == nil || len(upd) == 0 {
		return nil, errInvalid("Must specify a field to update.")
	}
	for f := range upd {
		if !simulatedUpdates[f] {
			return nil, errInvalid("fakegcp does not simulate the cluster update field %q.", f)
		}
	}
	p, l, n := c.v("project"), c.v("location"), c.v("cluster")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleContainerOps()
	cl, ok := s.clusters[key(p, l, n)]
	if !ok {
		return nil, errNotFound(clusterPath(p, l, n))
	}
	for _, o := range s.containerOps {
		if o.clusterKey == key(p, l, n) && o.op.Status != "DONE" {
			return nil, newError(400, "failedPrecondition", "Cluster is running incompatible operation %s.", o.op.Name).withStatus("FAILED_PRECONDITION")
		}
	}
	next := clone(cl)
	u := req.Update
	if d := u.DesiredDnsConfig; d != nil {
		if next.NetworkConfig == nil {
			next.NetworkConfig = &container.NetworkConfig{}
		}
		cur := next.NetworkConfig.DnsConfig
		if cur == nil {
			cur = &container.DNSConfig{}
		}
		if d.AdditiveVpcScopeDnsDomain != "" && (d.ClusterDns != "CLOUD_DNS" || d.ClusterDnsScope != "CLUSTER_SCOPE") {
			return nil, errInvalid("additiveVpcScopeDnsDomain requires clusterDns=CLOUD_DNS and clusterDnsScope=CLUSTER_SCOPE.")
		}
		if explicitScope(cur.ClusterDnsScope) && d.ClusterDnsScope != "" && d.ClusterDnsScope != cur.ClusterDnsScope {
			return nil, newError(400, "failedPrecondition", "Cluster DNS scope cannot be changed from %s to %s; the cluster must be re-created.",
				cur.ClusterDnsScope, d.ClusterDnsScope).withStatus("FAILED_PRECONDITION")
		}
		nd := clone(d)
		if nd.ClusterDnsDomain == "" {
			nd.ClusterDnsDomain = cur.ClusterDnsDomain
		}
		if nd.ClusterDnsDomain == "" {
			nd.ClusterDnsDomain = "cluster.local"
		}
		next.NetworkConfig.DnsConfig = nd
	}
	if v := u.DesiredMasterVersion; v != "" && v != "-" && v != "latest" {
		next.CurrentMasterVersion = v
	}
	if u.DesiredDefaultSnatStatus != nil {
		if next.NetworkConfig == nil {
			next.NetworkConfig = &container.NetworkConfig{}
		}
		next.NetworkConfig.DefaultSnatStatus = clone(u.DesiredDefaultSnatStatus)
	}
	if u.DesiredL4ilbSubsettingConfig != nil {
		if next.NetworkConfig == nil {
			next.NetworkConfig = &container.NetworkConfig{}
		}
		next.NetworkConfig.EnableL4ilbSubsetting = u.DesiredL4ilbSubsettingConfig.Enabled
	}

	now := time.Now()
	name := "operation-" + strconv.FormatInt(now.UnixMilli(), 10) + "-" + s.randString(8, lowerHex)
	op := &container.Operation{
		Name:          name,
		OperationType: "UPDATE_CLUSTER",
		Location:      l,
		Zone:          l,
		SelfLink:      containerBase + "projects/" + strconv.FormatInt(projectNumber(p), 10) + "/locations/" + l + "/operations/" + name,
		TargetLink:    containerBase + "projects/" + strconv.FormatInt(projectNumber(p), 10) + "/locations/" + l + "/clusters/" + n,
		StartTime:     rfc3339(now),
		Status:        "DONE",
	}
	if s.opDelay > 0 {
		op.Status = "RUNNING"
		next.Status = "RECONCILING"
	} else {
		op.EndTime = rfc3339(now)
	}
	s.clusters[key(p, l, n)] = next
	s.containerOps[key(p, l, name)] = &containerOp{op: op, clusterKey: key(p, l, n), doneAt: now.Add(s.opDelay)}
	c.mutated("Cluster", p, l, n, "")
	return clone(op), nil
}

// explicitScope reports whether a DNS scope has been set (unspecified is treated as cluster scope).
func explicitScope(scope string) bool {
	return scope != "" && scope != "DNS_SCOPE_UNSPECIFIED"
}

func (s *Server) getContainerOp(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleContainerOps()
	p, l, n := c.v("project"), c.v("location"), c.v("operation")
	o, ok := s.containerOps[key(p, l, n)]
	if !ok {
		return nil, errNotFound("projects/" + p + "/locations/" + l + "/operations/" + n)
	}
	return clone(o.op), nil
}
