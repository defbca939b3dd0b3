package fakegcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// TestPartialResponses: the fields parameter keeps only the selected members, through the real
// client (Fields on a call) and on the wire: top-level members, a/b, a(b,c), selections inside
// arrays, *; a malformed selection is a 400 before anything is done.
func TestPartialResponses(t *testing.T) {
	s, a := newFake(t)
	ctx := ctxT(t)
	seedDemoNetwork(s)
	s.AddFirewall(project, &compute.Firewall{Name: "allow-connector", Network: "default", Description: "the connector",
		SourceRanges: []string{"192.168.99.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}})
	s.AddFirewallPolicy(fakegcp.FirewallPolicy{Type: "NETWORK_REGIONAL", Name: "eu-fw", Project: project, Region: region, Networks: []string{"default"}, Priority: 1000,
		Rules: []*compute.FirewallPolicyRule{denyRule(20, "10.0.0.0/8")}})

	// Through the client: only the policies, each whole.
	r, err := a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "projects/"+project+"/global/networks/default").
		Fields("firewallPolicys").Context(ctx).Do()
	noErr(t, err)
	if len(r.Firewalls) != 0 {
		t.Errorf("fields=firewallPolicys still answered %d VPC rules", len(r.Firewalls))
	}
	if len(r.FirewallPolicys) != 1 || r.FirewallPolicys[0].Name != "eu-fw" || len(r.FirewallPolicys[0].Rules) != 1 ||
		r.FirewallPolicys[0].Rules[0].Match == nil || r.FirewallPolicys[0].Rules[0].Match.SrcIpRanges[0] != "10.0.0.0/8" {
		t.Errorf("the policies are not whole: %+v", r.FirewallPolicys)
	}
	// Without fields, everything.
	full, err := a.compute.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(project, region, "projects/"+project+"/global/networks/default").Context(ctx).Do()
	noErr(t, err)
	if len(full.Firewalls) == 0 || len(full.FirewallPolicys) != 1 {
		t.Fatalf("the full answer: %d rules, %d policies", len(full.Firewalls), len(full.FirewallPolicys))
	}

	// On the wire: nested selections.
	get := func(fields string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(s.URL + "/compute/v1/projects/" + project + "/global/networks/default/getEffectiveFirewalls?fields=" + fields)
		noErr(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if resp.StatusCode == http.StatusOK {
			noErr(t, json.Unmarshal(b, &m))
		}
		return resp.StatusCode, m
	}
	for _, tc := range []struct {
		fields string
		want   string
	}{
		{"firewalls(name,allowed/IPProtocol)", `{"firewalls":[{"allowed":[{"IPProtocol":"tcp"}],"name":"allow-connector"}]}`},
		{"firewalls/name", `{"firewalls":[{"name":"allow-connector"}]}`},
		{"firewalls(name),firewalls", ""}, // the whole member wins: checked below
		{"nothing", `{}`},
	} {
		code, m := get(tc.fields)
		if code != http.StatusOK {
			t.Fatalf("fields=%s: %d", tc.fields, code)
		}
		got, _ := json.Marshal(m)
		if tc.want == "" {
			fw := m["firewalls"].([]any)[0].(map[string]any)
			if fw["description"] != "the connector" {
				t.Errorf("fields=%s: %s", tc.fields, got)
			}
			continue
		}
		if string(got) != tc.want {
			t.Errorf("fields=%s: %s, want %s", tc.fields, got, tc.want)
		}
	}
	code, m := get("firewalls(*)")
	if fw := m["firewalls"].([]any)[0].(map[string]any); code != 200 || fw["description"] != "the connector" || fw["name"] != "allow-connector" {
		t.Errorf("fields=firewalls(*): %d %v", code, m)
	}
	// * beside a named member: the named one keeps its own selection, every time (not by map order).
	for range 20 {
		code, m := get("firewalls(*,allowed/ports)")
		fw := m["firewalls"].([]any)[0].(map[string]any)
		if got, _ := json.Marshal(fw["allowed"]); code != 200 || string(got) != `[{"ports":["80"]}]` || fw["name"] != "allow-connector" {
			t.Fatalf("fields=firewalls(*,allowed/ports): %d allowed %s, name %v", code, got, fw["name"])
		}
	}
	for _, bad := range []string{"firewalls(name", "firewalls)", ",", "a//b", "a()"} {
		if code, _ := get(bad); code != http.StatusBadRequest {
			t.Errorf("fields=%s: %d, want 400", bad, code)
		}
	}
	// The client sees the 400 as an error.
	_, err = a.compute.Networks.GetEffectiveFirewalls(project, "default").Fields(googleapi.Field("firewalls(")).Context(ctx).Do()
	if ge := apiErr(t, err, 400); ge == nil {
		t.Fatal("no error for a malformed selection")
	}
}
