package sim

import (
	"fmt"
	"sort"
	"strings"
)

// Worlds are the demo world's switchable layouts (Options.World, `--world`).
const (
	// WorldSeed is the seed reports' layout: one project (dev-orchestra), its default network, the
	// Cloud Run client in the cluster's project and region behind a connector.
	WorldSeed = "seed"
	// WorldSharedVPC is issue 12's layout: the cluster in the platform project on a Shared VPC host's
	// network, the Cloud Run client in an app project, a hub DNS project, a folder firewall policy
	// (seed_sharedvpc.go).
	WorldSharedVPC = "shared-vpc"
)

// Worlds lists the layouts, for flags and errors.
func Worlds() []string {
	out := []string{WorldSeed, WorldSharedVPC}
	sort.Strings(out[1:])
	return out
}

// CheckWorld returns an error naming the choices when name is not a layout ("" is the seed's).
func CheckWorld(name string) error {
	if name == "" {
		return nil
	}
	for _, w := range Worlds() {
		if w == name {
			return nil
		}
	}
	return fmt.Errorf("unknown demo world %q: choose one of %s", name, strings.Join(Worlds(), ", "))
}

// layout is where the world's network and its Cloud Run client live. The cluster always lives in
// Project/Region; in the seed layout everything else does too.
type layout struct {
	name string
	// netProject/netName: the cluster's network (a Shared VPC host's in WorldSharedVPC).
	netProject, netName string
	// netSubnet is the nodes' subnet (internal load balancers take their IPs from it).
	netSubnet string
	// gkeNoFirewall: GKE's service agent may not write the network's firewall (a Shared VPC host):
	// it asks for the rule with a LoadBalancerManualChange event instead.
	gkeNoFirewall bool
	// runProject/runRegion: where the Cloud Run client (CloudRunService) runs.
	runProject, runRegion string
	// directVPCRange is the source range of Direct VPC egress in the simulated network (the one
	// subnet a Direct VPC client can use in this layout).
	directVPCRange string
	// sourceProjects are the projects discovery must look in besides the cluster's (--source-project).
	sourceProjects []string
	// zoneProjects hold private zones that may be bound to the network.
	zoneProjects []string
	// dnsProjects are the projects beyond the cluster's, the clients' and the network's host whose
	// zones the DNS checks must list (--dns-project): a hub DNS project.
	dnsProjects []string
}

func seedLayout() layout {
	return layout{name: WorldSeed, netProject: Project, netName: Network, netSubnet: Subnet, runProject: Project, runRegion: Region,
		directVPCRange: NodeCIDR, zoneProjects: []string{Project, PeerProject}}
}

// vpc is the cluster's network.
func (l layout) vpc() vpcNet { return vpcNet{l.netProject, l.netName} }

// onNetwork reports whether a network reference names the cluster's network.
func (l layout) onNetwork(ref string) bool { return sameNetwork(ref, l.netProject, l.netName) }

// SourceProjects are the projects outside the cluster's whose Cloud Run services are the demo's
// clients (the session adds them as --source-project when none is given).
func (w *World) SourceProjects() []string { return append([]string(nil), w.lay.sourceProjects...) }

// DNSProjects are the layout's extra DNS projects (the default of --dns-project in this world).
func (w *World) DNSProjects() []string { return append([]string(nil), w.lay.dnsProjects...) }

// WorldName is the layout the world was started with.
func (w *World) WorldName() string { return w.lay.name }
