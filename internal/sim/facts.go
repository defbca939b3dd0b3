package sim

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// The facts of the demo world (DESIGN.md §4, seed reports 000 and 004). They are binding: tests,
// the TUI and the checks' demo expectations refer to them.
const (
	Project  = "dev-orchestra"
	Region   = "europe-west1"
	Network  = "default"
	Subnet   = "default"
	Cluster  = "dev-orchestra-cluster"
	Context  = "gke_dev-orchestra_europe-west1_dev-orchestra-cluster"
	Domain   = "cluster.local"
	Version  = "1.33.5-gke.1308000"
	DemoUser = "oncall@example.com"

	// ClusterHash is the hash GKE puts in the names of what it creates for the cluster (node tag,
	// firewall rules, the Cloud DNS zone).
	ClusterHash = "f5e836d0"
	NodeTag     = "gke-dev-orchestra-cluster-" + ClusterHash + "-node"

	ServicesCIDR       = "34.118.224.0/20"
	PodCIDR            = "172.16.0.0/16"
	NodeCIDR           = "10.132.0.0/20"
	AutoModeCIDR       = "10.128.0.0/9" // the default network's auto-mode ranges (default-allow-internal)
	APIPrivateEndpoint = "10.132.0.2"
	KubernetesIP       = "34.118.224.1"
	KubeDNSIP          = "34.118.224.10"
	DevAgentIP         = "34.118.231.33"
	EnvManagerIP       = "34.118.233.158"
	// FirstILBIP and SecondILBIP are the internal LB addresses the seed's Services received, in order.
	FirstILBIP  = "10.132.0.6"
	SecondILBIP = "10.132.0.5"

	CloudRunService = "gke-connectivity-tester4"
	MeshService     = "mesh-svc"
	Connector       = "my-vpc-connector"
	ConnectorRange  = "192.168.99.0/28"
	RunSA           = "gke-connectivity-tester@dev-orchestra.iam.gserviceaccount.com"
	MeshSA          = "mesh-svc@dev-orchestra.iam.gserviceaccount.com"
	Mesh            = "projects/dev-orchestra/locations/global/meshes/dev-orchestra-mesh"

	ClusterZone    = "gke-dev-orchestra-cluster-" + ClusterHash + "-dns"
	ForwardingZone = "gke-cluster-dns-forwarding"
	MeshZone       = "mesh-private"

	PeerProject   = "partner-data"
	PeerNetwork   = "partner-vpc"
	PeerRange     = "10.2.0.0/16"
	PeerHost      = "10.2.0.1"
	PeeringName   = "peer-partner-data"  // on dev-orchestra/default
	PeerBackName  = "peer-dev-orchestra" // on partner-data/partner-vpc
	PeerRegion    = "europe-west1"
	PeerSubnet    = "partner-subnet"
	PeerHostTag   = "partner-api"
	PeerHostName  = "partner-api-1"
	DNSForwarders = "35.199.192.0/19" // where Cloud DNS forwarding queries come from

	ServiceAccount = "orchestrai-sa"
	TokenSecret    = "orchestrai-sa-token-7xk2p"
	// OldSAUID is the UID orchestrai-sa had when its token Secret was issued; SAUID is the UID of the
	// ServiceAccount re-created since.
	OldSAUID = "6f1c2a4e-9b3d-4c8e-a1f7-2d5e8b9c0a13"
	SAUID    = "b2d7e9f1-3a4c-4e6b-8d0f-1c2a3b4c5d6e"
)

// Sources for DialerFrom.
const (
	// SourceCloudRun is the seed's Cloud Run client, gke-connectivity-tester4 (what Dialer uses).
	SourceCloudRun = "cloud-run/" + CloudRunService
	// SourcePod is a pod of the cluster (environment-manager's), seed 004's "my-pod".
	SourcePod = "pod/default/" + envManagerPod
	// SourceNode is a node of the cluster, seed 004's "gke-node-02".
	SourceNode = "node/" + node1
)

// Node names and addresses: three nodes of default-pool, one per zone, each with its pod range (the
// cluster is routes-based: a /24 of 172.16.0.0/16 per node, reached through a route per node).
const (
	node0 = "gke-dev-orchestra-clus-default-pool-a3f4c1d2-7x4k"
	node1 = "gke-dev-orchestra-clus-default-pool-b7e2d9a0-q2m8"
	node2 = "gke-dev-orchestra-clus-default-pool-c1d8f3e5-h5n3"

	devAgentPod   = "development-agent-6d9f7b8c5-x2k9p"
	envManagerPod = "environment-manager-7c4d9e6f8-m3n7q"
)

type nodeFact struct {
	name, zone, ip, podCIDR string
}

var nodes = []nodeFact{
	{node0, "europe-west1-b", "10.132.0.3", "172.16.0.0/24"},
	{node1, "europe-west1-c", "10.132.0.4", "172.16.1.0/24"},
	{node2, "europe-west1-d", "10.132.0.7", "172.16.2.0/24"},
}

// defaultNonMasq is ip-masq-agent's non-masquerade set on GKE nodes without a ConfigMap (the agent
// runs with --nomasq-all-reserved-ranges): FAILURE-MODES.md §6.
var defaultNonMasq = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
	"192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4"}

// projectNumber is the project number the fake Google API server reports for a project id (the same
// derivation as fakegcp's, so numbers agree everywhere in the world).
func projectNumber(p string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(p))
	return 100_000_000_000 + int64(h.Sum64()%900_000_000_000)
}

// computeSA is the project's Compute Engine default service account (what the nodes run as).
func computeSA(project string) string {
	return fmt.Sprintf("%d-compute@developer.gserviceaccount.com", projectNumber(project))
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// inAny reports whether ip is inside one of the CIDRs (bad CIDRs are ignored).
func inAny(ip netip.Addr, cidrs []string) bool {
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ip) {
			return true
		}
		if a, err := netip.ParseAddr(c); err == nil && a == ip {
			return true
		}
	}
	return false
}

// isPrivate reports whether ip is in RFC 1918 or RFC 6598: what Serverless VPC Access sends into the
// VPC with egress PRIVATE_RANGES_ONLY.
func isPrivate(ip netip.Addr) bool {
	return inAny(ip, []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"})
}
