package fakegcp_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

func TestCompute_FirewallRoundTrip(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.PageSize = 2
	for _, n := range []string{"default-allow-internal", "default-allow-ssh", "k8s-fw-a1b2"} {
		s.AddFirewall(project, &compute.Firewall{Name: n, Network: "default", SourceRanges: []string{"10.128.0.0/9"},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}})
	}
	fw := &compute.Firewall{Name: "allow-serverless-to-dev-orchestra-cluster-80", Network: "global/networks/default",
		Direction: "INGRESS", SourceRanges: []string{"192.168.99.0/28"}, TargetTags: []string{"gke-dev-orchestra-cluster-node"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}
	op, err := a.compute.Firewalls.Insert(project, fw).Context(ctx).Do()
	noErr(t, err)
	if op.Status != "DONE" || op.Kind != "compute#operation" || !strings.HasPrefix(op.SelfLink, "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/operations/") ||
		op.TargetLink != "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/firewalls/allow-serverless-to-dev-orchestra-cluster-80" {
		t.Fatalf("insert operation: %+v", op)
	}
	// Operations can be read and waited on.
	got, err := a.compute.GlobalOperations.Get(project, op.Name).Context(ctx).Do()
	noErr(t, err)
	if got.Status != "DONE" {
		t.Fatalf("operation get: %+v", got)
	}
	_, err = a.compute.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
	noErr(t, err)
	_, err = a.compute.Firewalls.Insert(project, fw).Context(ctx).Do()
	apiErr(t, err, 409)

	f, err := a.compute.Firewalls.Get(project, fw.Name).Context(ctx).Do()
	noErr(t, err)
	if f.Priority != 1000 || f.Id == 0 || f.Kind != "compute#firewall" || f.CreationTimestamp == "" ||
		f.Network != "https://www.googleapis.com/compute/v1/projects/dev-orchestra/global/networks/default" {
		t.Fatalf("stored firewall: %+v", f)
	}

	var names []string
	pages := 0
	noErr(t, a.compute.Firewalls.List(project).Pages(ctx, func(l *compute.FirewallList) error {
		pages++
		for _, it := range l.Items {
			names = append(names, it.Name)
		}
		return nil
	}))
	if len(names) != 4 || pages != 2 {
		t.Fatalf("listed %v in %d pages", names, pages)
	}

	// Patch is a merge: only sourceRanges changes.
	_, err = a.compute.Firewalls.Patch(project, fw.Name, &compute.Firewall{SourceRanges: []string{"192.168.99.0/28", "35.199.192.0/19"}}).Context(ctx).Do()
	noErr(t, err)
	f, _ = a.compute.Firewalls.Get(project, fw.Name).Context(ctx).Do()
	if len(f.SourceRanges) != 2 || len(f.TargetTags) != 1 || f.Allowed[0].Ports[0] != "80" {
		t.Fatalf("patched firewall: %+v", f)
	}

	_, err = a.compute.Firewalls.Delete(project, fw.Name).Context(ctx).Do()
	noErr(t, err)
	_, err = a.compute.Firewalls.Get(project, fw.Name).Context(ctx).Do()
	ge := apiErr(t, err, 404)
	if !strings.Contains(ge.Message, "projects/dev-orchestra/global/firewalls/allow-serverless-to-dev-orchestra-cluster-80") {
		t.Fatalf("404 message: %q", ge.Message)
	}
	if len(s.Firewalls(project)) != 3 {
		t.Fatalf("%d firewalls left", len(s.Firewalls(project)))
	}

	// Invalid rules are refused.
	_, err = a.compute.Firewalls.Insert(project, &compute.Firewall{Name: "Bad_Name", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(ctx).Do()
	apiErr(t, err, 400)
	_, err = a.compute.Firewalls.Insert(project, &compute.Firewall{Name: "no-action"}).Context(ctx).Do()
	apiErr(t, err, 400)
	_, err = a.compute.Firewalls.Insert(project, &compute.Firewall{Name: "no-net", Network: "nope", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Context(ctx).Do()
	apiErr(t, err, 404)
}

func TestCompute_ForwardingRulesFilter(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	s.AddForwardingRule(project, region, &compute.ForwardingRule{Name: "a1b2c3-ilb", IPAddress: "10.132.0.6", LoadBalancingScheme: "INTERNAL", IPProtocol: "TCP"})
	s.AddForwardingRule(project, region, &compute.ForwardingRule{Name: "d4e5f6-ilb", IPAddress: "10.132.0.5", LoadBalancingScheme: "INTERNAL", IPProtocol: "TCP"})
	s.AddForwardingRule(project, region, &compute.ForwardingRule{Name: "ext", IPAddress: "34.140.0.9", LoadBalancingScheme: "EXTERNAL"})
	s.AddForwardingRule(project, "us-central1", &compute.ForwardingRule{Name: "us-ilb", IPAddress: "10.128.0.9", LoadBalancingScheme: "INTERNAL"})

	for filter, want := range map[string]string{
		`IPAddress="10.132.0.6"`:                                  "a1b2c3-ilb",
		`IPAddress = "10.132.0.5"`:                                "d4e5f6-ilb",
		`IPAddress="10.132.0.5" loadBalancingScheme="INTERNAL"`:   "d4e5f6-ilb",
		`(loadBalancingScheme = "EXTERNAL")`:                      "ext",
		`IPAddress="10.132.0.6" AND loadBalancingScheme=INTERNAL`: "a1b2c3-ilb",
		`IPAddress="10.132.0.7"`:                                  "",
		`IPAddress="10.132.0.6" loadBalancingScheme="EXTERNAL"`:   "",
	} {
		l, err := a.compute.ForwardingRules.List(project, region).Filter(filter).Context(ctx).Do()
		noErr(t, err)
		var got []string
		for _, fr := range l.Items {
			got = append(got, fr.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("filter %s: got %v, want %q", filter, got, want)
		}
	}
	for _, bad := range []string{`nosuchfield="x"`, `IPAddress`, `IPAddress="10.0.0.1" OR name="x"`, `peerings="x"`} {
		_, err := a.compute.ForwardingRules.List(project, region).Filter(bad).Context(ctx).Do()
		apiErr(t, err, 400)
	}

	agg, err := a.compute.ForwardingRules.AggregatedList(project).Filter(`loadBalancingScheme="INTERNAL"`).Context(ctx).Do()
	noErr(t, err)
	if len(agg.Items["regions/europe-west1"].ForwardingRules) != 2 || len(agg.Items["regions/us-central1"].ForwardingRules) != 1 {
		t.Fatalf("aggregated: %+v", agg.Items)
	}

	s.DeleteForwardingRule(project, region, "a1b2c3-ilb")
	l, err := a.compute.ForwardingRules.List(project, region).Filter(`IPAddress="10.132.0.6"`).Context(ctx).Do()
	noErr(t, err)
	if len(l.Items) != 0 {
		t.Fatal("deleted rule still listed")
	}
}

func TestCompute_AddressesAndSubnetworks(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	// The kube API private endpoint and one ILB already hold addresses.
	s.AddForwardingRule(project, region, &compute.ForwardingRule{Name: "ilb-1", IPAddress: "10.132.0.2"})

	sn, err := a.compute.Subnetworks.Get(project, region, "default").Context(ctx).Do()
	noErr(t, err)
	if sn.GatewayAddress != "10.132.0.1" || sn.Region != "https://www.googleapis.com/compute/v1/projects/dev-orchestra/regions/europe-west1" {
		t.Fatalf("subnetwork: %+v", sn)
	}
	sl, err := a.compute.Subnetworks.List(project, region).Context(ctx).Do()
	noErr(t, err)
	if len(sl.Items) != 1 {
		t.Fatalf("subnetworks: %d", len(sl.Items))
	}
	net, err := a.compute.Networks.Get(project, "default").Context(ctx).Do()
	noErr(t, err)
	if len(net.Subnetworks) != 1 || net.Subnetworks[0] != sn.SelfLink || net.Peerings[0].State != "ACTIVE" {
		t.Fatalf("network: subnetworks %v, peering %+v", net.Subnetworks, net.Peerings[0])
	}

	op, err := a.compute.Addresses.Insert(project, region, &compute.Address{Name: "development-agent-ilb", AddressType: "INTERNAL",
		Subnetwork: "regions/europe-west1/subnetworks/default", Purpose: "SHARED_LOADBALANCER_VIP"}).Context(ctx).Do()
	noErr(t, err)
	if op.Region == "" || !strings.Contains(op.SelfLink, "/regions/europe-west1/operations/") {
		t.Fatalf("regional operation: %+v", op)
	}
	_, err = a.compute.RegionOperations.Wait(project, region, op.Name).Context(ctx).Do()
	noErr(t, err)
	addr, err := a.compute.Addresses.Get(project, region, "development-agent-ilb").Context(ctx).Do()
	noErr(t, err)
	if addr.Address != "10.132.0.3" || addr.Status != "RESERVED" {
		t.Fatalf("allocated %q (%s), want 10.132.0.3 RESERVED", addr.Address, addr.Status)
	}
	_, err = a.compute.Addresses.Insert(project, region, &compute.Address{Name: "taken", AddressType: "INTERNAL", Address: "10.132.0.2"}).Context(ctx).Do()
	apiErr(t, err, 400)

	// An address in use by a forwarding rule cannot be deleted.
	s.AddForwardingRule(project, region, &compute.ForwardingRule{Name: "dev-agent-fr", IPAddress: "10.132.0.3"})
	if got := s.Addresses(project, region); len(got) != 1 || got[0].Status != "IN_USE" || len(got[0].Users) != 1 {
		t.Fatalf("addresses: %+v", got)
	}
	_, err = a.compute.Addresses.Delete(project, region, "development-agent-ilb").Context(ctx).Do()
	apiErr(t, err, 400)
	s.DeleteForwardingRule(project, region, "dev-agent-fr")
	_, err = a.compute.Addresses.Delete(project, region, "development-agent-ilb").Context(ctx).Do()
	noErr(t, err)
	l, err := a.compute.Addresses.List(project, region).Context(ctx).Do()
	noErr(t, err)
	if len(l.Items) != 0 {
		t.Fatal("address still listed")
	}
}

// peeringRoutes lists the destination ranges exchanged over a peering in one direction.
func peeringRoutes(t *testing.T, a *apis, proj, network, peering, direction string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := a.compute.Networks.ListPeeringRoutes(proj, network).PeeringName(peering).Direction(direction).Region(region).
		Pages(ctxT(t), func(l *compute.ExchangedPeeringRoutesList) error {
			for _, r := range l.Items {
				out[r.DestRange] = true
				if direction == "INCOMING" && !r.Imported {
					t.Errorf("incoming route %s not marked imported", r.DestRange)
				}
			}
			return nil
		})
	noErr(t, err)
	return out
}

func TestCompute_PeeringRoutesFollowExportImport(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.PageSize = 1 // exercise pagination of listPeeringRoutes too

	out := peeringRoutes(t, a, project, "default", "peer-partner", "OUTGOING")
	if !out["10.132.0.0/20"] || out["172.16.0.0/24"] || out["0.0.0.0/0"] {
		t.Fatalf("before: outgoing %v; want the node subnet only", out)
	}
	in := peeringRoutes(t, a, partner, "partner-vpc", "peer-dev-orchestra", "INCOMING")
	if !in["10.132.0.0/20"] || in["172.16.0.0/24"] {
		t.Fatalf("before: partner incoming %v", in)
	}
	if in := peeringRoutes(t, a, project, "default", "peer-partner", "INCOMING"); !in["10.2.0.0/16"] {
		t.Fatalf("partner subnet not imported: %v", in)
	}

	// Export alone is not enough: the partner must import.
	_, err := a.compute.Networks.UpdatePeering(project, "default", &compute.NetworksUpdatePeeringRequest{
		NetworkPeering: &compute.NetworkPeering{Name: "peer-partner", ExportCustomRoutes: true}}).Context(ctx).Do()
	noErr(t, err)
	if out := peeringRoutes(t, a, project, "default", "peer-partner", "OUTGOING"); out["172.16.0.0/24"] {
		t.Fatalf("exported without import: %v", out)
	}
	_, err = a.compute.Networks.UpdatePeering(partner, "partner-vpc", &compute.NetworksUpdatePeeringRequest{
		NetworkPeering: &compute.NetworkPeering{Name: "peer-dev-orchestra", ImportCustomRoutes: true}}).Context(ctx).Do()
	noErr(t, err)
	out = peeringRoutes(t, a, project, "default", "peer-partner", "OUTGOING")
	if !out["172.16.0.0/24"] || !out["172.16.1.0/24"] || !out["10.132.0.0/20"] || out["0.0.0.0/0"] {
		t.Fatalf("after: outgoing %v; want node subnet and pod routes, no internet route", out)
	}
	in = peeringRoutes(t, a, partner, "partner-vpc", "peer-dev-orchestra", "INCOMING")
	if !in["172.16.0.0/24"] || !in["172.16.1.0/24"] {
		t.Fatalf("after: partner incoming %v", in)
	}
	n, _ := s.Network(project, "default")
	if !n.Peerings[0].ExportCustomRoutes || n.Peerings[0].ImportCustomRoutes {
		t.Fatalf("peering flags: %+v", n.Peerings[0])
	}

	// Undo: an explicit false (ForceSendFields) turns export off again; other flags stay.
	_, err = a.compute.Networks.UpdatePeering(project, "default", &compute.NetworksUpdatePeeringRequest{
		NetworkPeering: &compute.NetworkPeering{Name: "peer-partner", ExportCustomRoutes: false, ForceSendFields: []string{"ExportCustomRoutes"}}}).Context(ctx).Do()
	noErr(t, err)
	if out := peeringRoutes(t, a, project, "default", "peer-partner", "OUTGOING"); out["172.16.0.0/24"] {
		t.Fatalf("still exported after undo: %v", out)
	}

	// Bad requests.
	_, err = a.compute.Networks.ListPeeringRoutes(project, "default").PeeringName("nope").Direction("OUTGOING").Context(ctx).Do()
	apiErr(t, err, 404)
	_, err = a.compute.Networks.ListPeeringRoutes(project, "default").PeeringName("peer-partner").Direction("SIDEWAYS").Context(ctx).Do()
	apiErr(t, err, 400)
	_, err = a.compute.Networks.UpdatePeering(project, "default", &compute.NetworksUpdatePeeringRequest{
		NetworkPeering: &compute.NetworkPeering{Name: "nope", ExportCustomRoutes: true}}).Context(ctx).Do()
	apiErr(t, err, 404)
}

func TestCompute_UpdatePeeringWithStaleFingerprint(t *testing.T) {
	s, _ := newFake(t)
	seedDemoNetwork(s)
	url := s.URL + "/compute/v1/projects/dev-orchestra/global/networks/default/updatePeering"
	patch := func(body string) int {
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodPatch, url, bytes.NewBufferString(body))
		noErr(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		noErr(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	fp := s.NetworkFingerprint(project, "default")
	if fp == "" {
		t.Fatal("network has no fingerprint")
	}
	if code := patch(`{"networkPeering":{"name":"peer-partner","exportCustomRoutes":true},"fingerprint":"stale"}`); code != 412 {
		t.Fatalf("stale fingerprint: HTTP %d, want 412", code)
	}
	n, _ := s.Network(project, "default")
	if n.Peerings[0].ExportCustomRoutes || s.NetworkFingerprint(project, "default") != fp {
		t.Fatal("a rejected updatePeering changed the network")
	}
	if code := patch(`{"networkPeering":{"name":"peer-partner","exportCustomRoutes":true},"fingerprint":"` + fp + `"}`); code != 200 {
		t.Fatalf("current fingerprint: HTTP %d", code)
	}
	n, _ = s.Network(project, "default")
	if !n.Peerings[0].ExportCustomRoutes || s.NetworkFingerprint(project, "default") == fp {
		t.Fatal("updatePeering with the current fingerprint did not apply or did not change the fingerprint")
	}
	if code := patch(`{"networkPeering":{"name":"peer-partner","exportCustomRoutes":false},"fingerprint":"` + fp + `"}`); code != 412 {
		t.Fatalf("reused fingerprint: HTTP %d, want 412", code)
	}
}

func TestCompute_Routes(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	_, err := a.compute.Routes.Insert(project, &compute.Route{Name: "to-partner", Network: "global/networks/default",
		DestRange: "10.2.0.0/16", NextHopIp: "10.132.0.50"}).Context(ctx).Do()
	noErr(t, err)
	r, err := a.compute.Routes.Get(project, "to-partner").Context(ctx).Do()
	noErr(t, err)
	if r.Priority != 1000 || r.RouteType != "STATIC" {
		t.Fatalf("route: %+v", r)
	}
	_, err = a.compute.Routes.Insert(project, &compute.Route{Name: "bad", DestRange: "nope", NextHopIp: "10.0.0.1"}).Context(ctx).Do()
	apiErr(t, err, 400)
	l, err := a.compute.Routes.List(project).Filter(`destRange="172.16.*"`).Context(ctx).Do()
	noErr(t, err)
	if len(l.Items) != 2 {
		t.Fatalf("pod routes: %d", len(l.Items))
	}
	_, err = a.compute.Routes.Delete(project, "to-partner").Context(ctx).Do()
	noErr(t, err)
	if len(s.Routes(project)) != 3 {
		t.Fatalf("routes: %d", len(s.Routes(project)))
	}
}
