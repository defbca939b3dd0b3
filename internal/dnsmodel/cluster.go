package dnsmodel

import (
	"net/netip"
	"strings"

	container "google.golang.org/api/container/v1"
)

// Cluster DNS providers and scopes, as the container API spells them.
const (
	ProviderCloudDNS = "CLOUD_DNS"
	ProviderKubeDNS  = "KUBE_DNS"
	ScopeCluster     = "CLUSTER_SCOPE"
	ScopeVPC         = "VPC_SCOPE"
)

// Cluster is what the model needs to know about a GKE cluster.
type Cluster struct {
	Name    string // projects/P/locations/L/clusters/C
	Network string // projects/P/global/networks/N
	// Provider is dnsConfig.clusterDns: CLOUD_DNS, KUBE_DNS, PLATFORM_DEFAULT or "" (kube-dns).
	Provider string
	// Scope is dnsConfig.clusterDnsScope: CLUSTER_SCOPE, VPC_SCOPE, or ""/DNS_SCOPE_UNSPECIFIED
	// (treated as cluster scope).
	Scope string
	// Domain is the in-cluster domain (clusterDnsDomain), an FQDN; "cluster.local." by default.
	Domain string
	// AdditiveDomain is additiveVpcScopeDnsDomain as an FQDN, "" when additive VPC scope is off.
	AdditiveDomain string
	ServicesCIDR   netip.Prefix
	PodCIDR        netip.Prefix
	// VPCNative is ipAllocationPolicy.useIpAliases: pod IPs are routable in the VPC.
	VPCNative bool
}

// FromCluster extracts the model's view of a cluster from the container API object. project is used
// when the object does not carry a fully qualified network.
func FromCluster(c *container.Cluster, project string) *Cluster {
	if c == nil {
		return nil
	}
	out := &Cluster{Domain: "cluster.local."}
	if c.SelfLink != "" {
		out.Name = normalizeCluster(c.SelfLink)
	} else if project != "" && c.Location != "" {
		out.Name = "projects/" + project + "/locations/" + c.Location + "/clusters/" + c.Name
	} else {
		out.Name = c.Name
	}
	if p := projectOf(out.Name); p != "" {
		project = p
	}
	if c.NetworkConfig != nil && c.NetworkConfig.Network != "" {
		out.Network = NormalizeNetwork(c.NetworkConfig.Network, project)
	} else if c.Network != "" {
		out.Network = NormalizeNetwork(c.Network, project)
	}
	if c.NetworkConfig != nil && c.NetworkConfig.DnsConfig != nil {
		d := c.NetworkConfig.DnsConfig
		out.Provider, out.Scope = d.ClusterDns, d.ClusterDnsScope
		if d.ClusterDnsDomain != "" {
			out.Domain = Fqdn(d.ClusterDnsDomain)
		}
		if d.AdditiveVpcScopeDnsDomain != "" {
			out.AdditiveDomain = Fqdn(d.AdditiveVpcScopeDnsDomain)
		}
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
	return out
}

func projectOf(resource string) string {
	parts := strings.Split(resource, "/")
	if len(parts) >= 2 && parts[0] == "projects" {
		return parts[1]
	}
	return ""
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
