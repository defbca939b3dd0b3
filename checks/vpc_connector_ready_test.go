package checks

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// The fault matrix's gaps in vpc-connector-ready: a READY connector was a pass though the cluster
// (its network) or the cluster's Services (the client's targets) could not be read. Now the verdict
// is the skip naming what could not be read, and the connector's state stays in the evidence.

func forbidServiceList(w *reachWorld) {
	w.kube.(*kfake.Clientset).PrependReactor("list", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.NewForbidden(schema.GroupResource{Resource: "services"}, "",
			errorString(`User "oncall@example.com" cannot list resource "services" in API group "" at the cluster scope`))
	})
}

func TestVPCConnectorReadySkipsWhenTheClusterIsUnreadable(t *testing.T) {
	w := newReachWorld(t)
	if r := w.run(nil)["vpc-connector-ready"]; r.Status != Pass {
		t.Fatalf("baseline: %s", resultText(r))
	}
	w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathContains: "/clusters/", Permission: "container.clusters.get"})
	r := w.run(nil)["vpc-connector-ready"]
	if r.Status != Skip || !strings.Contains(r.Summary, "container.clusters.get") || !strings.Contains(r.Summary, "READY") {
		t.Fatalf("want a skip naming container.clusters.get that keeps the connector's state:\n%s", resultText(r))
	}
	if e := evidenceWith(r, "state of connector"); e == nil || e.Status != Pass {
		t.Fatalf("the connector's state is still evidence:\n%s", resultText(r))
	}
}

func TestVPCConnectorReadySkipsWhenTheServicesAreUnreadable(t *testing.T) {
	w := newReachWorld(t)
	forbidServiceList(w)
	r := w.run(nil)["vpc-connector-ready"]
	if r.Status != Skip || !strings.Contains(r.Summary, "RBAC list services") {
		t.Fatalf("want a skip naming RBAC list services:\n%s", resultText(r))
	}
}

// Reading the network (for the enforcement order of network firewall policies) is not needed when no
// such policy applies: a network that cannot be read then changes nothing, and the check passes on
// what it did read.
func TestVPCConnectorReadyDoesNotNeedTheNetworkWithoutNetworkPolicies(t *testing.T) {
	w := newReachWorld(t)
	w.srv.InjectFault(fakegcp.Fault{Method: "GET", PathRegexp: regexpMust(`/global/networks/default$`), Permission: "compute.networks.get"})
	env := w.env(true)
	r := runCheck(t, env, "vpc-connector-ready")
	if r.Status != Pass {
		t.Fatalf("want pass:\n%s", resultText(r))
	}
	for _, q := range w.srv.Requests() {
		if q.Method == "GET" && strings.HasSuffix(q.Path, "/global/networks/default") {
			t.Fatalf("the network was read though no network firewall policy applies: %s %s", q.Method, q.Path)
		}
	}
}
