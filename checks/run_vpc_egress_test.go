package checks

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The fault matrix's gap in run-vpc-egress: the client passed ("sends its targets through the VPC")
// though the cluster's Services, which decide where its packets go, could not be read.
func TestRunVPCEgressSkipsWhenTheServicesAreUnreadable(t *testing.T) {
	w := newReachWorld(t)
	if r := w.run(nil)["run-vpc-egress"]; r.Status != Pass {
		t.Fatalf("baseline: %s", resultText(r))
	}
	forbidServiceList(w)
	r := w.run(nil)["run-vpc-egress"]
	if r.Status != Skip || !strings.Contains(r.Summary, "RBAC list services") {
		t.Fatalf("want a skip naming RBAC list services:\n%s", resultText(r))
	}
	if e := evidenceWith(r, "address of target"); e == nil || e.Status != Skip {
		t.Fatalf("the unresolved target is evidence:\n%s", resultText(r))
	}
}

// The same for the internal Gateways and Ingresses that may expose a target (and decide its address).
func TestRunVPCEgressSkipsWhenTheIngressesAreUnreadable(t *testing.T) {
	w := newReachWorld(t)
	w.deleteService("default", "development-agent-ilb") // no L4 internal LB: the L7 exposures are read
	w.kube.(*kfake.Clientset).PrependReactor("list", "ingresses", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.NewForbidden(schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, "",
			errorString(`User "oncall@example.com" cannot list resource "ingresses" in API group "networking.k8s.io" at the cluster scope`))
	})
	rs := w.run(nil)
	for _, id := range []string{"run-vpc-egress", "vpc-connector-ready"} {
		if r := rs[id]; r.Status == Pass || !strings.Contains(r.Summary, "ingresses") {
			t.Errorf("%s: want no pass, naming ingresses:\n%s", id, resultText(r))
		}
	}
}
