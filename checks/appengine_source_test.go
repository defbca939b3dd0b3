package checks

import (
	"context"
	"strings"
	"testing"

	appengine "google.golang.org/api/appengine/v1"
	compute "google.golang.org/api/compute/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// App Engine standard as a client (seed 003) through the real appengine client against the fake:
// the reachability checks take its versions with a connector as sources, with the same connector,
// egress and firewall reasoning as Cloud Run, and App Engine's own egress setting.

const (
	aeService = "frontend"
	aeVersion = "v1"
	aeName    = aeService + "/" + aeVersion
)

// withAppEngine adds the application (in europe-west, i.e. europe-west1) and a serving standard
// version that calls the internal LB through the demo connector, with App Engine's default egress.
func withAppEngine(w *reachWorld, mutate func(v *appengine.Version)) {
	w.srv.AddApp(wProject, "europe-west")
	v := &appengine.Version{Id: aeVersion, Runtime: "python312", ServiceAccount: wProject + "@appspot.gserviceaccount.com",
		VpcAccessConnector: &appengine.VpcAccessConnector{Name: connectorName(wRegion)},
		EnvVariables:       map[string]string{"API_URL": "http://" + wILBIP + ":80"}}
	if mutate != nil {
		mutate(v)
	}
	w.srv.AddAppVersion(wProject, aeService, v)
}

func stepFor(r Result, prefix string) *Evidence {
	for i, e := range r.Evidence {
		if strings.HasPrefix(e.Step, prefix) {
			return &r.Evidence[i]
		}
	}
	return nil
}

func TestAppEngineSourceBaseline(t *testing.T) {
	w := newReachWorld(t)
	withAppEngine(w, nil)
	// A stopped version, a flexible one and one without a connector are not discovered.
	w.srv.AddAppVersion(wProject, aeService, &appengine.Version{Id: "v0", ServingStatus: "STOPPED", VpcAccessConnector: &appengine.VpcAccessConnector{Name: connectorName(wRegion)}})
	w.srv.AddAppVersion(wProject, "flex", &appengine.Version{Id: "f1", Env: "flexible", VpcAccessConnector: &appengine.VpcAccessConnector{Name: connectorName(wRegion)}})
	w.srv.AddAppVersion(wProject, "plain", &appengine.Version{Id: "p1"})
	rs := w.run(nil)
	for _, id := range reachIDs {
		if rs[id].Status != Pass && !reachable(rs[id]) {
			t.Fatalf("%s: %s%s", id, rs[id].Status, dump(rs))
		}
	}
	eg := rs["run-vpc-egress"]
	if e := stepFor(eg, "egress setting of App Engine frontend/v1 (europe-west1)"); e == nil || !strings.Contains(e.Detail, "egress PRIVATE_IP_RANGES (the default): every target address is in RFC 1918 ranges") ||
		!strings.Contains(e.Command, "gcloud app versions describe v1 --service frontend --project dev-orchestra") {
		t.Fatalf("App Engine egress evidence%s", dump(rs))
	}
	if strings.Contains(dump(rs), "v0") || strings.Contains(dump(rs), "flex/") || strings.Contains(dump(rs), "plain/") {
		t.Fatalf("a version without a connector, stopped or flexible was taken as a source%s", dump(rs))
	}
	if !hasStep(rs["clusterip-unreachable"], "verdict for default/development-agent-ilb", Pass, "App Engine frontend/v1 reaches default/development-agent-ilb at 10.132.0.6:80") {
		t.Fatalf("clusterip-unreachable did not judge the App Engine client%s", dump(rs))
	}
	if e := stepFor(rs["firewall-serverless-to-nodes"], "firewall tcp:80"); e == nil {
		t.Fatalf("no firewall evidence%s", dump(rs))
	}
}

func TestAppEngineSourceCauses(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(w *reachWorld)
		targets   Targets
		id        string
		status    Status
		cause     string
		summary   string
		fix       string
		advice    bool
		noCRFixes bool
	}{
		{
			name: "connector ERROR",
			setup: func(w *reachWorld) {
				withAppEngine(w, nil)
				if err := w.srv.SetConnectorState(wProject, wRegion, wConnector, "ERROR"); err != nil {
					t.Fatal(err)
				}
			},
			id: "vpc-connector-ready", status: Fail, cause: "connector-not-ready", summary: "used by App Engine frontend/v1 (europe-west1) is in ERROR",
		},
		{
			name: "connector CREATING",
			setup: func(w *reachWorld) {
				withAppEngine(w, nil)
				_ = w.srv.SetConnectorState(wProject, wRegion, wConnector, "CREATING")
			},
			targets: Targets{AppEngineService: aeName},
			id:      "clusterip-unreachable", status: Warn, cause: "connector-not-ready", summary: "App Engine frontend/v1 (europe-west1) is CREATING",
		},
		{
			name: "connector deleted",
			setup: func(w *reachWorld) {
				withAppEngine(w, func(v *appengine.Version) {
					v.VpcAccessConnector.Name = "projects/" + wProject + "/locations/" + wRegion + "/connectors/gone"
				})
			},
			targets: Targets{AppEngineService: aeService},
			id:      "clusterip-unreachable", status: Fail, cause: "connector-not-ready", summary: "connector gone used by App Engine frontend/v1 (europe-west1) does not exist",
		},
		{
			name:    "no connector (named)",
			setup:   func(w *reachWorld) { withAppEngine(w, func(v *appengine.Version) { v.VpcAccessConnector = nil }) },
			targets: Targets{AppEngineService: aeName},
			id:      "clusterip-unreachable", status: Fail, cause: "no-vpc-access", summary: "App Engine frontend/v1 (europe-west1) has no VPC access",
			fix: "vpc-access/dev-orchestra/frontend/v1", advice: true,
		},
		{
			name: "private-ip-ranges with a PUPI internal LB",
			setup: func(w *reachWorld) {
				withAppEngine(w, func(v *appengine.Version) { v.EnvVariables = map[string]string{"API_URL": "http://34.118.16.5:80"} })
				w.putService(agentILB("34.118.16.5"))
				w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "34.118.16.5", LoadBalancingScheme: "INTERNAL"})
			},
			targets: Targets{AppEngineService: aeName},
			id:      "clusterip-unreachable", status: Fail, cause: "egress-private-ranges-only",
			summary: "App Engine frontend/v1 (europe-west1) has egress PRIVATE_IP_RANGES, so its packets to 34.118.16.5:80", fix: "appengine-egress-all-traffic/dev-orchestra/frontend/v1", advice: true,
		},
		{
			// RFC 6598: Cloud Run's PRIVATE_RANGES_ONLY covers it, App Engine's PRIVATE_IP_RANGES (RFC 1918) does not.
			name: "private-ip-ranges with an RFC 6598 internal LB",
			setup: func(w *reachWorld) {
				withAppEngine(w, func(v *appengine.Version) { v.EnvVariables = map[string]string{"API_URL": "http://100.64.0.5:80"} })
				w.putService(agentILB("100.64.0.5"))
				w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "100.64.0.5", LoadBalancingScheme: "INTERNAL"})
			},
			targets: Targets{AppEngineService: aeName},
			id:      "run-vpc-egress", status: Fail, cause: "egress-private-ranges-only", summary: "(outside RFC 1918)",
		},
		{
			name: "all-traffic with a PUPI internal LB",
			setup: func(w *reachWorld) {
				withAppEngine(w, func(v *appengine.Version) {
					v.EnvVariables = map[string]string{"API_URL": "http://34.118.16.5:80"}
					v.VpcAccessConnector.EgressSetting = AppEngineAllTraffic
				})
				w.putService(agentILB("34.118.16.5"))
				w.srv.AddForwardingRule(wProject, wRegion, &compute.ForwardingRule{Name: "a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e", IPAddress: "34.118.16.5", LoadBalancingScheme: "INTERNAL"})
			},
			targets: Targets{AppEngineService: aeName},
			id:      "run-vpc-egress", status: Pass,
		},
		{
			name: "calls the ClusterIP",
			setup: func(w *reachWorld) {
				withAppEngine(w, func(v *appengine.Version) { v.EnvVariables = map[string]string{"API_URL": "http://34.118.231.33:80"} })
			},
			targets: Targets{AppEngineService: aeName},
			id:      "clusterip-unreachable", status: Fail, cause: "target-is-clusterip", summary: "App Engine frontend/v1 calls the ClusterIP 34.118.231.33:80",
			fix: "point-client-at-ilb/dev-orchestra/frontend/v1/API_URL", advice: true,
		},
		{
			name: "firewall missing",
			setup: func(w *reachWorld) {
				withAppEngine(w, nil)
				deleteFirewall(t, w, "k8s-fw-a8d3f0c2e1b94a7c9d6e5f4a3b2c1d0e")
			},
			targets: Targets{AppEngineService: aeName},
			id:      "clusterip-unreachable", status: Fail, cause: "firewall-blocks-serverless",
			fix: "create-firewall/dev-orchestra/allow-serverless-to-dev-orchestra-cluster-80-f29b49",
		},
		{
			name:    "named version does not exist",
			setup:   func(w *reachWorld) { withAppEngine(w, nil) },
			targets: Targets{AppEngineService: aeService + "/v9"},
			id:      "run-vpc-egress", status: Skip, cause: "not-found", summary: "apps/dev-orchestra/services/frontend/versions/v9",
		},
		{
			name: "discovery unreadable: Cloud Run still analysed",
			setup: func(w *reachWorld) {
				withAppEngine(w, nil)
				w.srv.InjectFault(fakegcp.Fault{PathContains: "/apps/", Permission: "appengine.services.list"})
			},
			id: "run-vpc-egress", status: Pass, summary: "1 client(s)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newReachWorld(t)
			tc.setup(w)
			w.targets = tc.targets
			rs := w.run(nil)
			r := rs[tc.id]
			if r.Status != tc.status || r.Cause != tc.cause || !strings.Contains(r.Summary, tc.summary) {
				t.Fatalf("%s: got %s [%s] %s%s", tc.id, r.Status, r.Cause, r.Summary, dump(rs))
			}
			if tc.fix != "" {
				p := planByID(t, r, tc.fix)
				if p.Advice != tc.advice {
					t.Fatalf("fix %s advice %v", tc.fix, p.Advice)
				}
			}
			for _, p := range rs["clusterip-unreachable"].Fixes {
				if strings.Contains(strings.Join(p.Commands, "\n"), "gcloud run services update frontend") {
					t.Fatalf("a Cloud Run command for an App Engine version: %s", p.Commands)
				}
			}
		})
	}
}

// The connector advice names the App Engine versions that use the connector with their app.yaml
// change, beside the Cloud Run services' commands.
func TestAppEngineConnectorAdvice(t *testing.T) {
	w := newReachWorld(t)
	withAppEngine(w, nil)
	_ = w.srv.SetConnectorState(wProject, wRegion, wConnector, "ERROR")
	rs := w.run(nil)
	p := planByID(t, rs["vpc-connector-ready"], "replace-connector/europe-west1/my-vpc-connector")
	cmds := strings.Join(p.Commands, "\n")
	if !strings.Contains(p.Title, "gke-connectivity-tester4, frontend/v1") || !strings.Contains(cmds, "gcloud run services update gke-connectivity-tester4") ||
		!strings.Contains(cmds, "# App Engine frontend/v1 (service frontend): vpc_access_connector.name: projects/dev-orchestra/locations/europe-west1/connectors/my-vpc-connector-2") {
		t.Fatalf("advice %s\n%s", p.Title, cmds)
	}
}

// --app-engine-service SERVICE takes the versions the traffic split serves.
func TestAppEngineNamedServiceFollowsTraffic(t *testing.T) {
	w := newReachWorld(t)
	withAppEngine(w, nil)
	w.srv.AddAppVersion(wProject, aeService, &appengine.Version{Id: "v2", VpcAccessConnector: &appengine.VpcAccessConnector{Name: connectorName(wRegion), EgressSetting: AppEngineAllTraffic},
		EnvVariables: map[string]string{"API_URL": "http://" + wILBIP}})
	w.srv.SetAppTraffic(wProject, aeService, map[string]float64{"v2": 1})
	w.targets = Targets{AppEngineService: aeService}
	env := w.env(true)
	p, err := DiscoverPath(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sources) != 1 || p.Sources[0].Name != "frontend/v2" || p.Sources[0].Kind != KindAppEngine || p.Sources[0].EffectiveEgress() != AppEngineAllTraffic {
		t.Fatalf("sources %+v", p.Sources)
	}
}

func TestParseAppEngineRef(t *testing.T) {
	for in, want := range map[string][2]string{"default": {"default", ""}, "default/v1": {"default", "v1"}, "/api/20251121t090000/": {"api", "20251121t090000"}} {
		s, v, err := ParseAppEngineRef(in)
		if err != nil || s != want[0] || v != want[1] {
			t.Errorf("%q: %q %q %v", in, s, v, err)
		}
	}
	for _, bad := range []string{"", "/", "a/b/c", "a//b"} {
		if _, _, err := ParseAppEngineRef(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if AppEngineRegion("europe-west") != "europe-west1" || AppEngineRegion("us-central") != "us-central1" || AppEngineRegion("asia-northeast1") != "asia-northeast1" {
		t.Error("region mapping")
	}
}
