package fixes

import (
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// kubeClient is the Kubernetes client the reachability fixes use.
type kubeClient = kubernetes.Interface

// kubeOf returns the run's Kubernetes client, or why there is none.
func kubeOf(deps *Deps) (kubernetes.Interface, error) {
	if deps == nil || deps.Kube == nil {
		return nil, apierr.NotConfiguredf("gcloud container clusters get-credentials CLUSTER --location LOCATION", "no Kubernetes client to apply the fix with")
	}
	return deps.Kube, nil
}

// gcpOf returns the run's Google clients, or why there are none.
func gcpOf(deps *Deps) (*gcp.Clients, error) {
	if deps == nil || deps.GCP == nil {
		return nil, apierr.NotConfiguredf("gcloud auth application-default login", "no Google API client to apply the fix with")
	}
	return deps.GCP, nil
}
