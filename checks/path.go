package checks

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	appengine "google.golang.org/api/appengine/v1"
	run "google.golang.org/api/run/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

// Source is a VPC client of the cluster: a Cloud Run service or an App Engine standard version (VMs
// would be described by the same fields).
type Source struct {
	Kind           string // KindCloudRun or KindAppEngine
	Name           string // short name: the Cloud Run service, or SERVICE/VERSION of App Engine
	FullName       string // projects/P/locations/L/services/S, or apps/P/services/S/versions/V
	Project        string // the source's project (set for App Engine; Cloud Run's is in FullName)
	Location       string // the region the source runs in
	ServiceAccount string // "" means the Compute Engine default service account
	Connector      string // projects/P/locations/L/connectors/C, "" when none
	Egress         string // ALL_TRAFFIC or PRIVATE_RANGES_ONLY ("" in the API means PRIVATE_RANGES_ONLY)
	DirectVPC      *DirectVPC
	URLs           []ClientURL
	Service        *run.GoogleCloudRunV2Service // Cloud Run only
	Version        *appengine.Version           // App Engine only
}

// ProjectID is the source's project.
func (s Source) ProjectID() string {
	if s.Project != "" {
		return s.Project
	}
	return gref.ProjectOf(s.FullName)
}

// KindLabel names the kind of client for people: "Cloud Run" or "App Engine".
func (s Source) KindLabel() string {
	if s.Kind == KindAppEngine {
		return "App Engine"
	}
	return "Cloud Run"
}

// HasVPCAccess reports whether the source can reach the VPC at all.
func (s Source) HasVPCAccess() bool { return s.Connector != "" || s.DirectVPC != nil }

// EffectiveEgress returns the egress setting with the API's default applied (App Engine's own names
// for App Engine versions).
func (s Source) EffectiveEgress() string {
	if s.Kind == KindAppEngine {
		if s.Egress == "" || s.Egress == "EGRESS_SETTING_UNSPECIFIED" {
			return AppEnginePrivateIPRanges
		}
		return s.Egress
	}
	if s.Egress == "" || s.Egress == "VPC_EGRESS_UNSPECIFIED" {
		return "PRIVATE_RANGES_ONLY"
	}
	return s.Egress
}

// DirectVPC is Direct VPC egress (template.vpcAccess.networkInterfaces[0]).
type DirectVPC struct {
	Network, Subnetwork string
	Tags                []string
}

// ClientURL is a URL found in a client's configuration.
type ClientURL struct {
	EnvVar string
	URL    string
	Host   string
	Port   int
}

// Dest kinds: how the client addresses the GKE Service.
const (
	TargetClusterDNS = "cluster-dns-name" // NAME.NS.svc.cluster.local and friends
	TargetClusterIP  = "cluster-ip"       // a ClusterIP literal
	TargetLBIP       = "lb-ip"            // a load balancer ingress IP literal
	TargetOtherName  = "other-name"       // a name that is not a cluster name (a zone you own, say)
	TargetZoneName   = "zone-name"        // a name whose A record in a private Cloud DNS zone holds a Service's address
	TargetNotCluster = "not-in-cluster"   // an address that is no Service of this cluster
	TargetFlag       = "flag"             // named with --service
	TargetL7Addr     = "l7-address"       // the address of an internal Gateway or Ingress in front of the Service
)

// Dest is one GKE Service (or address) the client wants to reach.
type Dest struct {
	From      string // "env DEV_AGENT_URL of Cloud Run gke-connectivity-tester4" or "--service"
	Source    string // source name ("" for --service)
	Host      string // as the client uses it
	Port      int
	Kind      string
	Namespace string
	Name      string
	Service   *corev1.Service // nil when not found in the cluster
	// Resolved is the address a zone-name resolves to (its A record), and Via says where it was read.
	Resolved netip.Addr
	Via      string
}

// Ref is NS/NAME or the host when no Service matched.
func (t Dest) Ref() string {
	if t.Name != "" {
		return t.Namespace + "/" + t.Name
	}
	return t.Host
}

// Path is what the client uses to reach the cluster: its sources and the destinations they call.
type Path struct {
	Sources []Source
	Dests   []Dest
	Notes   []string // what discovery could not do, for the evidence
	// ListErrs are the projects whose Cloud Run services could not be listed (discovery went on
	// without them): no verdict about "every client" may pass while one is here.
	ListErrs map[string]error
}

var urlRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\b(https?|grpcs?|wss?|tcp)://[^\s,;"'<>]+`) })

// ExtractURLs finds URLs in an environment variable value (several may be listed in one value).
func ExtractURLs(envVar, value string) []ClientURL {
	var out []ClientURL
	for _, m := range urlRE().FindAllString(value, -1) {
		u, err := url.Parse(m)
		if err != nil || u.Hostname() == "" {
			continue
		}
		port := 0
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				continue
			}
			port = n
		} else {
			switch strings.ToLower(u.Scheme) {
			case "https", "wss", "grpcs":
				port = 443
			default:
				port = 80
			}
		}
		out = append(out, ClientURL{EnvVar: envVar, URL: m, Host: strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), Port: port})
	}
	return out
}

var pathSlot = inventory.NewSlot[*Path]("path")

// DiscoverPath finds the sources and targets of this run, once per run (memoised in the inventory).
func DiscoverPath(ctx context.Context, env *Env) (*Path, error) {
	return inventory.Derive(ctx, env.Inv, pathSlot, func(ctx context.Context) (*Path, error) {
		return discoverPath(ctx, env)
	})
}

func discoverPath(ctx context.Context, env *Env) (*Path, error) {
	p := &Path{}
	inv := env.Inv
	// App Engine sources, read while the Cloud Run ones are: the named version(s), else (when no
	// source is named) every serving standard version with a connector.
	type aeResult struct {
		srcs  []Source
		notes []string
		err   error
	}
	aeCh := make(chan aeResult, 1)
	named := env.Targets.CloudRunService != "" || env.Targets.AppEngineService != ""
	go func() {
		var r aeResult
		switch {
		case env.Targets.AppEngineService != "":
			r.srcs, r.err = namedAppEngineSources(ctx, env)
		case !named:
			r.srcs, r.notes = discoverAppEngineSources(ctx, env)
		}
		aeCh <- r
	}()
	ae := func() aeResult { r := <-aeCh; aeCh <- r; return r }
	defer ae() // the goroutine ends before discovery returns, whatever path it takes
	// Sources: the named Cloud Run service, else every service with VPC access in every location of
	// the cluster's project and of each --source-project (Cloud Run v2's locations/-: a client in
	// another region than the cluster is found without naming it, and region-mismatch with it).
	location := gref.Region(inv.Scope.Location)
	var services []*run.GoogleCloudRunV2Service
	if env.Targets.CloudRunService != "" {
		project, loc, name := CloudRunRef(env.Targets.CloudRunService, inv.Scope.Project, location)
		if project == "" {
			return nil, apierr.NotConfiguredf("--project (or a gke_ context), or --cloud-run-service projects/P/locations/L/services/S", "the Cloud Run service's project is not known")
		}
		s, err := inv.RunService(ctx, project, loc, name)
		if err != nil {
			return nil, fmt.Errorf("read Cloud Run service %s: %w", env.Targets.CloudRunService, err)
		}
		services = append(services, s)
	} else if named {
		// --app-engine-service alone: that is the client.
	} else if projects := discoveryProjects(env); len(projects) > 0 {
		var listed, withAccess int
		for _, project := range projects {
			all, err := inv.RunServices(ctx, project, inventory.AllLocations)
			if err != nil {
				if project == inv.Scope.Project && (!apierr.IsCouldNotLook(err) || (len(env.Targets.Services) == 0 && len(ae().srcs) == 0 && len(projects) == 1)) {
					return nil, fmt.Errorf("list Cloud Run services: %w", err)
				}
				if !apierr.IsCouldNotLook(err) {
					return nil, fmt.Errorf("list Cloud Run services of --source-project %s: %w", project, err)
				}
				p.Notes = append(p.Notes, fmt.Sprintf("could not list the Cloud Run services of project %s: %v", project, err))
				if p.ListErrs == nil {
					p.ListErrs = map[string]error{}
				}
				p.ListErrs[project] = err
			}
			listed += len(all)
			for _, s := range all {
				if src := sourceOf(s); src.HasVPCAccess() {
					services = append(services, s)
					withAccess++
				}
			}
		}
		if listed > 0 && withAccess == 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%d Cloud Run service(s) in %s, none with VPC access; name one with --cloud-run-service to analyse it", listed, strings.Join(projects, ", ")))
		}
	} else if len(env.Targets.Services) == 0 {
		return nil, apierr.NotConfiguredf("--project and --location (or a gke_ context), or --service NS/NAME", "no Cloud Run source and no target Service")
	}
	for _, s := range services {
		p.Sources = append(p.Sources, sourceOf(s))
	}
	r := ae()
	if r.err != nil {
		return nil, fmt.Errorf("--app-engine-service %s: %w", env.Targets.AppEngineService, r.err)
	}
	p.Sources = append(p.Sources, r.srcs...)
	p.Notes = append(p.Notes, r.notes...)
	// Targets: every URL the sources use, mapped to a Service, plus --service.
	m := model.For(ctx, inv)
	domain := m.Domain()
	svcs := m.Services
	for _, src := range p.Sources {
		if len(src.URLs) > 0 && m.ServicesErr != nil {
			p.Notes = append(p.Notes, "could not list the cluster's Services, so URLs could not be matched to them: "+m.ServicesErr.Error())
			break
		}
	}
	seen := map[string]bool{}
	for _, src := range p.Sources {
		for _, u := range src.URLs {
			t := MapHost(u.Host, u.Port, domain, svcs)
			if t.Kind == TargetOtherName {
				t = mapZoneName(ctx, inv, t, domain, svcs)
			}
			if t.Kind == TargetNotCluster {
				t = mapL7Address(ctx, inv, t, svcs)
			}
			t.From = fmt.Sprintf("env %s of %s %s", u.EnvVar, src.KindLabel(), src.Name)
			t.Source = src.Name
			key := src.Name + "|" + t.Host + "|" + strconv.Itoa(t.Port)
			if !seen[key] {
				seen[key] = true
				p.Dests = append(p.Dests, t)
			}
		}
	}
	for _, n := range env.Targets.Services {
		svc, err := inv.Service(ctx, n.Namespace, n.Name)
		if err != nil {
			return nil, fmt.Errorf("read --service %s: %w", n, err)
		}
		port := 0
		if len(svc.Spec.Ports) > 0 {
			port = int(svc.Spec.Ports[0].Port)
		}
		host := svc.Spec.ClusterIP
		kind := TargetFlag
		p.Dests = append(p.Dests, Dest{From: "--service " + n.String(), Host: host, Port: port, Kind: kind, Namespace: n.Namespace, Name: n.Name, Service: svc})
	}
	return p, nil
}

// CloudRunRef splits --cloud-run-service: NAME (in defaultProject, the cluster's project, and
// defaultLocation, the cluster's region), LOCATION/NAME (in defaultProject), or
// projects/P/locations/LOCATION/services/NAME.
func CloudRunRef(ref, defaultProject, defaultLocation string) (project, location, name string) {
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	switch {
	case len(parts) == 6 && parts[0] == "projects" && parts[1] != "" && parts[2] == "locations" && parts[4] == "services":
		return parts[1], parts[3], parts[5]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return defaultProject, parts[0], parts[1]
	}
	return defaultProject, defaultLocation, ref
}

// discoveryProjects are the projects whose Cloud Run services are discovered: the cluster's, then
// each --source-project once (a Shared VPC's service projects around the platform project).
func discoveryProjects(env *Env) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range append([]string{env.Inv.Scope.Project}, env.Targets.SourceProjects...) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// MapHost maps a host the client uses to a Service of the cluster through the model's index: an
// address to the Service that answers on it, a Service DNS name to that Service.
func MapHost(host string, port int, domain string, svcs *model.Services) Dest {
	t := Dest{Host: host, Port: port}
	if ip, err := netip.ParseAddr(host); err == nil {
		o, ok := svcs.OwnerOf(ip, "")
		switch {
		case !ok:
			t.Kind = TargetNotCluster
		case o.Kind == model.AddrClusterIP:
			t.Kind, t.Namespace, t.Name, t.Service = TargetClusterIP, o.Service.Namespace, o.Service.Name, o.Service
		default:
			t.Kind, t.Namespace, t.Name, t.Service = TargetLBIP, o.Service.Namespace, o.Service.Name, o.Service
		}
		return t
	}
	if ns, name, form := model.ParseServiceName(host, domain); form != model.NotServiceName {
		if s := svcs.Get(ns, name); s != nil {
			t.Kind, t.Namespace, t.Name, t.Service = TargetClusterDNS, ns, name, s
			return t
		}
		if form != model.FormShort {
			t.Kind, t.Namespace, t.Name = TargetClusterDNS, ns, name // a cluster name, Service not found
			return t
		}
	}
	t.Kind = TargetOtherName
	return t
}

// mapL7Address maps an address that is no Service's to the Service behind the internal Gateway or
// Ingress answering on it (the first backend, when a Gateway routes to several).
func mapL7Address(ctx context.Context, inv *inventory.Inventory, t Dest, svcs *model.Services) Dest {
	ip, err := netip.ParseAddr(t.Host)
	if err != nil {
		return t
	}
	for _, l := range model.L7For(ctx, inv).ByAddress(ip) {
		ns, name, _ := strings.Cut(l.Backend, "/")
		if s := svcs.Get(ns, name); s != nil {
			t.Kind, t.Namespace, t.Name, t.Service = TargetL7Addr, ns, name, s
			t.Via = l.Ref()
			return t
		}
	}
	return t
}

// mapZoneName maps a name the client uses to a Service through its A record in one of the project's
// private Cloud DNS zones (a zone you own, as the DNS fix creates): the record's address is matched
// against the Services' ClusterIPs and load-balancer IPs. Anything it cannot read leaves t as it was.
func mapZoneName(ctx context.Context, inv *inventory.Inventory, t Dest, domain string, svcs *model.Services) Dest {
	if inv.Scope.Project == "" {
		return t
	}
	zones, err := inv.ManagedZones(ctx, inv.Scope.Project)
	if err != nil {
		return t
	}
	fqdn := strings.TrimSuffix(strings.ToLower(t.Host), ".") + "."
	best := ""
	for _, z := range zones {
		dn := strings.ToLower(z.DnsName)
		if z.Visibility == "private" && z.ForwardingConfig == nil && z.PeeringConfig == nil &&
			(fqdn == dn || strings.HasSuffix(fqdn, "."+dn)) && len(dn) > len(best) {
			best = z.Name + "\x00" + dn
		}
	}
	if best == "" {
		return t
	}
	zone, _, _ := strings.Cut(best, "\x00")
	rrs, err := inv.RRSets(ctx, inv.Scope.Project, zone)
	if err != nil {
		return t
	}
	for _, rr := range rrs {
		if rr.Type != "A" || strings.ToLower(rr.Name) != fqdn || len(rr.Rrdatas) == 0 {
			continue
		}
		// Several Services may hold the address (LB IPs are unique within a VPC, but a record may be
		// read against more than one cluster's view): prefer the one in the namespace the name says
		// (NAME.NS.zone, the layout gkedoctor's zone uses).
		ip, err := netip.ParseAddr(strings.TrimSpace(rr.Rrdatas[0]))
		if err != nil {
			return t
		}
		labels := strings.Split(fqdn, ".")
		o, ok := svcs.OwnerOf(ip, labels[min(1, len(labels)-1)])
		if !ok {
			return t
		}
		m := Dest{Namespace: o.Service.Namespace, Name: o.Service.Name, Service: o.Service}
		t.Kind, t.Namespace, t.Name, t.Service = TargetZoneName, m.Namespace, m.Name, m.Service
		t.Resolved, t.Via = ip.Unmap(), fmt.Sprintf("A record %s in zone %s", rr.Rrdatas[0], zone)
		return t
	}
	return t
}

func sourceOf(s *run.GoogleCloudRunV2Service) Source {
	src := Source{Kind: KindCloudRun, FullName: s.Name, Service: s}
	parts := strings.Split(s.Name, "/")
	if len(parts) == 6 {
		src.Name, src.Location = parts[5], parts[3]
	} else {
		src.Name = s.Name
	}
	if s.Template == nil {
		return src
	}
	src.ServiceAccount = s.Template.ServiceAccount
	if va := s.Template.VpcAccess; va != nil {
		src.Connector, src.Egress = va.Connector, va.Egress
		if len(va.NetworkInterfaces) > 0 {
			ni := va.NetworkInterfaces[0]
			src.DirectVPC = &DirectVPC{Network: ni.Network, Subnetwork: ni.Subnetwork, Tags: ni.Tags}
		}
		if src.Connector != "" && !strings.Contains(src.Connector, "/") {
			src.Connector = fmt.Sprintf("projects/%s/locations/%s/connectors/%s", gref.ProjectOf(s.Name), src.Location, src.Connector)
		}
	}
	var names []string
	envs := map[string]string{}
	for _, c := range s.Template.Containers {
		for _, e := range c.Env {
			if e.Value != "" {
				envs[e.Name] = e.Value
				names = append(names, e.Name)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		src.URLs = append(src.URLs, ExtractURLs(n, envs[n])...)
	}
	return src
}
