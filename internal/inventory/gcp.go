package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/firewall"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
)

// Invalidation prefixes for fixes.
const (
	KeyGCP       = "gcp/"
	KeyRun       = "gcp/run/"
	KeyFirewalls = "gcp/compute/firewalls/"
	// KeyEffectiveFirewalls holds the getEffectiveFirewalls answers (global and regional). It is under
	// KeyFirewalls, so a fix that invalidates KeyFirewalls (any firewall change) invalidates them too;
	// a fix that changes a firewall policy or the enforcement order invalidates KeyEffectiveFirewalls
	// and KeyNetworks.
	KeyEffectiveFirewalls = KeyFirewalls + "effective/"
	KeyNetworks           = "gcp/compute/network/"
	KeyFwdRules           = "gcp/compute/forwardingRules/"
	KeyDNS                = "gcp/dns/"
	KeyIAM                = "gcp/iam/"
	KeyCluster            = "gcp/container/cluster/"
)

func (i *Inventory) needProject() error {
	if i.Scope.Project == "" {
		return apierr.NotConfiguredf("--project PROJECT (or a gke_PROJECT_LOCATION_CLUSTER context)", "no Google Cloud project")
	}
	return nil
}

// Cluster returns the GKE cluster of the scope.
func (i *Inventory) Cluster(ctx context.Context) (*container.Cluster, error) {
	s := i.Scope
	if s.Project == "" || s.Location == "" || s.Cluster == "" {
		return nil, apierr.NotConfiguredf("--project, --location and --cluster (or a gke_PROJECT_LOCATION_CLUSTER context)", "the GKE cluster is not named")
	}
	name := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", s.Project, s.Location, s.Cluster)
	return Memo(ctx, i, KeyCluster+name, func(ctx context.Context) (*container.Cluster, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		c, err := g.Container.Projects.Locations.Clusters.Get(name).Context(ctx).Do()
		if err == nil && c.Name == "" {
			// A 200 whose body is no cluster (a proxy's page, a truncated or foreign JSON document):
			// every field would read as its zero value (the "default" network, no ranges).
			return nil, &apierr.Error{Kind: apierr.Other, Op: "get GKE cluster", Resource: name,
				Err: errors.New("the container API (container.googleapis.com) answered with a body that is not a cluster (no name)")}
		}
		return c, gcp.Map(err, "get GKE cluster", name)
	})
}

// RunService returns one Cloud Run service: in project (the scope's project when "") and location
// (the scope's location when "").
func (i *Inventory) RunService(ctx context.Context, project, location, name string) (*run.GoogleCloudRunV2Service, error) {
	if project == "" {
		if err := i.needProject(); err != nil {
			return nil, err
		}
		project = i.Scope.Project
	}
	if location == "" {
		location = i.Scope.Location
	}
	full := fmt.Sprintf("projects/%s/locations/%s/services/%s", project, location, name)
	return Memo(ctx, i, KeyRun+"service/"+full, func(ctx context.Context) (*run.GoogleCloudRunV2Service, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		s, err := g.Run.Projects.Locations.Services.Get(full).Context(ctx).Do()
		return s, gcp.Map(err, "get Cloud Run service", full)
	})
}

// AllLocations is the location "-": Cloud Run v2 lists the services of every location of a project
// in one call (projects/P/locations/-/services).
const AllLocations = "-"

// RunServices lists the Cloud Run services of a project (the scope's when "") in one location, or
// in every location with AllLocations. Every location's list is one call per project and run
// (projects/P/locations/-/services, all pages), filtered here, so asking for two regions, or for one
// and then all, reads the project's services once.
func (i *Inventory) RunServices(ctx context.Context, project, location string) ([]*run.GoogleCloudRunV2Service, error) {
	if project == "" {
		if err := i.needProject(); err != nil {
			return nil, err
		}
		project = i.Scope.Project
	}
	if location == "" {
		location = i.Scope.Location
	}
	parent := fmt.Sprintf("projects/%s/locations/%s", project, AllLocations)
	all, err := Memo(ctx, i, KeyRun+"services/"+parent, func(ctx context.Context) ([]*run.GoogleCloudRunV2Service, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*run.GoogleCloudRunV2Service
		err = g.Run.Projects.Locations.Services.List(parent).Pages(ctx, func(r *run.GoogleCloudRunV2ListServicesResponse) error {
			out = append(out, r.Services...)
			return nil
		})
		return out, gcp.Map(err, "list Cloud Run services", parent)
	})
	if err != nil || location == AllLocations {
		return all, err
	}
	var out []*run.GoogleCloudRunV2Service
	for _, s := range all {
		if gref.LocationOf(s.Name) == location {
			out = append(out, s)
		}
	}
	return out, nil
}

// Connector returns a Serverless VPC Access connector by full name.
func (i *Inventory) Connector(ctx context.Context, full string) (*vpcaccess.Connector, error) {
	return Memo(ctx, i, "gcp/vpcaccess/"+full, func(ctx context.Context) (*vpcaccess.Connector, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		c, err := g.VPCAccess.Projects.Locations.Connectors.Get(full).Context(ctx).Do()
		return c, gcp.Map(err, "get VPC connector", full)
	})
}

// Network returns a VPC network (with its peerings).
func (i *Inventory) Network(ctx context.Context, project, name string) (*compute.Network, error) {
	return Memo(ctx, i, KeyNetworks+project+"/"+name, func(ctx context.Context) (*compute.Network, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		n, err := g.Compute.Networks.Get(project, name).Context(ctx).Do()
		return n, gcp.MapWith(err, "get network", "projects/"+project+"/global/networks/"+name, PermNetworksGet)
	})
}

// Firewalls lists every firewall rule of a project (all pages).
func (i *Inventory) Firewalls(ctx context.Context, project string) ([]*compute.Firewall, error) {
	return Memo(ctx, i, KeyFirewalls+project, func(ctx context.Context) ([]*compute.Firewall, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*compute.Firewall
		err = g.Compute.Firewalls.List(project).Pages(ctx, func(l *compute.FirewallList) error {
			out = append(out, l.Items...)
			return nil
		})
		return out, gcp.Map(err, "list firewall rules", "projects/"+project+"/global/firewalls")
	})
}

// EffectiveFirewalls returns networks.getEffectiveFirewalls of a network, converted for the firewall
// evaluator: its VPC firewall rules and the hierarchical and global network firewall policies in
// effect on it. Only the conversion is kept for the run (thousands of rules: the API's structs are
// garbage as soon as they are converted); callers share it and must not change it. A 403 names
// compute.networks.getEffectiveFirewalls.
func (i *Inventory) EffectiveFirewalls(ctx context.Context, project, network string) (firewall.Set, error) {
	return Memo(ctx, i, KeyEffectiveFirewalls+"global/"+project+"/"+network, func(ctx context.Context) (firewall.Set, error) {
		g, err := i.GCP()
		if err != nil {
			return firewall.Set{}, err
		}
		r, err := g.Compute.Networks.GetEffectiveFirewalls(project, network).Context(ctx).Do()
		if err != nil {
			return firewall.Set{}, gcp.MapWith(err, "get effective firewalls", "projects/"+project+"/global/networks/"+network, gcp.PermNetworksGetEffectiveFirewalls)
		}
		return firewall.FromEffectiveFirewalls(r), nil
	})
}

// regionEffectiveFirewalls reads regionNetworkFirewallPolicies.getEffectiveFirewalls of a network in a
// region for the regional network (and system) firewall policies, to merge into the global answer.
// It asks for the policies only (a partial response, fields=firewallPolicys): the answer would
// otherwise repeat every VPC rule of the network that networks.getEffectiveFirewalls already gave
// (thousands on a large network, a sixth of a 20,000-Service audit's CPU decoding them a second
// time). Only firewallSet reads it, so it is not kept on its own. A 403 names
// compute.regionNetworkFirewallPolicies.getEffectiveFirewalls.
func (i *Inventory) regionEffectiveFirewalls(ctx context.Context, project, region, network string) (firewall.Set, error) {
	g, err := i.GCP()
	if err != nil {
		return firewall.Set{}, err
	}
	ref := "projects/" + project + "/global/networks/" + network
	r, err := g.Compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, ref).Fields("firewallPolicys").Context(ctx).Do()
	if err != nil {
		return firewall.Set{}, gcp.MapWith(err, "get effective firewalls", "projects/"+project+"/regions/"+region+" network "+network, gcp.PermRegionEffectiveFirewalls)
	}
	return firewall.FromRegionEffectiveFirewalls(r), nil
}

// FirewallSet returns the firewall evaluator's input for a network (a name, or a reference whose
// project then wins over project) in a region ("" leaves out regional policies): the VPC rules and
// every firewall policy in effect, from getEffectiveFirewalls, with the network's enforcement order.
// When getEffectiveFirewalls fails (e.g. 403) it returns the error: callers must skip naming the
// permission, never fall back to the VPC rules alone. The network itself is read for its
// networkFirewallPolicyEnforcementOrder; if that read fails it matters (and the error is returned)
// only when network firewall policies are in effect.
func (i *Inventory) FirewallSet(ctx context.Context, project, network, region string) (firewall.Set, error) {
	if p, n := gref.SplitNetwork(network); n != "" {
		if p != "" {
			project = p
		}
		network = n
	}
	// Converted once per run and network (thousands of rules): callers share it and must not change it.
	return Memo(ctx, i, KeyEffectiveFirewalls+"set/"+project+"/"+network+"/"+region, func(ctx context.Context) (firewall.Set, error) {
		return i.firewallSet(ctx, project, network, region)
	})
}

func (i *Inventory) firewallSet(ctx context.Context, project, network, region string) (firewall.Set, error) {
	// The two effective-firewall reads do not depend on each other: they run at once (each is the
	// longest call of a large network). The network itself is read only when its enforcement order
	// matters (a network firewall policy applies): a set that needs nothing else does not depend on
	// a read that could fail.
	var (
		wg     sync.WaitGroup
		reg    firewall.Set
		regErr error
	)
	if region != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reg, regErr = i.regionEffectiveFirewalls(ctx, project, region, network)
		}()
	}
	set, err := i.EffectiveFirewalls(ctx, project, network)
	wg.Wait()
	if err != nil {
		return firewall.Set{}, err
	}
	if region != "" {
		if regErr != nil {
			return firewall.Set{}, regErr
		}
		set = firewall.Merge(set, reg) // the VPC rules are the global answer's: the regional one was asked for none
	}
	needOrder := false
	for _, p := range set.Policies {
		if src := p.Source(); src == firewall.SourceNetwork || src == firewall.SourceRegionalNetwork {
			needOrder = true
		}
	}
	if !needOrder {
		return set, nil
	}
	n, err := i.Network(ctx, project, network)
	if err != nil {
		return firewall.Set{}, err
	}
	set.Order = n.NetworkFirewallPolicyEnforcementOrder
	return set, nil
}

// ForwardingRules lists the forwarding rules of a region: the region's part of the project's one
// aggregated list (AllForwardingRules), so a run reads the project's rules once whoever asks.
func (i *Inventory) ForwardingRules(ctx context.Context, project, region string) ([]*compute.ForwardingRule, error) {
	all, err := i.AllForwardingRules(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []*compute.ForwardingRule
	for _, fr := range all {
		if gref.ShortName(fr.Region) == region {
			out = append(out, fr)
		}
	}
	return out, nil
}

// Subnetwork returns one subnetwork.
func (i *Inventory) Subnetwork(ctx context.Context, project, region, name string) (*compute.Subnetwork, error) {
	return Memo(ctx, i, "gcp/compute/subnetwork/"+project+"/"+region+"/"+name, func(ctx context.Context) (*compute.Subnetwork, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		s, err := g.Compute.Subnetworks.Get(project, region, name).Context(ctx).Do()
		return s, gcp.MapWith(err, "get subnetwork", "projects/"+project+"/regions/"+region+"/subnetworks/"+name, "compute.subnetworks.get")
	})
}

// ManagedZones lists the Cloud DNS zones of a project.
func (i *Inventory) ManagedZones(ctx context.Context, project string) ([]*dns.ManagedZone, error) {
	return Memo(ctx, i, KeyDNS+"zones/"+project, func(ctx context.Context) ([]*dns.ManagedZone, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*dns.ManagedZone
		err = g.DNS.ManagedZones.List(project).Pages(ctx, func(l *dns.ManagedZonesListResponse) error {
			out = append(out, l.ManagedZones...)
			return nil
		})
		return out, gcp.MapWith(err, "list Cloud DNS zones", "projects/"+project+"/managedZones", PermManagedZonesList)
	})
}

// RRSets lists the record sets of a zone.
func (i *Inventory) RRSets(ctx context.Context, project, zone string) ([]*dns.ResourceRecordSet, error) {
	return Memo(ctx, i, KeyDNS+"rrsets/"+project+"/"+zone, func(ctx context.Context) ([]*dns.ResourceRecordSet, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		var out []*dns.ResourceRecordSet
		err = g.DNS.ResourceRecordSets.List(project, zone).Pages(ctx, func(l *dns.ResourceRecordSetsListResponse) error {
			out = append(out, l.Rrsets...)
			return nil
		})
		return out, gcp.Map(err, "list record sets", "projects/"+project+"/managedZones/"+zone)
	})
}

// IamPolicy returns a project's IAM policy, asked for as version 3 so conditional bindings come with
// their conditions (a version-1 read hides them behind "_withcond_" role names). A 403 names
// resourcemanager.projects.getIamPolicy.
func (i *Inventory) IamPolicy(ctx context.Context, project string) (*crm.Policy, error) {
	return Memo(ctx, i, KeyIAM+project, func(ctx context.Context) (*crm.Policy, error) {
		g, err := i.GCP()
		if err != nil {
			return nil, err
		}
		p, err := g.CRM.Projects.GetIamPolicy(project, &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
		return p, gcp.MapWith(err, "get IAM policy", "projects/"+project, PermProjectsGetIamPolicy)
	})
}
