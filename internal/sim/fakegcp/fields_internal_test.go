package fakegcp

import (
	"encoding/json"
	"reflect"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

// TestSelectMembersIsSelectJSON: picking a struct's selected members without encoding the others
// answers what encoding the whole struct and pruning its JSON answers, for top-level, nested and
// repeated selections, empty members (omitempty) and members the struct lacks; and it declines *.
func TestSelectMembersIsSelectJSON(t *testing.T) {
	res := &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse{
		Firewalls: []*compute.Firewall{{Name: "a", Priority: 1000, SourceRanges: []string{"10.0.0.0/8"},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}, {Name: "b", Disabled: true}},
		FirewallPolicys: []*compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
			{Name: "eu-fw", Type: "NETWORK_REGIONAL", Rules: []*compute.FirewallPolicyRule{{Priority: 7, Action: "deny"}}}},
	}
	empty := &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse{}
	network := &compute.Network{Name: "default", AutoCreateSubnetworks: true, Mtu: 1460, Peerings: []*compute.NetworkPeering{{Name: "p", State: "ACTIVE"}}}
	for _, v := range []any{res, empty, network} {
		for _, fields := range []string{"firewallPolicys", "firewalls", "firewalls,firewallPolicys", "firewalls(name,allowed/ports)",
			"firewallPolicys/rules/priority", "nothing", "name,mtu,peerings(state)", "autoCreateSubnetworks", "peerings", "selfLink"} {
			sel, ok := parseFields(fields)
			if !ok {
				t.Fatalf("fields=%s does not parse", fields)
			}
			fast, ok := selectMembers(v, sel)
			if !ok {
				t.Fatalf("selectMembers declined %T fields=%s", v, fields)
			}
			slow, apiErr := selectJSON(v, sel)
			if apiErr != nil {
				t.Fatal(apiErr)
			}
			if a, b := roundTrip(t, fast), roundTrip(t, slow); !reflect.DeepEqual(a, b) {
				t.Errorf("%T fields=%s: picked %v, pruned %v", v, fields, a, b)
			}
		}
	}
	if sel, _ := parseFields("*"); sel != nil {
		if _, ok := selectMembers(res, sel); ok {
			t.Error("selectMembers took a * selection")
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
