package model

import (
	"net/netip"

	container "google.golang.org/api/container/v1"

	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// Cluster DNS providers and scopes, as the container API spells them.
const (
	ProviderCloudDNS = "CLOUD_DNS"
	ProviderKubeDNS  = "KUBE_DNS"
	ScopeCluster     = "CLUSTER_SCOPE"
	ScopeVPC         = "VPC_SCOPE"
)

// Cluster is the model's view of a GKE cluster, read from the container API object.
type Cluster struct {
	API      *container.Cluster
	Name     string // projects/P/locations/L/clusters/C
	Short    string // C
	Project  string // the cluster's project
	Location string // region or zone
	Region   string
	// Network is projects/P/global/networks/N: P is the Shared VPC host project when the network
	// belongs to another project, else the cluster's.
	Network        string
	NetworkProject string
	Subnetwork     string // projects/P/regions/R/subnetworks/S, "" when the API does not say
	ServicesCIDR   netip.Prefix
	PodCIDR        netip.Prefix
	// VPCNative is ipAllocationPolicy.useIpAliases: pod IPs are alias ranges, routable in the VPC;
	// false is a routes-based cluster whose pod ranges are custom routes.
	VPCNative bool
	// DefaultSNATDisabled is networkConfig.defaultSnatStatus.disabled: without an ip-masq-agent
	// DaemonSet, pods' packets then keep their IP to every destination.
	DefaultSNATDisabled bool
	MasterVersion       string
	// PrivateEndpoint is the control plane's internal IP ("" when none).
	PrivateEndpoint string

	// DNS (networkConfig.dnsConfig).
	// Provider is clusterDns: CLOUD_DNS, KUBE_DNS, PLATFORM_DEFAULT or "" (kube-dns).
	Provider string
	// Scope is clusterDnsScope: CLUSTER_SCOPE, VPC_SCOPE, or ""/DNS_SCOPE_UNSPECIFIED (cluster scope).
	Scope string
	// Domain is the in-cluster domain (clusterDnsDomain) as an FQDN; "cluster.local." by default.
	Domain string
	// AdditiveDomain is additiveVpcScopeDnsDomain as an FQDN, "" when additive VPC scope is off.
	AdditiveDomain string

	// PolicyEnforcement names what enforces Kubernetes NetworkPolicies in the cluster: "GKE Dataplane
	// V2" (networkConfig.datapathProvider ADVANCED_DATAPATH), "Calico" (networkPolicy.enabled), or ""
	// when nothing does (policies are then inert).
	PolicyEnforcement string

	// NodePools are the pools' node identities (network tags, service account) as the API states
	// them.
	NodePools []NodePool
}

// NodePool is what the firewall needs to know about a pool's nodes.
type NodePool struct {
	Name           string
	Tags           []string
	ServiceAccount string // "" or "default" means the Compute Engine default service account
	Configured     bool   // the API stated the pool's node config (tags and account are known)
}

// DefaultServiceAccount reports whether the pool's nodes run as the Compute Engine default account.
func (p NodePool) DefaultServiceAccount() bool {
	return p.ServiceAccount == "" || p.ServiceAccount == "default"
}

// ClusterFrom reads the model's view of a cluster. project is the run's project, used when the object
// does not name its own.
func ClusterFrom(c *container.Cluster, project string) *Cluster {
	if c == nil {
		return nil
	}
	out := &Cluster{API: c, Short: c.Name, Project: project, Location: c.Location, Domain: DefaultDomain,
		MasterVersion: c.CurrentMasterVersion}
	switch {
	case c.SelfLink != "":
		out.Name = gref.Cluster(c.SelfLink)
	case project != "" && c.Location != "":
		out.Name = "projects/" + project + "/locations/" + c.Location + "/clusters/" + c.Name
	default:
		out.Name = c.Name
	}
	if p := gref.ProjectOf(out.Name); p != "" {
		out.Project = p
	}
	if out.Location == "" {
		out.Location = gref.LocationOf(out.Name)
	}
	out.Short = gref.ShortName(out.Name)
	out.Region = gref.Region(out.Location)

	network, subnet := c.Network, c.Subnetwork
	if nc := c.NetworkConfig; nc != nil {
		if nc.Network != "" {
			network = nc.Network
		}
		if nc.Subnetwork != "" {
			subnet = nc.Subnetwork
		}
		if nc.DefaultSnatStatus != nil {
			out.DefaultSNATDisabled = nc.DefaultSnatStatus.Disabled
		}
		if d := nc.DnsConfig; d != nil {
			out.Provider, out.Scope = d.ClusterDns, d.ClusterDnsScope
			if d.ClusterDnsDomain != "" {
				out.Domain = Fqdn(d.ClusterDnsDomain)
			}
			if d.AdditiveVpcScopeDnsDomain != "" {
				out.AdditiveDomain = Fqdn(d.AdditiveVpcScopeDnsDomain)
			}
		}
	}
	if network == "" {
		network = "default"
	}
	out.Network = gref.Network(network, out.Project)
	out.NetworkProject = gref.ProjectOf(out.Network)
	if out.NetworkProject == "" {
		out.NetworkProject = out.Project
	}
	if subnet != "" {
		out.Subnetwork = gref.Subnetwork(subnet, out.NetworkProject, out.Region)
	}

	svc, pods := c.ServicesIpv4Cidr, c.ClusterIpv4Cidr
	if p := c.IpAllocationPolicy; p != nil {
		out.VPCNative = p.UseIpAliases
		if svc == "" {
			svc = p.ServicesIpv4CidrBlock
		}
		if pods == "" {
			pods = p.ClusterIpv4CidrBlock
		}
	}
	if pr, err := netip.ParsePrefix(svc); err == nil {
		out.ServicesCIDR = pr.Masked()
	}
	if pr, err := netip.ParsePrefix(pods); err == nil {
		out.PodCIDR = pr.Masked()
	}
	if pc := c.PrivateClusterConfig; pc != nil {
		out.PrivateEndpoint = pc.PrivateEndpoint
	}
	switch {
	case c.NetworkConfig != nil && c.NetworkConfig.DatapathProvider == "ADVANCED_DATAPATH":
		out.PolicyEnforcement = "GKE Dataplane V2"
	case c.NetworkPolicy != nil && c.NetworkPolicy.Enabled:
		out.PolicyEnforcement = "Calico"
	}
	pool := func(name string, cfg *container.NodeConfig) NodePool {
		p := NodePool{Name: name}
		if cfg != nil {
			p.Tags, p.ServiceAccount, p.Configured = cfg.Tags, cfg.ServiceAccount, true
		}
		return p
	}
	for _, np := range c.NodePools {
		if np != nil {
			out.NodePools = append(out.NodePools, pool(np.Name, np.Config))
		}
	}
	if len(out.NodePools) == 0 {
		out.NodePools = append(out.NodePools, pool("nodes", c.NodeConfig)) // the cluster-wide defaults
	}
	return out
}

// CloudDNS reports whether the cluster uses Cloud DNS for GKE.
func (c *Cluster) CloudDNS() bool { return c != nil && c.Provider == ProviderCloudDNS }

// ScopeName says in words which DNS the cluster runs and who sees its records.
func (c *Cluster) ScopeName() string {
	switch {
	case c == nil:
		return "unknown"
	case !c.CloudDNS():
		return "kube-dns (records visible only inside the cluster)"
	case c.Scope == ScopeVPC:
		return "Cloud DNS for GKE, VPC scope"
	case c.AdditiveDomain != "":
		return "Cloud DNS for GKE, cluster scope with additive VPC scope (" + c.AdditiveDomain + ")"
	}
	return "Cloud DNS for GKE, cluster scope"
}

// VPCDomain is the domain under which the cluster's Service records are visible from its VPC
// network: the cluster domain in VPC scope, the additive domain in additive VPC scope, else "".
func (c *Cluster) VPCDomain() string {
	switch {
	case !c.CloudDNS():
		return ""
	case c.Scope == ScopeVPC:
		return c.Domain
	case c.AdditiveDomain != "":
		return c.AdditiveDomain
	}
	return ""
}

// Domains lists the domains the cluster's DNS serves (in-cluster and additive).
func (c *Cluster) Domains() []string {
	if c == nil {
		return nil
	}
	out := []string{c.Domain}
	if c.AdditiveDomain != "" && c.AdditiveDomain != c.Domain {
		out = append(out, c.AdditiveDomain)
	}
	return out
}

// IsClusterIP reports whether ip is in the cluster's services range.
func (c *Cluster) IsClusterIP(ip netip.Addr) bool {
	return c != nil && c.ServicesCIDR.IsValid() && c.ServicesCIDR.Contains(ip.Unmap())
}

// IsPodIP reports whether ip is in the cluster's pod range.
func (c *Cluster) IsPodIP(ip netip.Addr) bool {
	return c != nil && c.PodCIDR.IsValid() && c.PodCIDR.Contains(ip.Unmap())
}

// NetworkName is the short name of the cluster's network ("" when unknown).
func (c *Cluster) NetworkName() string { return gref.NetworkName(c.Network) }

// privateRanges are RFC 1918, RFC 6598 (100.64.0.0/10) and IPv6 unique local addresses (RFC 4193).
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

// IsPrivate reports whether a is in RFC 1918, RFC 6598 or IPv6 unique-local space: the destinations Serverless VPC
// Access sends into the VPC under egress PRIVATE_RANGES_ONLY, and those Cloud DNS forwards to over
// the VPC by default.
func IsPrivate(a netip.Addr) bool {
	for _, p := range privateRanges {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// IsRFC1918 reports whether a is in RFC 1918 space only: what App Engine's egress setting
// PRIVATE_IP_RANGES sends through its connector, as the App Engine Admin API documents it.
func IsRFC1918(a netip.Addr) bool {
	for _, p := range privateRanges[:3] {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
