package fixes

import (
	"strings"
	"testing"

	dns "google.golang.org/api/dns/v1"
)

func TestValidateOwnedZone(t *testing.T) {
	for _, tc := range []struct {
		zone, domain string
		ok           bool
	}{
		{DefaultOwnedZoneName, DefaultOwnedDomain, true},
		{"svc-internal", "svc.internal.example.com", true},
		{"Bad_Name", DefaultOwnedDomain, false},
		{DefaultOwnedZoneName, "internal.", false},             // a top-level domain
		{DefaultOwnedZoneName, "svc.cluster.local.", false},    // Kubernetes' domain: GKE's zone
		{DefaultOwnedZoneName, "http://x.example.com/", false}, // not a domain
		{"gke-x-0a1b2c3d-dns", "names.example.com.", false},    // GKE's naming
		{DefaultOwnedZoneName, "orchestra.example.", false},    // the cluster's additive domain
	} {
		err := ValidateOwnedZone(tc.zone, tc.domain, []string{"cluster.local.", "orchestra.example."})
		if (err == nil) != tc.ok {
			t.Errorf("ValidateOwnedZone(%q, %q) = %v, want ok=%v", tc.zone, tc.domain, err, tc.ok)
		}
	}
}

func TestNewEnvValue(t *testing.T) {
	p := OwnedZoneParams{Domain: "gkedoctor.internal"}
	p.defaults()
	e := EnvRef{Value: "http://development-agent.default.svc.cluster.local:80/x, https://environment-manager.default.svc.cluster.local,http://development-agent.default.svc.cluster.local.:8080",
		Hosts: map[string]string{"development-agent.default.svc.cluster.local": "development-agent.default", "environment-manager.default.svc.cluster.local": "environment-manager.default"}}
	want := "http://development-agent.default.gkedoctor.internal:80/x, https://environment-manager.default.gkedoctor.internal,http://development-agent.default.gkedoctor.internal:8080"
	if got := p.NewEnvValue(e); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A host that merely starts like another is left alone.
	e = EnvRef{Value: "http://api.example.com.evil.test/", Hosts: map[string]string{"api.example.com": "api.default"}}
	if got := p.NewEnvValue(e); got != e.Value {
		t.Fatalf("rewrote a different host: %s", got)
	}
}

func TestOwnedZonePlanParamsRoundTrip(t *testing.T) {
	p := OwnedZoneParams{Project: "p", Network: "default", Records: []OwnedRecord{{Label: "a.default", Service: "default/a", IP: "10.132.0.6"}}}
	plan := NewOwnedZonePlan(p)
	if plan.ID != OwnedZonePlanID(DefaultOwnedZoneName) || plan.Destructive || !plan.Reversible || plan.Apply == nil {
		t.Fatalf("plan %+v", plan)
	}
	got, ok := OwnedZoneParamsFor(plan.ID)
	if !ok || got.ZoneName != DefaultOwnedZoneName || got.Domain != DefaultOwnedDomain {
		t.Fatalf("params %+v %v", got, ok)
	}
	// The TUI edits the name and domain and rebuilds the plan.
	got.ZoneName, got.Domain = "names", "names.example.com"
	edited := NewOwnedZonePlan(got)
	if edited.ID != "create-private-zone/names" || !strings.Contains(edited.Diff, "+ a.default.names.example.com. 60 IN A 10.132.0.6") {
		t.Fatalf("edited plan: %s\n%s", edited.ID, edited.Diff)
	}
}

func TestDeleteForwardingZonePlanAsksTwice(t *testing.T) {
	z := &dns.ManagedZone{Name: "fwd", DnsName: "cluster.local.", Visibility: "private",
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{{NetworkUrl: "default"}}},
		ForwardingConfig:        &dns.ManagedZoneForwardingConfig{TargetNameServers: []*dns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: "34.118.224.10"}}}}
	p := NewDeleteForwardingZonePlan(DeleteForwardingZoneParams{Project: "p", Zone: z, Why: "a ClusterIP"})
	if !p.Destructive || !p.VPCWide || !p.NeedsConfirmation() || !p.Reversible || !p.Alternative || !strings.Contains(p.Affects, "network default") {
		t.Fatalf("plan %+v", p)
	}
}

func TestGuardZoneWrite(t *testing.T) {
	gke := &dns.ManagedZone{Name: "z", DnsName: "cluster.local.", Visibility: "private"}
	err := GuardZoneWrite(gke, "patch record x A", nil)
	if !IsZoneRefused(err) || !strings.Contains(err.Error(), "never writes") {
		t.Fatalf("GKE's domain: %v", err)
	}
	own := &dns.ManagedZone{Name: DefaultOwnedZoneName, DnsName: DefaultOwnedDomain, Visibility: "private", Labels: map[string]string{OwnedLabelKey: OwnedLabelValue}}
	if err := GuardZoneWrite(own, "patch record x A", nil); err != nil {
		t.Fatalf("owned zone: %v", err)
	}
	if err := GuardZoneWrite(nil, "patch", nil); err == nil {
		t.Fatal("a nil zone passed the guard")
	}
}
