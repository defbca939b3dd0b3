package checks

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	clouddns "google.golang.org/api/dns/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// dnsName is one name a DNS check looks at, with who uses it.
type dnsName struct {
	FQDN    string
	From    []string // "env DEV_AGENT_URL of Cloud Run gke-connectivity-tester4", "--dns-name"
	Service *corev1.Service
	Port    int    // the port the client uses (0 when the name was given alone: the Service's first)
	Network string // the client's network for this name (projects/P/global/networks/N)
	// Explicit names (--dns-name, --service) are always checked; names found in the path only when
	// they are private (a private zone holds them, or their top-level domain is not public).
	Explicit bool
}

// dnsFacts are the facts both DNS checks read, gathered once per run.
type dnsFacts struct {
	Names      []*dnsName
	Skipped    []string // path names not checked (public names), for the evidence
	Path       *Path
	PathErr    error
	Cluster    *model.Cluster
	ClusterErr error
	Project    string
	// Zones are the zones of every project read (the cluster's first); ZonesErr is the cluster
	// project's list error. ZoneProjects records each zone's project.
	Zones        []*clouddns.ManagedZone
	ZonesErr     error
	ZoneProjects map[*clouddns.ManagedZone]string
	// Projects are the projects whose Cloud DNS configuration was read, with why.
	Projects []dnsProject
	// ResponsePolicies and ServerPolicies of every project read; Unread what could not be.
	ResponsePolicies []dnsmodel.ResponsePolicy
	ServerPolicies   []dnsmodel.ServerPolicy
	Unread           []dnsmodel.Unread
	Model            *model.Model
	Services         *model.Services
	SvcErr           error
	Network          string // the main client network ("" unknown)
	NetworkHow       string // how it was found, for the evidence
	// Notes say what could not be looked at.
	Notes []string
}

// dnsProject is one project whose DNS configuration is read, and why.
type dnsProject struct {
	ID  string
	Why string
}

var dnsFactsSlot = inventory.NewSlot[*dnsFacts]("dns-facts")

// dnsGetFacts gathers the facts, memoised in the run's inventory.
func dnsGetFacts(ctx context.Context, env *Env) (*dnsFacts, error) {
	return inventory.Derive(ctx, env.Inv, dnsFactsSlot, func(ctx context.Context) (*dnsFacts, error) {
		return dnsGather(ctx, env)
	})
}

func dnsGather(ctx context.Context, env *Env) (*dnsFacts, error) {
	inv := env.Inv
	f := &dnsFacts{Project: inv.Scope.Project}
	m := model.For(ctx, inv)
	f.Model, f.Cluster, f.ClusterErr = m, m.Cluster, m.ClusterErr
	f.Services, f.SvcErr = m.Services, m.ServicesErr
	if _, err := inv.GCP(); err != nil {
		f.ZonesErr = err
	} else if f.Project != "" {
		f.Zones, f.ZonesErr = inv.ManagedZones(ctx, f.Project)
	} else {
		f.ZonesErr = apierr.NotConfiguredf("--project PROJECT (or a gke_PROJECT_LOCATION_CLUSTER context)", "no Google Cloud project, so no Cloud DNS zones")
	}
	f.Path, f.PathErr = DiscoverPath(ctx, env)
	if f.Path != nil {
		f.Notes = append(f.Notes, f.Path.Notes...)
	}
	domain := "cluster.local."
	if f.Cluster != nil {
		domain = f.Cluster.Domain
	}
	// The client's network: its connector's or Direct VPC egress's, else the cluster's.
	networks := map[string]string{} // source full name → network
	if f.Path != nil {
		for i := range f.Path.Sources {
			src := &f.Path.Sources[i]
			n, how := dnsSourceNetwork(ctx, env, src)
			if n != "" {
				networks[src.Name] = n
				if f.Network == "" {
					f.Network, f.NetworkHow = n, how
				}
			} else if how != "" {
				f.Notes = append(f.Notes, how)
			}
		}
	}
	if f.Network == "" && f.Cluster != nil && f.Cluster.Network != "" {
		f.Network = f.Cluster.Network
		f.NetworkHow = "no VPC client found; assuming a client on the cluster's network " + gref.NetworkName(f.Network)
	}
	seen := map[string]*dnsName{}
	add := func(host, from string, svc *corev1.Service, port int, network string, explicit bool) {
		fq, err := probe.NormalizeName(host)
		if err != nil {
			f.Notes = append(f.Notes, fmt.Sprintf("%s: %v", from, err))
			return
		}
		if network == "" {
			network = f.Network
		}
		if n, ok := seen[fq]; ok {
			n.From = append(n.From, from)
			n.Explicit = n.Explicit || explicit
			if n.Service == nil {
				n.Service = svc
			}
			if n.Port == 0 {
				n.Port = port
			}
			return
		}
		n := &dnsName{FQDN: fq, From: []string{from}, Service: svc, Port: port, Network: network, Explicit: explicit}
		if n.Service == nil {
			n.Service = dnsServiceForName(fq, domain, f.Services)
		}
		seen[fq] = n
		f.Names = append(f.Names, n)
	}
	if f.Path != nil {
		for _, d := range f.Path.Dests {
			if d.Kind == TargetFlag {
				// --service NS/NAME: the name a client would use for it.
				if d.Service != nil {
					add(model.ServiceFQDN(d.Namespace, d.Name, domain), d.From, d.Service, d.Port, "", true)
				}
				continue
			}
			if d.Kind == TargetClusterIP || d.Kind == TargetLBIP || d.Kind == TargetNotCluster {
				continue // an address, not a name
			}
			if _, err := netip.ParseAddr(d.Host); err == nil || d.Host == "" {
				continue
			}
			add(d.Host, d.From, d.Service, d.Port, networks[d.Source], false)
		}
	}
	for _, n := range env.Targets.DNSNames {
		add(n, "--dns-name", nil, 0, "", true)
	}
	if f.ZonesErr == nil {
		dnsGatherView(ctx, env, f)
	}
	return f, nil
}

// dnsGatherView reads the Cloud DNS configuration a client's network may see from any project: the
// cluster's, the clients', the networks' host projects, every --dns-project, and the projects of
// the networks that visible peering zones target. Zones, response policies (with their rules) and
// server policies; what cannot be read is recorded (Unread), naming the project and the permission.
func dnsGatherView(ctx context.Context, env *Env, f *dnsFacts) {
	inv := env.Inv
	f.ZoneProjects = map[*clouddns.ManagedZone]string{}
	for _, z := range f.Zones {
		f.ZoneProjects[z] = f.Project
	}
	seen := map[string]bool{}
	add := func(p, why string) {
		if p != "" && !seen[p] {
			seen[p] = true
			f.Projects = append(f.Projects, dnsProject{ID: p, Why: why})
		}
	}
	add(f.Project, "the cluster's project")
	if f.Path != nil {
		for _, src := range f.Path.Sources {
			add(src.ProjectID(), "the project of "+src.KindLabel()+" "+src.Name)
		}
	}
	nets := []string{f.Network}
	for _, n := range f.Names {
		nets = append(nets, n.Network)
	}
	if f.Cluster != nil {
		nets = append(nets, f.Cluster.Network)
	}
	for _, n := range nets {
		if n != "" {
			add(gref.ProjectOf(n), "the host project of network "+gref.NetworkName(n))
		}
	}
	for _, p := range env.Targets.DNSProjects {
		add(p, "--dns-project")
	}
	// Each project's zones, response policies (then their rules) and server policies are read
	// concurrently (each call memoised), so the view adds one or two round trips, not six per project.
	type got struct {
		zones []*clouddns.ManagedZone
		rps   []dnsmodel.ResponsePolicy
		sps   []dnsmodel.ServerPolicy
		unr   []dnsmodel.Unread
	}
	read := func(dps []dnsProject) {
		res := make([]got, len(dps))
		var wg sync.WaitGroup
		for i, dp := range dps {
			r := &res[i]
			var mu sync.Mutex
			wg.Add(3)
			go func() {
				defer wg.Done()
				if dp.ID == f.Project {
					return // read first, above
				}
				zs, err := inv.ManagedZones(ctx, dp.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					r.unr = append(r.unr, dnsUnread(dp.ID, "managed zones", inventory.PermManagedZonesList, err))
				}
				r.zones = zs
			}()
			go func() {
				defer wg.Done()
				rps, err := inv.ResponsePolicies(ctx, dp.ID)
				var out []dnsmodel.ResponsePolicy
				for _, rp := range rps {
					if rp == nil || rp.ResponsePolicyName == "" {
						continue
					}
					v := dnsmodel.ResponsePolicy{Project: dp.ID, Policy: rp}
					v.Rules, v.RulesErr = inv.ResponsePolicyRules(ctx, dp.ID, rp.ResponsePolicyName)
					out = append(out, v)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					r.unr = append(r.unr, dnsUnread(dp.ID, "response policies", inventory.PermResponsePoliciesList, err))
				}
				r.rps = out
			}()
			go func() {
				defer wg.Done()
				sps, err := inv.DNSPolicies(ctx, dp.ID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					r.unr = append(r.unr, dnsUnread(dp.ID, "server policies", inventory.PermDNSPoliciesList, err))
				}
				for _, sp := range sps {
					if sp != nil {
						r.sps = append(r.sps, dnsmodel.ServerPolicy{Project: dp.ID, Policy: sp})
					}
				}
			}()
		}
		wg.Wait()
		for i, dp := range dps {
			r := res[i]
			for _, z := range r.zones {
				f.Zones = append(f.Zones, z)
				f.ZoneProjects[z] = dp.ID
			}
			f.ResponsePolicies = append(f.ResponsePolicies, r.rps...)
			f.ServerPolicies = append(f.ServerPolicies, r.sps...)
			f.Unread = append(f.Unread, r.unr...)
		}
	}
	// Unread parts in a stable order (zones, then response policies, then server policies, by project).
	defer sort.SliceStable(f.Unread, func(i, j int) bool { return f.Unread[i].Project < f.Unread[j].Project })
	read(f.Projects)
	// A peering zone continues in its target network's view: read that network's project too.
	before := len(f.Projects)
	for _, z := range f.Zones {
		if dnsmodel.KindOf(z) == dnsmodel.KindPeering {
			t := gref.Network(z.PeeringConfig.TargetNetwork.NetworkUrl, f.ZoneProjects[z])
			add(gref.ProjectOf(t), "the project of network "+gref.NetworkName(t)+", which peering zone "+z.Name+" targets")
		}
	}
	read(f.Projects[before:])
}

// dnsUnread records a part of the view that could not be read, with the permission it needs.
func dnsUnread(project, what, perm string, err error) dnsmodel.Unread {
	u := dnsmodel.Unread{Project: project, What: what, Permission: perm, Err: err}
	if e, ok := apierr.As(err); ok && e.Permission != "" {
		u.Permission = e.Permission
	}
	return u
}

// dnsSourceNetwork finds the VPC network a Cloud Run source's DNS queries enter (sourceNetwork), or
// says why there is none.
func dnsSourceNetwork(ctx context.Context, env *Env, src *Source) (network, how string) {
	n, how, err := sourceNetwork(ctx, env, src)
	switch {
	case err != nil:
		return "", fmt.Sprintf("could not read the network of %s %s: %v", src.KindLabel(), src.Name, err)
	case n == "":
		return "", how + ": its DNS queries never reach the VPC's private zones"
	}
	return n, how
}

// dnsServiceForName maps NAME.NS.svc.DOMAIN (the cluster's domain, or cluster.local) to a Service of
// the cluster.
func dnsServiceForName(fq, domain string, svcs *model.Services) *corev1.Service {
	for _, d := range []string{domain, model.DefaultDomain} {
		if ns, name, form := model.ParseServiceName(fq, d); form == model.FormFQDN {
			return svcs.Get(ns, name)
		}
	}
	return nil
}

// dnsModel builds the resolution model for this run (records are read lazily through the inventory
// with the caller's context).
func dnsModel(ctx context.Context, env *Env, f *dnsFacts) *dnsmodel.Model {
	if f.ZonesErr != nil {
		return nil
	}
	m := &dnsmodel.Model{Project: f.Project, Zones: f.Zones, ZoneProjects: f.ZoneProjects, Cluster: f.Cluster,
		ResponsePolicies: f.ResponsePolicies, ServerPolicies: f.ServerPolicies, Unread: f.Unread}
	m.Records = func(z *clouddns.ManagedZone) ([]*clouddns.ResourceRecordSet, error) {
		return env.Inv.RRSets(ctx, m.ZoneProject(z), z.Name)
	}
	m.ServiceByIP = func(a netip.Addr) string {
		if o, ok := f.Services.OwnerOfKind(a, model.AddrClusterIP); ok {
			return o.Ref()
		}
		return ""
	}
	// The firewall only matters for forwarding targets (of zones or of an outbound server policy)
	// that are not cluster addresses.
	for _, z := range append([]*clouddns.ManagedZone{dnsServerPolicyZone(f)}, f.Zones...) {
		if z != nil && dnsmodel.KindOf(z) == dnsmodel.KindForwarding && f.Network != "" {
			set, err := env.Inv.FirewallSet(ctx, gref.ProjectOf(f.Network), f.Network, "")
			if err == nil {
				m.Firewall, m.FirewallRead = set, true
			} else {
				m.FirewallWhy = err.Error()
			}
			ranges, err := env.Inv.NetworkRanges(ctx, f.Network)
			if err == nil {
				m.Subnets, m.SubnetsRead = ranges, true
			} else {
				m.SubnetsWhy = err.Error()
			}
			break
		}
	}
	return m
}

// dnsServerPolicyZone stands for the server policies' alternative name servers when deciding whether
// the forwarder's firewall must be read (nil when no policy has any).
func dnsServerPolicyZone(f *dnsFacts) *clouddns.ManagedZone {
	for _, sp := range f.ServerPolicies {
		if sp.Policy != nil && sp.Alternative() {
			return &clouddns.ManagedZone{Visibility: "private", ForwardingConfig: &clouddns.ManagedZoneForwardingConfig{
				TargetNameServers: []*clouddns.ManagedZoneForwardingConfigNameServerTarget{{Ipv4Address: "0.0.0.0"}}}}
		}
	}
	return nil
}

// dnsVPCView reports whether the live resolver answers as the VPC resolver does for the client.
func dnsVPCView(env *Env) bool { return env.Resolver != "" && env.ResolverSeesVPC }

// dnsProbe queries the resolver once per name and run (both DNS checks share the answer).
func dnsProbe(ctx context.Context, env *Env, name string) probe.DNSResult {
	key := inventory.KeyDNS + "probe/" + env.Resolver + "/" + name
	res, _ := inventory.Memo(ctx, env.Inv, key, func(ctx context.Context) (probe.DNSResult, error) {
		pctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		defer cancel()
		return probe.DNSClient{Timeout: 3 * time.Second}.Query(pctx, env.Resolver, name, dns.TypeA), nil
	})
	return res
}

// dnsObservation describes a probe result in one line.
func dnsObservation(r probe.DNSResult) string {
	var b strings.Builder
	switch r.Outcome {
	case probe.OutcomeAnswer:
		var ips []string
		for _, a := range r.Answers {
			if a.Type == "A" || a.Type == "AAAA" {
				ips = append(ips, fmt.Sprintf("%s (TTL %ds)", a.Data, a.TTL))
			}
		}
		fmt.Fprintf(&b, "NOERROR, A %s", strings.Join(ips, ", "))
	case probe.OutcomeNoData:
		fmt.Fprintf(&b, "NOERROR with no A record (NODATA)")
	case probe.OutcomeTimeout:
		fmt.Fprintf(&b, "no reply (timeout)")
	default:
		if r.RcodeName != "" {
			b.WriteString(r.RcodeName)
		} else {
			b.WriteString(r.Outcome.String())
		}
		if r.Err != nil && r.Outcome != probe.OutcomeNXDomain && r.Outcome != probe.OutcomeServFail {
			fmt.Fprintf(&b, " (%v)", r.Err)
		}
	}
	fmt.Fprintf(&b, " from %s over %s in %s", r.Server, r.Transport, r.Duration.Round(time.Millisecond))
	if s := r.Symptom(); s != "" {
		eai, code := r.EAI()
		fmt.Fprintf(&b, "; an application sees %q (%s, [Errno %d])", s, eai, code)
	}
	return b.String()
}

// dnsPredicted describes a prediction in one line.
func dnsPredicted(p dnsmodel.Prediction) string {
	out := "unknown"
	switch p.Outcome {
	case probe.OutcomeAnswer:
		var ips []string
		for _, ip := range p.IPs {
			ips = append(ips, ip.String())
		}
		out = "A " + strings.Join(ips, ", ")
	case probe.OutcomeNXDomain:
		out = "NXDOMAIN"
	case probe.OutcomeNoData:
		out = "NODATA"
	case probe.OutcomeServFail:
		out = "SERVFAIL"
	}
	return out
}

// dnsSameAnswer compares a prediction with an observation.
func dnsSameAnswer(p dnsmodel.Prediction, r probe.DNSResult) bool {
	if p.Outcome == 0 {
		return true // nothing was predicted
	}
	if r.Outcome == probe.OutcomeTimeout && p.Outcome == probe.OutcomeServFail {
		return true // an unreachable forwarder: some resolvers give up without answering
	}
	if p.Outcome != r.Outcome {
		return false
	}
	if p.Outcome != probe.OutcomeAnswer {
		return true
	}
	var want, got []string
	for _, ip := range p.IPs {
		want = append(want, ip.String())
	}
	for _, ip := range r.IPs() {
		got = append(got, ip.String())
	}
	return dnsmodel.SameIPs(want, got)
}

// dnsClusterIPOf says whether ip is a ClusterIP, naming the Service.
func dnsClusterIPOf(ip netip.Addr, f *dnsFacts) (bool, string) {
	if o, ok := f.Services.OwnerOfKind(ip, model.AddrClusterIP); ok {
		return true, o.Ref()
	}
	return f.Cluster.IsClusterIP(ip), ""
}

// dnsILBFor finds the internal load balancer in front of target for a client on port (0: the
// Service's first port) with the model's one finder, the one the reachability checks use. It returns
// the Service (nil when none) and its IP ("" while pending).
func dnsILBFor(target *corev1.Service, port int, f *dnsFacts) (*corev1.Service, string) {
	if target == nil {
		return nil, ""
	}
	ilb, _ := f.Services.InternalLBFor(target, model.PortOf(target, port))
	return ilb, model.IngressIP(ilb)
}

// dnsGuardDomains are the cluster DNS domains that mark a zone as GKE's.
func dnsGuardDomains(f *dnsFacts) []string {
	out := []string{"cluster.local."}
	if f.Cluster != nil {
		out = append(out, f.Cluster.Domains()...)
	}
	return out
}

// dnsOwnedZonePlans builds the owned-zone plan (and the alternative client-env plans) for the
// Services behind names: an A record per Service to its internal load balancer's IP, or to the
// NAME-ilb Service the reachability fix creates when there is none yet. nil when no name maps to a
// Service that can have an internal load balancer.
func dnsOwnedZonePlans(env *Env, f *dnsFacts, names []*dnsName) (out []*fixes.Plan) {
	if f.Project == "" || f.Network == "" {
		return nil
	}
	vm := dnsViewModel(f)
	var reusedName string
	var clients []string
	defer func() {
		judged, unread := dnsZoneJudged(f, reusedName, clients)
		for _, p := range out {
			p.Judge(judged, unread...)
		}
	}()
	p := fixes.OwnedZoneParams{Project: f.Project, Network: f.Network, GuardDomains: dnsGuardDomains(f), Deps: env.FixDeps}
	if f.Cluster != nil {
		p.Cluster = gref.ShortName(f.Cluster.Name)
	}
	if dnsVPCView(env) {
		p.Resolver = env.Resolver
	}
	// Reuse a zone gkedoctor created on this network (its name and domain may have been edited).
	var reused *clouddns.ManagedZone
	for _, z := range f.Zones {
		if z.Labels[fixes.OwnedLabelKey] == fixes.OwnedLabelValue && dnsmodel.VisibleTo(z, f.Network, vm.ZoneProject(z)) {
			p.ZoneName, p.Domain, p.Project, reused = z.Name, z.DnsName, vm.ZoneProject(z), z
			break
		}
	}
	labels := map[string]string{} // host → label
	seen := map[string]bool{}
	for _, n := range names {
		s := n.Service
		if s == nil || s.Spec.Type == corev1.ServiceTypeExternalName || s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		label := s.Name + "." + s.Namespace
		labels[strings.TrimSuffix(n.FQDN, ".")] = label
		if seen[label] {
			continue
		}
		seen[label] = true
		r := fixes.OwnedRecord{Label: label, Service: s.Namespace + "/" + s.Name, ILBService: s.Namespace + "/" + s.Name + "-ilb"}
		if ilb, ip := dnsILBFor(s, n.Port, f); ilb != nil {
			r.ILBService, r.IP = ilb.Namespace+"/"+ilb.Name, ip
		}
		p.Records = append(p.Records, r)
	}
	if len(p.Records) == 0 {
		return nil
	}
	sort.Slice(p.Records, func(i, j int) bool { return p.Records[i].Label < p.Records[j].Label })
	if f.Path != nil {
		for _, src := range f.Path.Sources {
			if src.Service == nil || src.Service.Template == nil {
				continue
			}
			for _, c := range src.Service.Template.Containers {
				for _, e := range c.Env {
					hosts := map[string]string{}
					for _, u := range ExtractURLs(e.Name, e.Value) {
						if l, ok := labels[u.Host]; ok {
							hosts[u.Host] = l
						}
					}
					if len(hosts) > 0 {
						p.Env = append(p.Env, fixes.EnvRef{Source: src.FullName, EnvVar: e.Name, Value: e.Value, Hosts: hosts})
					}
				}
			}
		}
	}
	if reused != nil {
		reusedName = reused.Name
	}
	for _, e := range p.Env {
		clients = append(clients, gref.ShortName(e.Source)+" ("+e.EnvVar+")")
	}
	owned, env2 := fixes.NewOwnedZonePlan(p), fixes.NewClientEnvPlans(p)
	// Judge the new zone against everything else the network sees.
	if why := vm.OverriddenBy(f.Network); why != "" {
		out := []*fixes.Plan{dnsRefused(owned, why)}
		for _, e := range env2 {
			out = append(out, dnsRefused(e, why+"; the new names would not resolve for the client"))
		}
		return out
	}
	domain := p.Domain
	if domain == "" {
		domain = fixes.DefaultOwnedDomain
	}
	for _, zr := range vm.ZonesNamed(domain, f.Network) {
		if zr.Zone == reused {
			continue
		}
		refused := dnsRefused(owned, fmt.Sprintf("zone %s in project %s already answers %s for network %s; a second zone of the same name bound to the same network would leave which one answers to Cloud DNS (not documented). Add the records to %s instead (commands below), or choose another domain",
			zr.Zone.Name, zr.Project, model.Fqdn(domain), gref.NetworkName(f.Network), zr.Zone.Name))
		refused.Commands = nil
		for _, r := range p.Records {
			ip := r.IP
			if ip == "" {
				ip = "ILB_IP_OF_" + strings.ReplaceAll(r.ILBService, "/", "_")
			}
			refused.Commands = append(refused.Commands, fmt.Sprintf("gcloud dns record-sets create %s --project %s --zone %s --type A --ttl %d --rrdatas %s",
				model.Fqdn(r.Label+"."+model.Fqdn(domain)), zr.Project, zr.Zone.Name, fixes.OwnedTTL, ip))
		}
		return append([]*fixes.Plan{refused}, env2...)
	}
	for _, r := range p.Records {
		name := model.Fqdn(r.Label + "." + model.Fqdn(domain))
		if rule, rp := vm.RuleFor(name, f.Network); rule != nil {
			why := fmt.Sprintf("response policy %s (project %s) rule %s (%s) answers %s for network %s before any zone, so a record in a new zone would never be used; change or bypass that rule instead",
				rp.Name(), rp.Project, rule.RuleName, model.Fqdn(rule.DnsName), name, gref.NetworkName(f.Network))
			return append([]*fixes.Plan{dnsRefused(owned, why)}, env2...)
		}
	}
	return append([]*fixes.Plan{owned}, env2...)
}

// dnsZoneJudged is what a new (or reused) owned zone on the client's network, and pointing clients at
// it, is judged against: the networks it binds, the other zones and response policies the network
// sees, and the Cloud Run services that would resolve names in it. Parts of the DNS configuration
// that could not be read are returned as unread: the plans become advice naming them.
func dnsZoneJudged(f *dnsFacts, reused string, clients []string) ([]string, []fixes.Unread) {
	net := gref.NetworkName(f.Network)
	out := []string{"networks bound: " + net}
	visible := 0
	for _, z := range f.Zones {
		if z.Name != reused && dnsmodel.VisibleTo(z, f.Network, f.ZoneProjects[z]) {
			visible++
		}
	}
	out = append(out, fmt.Sprintf("other zones network %s sees: %d; response policies read: %d", net, visible, len(f.ResponsePolicies)))
	if reused != "" {
		out = append(out, "zone "+reused+" is reused: only gkedoctor's own records change, its other records stay")
	} else {
		out = append(out, "the zone is new: no other records in it")
	}
	if len(clients) > 0 {
		out = append(out, "Cloud Run services resolving names in it: "+strings.Join(clients, ", "))
	} else {
		out = append(out, "Cloud Run services resolving names in it: none yet")
	}
	var unread []fixes.Unread
	if f.ZonesErr != nil {
		unread = append(unread, fixes.Unread{Fact: "the managed zones of project " + f.Project, Permission: "dns.managedZones.list"})
	}
	for _, u := range f.Unread {
		unread = append(unread, fixes.Unread{Fact: "the " + u.What + " of project " + u.Project, Permission: u.Permission})
	}
	return out, unread
}

// dnsViewModel is the DNS model without records, for judging fixes against the view.
func dnsViewModel(f *dnsFacts) *dnsmodel.Model {
	return &dnsmodel.Model{Project: f.Project, Zones: f.Zones, ZoneProjects: f.ZoneProjects, Cluster: f.Cluster,
		ResponsePolicies: f.ResponsePolicies, ServerPolicies: f.ServerPolicies, Unread: f.Unread}
}

// dnsRefused turns a plan that would change Cloud DNS (or point a client at it) into advice, because
// something else in the network's view makes it useless or harmful; why says what. The commands stay
// for a person who decides otherwise.
func dnsRefused(p *fixes.Plan, why string) *fixes.Plan {
	return &fixes.Plan{ID: p.ID, Check: p.Check, Title: "Not applied: " + p.Title, Advice: true, Alternative: p.Alternative,
		Description: "gkedoctor does not apply this: " + why + ". " + p.Description, Diff: p.Diff, Commands: p.Commands}
}
