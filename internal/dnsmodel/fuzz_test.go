package dnsmodel

import (
	"strings"
	"testing"

	dns "google.golang.org/api/dns/v1"

	"github.com/gkedoctor/gkedoctor/internal/model"
)

// FuzzPredict feeds arbitrary names, zone domains and record data (what the Cloud DNS API and the
// user hand us) to the model: it must never panic, and every prediction must say why.
func FuzzPredict(f *testing.F) {
	f.Add("development-agent.default.svc.cluster.local", "cluster.local.", "development-agent.default.svc.cluster.local.", "A", "34.118.231.33", "34.118.224.10")
	f.Add("x.gkedoctor.internal.", "gkedoctor.internal.", "*.gkedoctor.internal.", "CNAME", "x.gkedoctor.internal.", "")
	f.Add("..", ".", "", "", "", "::1")
	f.Add("a.b", "b", "a.b", "A", "not-an-ip", "10.0.0.1")
	f.Fuzz(func(t *testing.T, name, zoneName, rrName, rrType, rrData, target string) {
		zones := []*dns.ManagedZone{private("own", zoneName, netURL)}
		if target != "" {
			zones = append(zones, forwarding("fwd", zoneName, []string{target}, netURL))
		}
		m := newModel(seedCluster(model.ProviderCloudDNS, model.ScopeVPC, "", ""), zones, map[string][]*dns.ResourceRecordSet{
			"own": {{Name: rrName, Type: rrType, Rrdatas: strings.Split(rrData, ",")}},
		})
		p := m.Predict(name, "default")
		if p.Reason == "" {
			t.Fatalf("no reason for %q: %+v", name, p)
		}
		for _, z := range zones {
			_, _ = GKEManaged(z)
			_, _ = m.RecordIn(z, name)
		}
	})
}
