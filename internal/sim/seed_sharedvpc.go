package sim

import (
	"fmt"
	"strconv"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The shared-vpc world (issue 12): the layout on-call engineers meet first. The platform project
// (dev-orchestra, the seed's cluster, unchanged on the Kubernetes side) runs GKE on the Shared VPC
// host's network; the Cloud Run client lives in an app project in another region and reaches the host
// network by Direct VPC egress given by a shared subnet only, with a network tag; a hub project holds
// the private zone bound to the host network; a folder firewall policy allows Google's health checks
// and hands internal traffic (goto_next) to the host's VPC rules — where nobody has allowed the Cloud
// Run subnet to the nodes. GKE's service agent may not write the host's firewall, so the internal load
// balancer's own rule is asked for (LoadBalancerManualChange), and the platform team may not either:
// that fix is advice for the network team, which the world plays (CarryOut, `fix --done`).
const (
	HostProject    = "acme-net-host"
	HostNetwork    = "shared-net"
	HostNodeSubnet = "gke-nodes"
	AppProject     = "acme-app-dev"
	AppRegion      = "europe-west4"
	AppSubnet      = "run-europe-west4"
	AppSubnetRange = "10.140.0.0/26"
	AppTag         = "run-clients"
	DNSHubProject  = "acme-dns-hub"
	HubZone        = "acme-internal"
	HubDomain      = "acme.internal."
	FolderPolicy   = "acme-folder-baseline"
	// ConnectorSubnet is the host's /28 the seed's connector (App Engine's) uses.
	ConnectorSubnet = "serverless-connector"
)

func sharedVPCLayout() layout {
	return layout{name: WorldSharedVPC, netProject: HostProject, netName: HostNetwork, netSubnet: HostNodeSubnet,
		runProject: AppProject, runRegion: AppRegion, directVPCRange: AppSubnetRange, gkeNoFirewall: true,
		sourceProjects: []string{AppProject}, zoneProjects: []string{Project, PeerProject, DNSHubProject},
		dnsProjects: []string{DNSHubProject}}
}

func hostNetworkPath() string { return "projects/" + HostProject + "/global/networks/" + HostNetwork }

// seedSharedVPC turns the seed's Google side into the Shared VPC layout (after seedGCP).
func seedSharedVPC(g *fakegcp.Server) error {
	// The host's network and its shared subnets: the nodes' in the cluster's region, Cloud Run's in
	// the app's region.
	g.AddNetwork(HostProject, &compute.Network{Name: HostNetwork, Description: "Shared VPC of the acme organisation",
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "GLOBAL"}})
	g.AddSubnetwork(HostProject, Region, &compute.Subnetwork{Name: HostNodeSubnet, Network: HostNetwork, IpCidrRange: NodeCIDR, PrivateIpGoogleAccess: true})
	g.AddSubnetwork(HostProject, AppRegion, &compute.Subnetwork{Name: AppSubnet, Network: HostNetwork, IpCidrRange: AppSubnetRange, PrivateIpGoogleAccess: true})
	g.AddRoute(HostProject, &compute.Route{Name: "default-route-4b1d7e9a2c6f3a85", Network: HostNetwork, DestRange: "0.0.0.0/0",
		Priority: 1000, NextHopGateway: "global/gateways/default-internet-gateway", Description: "Default route to the Internet."})

	// The cluster is attached to the host's network and node subnet.
	c, _ := g.Cluster(Project, Region, Cluster)
	c.Network, c.Subnetwork = HostNetwork, HostNodeSubnet
	c.NetworkConfig.Network = hostNetworkPath()
	c.NetworkConfig.Subnetwork = "projects/" + HostProject + "/regions/" + Region + "/subnetworks/" + HostNodeSubnet
	c.PrivateClusterConfig.PrivateEndpointSubnetwork = c.NetworkConfig.Subnetwork
	g.AddCluster(Project, Region, c)

	// The host's firewall: what the network team created with the cluster (GKE's own rules, copied
	// from the seed's network), an internal allow among the nodes, and no rule for the Cloud Run
	// subnet.
	for _, f := range g.Firewalls(Project) {
		if strings.HasPrefix(f.Name, "gke-"+Cluster) || f.Name == "allow-cloud-dns-forwarding" || strings.HasPrefix(f.Name, "aet-") {
			f.Network, f.Id, f.SelfLink, f.CreationTimestamp = HostNetwork, 0, "", ""
			if strings.HasSuffix(f.Name, "-vms") {
				f.SourceRanges = []string{NodeCIDR} // a custom-mode network: the node subnet only
			}
			g.AddFirewall(HostProject, f)
		}
	}
	// The seed's connector (App Engine's) moves onto the host network, on a shared /28; the network
	// team opened it to the nodes when App Engine moved (the Cloud Run subnet is the new client).
	g.AddFirewall(HostProject, &compute.Firewall{Name: "allow-serverless-connector-to-gke", Network: HostNetwork, Direction: "INGRESS", Priority: 1000,
		Description: "App Engine frontend via the shared connector", SourceRanges: []string{ConnectorRange}, TargetTags: []string{NodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
	g.AddSubnetwork(HostProject, Region, &compute.Subnetwork{Name: ConnectorSubnet, Network: HostNetwork, IpCidrRange: ConnectorRange})
	conn, _ := g.Connector(Project, Region, Connector)
	conn.Network, conn.Subnet = HostNetwork, &vpcaccess.Subnet{Name: ConnectorSubnet, ProjectId: HostProject}
	g.AddConnector(Project, Region, conn)
	// The mesh service's Direct VPC egress uses the host's node subnet.
	if mesh, ok := g.RunService(Project, Region, MeshService); ok {
		mesh.Template.VpcAccess.NetworkInterfaces = []*run.GoogleCloudRunV2NetworkInterface{{Network: hostNetworkPath(),
			Subnetwork: "projects/" + HostProject + "/regions/" + Region + "/subnetworks/" + HostNodeSubnet}}
		g.AddRunService(Project, Region, mesh)
	}
	// A folder policy over the host: Google's health checks are allowed outright, internal and Cloud
	// DNS forwarding traffic is handed to the VPC's rules (goto_next), everything else from outside is
	// denied.
	g.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "HIERARCHY", Name: "7730194825561", ShortName: FolderPolicy,
		DisplayName: FolderPolicy, Projects: []string{HostProject}, Depth: 1,
		Rules: []*compute.FirewallPolicyRule{
			{Priority: 1000, Direction: "INGRESS", Action: "allow", Description: "Google health checks",
				Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"35.191.0.0/16", "130.211.0.0/22"},
					Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp"}}}},
			{Priority: 2000, Direction: "INGRESS", Action: "goto_next", Description: "internal traffic: the VPC's rules decide",
				Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", DNSForwarders, "35.199.224.0/19"},
					Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}},
			{Priority: 65000, Direction: "INGRESS", Action: "deny", Description: "nothing else from outside",
				Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"0.0.0.0/0"},
					Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}},
		}})

	// The Cloud Run client moves to the app project and region: Direct VPC egress on the host's shared
	// subnet, given by the subnet alone, with a network tag.
	tester, _ := g.RunService(Project, Region, CloudRunService)
	g.RemoveRunService(Project, Region, CloudRunService)
	tester.Name = CloudRunService
	tester.Uid, tester.Etag, tester.Uri, tester.Urls, tester.LatestCreatedRevision, tester.LatestReadyRevision = "", "", "", nil, "", ""
	tester.TerminalCondition, tester.Traffic, tester.TrafficStatuses, tester.Generation, tester.ObservedGeneration = nil, nil, nil, 0, 0
	tester.Template.ServiceAccount = "gke-connectivity-tester@" + AppProject + ".iam.gserviceaccount.com"
	tester.Template.VpcAccess = &run.GoogleCloudRunV2VpcAccess{Egress: "ALL_TRAFFIC", NetworkInterfaces: []*run.GoogleCloudRunV2NetworkInterface{{
		Subnetwork: "projects/" + HostProject + "/regions/" + AppRegion + "/subnetworks/" + AppSubnet, Tags: []string{AppTag}}}}
	g.AddRunService(AppProject, AppRegion, tester)

	// The hub DNS project: a private zone bound to the host network (the dns checks read it).
	g.AddManagedZone(DNSHubProject, &dns.ManagedZone{Name: HubZone, DnsName: HubDomain, Visibility: "private",
		Description: "acme internal names, bound to the Shared VPC",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
			{NetworkUrl: networkURL(HostProject, HostNetwork)}}}})
	if err := g.AddRRSet(DNSHubProject, HubZone, &dns.ResourceRecordSet{Name: "api.platform." + HubDomain, Type: "A", Ttl: 300, Rrdatas: []string{APIPrivateEndpoint}}); err != nil {
		return err
	}

	// Who may do what: the platform team owns the cluster's project, not the host's firewall.
	g.SetIamPolicy(HostProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{
		{Role: "roles/compute.securityAdmin", Members: []string{"group:network-team@example.com"}},
		{Role: "roles/compute.networkViewer", Members: []string{"user:" + DemoUser}},
		{Role: "roles/compute.networkUser", Members: []string{"serviceAccount:service-" + strconv.FormatInt(projectNumber(Project), 10) + "@container-engine-robot.iam.gserviceaccount.com"}},
	}})
	g.DenyPermissions(HostProject, "compute.firewalls.create", "compute.firewalls.delete", "compute.firewalls.update")
	g.SetIamPolicy(AppProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{{Role: "roles/run.admin", Members: []string{"user:" + DemoUser}}}})
	g.SetIamPolicy(DNSHubProject, &crm.Policy{Version: 1, Bindings: []*crm.Binding{{Role: "roles/dns.reader", Members: []string{"user:" + DemoUser}}}})
	return nil
}

// networkTeamCarryOut plays the host project's network team: given the advice id of a firewall rule
// gkedoctor asked them for (request-firewall/HOST/NAME), they create the rule it names, from one of
// the layout's client ranges to the nodes' tag on the port in its name. Anything else is left to the
// operator.
func (w *World) networkTeamCarryOut(adviceID string) (string, bool) {
	rest, ok := strings.CutPrefix(adviceID, "request-firewall/"+HostProject+"/")
	if !ok || w.lay.name != WorldSharedVPC {
		return "", false
	}
	for _, rng := range []string{AppSubnetRange, ConnectorRange} {
		for _, port := range []int{80, 8080, 443} {
			if fixes.FirewallRuleName(Cluster, rng, port) != rest {
				continue
			}
			w.gcp.AddFirewall(HostProject, &compute.Firewall{Name: rest, Network: HostNetwork, Direction: "INGRESS", Priority: 1000,
				Description:  "requested by the platform team (gkedoctor); created by the network team",
				SourceRanges: []string{rng}, TargetTags: []string{NodeTag},
				Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{strconv.Itoa(port)}}}})
			return fmt.Sprintf("the network team of %s created firewall rule %s (%s → the nodes on tcp:%d; simulated by the demo world)", HostProject, rest, rng, port), true
		}
	}
	return "", false
}
