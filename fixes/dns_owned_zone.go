package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	dns "google.golang.org/api/dns/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// The private zone gkedoctor proposes (FAILURE-MODES §3, seed 003's robust pattern).
//
// The domain is under .internal, the top-level domain ICANN reserved in 2024 for private use: it is
// never delegated in public DNS, so the names cannot clash with anything on the internet, and it does
// not overlap Compute Engine's own internal names (VM.ZONE.c.PROJECT.internal). Each Service gets
// NAME.NAMESPACE.<domain>, so Services of the same name in two namespaces do not collide. Both the
// zone name and the domain are parameters the user can edit (the TUI offers them).
const (
	DefaultOwnedZoneName = "gkedoctor-internal"
	DefaultOwnedDomain   = "gkedoctor.internal."
	// OwnedLabel marks zones gkedoctor created (Cloud DNS zones carry labels).
	OwnedLabelKey   = "managed-by"
	OwnedLabelValue = "gkedoctor"
	// OwnedTTL is short so that a record moved to a new load-balancer IP takes effect quickly.
	OwnedTTL = 60
)

// OwnedRecord is one A record of the owned zone: a name for one Service's internal load balancer.
type OwnedRecord struct {
	Label   string // relative to the domain: "development-agent.default"
	Service string // NS/NAME of the Service the clients want
	// IP is the internal load balancer's IP. When empty, Apply reads it from ILBService (created by
	// the reachability fix, possibly earlier in the same run), so the plan can be offered before the
	// load balancer exists.
	IP         string
	ILBService string // NS/NAME of the internal LoadBalancer Service
}

// EnvRef is one environment variable of a client whose value names the cluster's Services.
type EnvRef struct {
	Source string // Cloud Run service, projects/P/locations/L/services/S
	EnvVar string
	Value  string
	// Hosts maps each host in Value to the Label of the record that replaces it.
	Hosts map[string]string
}

// OwnedZoneParams are the inputs of the owned-zone plan. ZoneName and Domain are the user's to edit.
type OwnedZoneParams struct {
	Project  string
	Network  string // the client's network: a URL, projects/P/global/networks/N, or a name in Project
	ZoneName string // default DefaultOwnedZoneName
	Domain   string // default DefaultOwnedDomain
	Cluster  string // for the zone's description
	Records  []OwnedRecord
	Env      []EnvRef
	// GuardDomains are the cluster DNS domains that mark zones as GKE's (GuardZoneWrite).
	GuardDomains []string
	// Resolver, when set, is a resolver with the VPC's view (HOST:PORT): Wait queries it until the
	// names resolve to the load-balancer IPs.
	Resolver string
	Deps     *Deps
}

var dnsZoneNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`) })

// ValidateOwnedZone checks a zone name and domain the user proposes: a valid Cloud DNS zone name, a
// valid DNS domain, and not a domain GKE or Kubernetes own.
func ValidateOwnedZone(zoneName, domain string, guardDomains []string) error {
	if !dnsZoneNameRE().MatchString(zoneName) {
		return fmt.Errorf("zone name %q: use 1-63 lower-case letters, digits and '-', starting with a letter", zoneName)
	}
	d, err := probe.NormalizeName(domain)
	if err != nil {
		return fmt.Errorf("domain: %w", err)
	}
	if strings.Count(strings.TrimSuffix(d, "."), ".") < 1 {
		return fmt.Errorf("domain %q: use at least two labels (e.g. %s), not a top-level domain", domain, DefaultOwnedDomain)
	}
	z := &dns.ManagedZone{Name: zoneName, DnsName: d, Visibility: "private"}
	if err := GuardZoneWrite(z, "create the zone", guardDomains); err != nil {
		return fmt.Errorf("domain %s: %w", d, err)
	}
	return nil
}

func (p *OwnedZoneParams) defaults() {
	if p.ZoneName == "" {
		p.ZoneName = DefaultOwnedZoneName
	}
	if p.Domain == "" {
		p.Domain = DefaultOwnedDomain
	}
	p.Domain = model.Fqdn(p.Domain)
}

// FQDN is a record's full name in the zone.
func (p OwnedZoneParams) FQDN(r OwnedRecord) string {
	return model.Fqdn(r.Label + "." + model.Fqdn(p.Domain))
}

// NewEnvValue returns an environment variable's value with each cluster host replaced by its name in
// the owned zone.
func (p OwnedZoneParams) NewEnvValue(e EnvRef) string {
	out := e.Value
	hosts := make([]string, 0, len(e.Hosts))
	for h := range e.Hosts {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return len(hosts[i]) > len(hosts[j]) }) // longest first
	for _, h := range hosts {
		nh := strings.TrimSuffix(p.FQDN(OwnedRecord{Label: e.Hosts[h]}), ".")
		out = dnsReplaceHost(out, h, nh)
	}
	return out
}

// dnsReplaceHost swaps host for nh wherever it is the host of a URL in s.
func dnsReplaceHost(s, host, nh string) string {
	re := regexp.MustCompile(`(?i)(://)` + regexp.QuoteMeta(host) + `\.?([:/?#]|$|[\s,;"'])`)
	return re.ReplaceAllString(s, "${1}"+nh+"${2}")
}

var dnsOwnedParams sync.Map // plan id → OwnedZoneParams

// OwnedZoneParamsFor returns the parameters an owned-zone plan was built from, so a UI can let the
// user edit the zone name and domain and rebuild it with NewOwnedZonePlan.
func OwnedZoneParamsFor(planID string) (OwnedZoneParams, bool) {
	v, ok := dnsOwnedParams.Load(planID)
	if !ok {
		return OwnedZoneParams{}, false
	}
	return v.(OwnedZoneParams), true
}

// OwnedZonePlanID is the id of the owned-zone plan for a zone name.
func OwnedZonePlanID(zoneName string) string { return "create-private-zone/" + zoneName }

// NewOwnedZonePlan proposes a private zone the user owns, bound to the client's network, with one A
// record (TTL 60) per target Service to its internal load balancer's IP. It creates the zone, or
// reuses one gkedoctor created earlier with the same name and domain, and only adds the records that
// are missing; undo deletes the records it added, then the zone if it created it. It never writes to
// a GKE-managed zone (DNSWriter). On success it prints the URLs the client's environment variables
// should use.
func NewOwnedZonePlan(p OwnedZoneParams) *Plan {
	p.defaults()
	id := OwnedZonePlanID(p.ZoneName)
	dnsOwnedParams.Store(id, p)
	network := gref.Network(p.Network, p.Project)
	netURL := gref.NetworkURL(network, p.Project)
	desc := "Managed by gkedoctor: names for GKE internal load balancers"
	if p.Cluster != "" {
		desc += " of cluster " + p.Cluster
	}
	zone := &dns.ManagedZone{
		Name: p.ZoneName, DnsName: p.Domain, Visibility: "private", Description: desc,
		Labels:                  map[string]string{OwnedLabelKey: OwnedLabelValue},
		PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{{NetworkUrl: netURL}}},
	}
	var diff, cmds []string
	diff = append(diff, fmt.Sprintf("+ managedZone %s: dnsName %s, visibility private, networks [%s], labels %s=%s",
		p.ZoneName, p.Domain, gref.NetworkName(network), OwnedLabelKey, OwnedLabelValue))
	cmds = append(cmds, fmt.Sprintf("gcloud dns managed-zones create %s --project %s --dns-name %s --visibility private --networks %s --labels %s=%s --description %q",
		p.ZoneName, p.Project, p.Domain, netURL, OwnedLabelKey, OwnedLabelValue, desc))
	for _, r := range p.Records {
		ip := r.IP
		if ip == "" {
			ip = "<internal LB IP of " + r.ILBService + ", read when applied>"
		}
		diff = append(diff, fmt.Sprintf("+ %s %d IN A %s   (Service %s)", p.FQDN(r), OwnedTTL, ip, r.Service))
		cmds = append(cmds, fmt.Sprintf("gcloud dns record-sets create %s --project %s --zone %s --type A --ttl %d --rrdatas %s",
			p.FQDN(r), p.Project, p.ZoneName, OwnedTTL, dnsCmdIP(r)))
	}
	for _, e := range p.Env {
		diff = append(diff, fmt.Sprintf("  then point %s of %s at it: %s", e.EnvVar, dnsShortName(e.Source), p.NewEnvValue(e)))
	}
	cmds = append(cmds, dnsEnvCommands(p)...)
	w := &DNSWriter{G: dnsGCP(p.Deps), Project: p.Project, Domains: p.GuardDomains}
	plan := &Plan{
		ID:    id,
		Title: fmt.Sprintf("Create private zone %s (%s) on network %s with A records to the internal load balancers", p.ZoneName, p.Domain, gref.NetworkName(network)),
		Description: "Publishes a name you own for each Service's internal load balancer, in a new private Cloud DNS zone bound to the client's network " +
			"(the robust pattern: GKE's own zone holds ClusterIPs and its controller overwrites hand edits). " +
			"Nothing existing is changed; undo deletes the records and then the zone. The zone name and domain can be edited before applying.",
		Diff:       strings.Join(diff, "\n") + "\n",
		Reversible: true,
		Commands:   cmds,
	}
	type state struct {
		zoneExists bool
		existing   map[string]*dns.ResourceRecordSet // fqdn → A record already there
	}
	plan.Snapshot = func(ctx context.Context) (Snapshot, error) {
		if err := ValidateOwnedZone(p.ZoneName, p.Domain, p.GuardDomains); err != nil {
			return Snapshot{}, err
		}
		cur, err := w.Zone(ctx, p.ZoneName)
		if err != nil && apierr.KindOf(err) != apierr.NotFound {
			return Snapshot{}, err
		}
		if cur == nil {
			return Snapshot{Prior: []Object{{API: "dns.googleapis.com", Kind: "ManagedZone", Name: dnsZoneResource(p.Project, p.ZoneName), Absent: true}}}, nil
		}
		if err := dnsReusable(cur, p.Domain, netURL, p.Project); err != nil {
			return Snapshot{}, err
		}
		b, _ := json.Marshal(cur)
		return Snapshot{Prior: []Object{{API: "dns.googleapis.com", Kind: "ManagedZone", Name: dnsZoneResource(p.Project, p.ZoneName), Contents: b}}}, nil
	}
	plan.Apply = func(ctx context.Context, snap Snapshot) (Outcome, error) {
		// Every write is journaled (snap.Steps) before it is made; out.Undo stays nil so the
		// journaled steps are the entry's undo.
		var out Outcome
		wrote := false
		st := state{existing: map[string]*dns.ResourceRecordSet{}}
		// Resolve every IP before writing anything: a pending load balancer stops the fix here.
		ips := map[string]string{}
		for _, r := range p.Records {
			ip, err := dnsRecordIP(ctx, p.Deps, r)
			if err != nil {
				return out, err
			}
			ips[r.Label] = ip
		}
		cur, err := w.Zone(ctx, p.ZoneName)
		if err != nil && apierr.KindOf(err) != apierr.NotFound {
			return out, err
		}
		if cur != nil {
			if err := dnsReusable(cur, p.Domain, netURL, p.Project); err != nil {
				return out, err
			}
			st.zoneExists = true
			rrs, err := w.Records(ctx, p.ZoneName)
			if err != nil {
				return out, err
			}
			for _, rr := range rrs {
				if rr.Type == "A" {
					st.existing[model.Fqdn(rr.Name)] = rr
				}
			}
		}
		if !st.zoneExists {
			if len(snap.Prior) == 1 && !snap.Prior[0].Absent {
				return out, &apierr.Error{Kind: apierr.Conflict, Op: "create zone", Resource: dnsZoneResource(p.Project, p.ZoneName), Err: errors.New("the zone was deleted since it was read")}
			}
			// Journaled before the create: killed right after it, undo still deletes the zone.
			err := snap.Steps.Do(NewUndo(UndoDeleteOwnedZone, dnsDeleteZoneParams{Project: p.Project, Zone: p.ZoneName, DNSName: p.Domain, GuardDomains: p.GuardDomains}),
				func() (*UndoAction, error) {
					created, err := w.CreateZone(ctx, zone)
					if err != nil {
						return nil, err // nothing written: a conflict (the name taken meanwhile) aborts cleanly
					}
					b, _ := json.Marshal(created)
					out.Created = append(out.Created, Object{API: "dns.googleapis.com", Kind: "ManagedZone", Name: dnsZoneResource(p.Project, p.ZoneName), Contents: b})
					return nil, nil
				})
			if err != nil {
				return out, err
			}
			wrote = true
		} else if len(snap.Prior) == 1 && snap.Prior[0].Absent {
			return out, &apierr.Error{Kind: apierr.Conflict, Op: "create zone", Resource: dnsZoneResource(p.Project, p.ZoneName), Err: errors.New("someone created the zone since it was read")}
		}
		var added, kept []string
		for _, r := range p.Records {
			name, ip := p.FQDN(r), ips[r.Label]
			if ex, ok := st.existing[name]; ok {
				if dnsmodel.SameIPs(ex.Rrdatas, []string{ip}) {
					kept = append(kept, name)
					continue
				}
				return out, dnsPartial(wrote, fmt.Errorf("record %s already exists in zone %s with %s, not %s; use the update fix (or undo this one)", name, p.ZoneName, strings.Join(ex.Rrdatas, ", "), ip))
			}
			rr := &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: OwnedTTL, Rrdatas: []string{ip}}
			err := snap.Steps.Do(NewUndo(UndoDeleteRecord, dnsRecordParams{Project: p.Project, Zone: p.ZoneName, Record: rr, GuardDomains: p.GuardDomains}),
				func() (*UndoAction, error) {
					_, err := w.CreateRecord(ctx, p.ZoneName, rr)
					return nil, err
				})
			if err != nil {
				return out, dnsPartial(wrote, err)
			}
			wrote = true
			added = append(added, name+" → "+ip)
			b, _ := json.Marshal(rr)
			out.Created = append(out.Created, Object{API: "dns.googleapis.com", Kind: "ResourceRecordSet", Name: dnsZoneResource(p.Project, p.ZoneName) + "/rrsets/" + name + "/A", Contents: b})
		}
		var msg []string
		if st.zoneExists {
			msg = append(msg, fmt.Sprintf("Zone %s (%s) already existed (created by gkedoctor); reused it.", p.ZoneName, p.Domain))
		} else {
			msg = append(msg, fmt.Sprintf("Created private zone %s (%s) on network %s.", p.ZoneName, p.Domain, gref.NetworkName(network)))
		}
		if len(added) > 0 {
			msg = append(msg, "Added A records: "+strings.Join(added, "; ")+".")
		}
		if len(kept) > 0 {
			msg = append(msg, "Already in place: "+strings.Join(kept, ", ")+".")
		}
		msg = append(msg, dnsEnvAdvice(p)...)
		out.Message = strings.Join(msg, " ")
		return out, nil
	}
	if p.Resolver != "" {
		plan.WaitTimeout = 2 * time.Minute
		plan.Wait = func(ctx context.Context, progress func(string)) (string, error) {
			return dnsWaitResolves(ctx, p, progress)
		}
	}
	return plan
}

// dnsReusable accepts an existing zone of the plan's name only if gkedoctor created it for the same
// domain and it is bound to the client's network.
func dnsReusable(z *dns.ManagedZone, domain, netURL, project string) error {
	if z.Labels[OwnedLabelKey] != OwnedLabelValue {
		return fmt.Errorf("a zone named %s already exists and gkedoctor did not create it (no label %s=%s); choose another zone name", z.Name, OwnedLabelKey, OwnedLabelValue)
	}
	if model.Fqdn(z.DnsName) != model.Fqdn(domain) {
		return fmt.Errorf("zone %s exists for domain %s, not %s; choose another zone name or that domain", z.Name, z.DnsName, domain)
	}
	if !dnsmodel.VisibleTo(z, netURL, project) {
		return fmt.Errorf("zone %s exists but is not bound to network %s; bind it (gcloud dns managed-zones update %s --networks …) or choose another zone name",
			z.Name, gref.NetworkName(netURL), z.Name)
	}
	return nil
}

// dnsPartial marks an error after some writes as a failure (not a conflict, which would drop the undo
// actions of what was written).
func dnsPartial(wrote bool, err error) error {
	if !wrote {
		return err
	}
	return fmt.Errorf("stopped part-way (undo removes what was created): %v", err)
}

func dnsCmdIP(r OwnedRecord) string {
	if r.IP != "" {
		return r.IP
	}
	ns, name, _ := strings.Cut(r.ILBService, "/")
	return fmt.Sprintf("$(kubectl get service %s -n %s -o jsonpath='{.status.loadBalancer.ingress[0].ip}')", name, ns)
}

// dnsRecordIP returns the record's IP, reading the internal load balancer's ingress IP when it was not
// known when the plan was made.
func dnsRecordIP(ctx context.Context, deps *Deps, r OwnedRecord) (string, error) {
	if r.IP != "" {
		if _, err := netip.ParseAddr(r.IP); err != nil {
			return "", fmt.Errorf("record %s: %q is not an IP address", r.Label, r.IP)
		}
		return r.IP, nil
	}
	if deps == nil || deps.Kube == nil {
		return "", apierr.NotConfiguredf("gcloud container clusters get-credentials CLUSTER --location LOCATION", "no Kubernetes client to read the internal load balancer %s", r.ILBService)
	}
	ns, name, _ := strings.Cut(r.ILBService, "/")
	svc, err := deps.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		err = kube.Map(err, "get Service", r.ILBService)
		if apierr.KindOf(err) == apierr.NotFound {
			return "", fmt.Errorf("the internal load balancer Service %s does not exist yet: apply the clusterip-unreachable fix first (it creates it), then this one", r.ILBService)
		}
		return "", err
	}
	if ip := dnsIngressIP(svc); ip != "" {
		return ip, nil
	}
	return "", fmt.Errorf("the internal load balancer %s has no IP yet (status.loadBalancer.ingress is empty); wait for it (kubectl get service %s -n %s -w) and apply this fix again", r.ILBService, name, ns)
}

func dnsIngressIP(svc *corev1.Service) string {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
	}
	return ""
}

// dnsEnvCommands are the gcloud commands that point the clients at the new names.
func dnsEnvCommands(p OwnedZoneParams) []string {
	bySource := map[string][]string{}
	var order []string
	for _, e := range p.Env {
		if _, ok := bySource[e.Source]; !ok {
			order = append(order, e.Source)
		}
		bySource[e.Source] = append(bySource[e.Source], e.EnvVar+"="+p.NewEnvValue(e))
	}
	var out []string
	for _, s := range order {
		region := ""
		if parts := strings.Split(s, "/"); len(parts) == 6 {
			region = " --region " + parts[3]
		}
		out = append(out, fmt.Sprintf("gcloud run services update %s%s --update-env-vars %s", dnsShortName(s), region, dnsShellQuote(strings.Join(bySource[s], ","))))
	}
	return out
}

// dnsEnvAdvice is the part of the success message that tells the user what to change in the client.
func dnsEnvAdvice(p OwnedZoneParams) []string {
	if len(p.Env) == 0 {
		var names []string
		for _, r := range p.Records {
			names = append(names, strings.TrimSuffix(p.FQDN(r), "."))
		}
		return []string{"Clients should now use: " + strings.Join(names, ", ") + "."}
	}
	var lines []string
	for _, e := range p.Env {
		lines = append(lines, fmt.Sprintf("%s=%s (Cloud Run %s)", e.EnvVar, p.NewEnvValue(e), dnsShortName(e.Source)))
	}
	out := []string{"Set the client's environment to the new names: " + strings.Join(lines, "; ") + "."}
	for _, c := range dnsEnvCommands(p) {
		out = append(out, "Run: "+c)
	}
	return out
}

func dnsShellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func dnsShortName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// dnsWaitResolves queries the VPC-view resolver until every record's name answers with its IP.
func dnsWaitResolves(ctx context.Context, p OwnedZoneParams, progress func(string)) (string, error) {
	want := map[string]string{}
	for _, r := range p.Records {
		ip, err := dnsRecordIP(ctx, p.Deps, r)
		if err != nil {
			return "", err
		}
		want[p.FQDN(r)] = ip
	}
	var last []string
	for {
		last = last[:0]
		for name, ip := range want {
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			res := probe.DNS(qctx, p.Resolver, name, mdns.TypeA)
			cancel()
			ok := false
			for _, got := range res.IPs() {
				ok = ok || got.String() == ip
			}
			if !ok {
				last = append(last, fmt.Sprintf("%s: %s", name, dnsDescribeResult(res)))
			}
		}
		if len(last) == 0 {
			var names []string
			for name, ip := range want {
				names = append(names, strings.TrimSuffix(name, ".")+" → "+ip)
			}
			sort.Strings(names)
			return "resolves from the VPC: " + strings.Join(names, ", "), nil
		}
		sort.Strings(last)
		progress("waiting for the names to resolve from the VPC (" + strings.Join(last, "; ") + ")")
		select {
		case <-ctx.Done():
			return "not yet resolving: " + strings.Join(last, "; "), ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func dnsDescribeResult(r probe.DNSResult) string {
	if r.Outcome == probe.OutcomeAnswer {
		var ips []string
		for _, ip := range r.IPs() {
			ips = append(ips, ip.String())
		}
		return "answers " + strings.Join(ips, ", ")
	}
	if r.RcodeName != "" {
		return r.RcodeName
	}
	return r.Outcome.String()
}

func dnsGCP(d *Deps) *gcp.Clients {
	if d == nil {
		return nil
	}
	return d.GCP
}
