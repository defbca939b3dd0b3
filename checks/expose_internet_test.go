package checks

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
	run "google.golang.org/api/run/v2"
	corev1 "k8s.io/api/core/v1"
)

// Item 6: a client that calls an external load balancer's public address on purpose uses the
// internet: judged as internet reachability (pass, or warn with the reason), never ilb-external. The
// Kubernetes side is pure logic here (a Service's status), the Google side the fake server.
func TestExternalLBCalledOverTheInternet(t *testing.T) {
	setup := func(t *testing.T, egress string, ranges ...string) *reachWorld {
		w := newReachWorld(t)
		ext := agentILB("34.140.0.9")
		ext.Name, ext.Annotations = "development-agent-public", nil
		ext.Spec.LoadBalancerSourceRanges = ranges
		w.putService(ext)
		w.setRun(wRegion, func(s *run.GoogleCloudRunV2Service) {
			s.Template.VpcAccess.Egress = egress
			s.Template.Containers[0].Env[0].Value = "https://34.140.0.9:80/api"
		})
		return w
	}
	t.Run("private ranges only: straight to the internet", func(t *testing.T) {
		rs := setup(t, "PRIVATE_RANGES_ONLY").run(nil)
		r := rs["clusterip-unreachable"]
		if r.Status != Pass || r.Cause != "" || !strings.Contains(r.Summary, "calls the external load balancer default/development-agent-public at 34.140.0.9:80, a public address, over the internet") {
			t.Fatalf("%s", dump(rs))
		}
		if ilb := rs["ilb-provisioned"]; ilb.Status != Skip || ilb.Cause != "not-applicable" {
			t.Fatalf("ilb-provisioned judged an internet path: %s", dump(rs))
		}
		if len(r.Fixes) != 0 {
			t.Fatalf("fixes %v", fixIDs(r))
		}
	})
	t.Run("all traffic without Cloud NAT: warn", func(t *testing.T) {
		rs := setup(t, "ALL_TRAFFIC").run(nil)
		r := rs["clusterip-unreachable"]
		if r.Status != Warn || r.Cause != "external-lb-over-internet" || !strings.Contains(r.Summary, "no way out") {
			t.Fatalf("%s", dump(rs))
		}
	})
	t.Run("all traffic with Cloud NAT: pass", func(t *testing.T) {
		w := setup(t, "ALL_TRAFFIC")
		w.srv.AddRouter(wProject, wRegion, &compute.Router{Name: "nat-router", Network: "default",
			Nats: []*compute.RouterNat{{Name: "nat", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES", NatIpAllocateOption: "AUTO_ONLY"}}})
		rs := w.run(nil)
		if r := rs["clusterip-unreachable"]; r.Status != Pass || !strings.Contains(r.Summary, "leaves it through") {
			t.Fatalf("%s", dump(rs))
		}
	})
	t.Run("source ranges Cloud Run's direct egress is not in: warn", func(t *testing.T) {
		rs := setup(t, "PRIVATE_RANGES_ONLY", "203.0.113.0/24").run(nil)
		if r := rs["clusterip-unreachable"]; r.Status != Warn || r.Cause != "external-lb-over-internet" || !strings.Contains(r.Summary, "203.0.113.0/24") {
			t.Fatalf("%s", dump(rs))
		}
	})
	t.Run("a cluster name with only an external LB is still ilb-external", func(t *testing.T) {
		w := newReachWorld(t)
		w.deleteService("default", "development-agent-ilb")
		ext := agentILB("34.140.0.9")
		ext.Annotations = nil
		ext.Name = "development-agent-public"
		w.putService(ext)
		rs := w.run(nil)
		if r := rs["clusterip-unreachable"]; r.Status != Fail || r.Cause != "ilb-external" {
			t.Fatalf("%s", dump(rs))
		}
	})
	var _ corev1.Service
}
