package fakegcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// envelope is Google's error body.
type envelope struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Message string `json:"message"`
			Domain  string `json:"domain"`
			Reason  string `json:"reason"`
		} `json:"errors"`
		Details []map[string]any `json:"details"`
	} `json:"error"`
}

// rawDo sends one request straight to the handler and decodes an error envelope if there is one.
func rawDo(t testing.TB, h http.Handler, method, target, body string) (int, envelope) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatalf("bad target %q: %v", target, err)
	}
	req := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)),
		Host: "127.0.0.1", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var env envelope
	if rec.Code >= 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s: HTTP %d with a body that is not an envelope: %q", method, target, rec.Code, rec.Body.String())
		}
	}
	return rec.Code, env
}

func seedEverything(s *fakegcp.Server) {
	s.AddNetwork("p", &compute.Network{Name: "default", Peerings: []*compute.NetworkPeering{{Name: "peer", Network: "projects/q/global/networks/n"}}})
	s.AddNetwork("q", &compute.Network{Name: "n", Peerings: []*compute.NetworkPeering{{Name: "back", Network: "projects/p/global/networks/default"}}})
	s.AddSubnetwork("p", "r", &compute.Subnetwork{Name: "default", Network: "default", IpCidrRange: "10.0.0.0/24"})
	s.AddRoute("p", &compute.Route{Name: "rt", Network: "default", DestRange: "172.16.0.0/24", NextHopIp: "10.0.0.5"})
	s.AddFirewall("p", &compute.Firewall{Name: "fw", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}})
	s.AddForwardingRule("p", "r", &compute.ForwardingRule{Name: "fr", IPAddress: "10.0.0.6"})
	s.AddAddress("p", "r", &compute.Address{Name: "ad", AddressType: "INTERNAL", Address: "10.0.0.7", Subnetwork: "default"})
	s.AddManagedZone("p", &dns.ManagedZone{Name: "z", DnsName: "example.com."})
	_ = s.AddRRSet("p", "z", &dns.ResourceRecordSet{Name: "a.example.com.", Type: "A", Rrdatas: []string{"10.0.0.1"}})
	s.AddCluster("p", "l", &container.Cluster{Name: "c", NetworkConfig: &container.NetworkConfig{DnsConfig: &container.DNSConfig{ClusterDns: "CLOUD_DNS", ClusterDnsScope: "CLUSTER_SCOPE"}}})
	s.AddRunService("p", "l", &run.GoogleCloudRunV2Service{Name: "s"})
	s.AddConnector("p", "l", &vpcaccess.Connector{Name: "cn"})
	s.SetIamPolicy("p", &crm.Policy{Bindings: []*crm.Binding{{Role: "roles/viewer", Members: []string{"user:a@example.com"}}}})
}

var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// FuzzHandler feeds random requests to the handler: it must never panic, and every non-2xx answer
// must be a well-formed envelope whose code matches the status.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		m         uint8
		path, bod string
	}{
		{0, "/compute/v1/projects/p/global/networks/default", ""},
		{0, "/compute/v1/projects/p/global/networks/default/listPeeringRoutes?peeringName=peer&direction=OUTGOING", ""},
		{3, "/compute/v1/projects/p/global/networks/default/updatePeering", `{"networkPeering":{"name":"peer","exportCustomRoutes":true},"fingerprint":7}`},
		{3, "/compute/v1/projects/p/global/networks/default/updatePeering", `{"networkPeering":"x"}`},
		{1, "/compute/v1/projects/p/global/firewalls", `{"name":"a","allowed":[null]}`},
		{1, "/compute/v1/projects/p/global/firewalls", `{"name":"b","allowed":[{"IPProtocol":"tcp"}],"sourceRanges":["x"]}`},
		{3, "/compute/v1/projects/p/global/firewalls/fw", `{"allowed":null,"denied":[{"IPProtocol":"udp"}]}`},
		{2, "/compute/v1/projects/p/global/firewalls/fw", `[]`},
		{0, "/compute/v1/projects/p/regions/r/forwardingRules?filter=IPAddress%3D%2210.0.0.6%22", ""},
		{0, "/compute/v1/projects/p/regions/r/forwardingRules?filter=((((", ""},
		{0, "/compute/v1/projects/p/aggregated/forwardingRules?maxResults=-1", ""},
		{1, "/compute/v1/projects/p/regions/r/addresses", `{"name":"x","addressType":"INTERNAL","address":"300.1.1.1"}`},
		{1, "/compute/v1/projects/p/regions/r/addresses", `{"name":"y","addressType":"INTERNAL","subnetwork":"projects/p/regions/r/subnetworks/default"}`},
		{4, "/compute/v1/projects/p/regions/r/addresses/ad", ""},
		{1, "/compute/v1/projects/p/global/routes", `{"name":"r2","destRange":"10.9.0.0/16","nextHopIp":"10.0.0.9","priority":"x"}`},
		{1, "/compute/v1/projects/p/regions/r/operations/x/wait", ""},
		{0, "/dns/v1/projects/p/managedZones?pageToken=%00", ""},
		{1, "/dns/v1/projects/p/managedZones", `{"name":"z2","dnsName":"z2.example.com.","visibility":"private"}`},
		{1, "/dns/v1/projects/p/managedZones/z/rrsets", `{"name":"b.example.com.","type":"A","rrdatas":["1.2.3.4"]}`},
		{3, "/dns/v1/projects/p/managedZones/z/rrsets/a.example.com./A", `{"rrdatas":null,"ttl":-5}`},
		{4, "/dns/v1/projects/p/managedZones/z/rrsets/example.com./SOA", ""},
		{1, "/dns/v1/projects/p/managedZones/z/changes", `{"additions":[null],"deletions":[{}]}`},
		{4, "/dns/v1/projects/p/managedZones/z", ""},
		{0, "/v1/projects/p/locations/l/clusters/c", ""},
		{2, "/v1/projects/p/locations/l/clusters/c", `{"update":{"desiredDnsConfig":{"clusterDnsScope":"VPC_SCOPE"}}}`},
		{2, "/v1/projects/p/zones/l/clusters/c", `{"update":{"desiredMasterVersion":"1.31"}}`},
		{0, "/v1/projects/p/locations/-/clusters", ""},
		{3, "/v2/projects/p/locations/l/services/s", `{"etag":"x"}`},
		{3, "/v2/projects/p/locations/l/services/s?allowMissing=true", `{"template":{"revision":"bad"}}`},
		{1, "/v2/projects/p/locations/l/operations/x:wait", `{"timeout":"-1s"}`},
		{0, "/v1/projects/p/locations/l/connectors?pageSize=abc", ""},
		{1, "/v1/projects/p:getIamPolicy", ""},
		{1, "/v1/projects/p:setIamPolicy", `{"policy":{"bindings":[{"role":"roles/x","members":["nobody"]}]}}`},
		{1, "/v1/projects/p:setIamPolicy", `{"policy":{"etag":"ACAB"}}`},
		{1, "/v1/projects/p:testIamPermissions", `{"permissions":["a.b.c"]}`},
		{0, "/v1/projects/zz", ""},
		{0, "/%zz", ""},
		{5, "/", "\x00\xff"},
	}
	for _, sd := range seeds {
		f.Add(sd.m, sd.path, sd.bod)
	}
	s := fakegcp.New()
	defer s.Close()
	seedEverything(s)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, m uint8, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		code, env := rawDo(t, h, method, path, body)
		if code >= 300 {
			if env.Error.Code != code || env.Error.Message == "" || env.Error.Status == "" ||
				len(env.Error.Errors) != 1 || env.Error.Errors[0].Reason == "" {
				t.Fatalf("%s %s: HTTP %d with envelope %+v", method, path, code, env)
			}
		}
		if code >= 500 {
			t.Fatalf("%s %s (%q): HTTP %d %s — the fake broke", method, path, body, code, env.Error.Message)
		}
	})
}
