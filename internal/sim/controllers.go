package sim

import (
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	dns "google.golang.org/api/dns/v1"
	run "google.golang.org/api/run/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gkedoctor/gkedoctor/internal/sim/fakegcp"
)

// --- Cloud DNS for GKE ---

// dnsTTL is the TTL of the records Cloud DNS for GKE writes.
const dnsTTL = 30

// dnsController plays GKE's clouddns-controller: the cluster-scope zone holds one A record per Service
// with a ClusterIP (ready endpoint IPs for headless Services, a CNAME for ExternalName ones), as the
// Kubernetes DNS specification says; records of Services that come and go follow shortly, and any
// hand edit of the zone is overwritten a little later ("Manual changes to managed private DNS zones
// are not supported and are overwritten by the Cloud DNS controller"). With additive VPC scope
// (dnsConfig.additiveVpcScopeDnsDomain) a second zone under that domain, bound to the VPC, carries
// the same records.
type dnsController struct {
	w    *World
	loop *loop

	mu      sync.Mutex
	dueAt   time.Time
	applied string // fingerprint of the desired records last written
}

// additiveZone is the name of the zone for additive VPC scope.
const additiveZone = ClusterZone + "-additive"

// zoneWant is a zone the controller keeps and its records (apex SOA and NS aside).
type zoneWant struct {
	zone    *dns.ManagedZone
	records map[string]*dns.ResourceRecordSet // name|type → record set
}

// desired computes the controller's zones and records from the cluster's Services and dnsConfig.
func (c *dnsController) desired() map[string]zoneWant {
	k := c.w.kube
	domains := map[string]*dns.ManagedZone{}
	cz := clusterZone()
	domain := Domain
	if cl, ok := c.w.gcp.Cluster(Project, Region, Cluster); ok && cl.NetworkConfig != nil && cl.NetworkConfig.DnsConfig != nil {
		dc := cl.NetworkConfig.DnsConfig
		if dc.ClusterDnsDomain != "" {
			domain = strings.TrimSuffix(dc.ClusterDnsDomain, ".")
			cz.DnsName = domain + "."
		}
		if dc.ClusterDns == "CLOUD_DNS" && dc.AdditiveVpcScopeDnsDomain != "" {
			add := strings.TrimSuffix(dc.AdditiveVpcScopeDnsDomain, ".")
			domains[add] = &dns.ManagedZone{Name: additiveZone, DnsName: add + ".", Visibility: "private",
				Description: fmt.Sprintf("Private zone for GKE cluster %q with cluster suffix %q in project %q with scope %q",
					Cluster, add+".", Project, "VPC_SCOPE"),
				PrivateVisibilityConfig: &dns.ManagedZonePrivateVisibilityConfig{Networks: []*dns.ManagedZonePrivateVisibilityConfigNetwork{
					{NetworkUrl: networkURL(c.w.lay.netProject, c.w.lay.netName)}}}}
		}
	}
	domains[domain] = cz
	slices := k.endpointSlices("")
	out := map[string]zoneWant{}
	for d, z := range domains {
		want := zoneWant{zone: z, records: map[string]*dns.ResourceRecordSet{}}
		for _, svc := range k.services() {
			name := svc.Name + "." + svc.Namespace + ".svc." + d + "."
			switch {
			case svc.Spec.Type == corev1.ServiceTypeExternalName:
				want.records[name+"|CNAME"] = &dns.ResourceRecordSet{Name: name, Type: "CNAME", Ttl: dnsTTL, Rrdatas: []string{strings.TrimSuffix(svc.Spec.ExternalName, ".") + "."}}
			case svc.Spec.ClusterIP == corev1.ClusterIPNone:
				var ips []string
				for _, s := range slices {
					if s.Namespace != svc.Namespace || s.Labels["kubernetes.io/service-name"] != svc.Name {
						continue
					}
					for _, e := range s.Endpoints {
						if e.Conditions.Ready != nil && *e.Conditions.Ready {
							ips = append(ips, e.Addresses...)
						}
					}
				}
				if len(ips) > 0 {
					sort.Strings(ips)
					want.records[name+"|A"] = &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: dnsTTL, Rrdatas: ips}
				}
			case svc.Spec.ClusterIP != "":
				want.records[name+"|A"] = &dns.ResourceRecordSet{Name: name, Type: "A", Ttl: dnsTTL, Rrdatas: []string{svc.Spec.ClusterIP}}
			}
		}
		out[z.Name] = want
	}
	return out
}

func fingerprintZones(m map[string]zoneWant) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		z := m[n]
		fmt.Fprintf(&b, "[%s %s]", n, z.zone.DnsName)
		keys := make([]string, 0, len(z.records))
		for k := range z.records {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%d:%s;", k, z.records[k].Ttl, strings.Join(z.records[k].Rrdatas, ","))
		}
	}
	return b.String()
}

// noteMutation schedules the revert of a hand edit of a managed zone, and follows the cluster's DNS
// configuration once its update is applied.
func (c *dnsController) noteMutation(m fakegcp.Mutation) {
	var after time.Duration
	switch {
	case m.API == "container" && m.Kind == "Cluster":
		after = c.w.after(60 * time.Second)
	case m.Scope == ClusterZone || m.Scope == additiveZone,
		m.Kind == "ManagedZone" && (m.Name == ClusterZone || m.Name == additiveZone):
		after = c.w.after(30 * time.Second)
	default:
		return
	}
	c.mu.Lock()
	at := time.Now().Add(after)
	if c.dueAt.IsZero() || at.Before(c.dueAt) {
		c.dueAt = at
	}
	c.mu.Unlock()
	c.loop.Kick()
}

func (c *dnsController) reconcile(now time.Time) time.Time {
	want := c.desired()
	fp := fingerprintZones(want)
	c.mu.Lock()
	if fp != c.applied && c.dueAt.IsZero() {
		c.dueAt = now.Add(c.w.after(5 * time.Second))
	}
	due := c.dueAt
	c.mu.Unlock()
	if due.IsZero() {
		return time.Time{}
	}
	if now.Before(due) {
		return due
	}
	c.write(want)
	c.mu.Lock()
	c.applied = fp
	if !c.dueAt.After(due) {
		c.dueAt = time.Time{}
	}
	next := c.dueAt
	c.mu.Unlock()
	return next
}

// syncNow writes the zones at once (at start).
func (c *dnsController) syncNow() {
	want := c.desired()
	c.write(want)
	c.mu.Lock()
	c.applied = fingerprintZones(want)
	c.mu.Unlock()
}

// write makes the controller's zones hold exactly what want says (besides their apex SOA and NS),
// bypassing the API: a controller's writes are neither in the request log nor hand edits.
func (c *dnsController) write(want map[string]zoneWant) {
	g := c.w.gcp
	existing := map[string]*dns.ManagedZone{}
	for _, z := range g.ManagedZones(Project) {
		existing[z.Name] = z
	}
	if _, keep := want[additiveZone]; !keep && existing[additiveZone] != nil {
		g.DeleteManagedZone(Project, additiveZone)
	}
	for name, zw := range want {
		if cur := existing[name]; cur == nil || cur.DnsName != zw.zone.DnsName {
			if cur != nil {
				g.DeleteManagedZone(Project, name)
			}
			g.AddManagedZone(Project, zw.zone)
		}
		have := map[string]*dns.ResourceRecordSet{}
		for _, rr := range g.RRSets(Project, name) {
			if rr.Name == zw.zone.DnsName && (rr.Type == "SOA" || rr.Type == "NS") {
				continue
			}
			have[rr.Name+"|"+rr.Type] = rr
		}
		for k, rr := range have {
			if _, ok := zw.records[k]; !ok {
				g.DeleteRRSet(Project, name, rr.Name, rr.Type)
			}
		}
		for k, rr := range zw.records {
			if cur, ok := have[k]; ok && cur.Ttl == rr.Ttl && reflect.DeepEqual(cur.Rrdatas, rr.Rrdatas) && cur.RoutingPolicy == nil {
				continue
			}
			_ = g.SetRRSet(Project, name, rr)
		}
	}
}

// --- ip-masq-agent ---

// masqConfig is ip-masq-agent's configuration file (kubernetes-sigs/ip-masq-agent).
type masqConfig struct {
	NonMasqueradeCIDRs []string `json:"nonMasqueradeCIDRs"`
	MasqLinkLocal      bool     `json:"masqLinkLocal"`
	MasqLinkLocalIPv6  bool     `json:"masqLinkLocalIPv6"`
	ResyncInterval     string   `json:"resyncInterval"`
	CidrLimit          int      `json:"cidrLimit"`
}

// masqAgent plays ip-masq-agent on the nodes: it reads kube-system/ip-masq-agent's "config" key once
// per resync interval (60 s by default), keeps its last good configuration when the new one does not
// parse, and falls back to the defaults when the ConfigMap or the key is absent.
type masqAgent struct {
	w    *World
	loop *loop

	mu      sync.Mutex
	cfg     masqConfig
	custom  bool   // cfg came from a ConfigMap
	loaded  string // the raw config last read ("" when none)
	lastErr error
	dueAt   time.Time
	started bool
}

func newMasqAgent(w *World) *masqAgent {
	return &masqAgent{w: w, cfg: masqConfig{NonMasqueradeCIDRs: defaultNonMasq, ResyncInterval: "60s"}}
}

func (a *masqAgent) raw() string {
	cm, err := getT[*corev1.ConfigMap](a.w.kube, gvrConfigMaps, "kube-system", "ip-masq-agent")
	if err != nil {
		return ""
	}
	return cm.Data["config"]
}

func (a *masqAgent) reconcile(now time.Time) time.Time {
	raw := a.raw()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started {
		a.started = true
		a.apply(raw)
		return time.Time{}
	}
	if raw == a.loaded {
		a.dueAt = time.Time{}
		return time.Time{}
	}
	if a.dueAt.IsZero() {
		interval, err := time.ParseDuration(a.cfg.ResyncInterval)
		if err != nil || interval <= 0 {
			interval = 60 * time.Second
		}
		a.dueAt = now.Add(a.w.after(interval))
	}
	if now.Before(a.dueAt) {
		return a.dueAt
	}
	a.dueAt = time.Time{}
	a.apply(raw)
	return time.Time{}
}

// apply loads raw as the agent does. Callers hold a.mu.
func (a *masqAgent) apply(raw string) {
	a.loaded = raw
	if strings.TrimSpace(raw) == "" {
		a.cfg, a.custom, a.lastErr = masqConfig{NonMasqueradeCIDRs: defaultNonMasq, ResyncInterval: "60s"}, false, nil
		return
	}
	cfg, err := parseMasqConfig(raw)
	if err != nil {
		a.lastErr = err // the agent logs it and keeps its last good configuration
		return
	}
	a.cfg, a.custom, a.lastErr = cfg, true, nil
}

// parseMasqConfig parses and validates an ip-masq-agent configuration (YAML or JSON).
func parseMasqConfig(raw string) (masqConfig, error) {
	cfg := masqConfig{}
	if err := yaml.UnmarshalStrict([]byte(raw), &cfg); err != nil {
		return masqConfig{}, fmt.Errorf("ip-masq-agent config: %w", err)
	}
	if cfg.CidrLimit == 0 {
		cfg.CidrLimit = 64
	}
	if len(cfg.NonMasqueradeCIDRs) > cfg.CidrLimit {
		return masqConfig{}, fmt.Errorf("ip-masq-agent config: %d nonMasqueradeCIDRs exceed the limit of %d", len(cfg.NonMasqueradeCIDRs), cfg.CidrLimit)
	}
	for _, c := range cfg.NonMasqueradeCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return masqConfig{}, fmt.Errorf("ip-masq-agent config: CIDR %q could not be parsed: %v", c, err)
		}
	}
	if cfg.ResyncInterval == "" {
		cfg.ResyncInterval = "60s"
	}
	if _, err := time.ParseDuration(cfg.ResyncInterval); err != nil {
		return masqConfig{}, fmt.Errorf("ip-masq-agent config: resyncInterval %q: %v", cfg.ResyncInterval, err)
	}
	return cfg, nil
}

// MasqState is what ip-masq-agent currently does on the nodes.
type MasqState struct {
	Running            bool     // the DaemonSet exists
	Custom             bool     // the non-masquerade list came from the ConfigMap
	NonMasqueradeCIDRs []string // destinations that keep the pod's IP as source
	LastError          string   // why the last ConfigMap content was rejected, if it was
}

// IPMasq reports ip-masq-agent's effective state.
func (w *World) IPMasq() MasqState {
	a := w.masq
	a.mu.Lock()
	st := MasqState{Custom: a.custom, NonMasqueradeCIDRs: append([]string(nil), a.cfg.NonMasqueradeCIDRs...)}
	if a.lastErr != nil {
		st.LastError = a.lastErr.Error()
	}
	a.mu.Unlock()
	_, err := getT[*appsv1.DaemonSet](w.kube, gvrDaemonSets, "kube-system", "ip-masq-agent")
	st.Running = err == nil
	return st
}

// masquerades reports whether traffic from a pod to dst leaves with the node's IP as source.
func (w *World) masquerades(dst netip.Addr) bool {
	st := w.IPMasq()
	if !st.Running {
		// No agent: GKE's default SNAT applies unless the cluster disabled it.
		if c, ok := w.gcp.Cluster(Project, Region, Cluster); ok && c.NetworkConfig != nil && c.NetworkConfig.DefaultSnatStatus != nil && c.NetworkConfig.DefaultSnatStatus.Disabled {
			return false
		}
		return !inAny(dst, defaultNonMasq)
	}
	if dst.IsLinkLocalUnicast() {
		w.masq.mu.Lock()
		ll := w.masq.cfg.MasqLinkLocal
		w.masq.mu.Unlock()
		return ll
	}
	return !inAny(dst, st.NonMasqueradeCIDRs)
}

// --- Cloud Run ---

// runTracker remembers each revision's template, so that the network follows the revision that
// serves traffic: a patch changes the stored service at once, but its new revision serves only when
// the operation completes.
type runTracker struct {
	w         *World
	mu        sync.Mutex
	templates map[string]*run.GoogleCloudRunV2RevisionTemplate // revision name → template
}

func newRunTracker(w *World) *runTracker {
	return &runTracker{w: w, templates: map[string]*run.GoogleCloudRunV2RevisionTemplate{}}
}

func (r *runTracker) recordAll() {
	r.record(r.w.lay.runProject, r.w.lay.runRegion, CloudRunService)
	r.record(Project, Region, MeshService)
}

func (r *runTracker) record(project, location, name string) {
	svc, ok := r.w.gcp.RunService(project, location, name)
	if !ok || svc.LatestCreatedRevision == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.templates[svc.LatestCreatedRevision]; !seen {
		r.templates[svc.LatestCreatedRevision] = svc.Template
	}
}

func (r *runTracker) noteMutation(m fakegcp.Mutation) {
	if m.Kind == "Service" {
		r.record(m.Project, m.Scope, m.Name)
	}
}

// serving returns the service and the template of the revision that serves (most of) its traffic.
func (r *runTracker) serving(project, location, name string) (*run.GoogleCloudRunV2Service, *run.GoogleCloudRunV2RevisionTemplate, bool) {
	svc, ok := r.w.gcp.RunService(project, location, name)
	if !ok {
		return nil, nil, false
	}
	rev, best := svc.LatestReadyRevision, int64(-1)
	for _, t := range svc.TrafficStatuses {
		if t != nil && t.Percent > best && t.Revision != "" {
			rev, best = t.Revision, t.Percent
		}
	}
	r.mu.Lock()
	tmpl := r.templates[rev]
	r.mu.Unlock()
	if tmpl == nil {
		tmpl = svc.Template
	}
	return svc, tmpl, true
}
