package sim

import (
	"fmt"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

const computeURL = "https://www.googleapis.com/compute/v1/"

func networkURL(project, network string) string {
	return computeURL + "projects/" + project + "/global/networks/" + network
}

// clusterName is the cluster's full resource name (as Cloud DNS zones reference it).
func clusterName() string {
	return "projects/" + Project + "/locations/" + Region + "/clusters/" + Cluster
}

func connectorName() string {
	return "projects/" + Project + "/locations/" + Region + "/connectors/" + Connector
}

// seedGCP puts the seed's Google Cloud side into the fake API server.
func seedGCP(g *fakegcp.Server) error {
	// Networks: the project's auto-mode default network, peered with the partner's network. Custom
	// routes are not exchanged (seed 004): the export/import flags are off on both sides.
	g.AddNetwork(Project, &compute.Network{Name: Network, AutoCreateSubnetworks: true, Description: "Default network for the project",
		Peerings: []*compute.NetworkPeering{{Name: PeeringName, Network: "projects/" + PeerProject + "/global/networks/" + PeerNetwork,
			ExchangeSubnetRoutes: true, StackType: "IPV4_ONLY"}}})
	g.AddNetwork(PeerProject, &compute.Network{Name: PeerNetwork, Description: "partner-data shared services",
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"},
		Peerings: []*compute.NetworkPeering{{Name: PeerBackName, Network: "projects/" + Project + "/global/networks/" + Network,
			ExchangeSubnetRoutes: true, StackType: "IPV4_ONLY"}}})
	g.AddSubnetwork(Project, Region, &compute.Subnetwork{Name: Subnet, Network: Network, IpCidrRange: NodeCIDR,
		PrivateIpGoogleAccess: true})
	g.AddSubnetwork(PeerProject, PeerRegion, &compute.Subnetwork{Name: PeerSubnet, Network: PeerNetwork, IpCidrRange: PeerRange,
		PrivateIpGoogleAccess: true})

	// Routes: the default routes, and the routes-based cluster's route per node for its pod range.
	g.AddRoute(Project, &compute.Route{Name: "default-route-7c3f0e2a9d1b4c58", Network: Network, DestRange: "0.0.0.0/0",
		Priority: 1000, NextHopGateway: "global/gateways/default-internet-gateway", Description: "Default route to the Internet."})
	g.AddRoute(PeerProject, &compute.Route{Name: "default-route-1e9d4b7a3c2f8e60", Network: PeerNetwork, DestRange: "0.0.0.0/0",
		Priority: 1000, NextHopGateway: "global/gateways/default-internet-gateway", Description: "Default route to the Internet."})
	for i, n := range nodes {
		g.AddRoute(Project, &compute.Route{
			Name:            fmt.Sprintf("gke-%s-%s-%08x-%04x-11f0-9c3e-42010a840%03d", Cluster, ClusterHash, 0x3a5c7e91+i*0x1111, 0x8b2d+i, 2+i),
			Network:         Network,
			DestRange:       n.podCIDR,
			Priority:        1000,
			NextHopInstance: computeURL + "projects/" + Project + "/zones/" + n.zone + "/instances/" + n.name,
			Description:     "k8s-node-route",
		})
	}

	// Firewall rules: the default network's, the ones GKE creates for the cluster, the ones Serverless
	// VPC Access creates for the connector, and the one the seed's author added for Cloud DNS
	// forwarding. Nothing opens the nodes to the connector's range yet: for an internal LB Service GKE
	// adds k8s-fw-… from 0.0.0.0/0 on the Service's ports (the simulated service controller does).
	for _, f := range []*compute.Firewall{
		{Name: "default-allow-internal", Description: "Allow internal traffic on the default network", Priority: 65534,
			SourceRanges: []string{AutoModeCIDR}, Allowed: []*compute.FirewallAllowed{
				{IPProtocol: "tcp", Ports: []string{"0-65535"}}, {IPProtocol: "udp", Ports: []string{"0-65535"}}, {IPProtocol: "icmp"}}},
		{Name: "default-allow-ssh", Description: "Allow SSH from anywhere", Priority: 65534,
			SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"22"}}}},
		{Name: "default-allow-rdp", Description: "Allow RDP from anywhere", Priority: 65534,
			SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"3389"}}}},
		{Name: "default-allow-icmp", Description: "Allow ICMP from anywhere", Priority: 65534,
			SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "icmp"}}},
		{Name: "gke-" + Cluster + "-" + ClusterHash + "-vms", Description: "", Priority: 1000,
			SourceRanges: []string{AutoModeCIDR}, TargetTags: []string{NodeTag}, Allowed: []*compute.FirewallAllowed{
				{IPProtocol: "icmp"}, {IPProtocol: "tcp", Ports: []string{"1-65535"}}, {IPProtocol: "udp", Ports: []string{"1-65535"}}}},
		{Name: "gke-" + Cluster + "-" + ClusterHash + "-all", Description: "", Priority: 1000,
			SourceRanges: []string{PodCIDR}, TargetTags: []string{NodeTag}, Allowed: []*compute.FirewallAllowed{
				{IPProtocol: "tcp"}, {IPProtocol: "udp"}, {IPProtocol: "icmp"}, {IPProtocol: "esp"}, {IPProtocol: "ah"}, {IPProtocol: "sctp"}}},
		{Name: "gke-" + Cluster + "-" + ClusterHash + "-inkubelet", Description: "", Priority: 999,
			SourceRanges: []string{PodCIDR}, SourceTags: []string{NodeTag}, TargetTags: []string{NodeTag},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"10255"}}}},
		{Name: "aet-europe--west1-my--vpc--connector-earfw", Priority: 1000,
			SourceRanges: []string{"35.199.224.0/19", "108.170.220.0/23", "107.178.230.64/26"}, TargetTags: []string{"vpc-connector-europe-west1-" + Connector},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "icmp"}, {IPProtocol: "tcp", Ports: []string{"667"}}, {IPProtocol: "udp", Ports: []string{"665-666"}}}},
		{Name: "aet-europe--west1-my--vpc--connector-egrfw", Direction: "EGRESS", Priority: 1000,
			DestinationRanges: []string{"35.199.224.0/19"}, TargetTags: []string{"vpc-connector-europe-west1-" + Connector},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "icmp"}, {IPProtocol: "tcp", Ports: []string{"667"}}, {IPProtocol: "udp", Ports: []string{"665-666"}}}},
		{Name: "allow-cloud-dns-forwarding", Description: "Cloud DNS forwarding queries to the cluster (added by hand)", Priority: 1000,
			SourceRanges: []string{DNSForwarders}, TargetTags: []string{NodeTag},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"53"}}, {IPProtocol: "udp", Ports: []string{"53"}}}},
	} {
		f.Network = Network
		g.AddFirewall(Project, f)
	}
	// The partner allows the cluster's nodes and pods (seed 004: "the firewall rules allow it"); what
	// is missing is the route back to the pod range.
	g.AddFirewall(PeerProject, &compute.Firewall{Name: "partner-allow-from-dev-orchestra", Network: PeerNetwork, Priority: 1000,
		Description: "dev-orchestra nodes and pods", SourceRanges: []string{NodeCIDR, PodCIDR}, TargetTags: []string{PeerHostTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "443"}}, {IPProtocol: "icmp"}}})
	g.AddFirewall(PeerProject, &compute.Firewall{Name: "partner-allow-internal", Network: PeerNetwork, Priority: 65534,
		SourceRanges: []string{PeerRange}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}})

	g.AddCluster(Project, Region, seedCluster())

	g.AddConnector(Project, Region, &vpcaccess.Connector{Name: Connector, Network: Network, IpCidrRange: ConnectorRange, State: "READY",
		MinThroughput: 200, MaxThroughput: 300, MachineType: "e2-micro", MinInstances: 2, MaxInstances: 3,
		ConnectedProjects: []string{Project}})

	g.AddRunService(Project, Region, &run.GoogleCloudRunV2Service{
		Name:        CloudRunService,
		Description: "Connectivity tester for the agents in dev-orchestra-cluster",
		Ingress:     "INGRESS_TRAFFIC_ALL",
		Labels:      map[string]string{"app": "gke-connectivity-tester"},
		Creator:     DemoUser,
		Template: &run.GoogleCloudRunV2RevisionTemplate{
			ServiceAccount:                RunSA,
			Timeout:                       "300s",
			MaxInstanceRequestConcurrency: 80,
			ExecutionEnvironment:          "EXECUTION_ENVIRONMENT_GEN2",
			Scaling:                       &run.GoogleCloudRunV2RevisionScaling{MaxInstanceCount: 3},
			VpcAccess:                     &run.GoogleCloudRunV2VpcAccess{Connector: connectorName(), Egress: "ALL_TRAFFIC"},
			Containers: []*run.GoogleCloudRunV2Container{{
				Image: "europe-west1-docker.pkg.dev/dev-orchestra/cloud-run-source-deploy/gke-connectivity-tester4@sha256:3f1d0c9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d",
				Ports: []*run.GoogleCloudRunV2ContainerPort{{Name: "http1", ContainerPort: 8080}},
				Env: []*run.GoogleCloudRunV2EnvVar{
					{Name: "DEV_AGENT_URL", Value: "http://development-agent.default.svc.cluster.local:80"},
					{Name: "ENV_MANAGER_URL", Value: "http://environment-manager.default.svc.cluster.local:80"},
				},
				Resources: &run.GoogleCloudRunV2ResourceRequirements{Limits: map[string]string{"cpu": "1000m", "memory": "512Mi"}, CpuIdle: true},
			}},
		},
	})
	// Seed 001: a service joined to Cloud Service Mesh (Direct VPC egress into default) whose service
	// account lacks roles/trafficdirector.client, so Envoy's xDS stream is denied.
	g.AddRunService(Project, Region, &run.GoogleCloudRunV2Service{
		Name:        MeshService,
		LaunchStage: "BETA",
		Ingress:     "INGRESS_TRAFFIC_ALL",
		Creator:     DemoUser,
		Template: &run.GoogleCloudRunV2RevisionTemplate{
			ServiceAccount: MeshSA,
			ServiceMesh:    &run.GoogleCloudRunV2ServiceMesh{Mesh: Mesh},
			VpcAccess: &run.GoogleCloudRunV2VpcAccess{Egress: "ALL_TRAFFIC",
				NetworkInterfaces: []*run.GoogleCloudRunV2NetworkInterface{{Network: Network, Subnetwork: Subnet}}},
			Containers: []*run.GoogleCloudRunV2Container{{Image: "fortio/fortio", Ports: []*run.GoogleCloudRunV2ContainerPort{{Name: "http1", ContainerPort: 8080}}}},
		},
	})

	// Cloud DNS: the seed's hand-made forwarding zone for cluster.local to the kube-dns ClusterIP, bound
	// to the VPC; seed 001's private zone for the mesh; the GKE-managed cluster-scope zone is created
	// (and kept) by the simulated Cloud DNS for GKE controller.
	g.AddManagedZone(Project, &dns.ManagedZone{Name: ForwardingZone, DnsName: Domain + ".", Visibility: "private",
		Description: "Forward cluster.local to kube-dns",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: networkURL(Project, Network)}}},
		ForwardingConfig: &dns.ManagedZoneForwardingConfig{TargetNameServers: []*dns.ManagedZoneForwardingConfigNameServerTarget{
			{Ipv4Address: KubeDNSIP}}}})
	g.AddManagedZone(Project, &dns.ManagedZone{Name: MeshZone, DnsName: "mesh.private.", Visibility: "private",
		Description: "zone for service mesh routes",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: networkURL(Project, Network)}}}})
	if err := g.AddRRSet(Project, MeshZone, &dns.ResourceRecordSet{Name: "*.mesh.private.", Type: "A", Ttl: 3600, Rrdatas: []string{"10.0.0.1"}}); err != nil {
		return err
	}
	g.AddManagedZone(Project, clusterZone())

	g.SetIamPolicy(Project, &crm.Policy{Version: 1, Bindings: []*crm.Binding{
		{Role: "roles/container.admin", Members: []string{"user:" + DemoUser}},
		{Role: "roles/run.admin", Members: []string{"user:" + DemoUser}},
		{Role: "roles/compute.networkAdmin", Members: []string{"user:" + DemoUser}},
		{Role: "roles/dns.admin", Members: []string{"user:" + DemoUser}},
		{Role: "roles/iam.serviceAccountUser", Members: []string{"user:" + DemoUser}},
		{Role: "roles/editor", Members: []string{"serviceAccount:" + computeSA(Project)}},
		{Role: "roles/container.defaultNodeServiceAccount", Members: []string{"serviceAccount:" + computeSA(Project)}},
		{Role: "roles/trafficdirector.client", Members: []string{"serviceAccount:gke-mesh-workloads@dev-orchestra.iam.gserviceaccount.com"}},
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:" + RunSA, "serviceAccount:" + MeshSA}},
		{Role: "roles/logging.logWriter", Members: []string{"serviceAccount:" + RunSA, "serviceAccount:" + MeshSA}},
	}})
	g.SetIamPolicy(PeerProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{
		{Role: "roles/owner", Members: []string{"user:partner-admin@example.net"}},
	}})
	seedAppEngine(g) // seed 003
	return nil
}

// clusterZone is the private zone Cloud DNS for GKE manages for the cluster in cluster scope: bound to
// the cluster, not to any network, so VPC clients do not see it.
func clusterZone() *dns.ManagedZone {
	return &dns.ManagedZone{Name: ClusterZone, DnsName: Domain + ".", Visibility: "private",
		Description: fmt.Sprintf("Private zone for GKE cluster %q with cluster suffix %q in project %q with scope %q",
			Cluster, Domain+".", Project, "CLUSTER_SCOPE"),
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{GkeClusters: []*dns.ManagedZonePrivateVisibilityConfigGKECluster{
			{GkeClusterName: clusterName()}}}}
}

func seedCluster() *container.Cluster {
	var pools []*container.NodePool
	var zones []string
	for _, n := range nodes {
		zones = append(zones, n.zone)
	}
	var igs []string
	for i, n := range nodes {
		igs = append(igs, computeURL+"projects/"+Project+"/zones/"+n.zone+"/instanceGroupManagers/gke-dev-orchestra-clus-default-pool-"+[]string{"a3f4c1d2", "b7e2d9a0", "c1d8f3e5"}[i]+"-grp")
	}
	pools = append(pools, &container.NodePool{
		Name:             "default-pool",
		InitialNodeCount: 1,
		Locations:        zones,
		Status:           "RUNNING",
		Version:          Version,
		Config: &container.NodeConfig{MachineType: "e2-standard-4", DiskSizeGb: 100, DiskType: "pd-balanced", ImageType: "COS_CONTAINERD",
			ServiceAccount: "default", Tags: []string{NodeTag},
			OauthScopes: []string{"https://www.googleapis.com/auth/cloud-platform"}},
		InstanceGroupUrls: igs,
		MaxPodsConstraint: &container.MaxPodsConstraint{MaxPodsPerNode: 110},
		PodIpv4CidrSize:   24,
		SelfLink:          "https://container.googleapis.com/v1/" + clusterName() + "/nodePools/default-pool",
	})
	return &container.Cluster{
		Name:                  Cluster,
		Description:           "dev-orchestra agents",
		Id:                    ClusterHash + "9b2c4e6a8d0f1a3c5e7b9d2f4a6c",
		Network:               Network,
		Subnetwork:            Subnet,
		ClusterIpv4Cidr:       PodCIDR,
		ServicesIpv4Cidr:      ServicesCIDR,
		NodeIpv4CidrSize:      24,
		CurrentMasterVersion:  Version,
		CurrentNodeVersion:    Version,
		InitialClusterVersion: "1.29.6-gke.1038001",
		CurrentNodeCount:      int64(len(nodes)),
		Endpoint:              "34.76.142.17",
		Locations:             zones,
		NodePools:             pools,
		IpAllocationPolicy: &container.IPAllocationPolicy{UseIpAliases: false, UseRoutes: true,
			ClusterIpv4CidrBlock: PodCIDR, ClusterIpv4Cidr: PodCIDR, ServicesIpv4CidrBlock: ServicesCIDR, ServicesIpv4Cidr: ServicesCIDR,
			StackType: "IPV4"},
		NetworkConfig: &container.NetworkConfig{
			Network:           "projects/" + Project + "/global/networks/" + Network,
			Subnetwork:        "projects/" + Project + "/regions/" + Region + "/subnetworks/" + Subnet,
			DatapathProvider:  "LEGACY_DATAPATH",
			DnsConfig:         &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE", ClusterDnsDomain: Domain},
			DefaultSnatStatus: &container.DefaultSnatStatus{Disabled: false},
		},
		PrivateClusterConfig: &container.PrivateClusterConfig{EnablePrivateNodes: true, PrivateEndpoint: APIPrivateEndpoint,
			PublicEndpoint: "34.76.142.17", PrivateEndpointSubnetwork: "projects/" + Project + "/regions/" + Region + "/subnetworks/" + Subnet},
		MasterAuthorizedNetworksConfig: &container.MasterAuthorizedNetworksConfig{Enabled: false},
		AddonsConfig: &container.AddonsConfig{HttpLoadBalancing: &container.HttpLoadBalancing{}, HorizontalPodAutoscaling: &container.HorizontalPodAutoscaling{},
			NetworkPolicyConfig: &container.NetworkPolicyConfig{Disabled: true}},
		ReleaseChannel: &container.ReleaseChannel{Channel: "REGULAR"},
		LoggingService: "logging.googleapis.com/kubernetes", MonitoringService: "monitoring.googleapis.com/kubernetes",
		Status: "RUNNING",
	}
}
