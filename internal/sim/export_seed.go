package sim

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// SeedFakeGCP puts the demo world's Google side (seed 000 and 004: project dev-orchestra, its
// network, cluster, connector, Cloud Run services, zones, peering) into a fake server, for tests that
// drive gkedoctor against the fake without the rest of the demo world (the fault matrix).
func SeedFakeGCP(g *fakegcp.Server) error { return seedGCP(g) }

// SeedKubeObjects returns the demo world's Kubernetes objects, for tests that load them into a real
// kube-apiserver.
func SeedKubeObjects() ([]runtime.Object, error) {
	objs, _, err := seedKube()
	return objs, err
}
