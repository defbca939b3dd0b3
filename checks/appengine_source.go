package checks

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"

	appengine "google.golang.org/api/appengine/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// App Engine standard as a VPC client (FAILURE-MODES §1, cause 7; seed 003): a version with
// vpcAccessConnector {name, egressSetting} reaches the VPC through that Serverless VPC Access connector,
// exactly as a Cloud Run service with a connector does, so the reachability checks take it as a Source
// with the same connector, egress and firewall reasoning. Two differences: the egress setting's names
// (ALL_TRAFFIC, PRIVATE_IP_RANGES; unspecified means PRIVATE_IP_RANGES, app.yaml's default
// private-ip-ranges), which the App Engine API documents as RFC 1918 only; and versions are immutable,
// so every change is a redeploy with an edited app.yaml — advice, never applied by the tool.

// Source kinds.
const (
	KindCloudRun  = "cloud-run"
	KindAppEngine = "app-engine"
)

// App Engine egress settings (appengine v1 VpcAccessConnector.egressSetting).
const (
	AppEngineAllTraffic      = "ALL_TRAFFIC"
	AppEnginePrivateIPRanges = "PRIVATE_IP_RANGES"
)

// ParseAppEngineRef splits --app-engine-service S[/VERSION].
func ParseAppEngineRef(ref string) (service, version string, err error) {
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	switch {
	case len(parts) == 1 && appEngineIDRE().MatchString(parts[0]):
		return parts[0], "", nil
	case len(parts) == 2 && appEngineIDRE().MatchString(parts[0]) && appEngineIDRE().MatchString(parts[1]):
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%q is not SERVICE or SERVICE/VERSION (lowercase letters, digits and hyphens, at most 63 each)", ref)
}

// appEngineIDRE is an App Engine service or version id.
var appEngineIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

// AppEngineRegion maps an App Engine location id to its Compute region: "us-central" and
// "europe-west" are us-central1 and europe-west1 (App Engine's two legacy ids); the others are
// region names already.
func AppEngineRegion(locationID string) string {
	switch locationID {
	case "us-central", "europe-west":
		return locationID + "1"
	}
	return locationID
}

// appEngineSourceOf describes one App Engine version as a Source.
func appEngineSourceOf(project, region, service string, v *appengine.Version) Source {
	src := Source{Kind: KindAppEngine, Project: project, Location: region, Name: service + "/" + v.Id,
		FullName: "apps/" + project + "/services/" + service + "/versions/" + v.Id, ServiceAccount: v.ServiceAccount, Version: v}
	if c := v.VpcAccessConnector; c != nil && c.Name != "" {
		src.Connector, src.Egress = c.Name, c.EgressSetting
		if !strings.Contains(c.Name, "/") {
			src.Connector = fmt.Sprintf("projects/%s/locations/%s/connectors/%s", project, region, c.Name)
		}
	}
	var names []string
	for k := range v.EnvVariables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		src.URLs = append(src.URLs, ExtractURLs(n, v.EnvVariables[n])...)
	}
	return src
}

// isStandardServing reports whether a version runs in the standard environment and serves.
func isStandardServing(v *appengine.Version) bool {
	return (v.Env == "" || v.Env == "standard") && (v.ServingStatus == "" || v.ServingStatus == "SERVING")
}

// appEngineRegionOf reads the application's location (its region), once per run.
func appEngineRegionOf(ctx context.Context, env *Env, project string) (string, error) {
	app, err := env.Inv.AppEngineApp(ctx, project)
	if err != nil {
		return "", err
	}
	return AppEngineRegion(app.LocationId), nil
}

// namedAppEngineSources resolves --app-engine-service: SERVICE/VERSION is that version; SERVICE alone
// is the versions its traffic split sends traffic to (else every serving version).
func namedAppEngineSources(ctx context.Context, env *Env) ([]Source, error) {
	project := env.Inv.Scope.Project
	if project == "" {
		return nil, apierr.NotConfiguredf("--project PROJECT (or a gke_PROJECT_LOCATION_CLUSTER context)", "no Google Cloud project for --app-engine-service")
	}
	service, version, err := ParseAppEngineRef(env.Targets.AppEngineService)
	if err != nil {
		return nil, err
	}
	region, err := appEngineRegionOf(ctx, env, project)
	if err != nil {
		return nil, fmt.Errorf("read the App Engine application of %s: %w", project, err)
	}
	if version != "" {
		v, err := env.Inv.AppEngineVersion(ctx, project, service, version)
		if err != nil {
			return nil, fmt.Errorf("read App Engine version %s/%s: %w", service, version, err)
		}
		return []Source{appEngineSourceOf(project, region, service, v)}, nil
	}
	svc, err := env.Inv.AppEngineService(ctx, project, service)
	if err != nil {
		return nil, fmt.Errorf("read App Engine service %s: %w", service, err)
	}
	vs, err := env.Inv.AppEngineVersions(ctx, project, service)
	if err != nil {
		return nil, fmt.Errorf("list the versions of App Engine service %s: %w", service, err)
	}
	var out, serving []Source
	for _, v := range vs {
		if !isStandardServing(v) {
			continue
		}
		s := appEngineSourceOf(project, region, service, v)
		serving = append(serving, s)
		if svc.Split != nil && svc.Split.Allocations[v.Id] > 0 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = serving
	}
	if len(out) == 0 {
		return nil, &apierr.Error{Kind: apierr.NotFound, Op: "find a serving standard version of App Engine service", Resource: service,
			Err: fmt.Errorf("no version of %s is serving in the standard environment", service)}
	}
	return out, nil
}

// discoverAppEngineSources finds every serving standard version with a VPC connector in the project.
// A project without an application has none; what could not be read is returned as a note, never as a
// failure of discovery (the Cloud Run sources are still analysed).
func discoverAppEngineSources(ctx context.Context, env *Env) ([]Source, []string) {
	project := env.Inv.Scope.Project
	if project == "" {
		return nil, nil
	}
	svcs, err := env.Inv.AppEngineServices(ctx, project)
	if apierr.KindOf(err) == apierr.NotFound {
		return nil, nil // no App Engine application in the project
	}
	if err != nil {
		return nil, []string{"could not list App Engine services (App Engine clients were not analysed; name one with --app-engine-service): " + err.Error()}
	}
	if len(svcs) == 0 {
		return nil, nil
	}
	region, err := appEngineRegionOf(ctx, env, project)
	if err != nil {
		return nil, []string{"could not read the App Engine application's region: " + err.Error()}
	}
	var out []Source
	var notes []string
	for _, s := range svcs {
		vs, err := env.Inv.AppEngineVersions(ctx, project, s.Id)
		if err != nil {
			notes = append(notes, fmt.Sprintf("could not list the versions of App Engine service %s: %v", s.Id, err))
			continue
		}
		for _, v := range vs {
			if isStandardServing(v) && v.VpcAccessConnector != nil && v.VpcAccessConnector.Name != "" {
				out = append(out, appEngineSourceOf(project, region, s.Id, v))
			}
		}
	}
	return out, notes
}

// sendsThroughVPC reports whether the source's egress setting sends packets for a into the VPC.
func (s Source) sendsThroughVPC(a netip.Addr) bool {
	switch {
	case s.EffectiveEgress() == "ALL_TRAFFIC":
		return true
	case s.Kind == KindAppEngine:
		return model.IsRFC1918(a)
	}
	return model.IsPrivate(a)
}

// privateRangesText names the ranges the source's private-only egress setting covers.
func (s Source) privateRangesText() string {
	if s.Kind == KindAppEngine {
		return "RFC 1918"
	}
	return "RFC 1918 / RFC 6598"
}

// App Engine versions are immutable: a change of connector, egress or environment is a new deployment
// of the version with an edited app.yaml. The tool cannot redeploy the application's code, so each of
// these is advice with the app.yaml lines and the commands; undo is deploying the previous app.yaml
// again (or sending traffic back to the old version, which stays).

func appEngineDeploy(src *Source) string {
	svc, ver, _ := strings.Cut(src.Name, "/")
	return fmt.Sprintf("gcloud app deploy app.yaml --project %s --version %s-vpc --no-promote   # service %s; then: gcloud app services set-traffic %s --splits %s-vpc=1 --project %s", src.ProjectID(), ver, svc, svc, ver, src.ProjectID())
}

func appEngineUndo(src *Source) string {
	svc, ver, _ := strings.Cut(src.Name, "/")
	return fmt.Sprintf("gcloud app services set-traffic %s --splits %s=1 --project %s   # undo: the old version still exists", svc, ver, src.ProjectID())
}

// appEngineEgressAdvice: egress_setting all-traffic so non-RFC 1918 targets go through the connector.
func appEngineEgressAdvice(src *Source) *fixes.Plan {
	return &fixes.Plan{
		ID:    "appengine-egress-all-traffic/" + src.ProjectID() + "/" + src.Name,
		Title: fmt.Sprintf("Send all egress of App Engine %s through its connector (egress_setting: all-traffic)", src.Name),
		Description: "App Engine's private-ip-ranges egress (the default) only sends RFC 1918 destinations through the connector. " +
			"Set egress_setting: all-traffic under vpc_access_connector in app.yaml and deploy a new version; reaching the internet then needs Cloud NAT on the network.",
		Advice: true, Reversible: true,
		JudgedAgainst: []string{"all egress of the new version of App Engine " + src.Name + " through connector " + src.Connector + ": its internet egress then needs Cloud NAT on the connector's network (not read for App Engine)"},
		Diff:          fixes.Diff("vpc_access_connector:\n  name: "+src.Connector+"\n", "vpc_access_connector:\n  name: "+src.Connector+"\n  egress_setting: all-traffic\n"),
		Commands:      []string{appEngineDeploy(src), appEngineUndo(src)},
	}
}

// appEngineConnectorAdvice: a connector in the cluster's network, named in app.yaml.
func appEngineConnectorAdvice(src *Source, cf *model.Cluster, kind string) *fixes.Plan {
	network := orPlaceholder(cf.NetworkName(), "NETWORK")
	return &fixes.Plan{
		ID:    kind + "/" + src.ProjectID() + "/" + src.Name,
		Title: fmt.Sprintf("Connect App Engine %s to the cluster's network %s through a Serverless VPC Access connector", src.Name, network),
		Description: fmt.Sprintf("App Engine standard reaches internal addresses only through a connector in its own region (%s) and in the cluster's network (or one peered with it). "+
			"Create one (an unused /28), name it under vpc_access_connector in app.yaml and deploy a new version.", src.Location),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("a new version of App Engine %s (its private-range egress goes into network %s); a new /28 in that network, which must not overlap any other range there", src.Name, network)},
		Diff:          fixes.Diff("", "vpc_access_connector:\n  name: projects/"+src.ProjectID()+"/locations/"+src.Location+"/connectors/CONNECTOR\n"),
		Commands: []string{
			fmt.Sprintf("gcloud compute networks vpc-access connectors create CONNECTOR --region %s --project %s --network %s --range UNUSED_RANGE/28", src.Location, src.ProjectID(), network),
			appEngineDeploy(src), appEngineUndo(src),
		},
	}
}

// appEngineEnvAdvice: point an env_variables URL at the internal load balancer.
func appEngineEnvAdvice(src *Source, u ClientURL, nu string) *fixes.Plan {
	return &fixes.Plan{
		ID:    "point-client-at-ilb/" + src.ProjectID() + "/" + src.Name + "/" + u.EnvVar,
		Title: fmt.Sprintf("Point %s of App Engine %s at the internal load balancer (%s)", u.EnvVar, src.Name, nu),
		Description: fmt.Sprintf("%s holds %s, a ClusterIP. Set it to %s under env_variables in app.yaml and deploy a new version. "+
			"The LB IP is not reserved: a name you publish for it (see dns-stale-record) survives re-creation better.", u.EnvVar, u.URL, nu),
		Advice: true, Reversible: true,
		JudgedAgainst: []string{fmt.Sprintf("a new version of App Engine %s: every request that reads %s", src.Name, u.EnvVar)},
		Diff:          fixes.Diff("env_variables:\n  "+u.EnvVar+": "+u.URL+"\n", "env_variables:\n  "+u.EnvVar+": "+nu+"\n"),
		Commands:      []string{appEngineDeploy(src), appEngineUndo(src)},
	}
}
