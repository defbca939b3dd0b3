package fakegcp_test

import (
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	container "google.golang.org/api/container/v1"
	vpcaccess "google.golang.org/api/vpcaccess/v1"
)

func TestIAM_SetIamPolicyEtag(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.SetIamPolicy(project, &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"user:ops@example.com"}}}})

	pol, err := a.crm.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{}).Context(ctx).Do()
	noErr(t, err)
	if pol.Etag == "" || len(pol.Bindings) != 1 {
		t.Fatalf("policy: %+v", pol)
	}
	add := &crm.Binding{Role: "roles/trafficdirector.client",
		Members: []string{"serviceAccount:123456789012-compute@developer.gserviceaccount.com"}}

	stale := *pol
	stale.Etag = "BwStaleEtag0="
	stale.Bindings = append(append([]*crm.Binding{}, pol.Bindings...), add)
	_, err = a.crm.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: &stale}).Context(ctx).Do()
	ge := apiErr(t, err, 409)
	if ge.Errors[0].Reason != "aborted" {
		t.Fatalf("reason %q", ge.Errors[0].Reason)
	}
	if got := s.IamPolicy(project); len(got.Bindings) != 1 || got.Etag != pol.Etag {
		t.Fatalf("a rejected setIamPolicy changed the policy: %+v", got)
	}

	pol.Bindings = append(pol.Bindings, add)
	set, err := a.crm.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: pol}).Context(ctx).Do()
	noErr(t, err)
	if set.Etag == pol.Etag || len(set.Bindings) != 2 {
		t.Fatalf("set policy: %+v", set)
	}
	// The old etag is now stale.
	_, err = a.crm.Projects.SetIamPolicy(project, &crm.SetIamPolicyRequest{Policy: pol}).Context(ctx).Do()
	apiErr(t, err, 409)

	// Unknown projects answer 403, as the real API does.
	_, err = a.crm.Projects.GetIamPolicy("no-such-project", &crm.GetIamPolicyRequest{}).Context(ctx).Do()
	apiErr(t, err, 403)

	s.DenyPermissions(project, "compute.networks.updatePeering")
	tr, err := a.crm.Projects.TestIamPermissions(project, &crm.TestIamPermissionsRequest{
		Permissions: []string{"compute.networks.get", "compute.networks.updatePeering"}}).Context(ctx).Do()
	noErr(t, err)
	if len(tr.Permissions) != 1 || tr.Permissions[0] != "compute.networks.get" {
		t.Fatalf("testIamPermissions: %v", tr.Permissions)
	}
	p, err := a.crm.Projects.Get(project).Context(ctx).Do()
	noErr(t, err)
	if p.ProjectNumber == 0 || p.LifecycleState != "ACTIVE" {
		t.Fatalf("project: %+v", p)
	}
}

func seedCluster() *container.Cluster {
	return &container.Cluster{
		Name:                 "dev-orchestra-cluster",
		CurrentMasterVersion: "1.30.5-gke.1014001",
		ServicesIpv4Cidr:     "34.118.224.0/20",
		ClusterIpv4Cidr:      "172.16.0.0/16",
		Network:              "default",
		IpAllocationPolicy:   &container.IPAllocationPolicy{UseRoutes: true},
		NetworkConfig: &container.NetworkConfig{DnsConfig: &container.DNSConfig{
			ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE"}},
	}
}

func TestContainer_GetListUpdate(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddCluster(project, region, seedCluster())
	name := "projects/dev-orchestra/locations/europe-west1/clusters/dev-orchestra-cluster"

	c, err := a.container.Projects.Locations.Clusters.Get(name).Context(ctx).Do()
	noErr(t, err)
	if c.ServicesIpv4Cidr != "34.118.224.0/20" || c.Status != "RUNNING" || c.NetworkConfig.DnsConfig.ClusterDnsDomain != "cluster.local" ||
		c.SelfLink != "https://container.googleapis.com/v1/"+name {
		t.Fatalf("cluster: %+v", c)
	}
	l, err := a.container.Projects.Locations.Clusters.List("projects/dev-orchestra/locations/-").Context(ctx).Do()
	noErr(t, err)
	if len(l.Clusters) != 1 {
		t.Fatalf("clusters: %d", len(l.Clusters))
	}
	lz, err := a.container.Projects.Zones.Clusters.List(project, region).Context(ctx).Do()
	noErr(t, err)
	if len(lz.Clusters) != 1 {
		t.Fatalf("legacy zonal list: %d", len(lz.Clusters))
	}

	// Additive VPC scope: allowed. Changing the scope: refused.
	s.SetOperationDelay(200 * time.Millisecond)
	op, err := a.container.Projects.Locations.Clusters.Update(name, &container.UpdateClusterRequest{Update: &container.ClusterUpdate{
		DesiredDnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE", AdditiveVpcScopeDnsDomain: "dev-orchestra.internal"}}}).Context(ctx).Do()
	noErr(t, err)
	if op.Status != "RUNNING" || op.OperationType != "UPDATE_CLUSTER" {
		t.Fatalf("operation: %+v", op)
	}
	c, _ = s.Cluster(project, region, "dev-orchestra-cluster")
	if c.Status != "RECONCILING" || c.NetworkConfig.DnsConfig.AdditiveVpcScopeDnsDomain != "dev-orchestra.internal" {
		t.Fatalf("cluster while updating: %s %+v", c.Status, c.NetworkConfig.DnsConfig)
	}
	opName := "projects/dev-orchestra/locations/europe-west1/operations/" + op.Name
	waitFor(t, func() bool {
		o, err := a.container.Projects.Locations.Operations.Get(opName).Context(ctx).Do()
		return err == nil && o.Status == "DONE"
	})
	c, _ = s.Cluster(project, region, "dev-orchestra-cluster")
	if c.Status != "RUNNING" {
		t.Fatalf("cluster after the operation: %s", c.Status)
	}
	s.SetOperationDelay(0)
	_, err = a.container.Projects.Locations.Clusters.Update(name, &container.UpdateClusterRequest{Update: &container.ClusterUpdate{
		DesiredDnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "VPC_SCOPE"}}}).Context(ctx).Do()
	apiErr(t, err, 400)
	_, err = a.container.Projects.Locations.Clusters.Update(name, &container.UpdateClusterRequest{Update: &container.ClusterUpdate{}}).Context(ctx).Do()
	apiErr(t, err, 400)
	_, err = a.container.Projects.Locations.Clusters.Get("projects/dev-orchestra/locations/europe-west1/clusters/nope").Context(ctx).Do()
	apiErr(t, err, 404)
}

func TestVPCAccess_Connectors(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.PageSize = 1
	s.AddConnector(project, region, &vpcaccess.Connector{Name: "my-vpc-connector", Network: "default", IpCidrRange: "192.168.99.0/28"})
	s.AddConnector(project, region, &vpcaccess.Connector{Name: "other", Network: "default", IpCidrRange: "192.168.98.0/28"})
	name := "projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector"
	c, err := a.vpcaccess.Projects.Locations.Connectors.Get(name).Context(ctx).Do()
	noErr(t, err)
	if c.State != "READY" || c.Name != name || c.IpCidrRange != "192.168.99.0/28" {
		t.Fatalf("connector: %+v", c)
	}
	noErr(t, s.SetConnectorState(project, region, "my-vpc-connector", "ERROR"))
	c, err = a.vpcaccess.Projects.Locations.Connectors.Get(name).Context(ctx).Do()
	noErr(t, err)
	if c.State != "ERROR" {
		t.Fatalf("state %q", c.State)
	}
	if s.SetConnectorState(project, region, "nope", "READY") == nil {
		t.Fatal("SetConnectorState of a missing connector should fail")
	}
	n := 0
	noErr(t, a.vpcaccess.Projects.Locations.Connectors.List("projects/dev-orchestra/locations/europe-west1").Pages(ctx,
		func(r *vpcaccess.ListConnectorsResponse) error { n += len(r.Connectors); return nil }))
	if n != 2 {
		t.Fatalf("listed %d connectors", n)
	}
}
