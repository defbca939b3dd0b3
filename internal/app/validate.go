package app

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/kube"
)

// One validation function per kind of flag value. Each returns one line naming the flag; values are
// quoted with %q so a control character in them (an ESC, a newline) never reaches the terminal raw.
// The Google resource ids are checked before anything is built so that no value is ever sent as part
// of a request path ("--project a/../../x?y=").

var (
	// Project ids: 6 to 30 lowercase letters, digits and hyphens, starting with a letter, not ending
	// with a hyphen; legacy domain-scoped ids are DOMAIN:ID.
	projectRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	})
	// Locations: a region (europe-west1) or a zone (europe-west1-b).
	locationRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+(-[a-z])?$`) })
	// GKE cluster names: up to 40 lowercase letters, digits and hyphens, starting with a letter and
	// ending with a letter or digit.
	clusterRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$`) })
	// Cloud Run service names: up to 49 characters, same alphabet.
	runServiceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$`) })
)

// Limits on files the user names: a kubeconfig, a token. Larger files are refused (say, --kubeconfig
// /dev/zero) rather than read into memory.
const (
	MaxTokenFileBytes = 1 << 20
	MaxDemoLatency    = time.Minute
)

func validProject(s string) bool  { return projectRE().MatchString(s) }
func validLocation(s string) bool { return locationRE().MatchString(s) }
func validCluster(s string) bool  { return clusterRE().MatchString(s) }

// ValidateInput checks the syntax of every shared flag's value, without reading the kubeconfig or
// the environment: every command runs it first (the root command's pre-run), so a malformed value is
// exit 2 whatever the command.
func (o *Options) ValidateInput() error {
	checks := []func() error{
		o.validateGoogleIDs,
		o.validateNamespaceFlag,
		o.validateCloudRunService,
		o.validateSourceProjects,
		o.validateAppEngineService,
		o.validateServiceSyntax,
		o.validateWorkload,
		o.validateTokenFile,
		o.validateResolver,
		o.validatePeers,
		o.validateDNSNames,
		o.validateDNSProjects,
		o.validateDurations,
		o.validateDemoWorld,
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// validateEnvironment checks the environment variables a run will use. GKEDOCTOR_GCP_ENDPOINT is
// not used under --no-gcp or --demo, so it is not judged there either.
func (o *Options) validateEnvironment() error {
	if o.NoGCP || o.Demo {
		return nil
	}
	if _, err := gcp.EndpointFromEnv(); err != nil {
		return err
	}
	return nil
}

func (o *Options) validateGoogleIDs() error {
	ctxProject, ctxLocation, ctxCluster, fromCtx := ParseGKEContext(o.resolved.Context)
	origin := func(v, ctxV string) string {
		if fromCtx && v == ctxV {
			return fmt.Sprintf(" (from the kubeconfig context %q)", o.resolved.Context)
		}
		return ""
	}
	if o.Project != "" && !validProject(o.Project) {
		return fmt.Errorf("--project %q%s is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter)", o.Project, origin(o.Project, ctxProject))
	}
	if o.Location != "" && !validLocation(o.Location) {
		return fmt.Errorf("--location %q%s is not a Google Cloud region or zone (e.g. europe-west1, europe-west1-b)", o.Location, origin(o.Location, ctxLocation))
	}
	if o.Cluster != "" && !validCluster(o.Cluster) {
		return fmt.Errorf("--cluster %q%s is not a GKE cluster name (up to 40 lowercase letters, digits and hyphens, starting with a letter)", o.Cluster, origin(o.Cluster, ctxCluster))
	}
	return nil
}

func (o *Options) validateNamespaceFlag() error {
	if o.Kube == nil || o.Kube.Namespace == nil || *o.Kube.Namespace == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(*o.Kube.Namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace %q is not a Kubernetes namespace name: %s", *o.Kube.Namespace, errs[0])
	}
	return nil
}

// validateCloudRunService accepts NAME, LOCATION/NAME and projects/P/locations/L/services/NAME.
func (o *Options) validateCloudRunService() error {
	ref := o.CloudRunService
	if ref == "" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("--cloud-run-service %q is not NAME, LOCATION/NAME or projects/PROJECT/locations/LOCATION/services/NAME: %s", ref, why)
	}
	parts := strings.Split(ref, "/")
	var project, location, name string
	switch {
	case len(parts) == 1:
		name = parts[0]
	case len(parts) == 2:
		location, name = parts[0], parts[1]
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "locations" && parts[4] == "services":
		project, location, name = parts[1], parts[3], parts[5]
	default:
		return bad("unexpected path")
	}
	if project != "" && !validProject(project) {
		return bad(fmt.Sprintf("%q is not a project id", project))
	}
	if len(parts) > 1 && !validLocation(location) {
		return bad(fmt.Sprintf("%q is not a region", location))
	}
	if !runServiceRE().MatchString(name) {
		return bad(fmt.Sprintf("%q is not a Cloud Run service name (up to 49 lowercase letters, digits and hyphens)", name))
	}
	return nil
}

// DemoWorlds are the demo world's layouts, for --world.
var DemoWorlds = []string{"seed", "shared-vpc"}

// validateDemoWorld checks --world against the layouts.
func (o *Options) validateDemoWorld() error {
	if o.DemoWorld == "" {
		return nil
	}
	for _, w := range DemoWorlds {
		if o.DemoWorld == w {
			return nil
		}
	}
	return fmt.Errorf("--world %q is not a demo world: choose one of %s", o.DemoWorld, strings.Join(DemoWorlds, ", "))
}

// validateSourceProjects checks each --source-project as a Google Cloud project id.
func (o *Options) validateSourceProjects() error {
	for _, p := range o.SourceProjects {
		if !validProject(p) {
			return fmt.Errorf("--source-project %q is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter)", p)
		}
	}
	return nil
}

// validateServiceSyntax checks --service values as NS/NAME or NAME, each part a Kubernetes name
// (the namespace is defaulted later, from the kubeconfig).
// validateAppEngineService checks --app-engine-service SERVICE[/VERSION] with the parser the checks use.
func (o *Options) validateAppEngineService() error {
	if o.AppEngineService == "" {
		return nil
	}
	if _, _, err := checks.ParseAppEngineRef(o.AppEngineService); err != nil {
		return fmt.Errorf("--app-engine-service %w", err)
	}
	return nil
}

func (o *Options) validateServiceSyntax() error {
	for _, s := range o.Services {
		n, err := checks.ParseNamespacedName(s, "default")
		if err != nil {
			return fmt.Errorf("--service %w", err)
		}
		if errs := validation.IsDNS1123Label(n.Namespace); len(errs) > 0 {
			return fmt.Errorf("--service %q: namespace %q is not a Kubernetes namespace name: %s", s, n.Namespace, errs[0])
		}
		if errs := validation.IsDNS1035Label(n.Name); len(errs) > 0 {
			return fmt.Errorf("--service %q: %q is not a Kubernetes Service name: %s", s, n.Name, errs[0])
		}
	}
	return nil
}

func (o *Options) validateWorkload() error {
	if o.Workload == "" {
		return nil
	}
	ref, err := inventory.ParseWorkloadRef(o.Workload)
	if err != nil {
		return fmt.Errorf("--workload %w", err)
	}
	if errs := validation.IsDNS1123Label(ref.Namespace); len(errs) > 0 {
		return fmt.Errorf("--workload %q: namespace %q is not a Kubernetes namespace name: %s", o.Workload, ref.Namespace, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(ref.Name); len(errs) > 0 {
		return fmt.Errorf("--workload %q: %q is not a Kubernetes object name: %s", o.Workload, ref.Name, errs[0])
	}
	return nil
}

func (o *Options) validateTokenFile() error {
	if o.TokenFile == "" {
		return nil
	}
	if err := kube.CheckInputFile(o.TokenFile, MaxTokenFileBytes); err != nil {
		return fmt.Errorf("--token-file: %v", err)
	}
	return nil
}

func (o *Options) validateResolver() error {
	r := o.Resolver
	if r == "" {
		return nil
	}
	if _, err := netip.ParseAddr(r); err == nil {
		return nil
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil || host == "" {
		return fmt.Errorf("--resolver %q is not HOST:PORT or an IP address", r)
	}
	if !validPort(port) {
		return fmt.Errorf("--resolver %q: port %q is not a number from 1 to 65535", r, port)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		if why := dnsNameProblem(host); why != "" {
			return fmt.Errorf("--resolver %q: %q is neither an IP address nor a host name: %s", r, host, why)
		}
	}
	return nil
}

func (o *Options) validatePeers() error {
	for _, p := range o.Peers {
		if err := validatePeer(p); err != nil { // options.go: CIDR | IP | IP:PORT, port 1 to 65535
			return err
		}
	}
	return nil
}

func (o *Options) validateDNSNames() error {
	for _, n := range o.DNSNames {
		if why := dnsNameProblem(n); why != "" {
			return fmt.Errorf("--dns-name %q is not a DNS name: %s", n, why)
		}
	}
	return nil
}

func (o *Options) validateDNSProjects() error {
	for _, p := range o.DNSProjects {
		if !validProject(p) {
			return fmt.Errorf("--dns-project %q is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter)", p)
		}
	}
	return nil
}

func (o *Options) validateDurations() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", o.Timeout)
	}
	if o.DemoLatency < 0 || o.DemoLatency > MaxDemoLatency {
		return fmt.Errorf("--latency %s is out of range: give a duration from 0s to %s", o.DemoLatency, MaxDemoLatency)
	}
	return nil
}

// validPort is a decimal port from 1 to 65535.
func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == s
}

// dnsNameProblem says why s is not a DNS name ("" when it is): at most 253 characters without the
// root dot, labels of 1 to 63 letters, digits, hyphens or underscores (SRV-style names), no label
// starting or ending with a hyphen; "*" is allowed as the first label.
func dnsNameProblem(s string) string {
	if s == "" {
		return "it is empty"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return "it contains a control character"
		}
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return "it has no labels"
	}
	if len(name) > 253 {
		return fmt.Sprintf("it is %d characters long; the limit is 253", len(name))
	}
	for i, l := range strings.Split(name, ".") {
		switch {
		case l == "":
			return "it has an empty label (two dots in a row, or a leading dot)"
		case len(l) > 63:
			return fmt.Sprintf("the label %q is %d characters long; the limit is 63", l[:12]+"…", len(l))
		case l == "*" && i == 0:
			continue
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Sprintf("the label %q starts or ends with a hyphen", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("the label %q contains %q (letters, digits, hyphens and underscores only)", l, r)
			}
		}
	}
	return ""
}
