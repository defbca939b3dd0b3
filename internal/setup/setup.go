// Package setup is what a first run needs when nothing is configured: what the kubeconfig holds, the
// projects, GKE clusters and Cloud Run services Application Default Credentials can list, the
// kubeconfig entry `gcloud container clusters get-credentials` would write for a cluster, and merging
// that entry into a kubeconfig file without losing anything (a backup first). The TUI's setup screen
// drives it; it has no user interface of its own.
package setup

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	container "google.golang.org/api/container/v1"
	run "google.golang.org/api/run/v2"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
)

// CallTimeout bounds each listing call (its pages included).
const CallTimeout = 20 * time.Second

// maxProjects caps projects.list: a person picks from a list, not from ten thousand rows.
const maxProjects = 500

// Context is one kubeconfig context.
type Context struct {
	Name, Cluster, User, Namespace, Server string
	Current                                bool
}

// Kubeconfig is what the kubeconfig files say.
type Kubeconfig struct {
	// Files are the kubeconfig files that exist, in the order kubectl reads them.
	Files []string
	// WritePath is the file a new entry is written to: the one kubectl and gcloud write to.
	WritePath string
	Contexts  []Context
	Current   string
	// Err is why the kubeconfig could not be read ("" files absent is not an error).
	Err error
}

// ReadKubeconfig reads the kubeconfig the loader names (kubectl's rules: --kubeconfig, $KUBECONFIG,
// ~/.kube/config). Absent files are not an error: the answer then has no contexts.
func ReadKubeconfig(loader clientcmd.ClientConfig) Kubeconfig {
	var k Kubeconfig
	if loader == nil {
		k.Err = errors.New("no kubeconfig loader")
		return k
	}
	access := loader.ConfigAccess()
	if access != nil {
		k.WritePath = access.GetDefaultFilename()
		for _, f := range access.GetLoadingPrecedence() {
			if fileExists(f) {
				k.Files = append(k.Files, f)
			}
		}
		if ef := access.GetExplicitFile(); ef != "" {
			k.WritePath = ef
		}
	}
	raw, err := loader.RawConfig()
	if err != nil {
		k.Err = err
		return k
	}
	k.Current = raw.CurrentContext
	for name, c := range raw.Contexts {
		ctx := Context{Name: name, Current: name == raw.CurrentContext}
		if c != nil {
			ctx.Cluster, ctx.User, ctx.Namespace = c.Cluster, c.AuthInfo, c.Namespace
			if cl := raw.Clusters[c.Cluster]; cl != nil {
				ctx.Server = cl.Server
			}
		}
		k.Contexts = append(k.Contexts, ctx)
	}
	sort.Slice(k.Contexts, func(i, j int) bool { return k.Contexts[i].Name < k.Contexts[j].Name })
	return k
}

// Project is a project the credentials can see.
type Project struct{ ID, Name string }

// ListProjects lists the active projects the credentials can see (projects.list, every page up to
// maxProjects), sorted by id. Errors are apierr-classified (a 403 names the permission).
func ListProjects(ctx context.Context, c *crm.Service) ([]Project, error) {
	if c == nil {
		return nil, errors.New("list projects: no Cloud Resource Manager client")
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var out []Project
	errEnough := errors.New("enough")
	err := c.Projects.List().Filter("lifecycleState:ACTIVE").PageSize(200).Pages(ctx, func(r *crm.ListProjectsResponse) error {
		for _, p := range r.Projects {
			if p == nil || p.ProjectId == "" {
				continue
			}
			out = append(out, Project{ID: p.ProjectId, Name: p.Name})
			if len(out) >= maxProjects {
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, gcp.MapWith(err, "list projects", "projects", "resourcemanager.projects.list")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Cluster is a GKE cluster with what a kubeconfig entry needs.
type Cluster struct {
	Project, Location, Name string
	Status                  string
	// Endpoint is the control plane's address (cluster.endpoint), CA its base64 PEM certificate.
	Endpoint, CA string
}

// ContextName is the name gcloud gives the cluster's kubeconfig entries: gke_PROJECT_LOCATION_CLUSTER.
func (c Cluster) ContextName() string { return "gke_" + c.Project + "_" + c.Location + "_" + c.Name }

// ListClusters lists the GKE clusters of project in every location (clusters.list with location "-"),
// sorted by location and name. Locations that did not answer are returned as missing.
func ListClusters(ctx context.Context, c *container.Service, project string) (clusters []Cluster, missing []string, err error) {
	if c == nil {
		return nil, nil, errors.New("list GKE clusters: no container client")
	}
	if project == "" {
		return nil, nil, errors.New("list GKE clusters: no project")
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	parent := "projects/" + project + "/locations/-"
	resp, err := c.Projects.Locations.Clusters.List(parent).Context(ctx).Do()
	if err != nil {
		return nil, nil, gcp.MapWith(err, "list GKE clusters", parent, "container.clusters.list")
	}
	for _, cl := range resp.Clusters {
		if cl == nil || cl.Name == "" {
			continue
		}
		x := Cluster{Project: project, Location: cl.Location, Name: cl.Name, Status: cl.Status, Endpoint: cl.Endpoint}
		if x.Location == "" {
			x.Location = cl.Zone
		}
		if cl.MasterAuth != nil {
			x.CA = cl.MasterAuth.ClusterCaCertificate
		}
		clusters = append(clusters, x)
	}
	sort.Slice(clusters, func(i, j int) bool {
		if clusters[i].Location != clusters[j].Location {
			return clusters[i].Location < clusters[j].Location
		}
		return clusters[i].Name < clusters[j].Name
	})
	return clusters, resp.MissingZones, nil
}

// RunService is a Cloud Run service a person may pick as the client to diagnose.
type RunService struct {
	// Name is the full resource name (projects/P/locations/L/services/S), what --cloud-run-service takes.
	Name, Short, URI string
	// VPC says how it reaches the VPC: "connector NAME", "direct VPC egress", or "" (no VPC access).
	VPC string
}

// ListRunServices lists the Cloud Run services of project in location (services.list, every page),
// sorted by name.
func ListRunServices(ctx context.Context, c *run.Service, project, location string) ([]RunService, error) {
	if c == nil {
		return nil, errors.New("list Cloud Run services: no Cloud Run client")
	}
	if project == "" || location == "" {
		return nil, errors.New("list Cloud Run services: no project or location")
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	parent := "projects/" + project + "/locations/" + location
	var out []RunService
	err := c.Projects.Locations.Services.List(parent).Pages(ctx, func(r *run.GoogleCloudRunV2ListServicesResponse) error {
		for _, s := range r.Services {
			if s == nil || s.Name == "" {
				continue
			}
			rs := RunService{Name: s.Name, Short: s.Name[strings.LastIndex(s.Name, "/")+1:], URI: s.Uri}
			if t := s.Template; t != nil && t.VpcAccess != nil {
				switch {
				case t.VpcAccess.Connector != "":
					rs.VPC = "connector " + t.VpcAccess.Connector[strings.LastIndex(t.VpcAccess.Connector, "/")+1:]
				case len(t.VpcAccess.NetworkInterfaces) > 0:
					rs.VPC = "direct VPC egress"
				}
			}
			out = append(out, rs)
		}
		return nil
	})
	if err != nil {
		return nil, gcp.MapWith(err, "list Cloud Run services", parent, "run.services.list")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RegionOf is the region of a location: a zone ("europe-west1-b") without its suffix, a region as is.
// Cloud Run services live in regions.
func RegionOf(location string) string {
	parts := strings.Split(location, "-")
	if len(parts) == 3 && len(parts[2]) == 1 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// AuthPlugin is the credential plugin gcloud's entries run (it reads the gcloud credentials).
const AuthPlugin = "gke-gcloud-auth-plugin"

// Entry builds the kubeconfig entries `gcloud container clusters get-credentials CLUSTER --location L
// --project P` writes: a cluster, a user and a context all named gke_P_L_C, the server
// https://ENDPOINT with the cluster's CA, the user running gke-gcloud-auth-plugin, and that context
// current.
func Entry(c Cluster) (*clientcmdapi.Config, error) {
	if c.Project == "" || c.Location == "" || c.Name == "" {
		return nil, errors.New("kubeconfig entry: the cluster's project, location and name are all needed")
	}
	if c.Endpoint == "" {
		return nil, fmt.Errorf("kubeconfig entry for %s: the cluster has no endpoint yet (status %s)", c.Name, c.Status)
	}
	if strings.ContainsAny(c.Endpoint, "/ \t\r\n") {
		return nil, fmt.Errorf("kubeconfig entry for %s: the endpoint %q is not a host", c.Name, c.Endpoint)
	}
	ca, err := base64.StdEncoding.DecodeString(c.CA)
	if err != nil || len(ca) == 0 {
		return nil, fmt.Errorf("kubeconfig entry for %s: masterAuth.clusterCaCertificate is not a base64 certificate", c.Name)
	}
	name := c.ContextName()
	cfg := clientcmdapi.NewConfig()
	cl := clientcmdapi.NewCluster()
	cl.Server = "https://" + c.Endpoint
	cl.CertificateAuthorityData = ca
	cfg.Clusters[name] = cl
	u := clientcmdapi.NewAuthInfo()
	u.Exec = &clientcmdapi.ExecConfig{
		APIVersion:         "client.authentication.k8s.io/v1beta1",
		Command:            AuthPlugin,
		InstallHint:        "Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
		ProvideClusterInfo: true,
		InteractiveMode:    clientcmdapi.IfAvailableExecInteractiveMode,
	}
	cfg.AuthInfos[name] = u
	cx := clientcmdapi.NewContext()
	cx.Cluster, cx.AuthInfo = name, name
	cfg.Contexts[name] = cx
	cfg.CurrentContext = name
	return cfg, nil
}

// GcloudCommand is the command that writes the same entry.
func GcloudCommand(c Cluster) string {
	return fmt.Sprintf("gcloud container clusters get-credentials %s --location %s --project %s", c.Name, c.Location, c.Project)
}

// EntryYAML renders an entry as the kubeconfig YAML it would add.
func EntryYAML(cfg *clientcmdapi.Config) (string, error) {
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("render kubeconfig entry: %w", err)
	}
	return string(b), nil
}
