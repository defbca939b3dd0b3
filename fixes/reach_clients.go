package fixes

import (
	"fmt"
	"sort"
	"strings"

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

// PointClient describes the client fix of clusterip-unreachable: set environment variables of a
// Cloud Run service from the address the check saw (a cluster name, a ClusterIP) to the internal load
// balancer's address.
type PointClient struct {
	ID      string
	Service string            // projects/P/locations/L/services/S
	Name    string            // S, for people
	Region  string            // L
	Project string            // P
	Env     map[string]string // variable → its value as the check saw it
	New     map[string]string // variable → the new value
	Why     string            // the description's explanation (what the address is, that it is not reserved)
}

// NewPointClientPlan builds the client fix: read the service, check every variable still holds what
// the check saw, PATCH with the service's etag and wait for the operation (a new revision). The
// journal keeps only the changed variables; undo writes the old values back the same way. Values with
// credentials in them are never touched (the caller offers advice instead).
func NewPointClientPlan(deps *Deps, o PointClient) *Plan {
	var names, diff, sets []string
	want := map[string][2]string{}
	for n := range o.New {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		want[n] = [2]string{o.Env[n], o.New[n]}
		diff = append(diff, fmt.Sprintf("- %s=%s\n+ %s=%s", n, o.Env[n], n, o.New[n]))
		sets = append(sets, n+"="+o.New[n])
	}
	p := &Plan{
		ID:            o.ID,
		Title:         fmt.Sprintf("Point Cloud Run %s at the internal load balancer (%s)", o.Name, strings.Join(sets, ", ")),
		Description:   o.Why + " Setting the variables rolls a new revision of the service; the application is not changed. Undo writes the old values back (another revision).",
		Diff:          strings.Join(diff, "\n") + "\n",
		Reversible:    true,
		Affects:       "a new revision of Cloud Run service " + o.Name + " takes the traffic",
		JudgedAgainst: []string{"Cloud Run " + o.Name + ": every request that reads " + strings.Join(names, ", ") + " (a new revision); its other variables and settings stay"},
		Commands: []string{fmt.Sprintf("gcloud run services update %s --region %s --project %s --update-env-vars %s",
			o.Name, o.Region, o.Project, dnsShellQuote(strings.Join(sets, ",")))},
	}
	var g *gcp.Clients
	if deps != nil {
		g = deps.GCP
	}
	setRunEnv(p, g, o.Service, want, sets)
	return p
}
