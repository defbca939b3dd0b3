package checks

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
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
	Zones      []*clouddns.ManagedZone
	ZonesErr   error
	Model      *model.Model
	Services   *model.Services
	SvcErr     error
	Network    string // the main client network ("" unknown)
	NetworkHow string // how it was found, for the evidence
	// Notes say what could not be looked at.
	Notes []string
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
	return f, nil
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
	m := &dnsmodel.Model{Project: f.Project, Zones: f.Zones, Cluster: f.Cluster,
		Records: func(z *clouddns.ManagedZone) ([]*clouddns.ResourceRecordSet, error) {
			return env.Inv.RRSets(ctx, f.Project, z.Name)
		},
	}
	m.ServiceByIP = func(a netip.Addr) string {
		if o, ok := f.Services.OwnerOfKind(a, model.AddrClusterIP); ok {
			return o.Ref()
		}
		return ""
	}
	// The firewall only matters for forwarding targets that are not cluster addresses.
	for _, z := range f.Zones {
		if dnsmodel.KindOf(z) == dnsmodel.KindForwarding && f.Network != "" {
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
func dnsOwnedZonePlans(env *Env, f *dnsFacts, names []*dnsName) []*fixes.Plan {
	if f.Project == "" || f.Network == "" {
		return nil
	}
	p := fixes.OwnedZoneParams{Project: f.Project, Network: f.Network, GuardDomains: dnsGuardDomains(f), Deps: env.FixDeps}
	if f.Cluster != nil {
		p.Cluster = gref.ShortName(f.Cluster.Name)
	}
	if dnsVPCView(env) {
		p.Resolver = env.Resolver
	}
	// Reuse a zone gkedoctor created on this network (its name and domain may have been edited).
	for _, z := range f.Zones {
		if z.Labels[fixes.OwnedLabelKey] == fixes.OwnedLabelValue && dnsmodel.VisibleTo(z, f.Network, f.Project) {
			p.ZoneName, p.Domain = z.Name, z.DnsName
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
	plans := []*fixes.Plan{fixes.NewOwnedZonePlan(p)}
	return append(plans, fixes.NewClientEnvPlans(p)...)
}
