package model

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

func TestNATCovers(t *testing.T) {
	const net = "projects/p/global/networks/default"
	router := func(network string, nats ...*compute.RouterNat) *compute.Router {
		return &compute.Router{Name: "r1", Network: "https://www.googleapis.com/compute/v1/" + network, Nats: nats}
	}
	list := func(subnets ...string) *compute.RouterNat {
		n := &compute.RouterNat{Name: "nat", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS"}
		for _, s := range subnets {
			n.Subnetworks = append(n.Subnetworks, &compute.RouterNatSubnetworkToNat{Name: "https://www.googleapis.com/compute/v1/projects/p/regions/europe-west1/subnetworks/" + s})
		}
		return n
	}
	cases := []struct {
		name    string
		routers []*compute.Router
		subnet  string
		covered bool
		why     string
	}{
		{"none", nil, "conn", false, "no Cloud NAT on network default"},
		{"router without nat", []*compute.Router{router(net)}, "conn", false, "no Cloud NAT"},
		{"all subnets", []*compute.Router{router(net, &compute.RouterNat{Name: "nat", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"})}, "", true, "r1/nat translates every subnet"},
		{"all primary ranges", []*compute.Router{router(net, &compute.RouterNat{Name: "nat", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"})}, "conn", true, "every subnet"},
		{"listed subnet", []*compute.Router{router(net, list("other", "conn"))}, "projects/p/regions/europe-west1/subnetworks/conn", true, "translates subnet conn"},
		{"other subnets only", []*compute.Router{router(net, list("other"))}, "conn", false, "does not translate subnet conn: r1/nat (only other)"},
		{"list, source without a subnet", []*compute.Router{router(net, list("other"))}, "", false, "does not translate the source's range"},
		{"nat on another network", []*compute.Router{router("projects/p/global/networks/other", &compute.RouterNat{Name: "nat", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"})}, "conn", false, "no Cloud NAT on network default"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := NATCovers(c.routers, net, c.subnet)
			if got.Covered != c.covered || !strings.Contains(got.Why, c.why) {
				t.Fatalf("got %+v, want covered=%v and %q", got, c.covered, c.why)
			}
		})
	}
}
