package fakegcp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// apis are the real clients pointed at a fake, wired the way the product wires them.
type apis struct {
	container *container.Service
	compute   *compute.Service
	dns       *dns.Service
	run       *run.Service
	vpcaccess *vpcaccess.Service
	crm       *crm.Service
}

// newFake starts a fake (closed at the end of the test) and the clients that talk to it.
func newFake(t *testing.T) (*fakegcp.Server, *apis) {
	t.Helper()
	s := fakegcp.New()
	t.Cleanup(s.Close)
	ctx := context.Background()
	opts := func(path string) []option.ClientOption {
		return []option.ClientOption{option.WithEndpoint(s.URL + "/" + path), option.WithoutAuthentication()}
	}
	a := &apis{}
	var err error
	must := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	a.container, err = container.NewService(ctx, opts("")...)
	must(err)
	a.compute, err = compute.NewService(ctx, opts("compute/v1/")...)
	must(err)
	a.dns, err = dns.NewService(ctx, opts("")...)
	must(err)
	a.run, err = run.NewService(ctx, opts("")...)
	must(err)
	a.vpcaccess, err = vpcaccess.NewService(ctx, opts("")...)
	must(err)
	a.crm, err = crm.NewService(ctx, opts("")...)
	must(err)
	return s, a
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// apiErr asserts err is a *googleapi.Error with the given code and returns it.
func apiErr(t *testing.T, err error, code int) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want *googleapi.Error %d, got %T: %v", code, err, err)
	}
	if ge.Code != code {
		t.Fatalf("want HTTP %d, got %d: %v", code, ge.Code, err)
	}
	return ge
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const (
	project = "dev-orchestra"
	region  = "europe-west1"
	partner = "partner-data"
)

// seedDemoNetwork seeds seed 004's networks: dev-orchestra/default (nodes 10.132.0.0/20, routes-based
// pod routes in 172.16.0.0/16) peered with partner-data/partner-vpc (10.2.0.0/16), custom routes not
// exchanged.
func seedDemoNetwork(s *fakegcp.Server) {
	s.AddNetwork(project, &compute.Network{Name: "default", AutoCreateSubnetworks: true,
		Peerings: []*compute.NetworkPeering{{Name: "peer-partner", Network: "projects/partner-data/global/networks/partner-vpc"}}})
	s.AddSubnetwork(project, region, &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: "10.132.0.0/20"})
	s.AddRoute(project, &compute.Route{Name: "gke-dev-orchestra-cluster-3f2a9c1e-5d3e4b7a-node-1", Network: "default",
		DestRange: "172.16.0.0/24", Priority: 1000, Description: "k8s-node-route",
		NextHopInstance: "projects/dev-orchestra/zones/europe-west1-b/instances/gke-dev-orchestra-cluster-default-pool-1"})
	s.AddRoute(project, &compute.Route{Name: "gke-dev-orchestra-cluster-3f2a9c1e-5d3e4b7a-node-2", Network: "default",
		DestRange: "172.16.1.0/24", Priority: 1000, Description: "k8s-node-route",
		NextHopInstance: "projects/dev-orchestra/zones/europe-west1-c/instances/gke-dev-orchestra-cluster-default-pool-2"})
	s.AddRoute(project, &compute.Route{Name: "default-route-internet", Network: "default", DestRange: "0.0.0.0/0",
		Priority: 1000, NextHopGateway: "global/gateways/default-internet-gateway"})

	s.AddNetwork(partner, &compute.Network{Name: "partner-vpc",
		Peerings: []*compute.NetworkPeering{{Name: "peer-dev-orchestra", Network: "projects/dev-orchestra/global/networks/default"}}})
	s.AddSubnetwork(partner, region, &compute.Subnetwork{Name: "partner-subnet", Network: "partner-vpc", IpCidrRange: "10.2.0.0/16"})
}
