package inventory

import (
	"context"

	"k8s.io/apimachinery/pkg/version"

	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// Facts the reachability checks (clusterip-unreachable and its supporting checks) need beyond the
// shared getters.

// KeyServerVersion is the memo key of ServerVersion.
const KeyServerVersion = "k8s/version"

// ServerVersion returns the Kubernetes API server's version (GET /version). The reachability fix
// uses it to pick the internal load-balancer annotation key when the container API cannot be read.
func (i *Inventory) ServerVersion(ctx context.Context) (*version.Info, error) {
	return Memo(ctx, i, KeyServerVersion, func(ctx context.Context) (*version.Info, error) {
		k, err := i.Kube()
		if err != nil {
			return nil, err
		}
		v, err := k.Discovery().ServerVersion()
		return v, kube.Map(err, "get server version", "/version")
	})
}
