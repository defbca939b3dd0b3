package sim

import (
	appengine "google.golang.org/api/appengine/v1"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// Seed 003: an App Engine standard application calling a GKE API through the Serverless VPC Access
// connector and an internal load balancer ("GAE => GKE 内部通信"). The demo's app sits in europe-west
// (europe-west1, the connector's region) and calls the address the seed's author wrote down for the
// internal load balancer, 10.132.0.6, the first one GKE hands out: until clusterip-unreachable's fix
// creates that load balancer, the address belongs to nothing in the cluster; afterwards App Engine is
// one more client on the same connector, egress and firewall path.
const (
	AppEngineLocation = "europe-west"
	AppEngineService  = "frontend"
	AppEngineVersion  = "20251121t090000"
	AppEngineSA       = Project + "@appspot.gserviceaccount.com"
)

func seedAppEngine(g *fakegcp.Server) {
	g.AddApp(Project, AppEngineLocation)
	g.AddAppVersion(Project, AppEngineService, &appengine.Version{
		Id: AppEngineVersion, Runtime: "python312", Env: "standard", InstanceClass: "F1", ServiceAccount: AppEngineSA,
		CreatedBy:          DemoUser,
		AutomaticScaling:   &appengine.AutomaticScaling{MaxConcurrentRequests: 10},
		VpcAccessConnector: &appengine.VpcAccessConnector{Name: connectorName()}, // egress_setting: private-ip-ranges (the default)
		EnvVariables:       map[string]string{"API_URL": "http://" + FirstILBIP + ":80"},
	})
}
