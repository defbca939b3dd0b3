package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	compute "google.golang.org/api/compute/v1"
	clouddns "google.golang.org/api/dns/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
)

func init() {
	Register(CheckFunc{CheckID: "dns-stale-record", Fn: runDNSStaleRecord})
}

// dnsRecordUse is one A record set that holds a name the client uses.
type dnsRecordUse struct {
	N       *dnsName
	Zone    *clouddns.ManagedZone
	RR      *clouddns.ResourceRecordSet
	Answers bool   // the zone answers the client now
	Role    string // in words: "answers the client", "in a zone the client does not see: …"
	Short   string // the same in a few words, for the summary
	// Overridden names what answers the client before any zone (an outbound server policy, a
	// response policy rule); a fix to the record would change nothing for the client.
	Overridden string
	Project    string // the zone's project
}

// dnsRecordsUsed finds, for each name, the A records that answer it and the ones in zones that hold
// it but do not answer the client (shadowed by a zone of the same name, or bound elsewhere — GKE's
// cluster-scope zone): those are the records the client gets once the other zone is gone or the scope
// changes, and the ones people edit by hand.
func dnsRecordsUsed(m *dnsmodel.Model, names []*dnsName, rec *Recorder) []*dnsRecordUse {
	var out []*dnsRecordUse
	for _, n := range names {
		p := m.Predict(n.FQDN, n.Network)
		override := ""
		if p.ServerPolicy != nil || p.Rule != nil {
			// Something answers before the zones: judge the zones' records as they stand behind it.
			override = p.Via
			zonesOnly := *m
			zonesOnly.ServerPolicies, zonesOnly.ResponsePolicies = nil, nil
			p = zonesOnly.Predict(n.FQDN, n.Network)
		}
		found := false
		if p.RRSet != nil && p.RRSetZone != nil {
			u := &dnsRecordUse{N: n, Zone: p.RRSetZone, RR: p.RRSet, Answers: true, Role: "answers the client (" + p.Via + ")", Project: m.ZoneProject(p.RRSetZone)}
			if override != "" {
				u.Answers, u.Overridden = false, override
				u.Role = "would answer (" + p.Via + "), but " + override + " answers the client first"
				u.Short = "overridden by " + override
			}
			out = append(out, u)
			found = true
		}
		others, short := map[string]string{}, map[string]string{}
		var order []*clouddns.ManagedZone
		for _, z := range p.Shadowed {
			others[z.Name] = fmt.Sprintf("in zone %s, shadowed for the client by zone %s of the same name", z.Name, p.Zone.Name)
			short[z.Name] = "shadowed by zone " + p.Zone.Name
			order = append(order, z)
		}
		for _, u := range p.Unseen {
			others[u.Zone.Name] = "not seen by the client: " + u.Why
			short[u.Zone.Name] = "bound to another network, not the client's"
			if u.ClusterOnly {
				short[u.Zone.Name] = "visible only inside the cluster today"
			}
			order = append(order, u.Zone)
		}
		for _, z := range order {
			if p.RRSetZone != nil && z.Name == p.RRSetZone.Name {
				continue
			}
			rr, err := m.RecordIn(z, n.FQDN)
			if err != nil {
				rec.Step("records "+n.FQDN, Skip, fmt.Sprintf("could not read the records of zone %s: %v", z.Name, err), "")
				continue
			}
			if rr != nil {
				out = append(out, &dnsRecordUse{N: n, Zone: z, RR: rr, Role: others[z.Name], Short: short[z.Name], Overridden: override, Project: m.ZoneProject(z)})
				found = true
			}
		}
		if !found {
			rec.Step("records "+n.FQDN, Pass, "no A record in Cloud DNS holds this name ("+p.Reason+")", "")
		}
	}
	return out
}

// dnsStaleVerdict judges one record against where the client can connect (FAILURE-MODES §3, in order:
// a ClusterIP, an old LB IP, a hand edit in a GKE-managed zone).
func dnsStaleVerdict(ctx context.Context, env *Env, f *dnsFacts, u *dnsRecordUse, fwd []*compute.ForwardingRule, fwdErr error) *dnsEval {
	e := &dnsEval{N: u.N}
	name := strings.TrimSuffix(model.Fqdn(u.RR.Name), ".")
	var ips []netip.Addr
	for _, d := range u.RR.Rrdatas {
		if a, err := netip.ParseAddr(strings.TrimSpace(d)); err == nil {
			ips = append(ips, a.Unmap())
		}
	}
	managed, managedWhy := dnsmodel.GKEManaged(u.Zone, f.Cluster)
	where := fmt.Sprintf("in zone %s", u.Zone.Name)
	if managed {
		where = fmt.Sprintf("in GKE-managed zone %s", u.Zone.Name)
	}
	if !u.Answers && u.Short != "" {
		where += " (" + u.Short + ")"
	}
	svc := u.N.Service
	if svc == nil {
		svc = dnsServiceForRecord(u, f)
	}
	// 1. A ClusterIP.
	if c, why := dnsAnswerClusterIP(ips, f); c {
		e.Status, e.Cause = Fail, "record-is-clusterip"
		e.Summary = fmt.Sprintf("A record %s %s holds %s, %s: unroutable from the VPC", name, where, dnsIPs(ips), why)
		if managed {
			e.Summary += "; GKE writes ClusterIPs there by design, even for LoadBalancer Services, and overwrites hand edits: publish the internal load balancer's IP in a zone you own"
		}
		return e
	}
	// 2. An LB IP no forwarding rule holds, or not the Service's internal LB IP any more.
	held := map[netip.Addr]string{}
	for _, fr := range fwd {
		if a, err := netip.ParseAddr(fr.IPAddress); err == nil {
			held[a.Unmap()] = fr.Name
		}
	}
	var ilb *corev1.Service
	ilbIP := ""
	if svc != nil {
		ilb, ilbIP = dnsILBFor(svc, 0, f)
	}
	for _, ip := range ips {
		if fwdErr == nil && held[ip] == "" && (svc != nil || dnsIsLBIngress(ip, f)) {
			e.Status, e.Cause = Fail, "record-old-lb-ip"
			e.Summary = fmt.Sprintf("A record %s %s holds %s, which no forwarding rule holds any more (internal LB IPs change unless reserved)", name, where, ip)
			if ilbIP != "" {
				e.Summary += fmt.Sprintf("; %s/%s's internal load balancer is at %s now", ilb.Namespace, ilb.Name, ilbIP)
			}
			return e
		}
		if ilbIP != "" && ip.String() != ilbIP && !managed {
			e.Status, e.Cause = Fail, "record-old-lb-ip"
			e.Summary = fmt.Sprintf("A record %s %s holds %s, but %s/%s's internal load balancer is at %s", name, where, ip, ilb.Namespace, ilb.Name, ilbIP)
			if fr := held[ip]; fr != "" {
				e.Summary += " (" + ip.String() + " belongs to forwarding rule " + fr + ")"
			}
			return e
		}
	}
	// 3. A record in a GKE-managed zone that differs from what the controller writes.
	if managed && svc != nil {
		var slices = dnsEndpointSlices(ctx, env, svc)
		spec := dnsmodel.ServiceRecords(svc, slices)
		if !dnsmodel.SameIPs(spec.A, u.RR.Rrdatas) {
			e.Status, e.Cause = Fail, "hand-edit-in-managed-zone"
			want := strings.Join(spec.A, ", ")
			if want == "" {
				want = "no record at all"
			}
			e.Summary = fmt.Sprintf("A record %s %s holds %s, but GKE's Cloud DNS controller writes %s for %s/%s (%s): a hand edit, which the controller overwrites (\"Manual changes to managed private DNS zones are not supported\")",
				name, where, strings.Join(u.RR.Rrdatas, ", "), want, svc.Namespace, svc.Name, managedWhy)
			return e
		}
	}
	e.Status = Pass
	switch {
	case ilbIP != "":
		e.Summary = fmt.Sprintf("%s %s points at %s, the internal load balancer of %s", name, where, ilbIP, svc.Namespace+"/"+svc.Name)
	case len(ips) > 0 && held[ips[0]] != "":
		e.Summary = fmt.Sprintf("%s %s points at %s (forwarding rule %s)", name, where, ips[0], held[ips[0]])
	default:
		e.Summary = fmt.Sprintf("%s %s points at %s, not a cluster address", name, where, strings.Join(u.RR.Rrdatas, ", "))
	}
	return e
}

// dnsServiceForRecord finds the Service a record is about when the name does not say: NAME.NS in a
// zone gkedoctor created, or the Service whose load balancer holds the record's IP.
func dnsServiceForRecord(u *dnsRecordUse, f *dnsFacts) *corev1.Service {
	if u.Zone.Labels[fixes.OwnedLabelKey] == fixes.OwnedLabelValue {
		rel := strings.TrimSuffix(model.Fqdn(u.RR.Name), "."+model.Fqdn(u.Zone.DnsName))
		if name, ns, ok := strings.Cut(rel, "."); ok && !strings.Contains(ns, ".") {
			if s := f.Services.Get(ns, name); s != nil {
				return s
			}
		}
	}
	for _, d := range u.RR.Rrdatas {
		if a, err := netip.ParseAddr(strings.TrimSpace(d)); err == nil {
			if o, ok := f.Services.OwnerOfKind(a, model.AddrInternalLB, model.AddrExternalLB); ok {
				return f.Services.Fronted(o.Service)
			}
		}
	}
	return nil
}

// dnsIsLBIngress reports whether ip is (or was, as far as the cluster says) a load balancer's.
func dnsIsLBIngress(ip netip.Addr, f *dnsFacts) bool {
	_, ok := f.Services.OwnerOfKind(ip, model.AddrInternalLB, model.AddrExternalLB)
	return ok
}

func dnsEndpointSlices(ctx context.Context, env *Env, svc *corev1.Service) []discoveryv1.EndpointSlice {
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return nil
	}
	sl, err := env.Inv.EndpointSlices(ctx, svc.Namespace, svc.Name)
	if err != nil {
		return nil
	}
	return sl
}

func runDNSStaleRecord(ctx context.Context, env *Env, rec *Recorder) Result {
	f, err := dnsGetFacts(ctx, env)
	if err != nil {
		return ErrorResult(err)
	}
	if f.ZonesErr != nil {
		return FromErr("list the Cloud DNS zones", f.ZonesErr)
	}
	m := dnsModel(ctx, env, f)
	ff := *f
	ff.Names = dnsFilterNames(&ff, m)
	if r, ok := dnsCommonEvidence(env, &ff, rec); !ok {
		return r
	}
	uses := dnsRecordsUsed(m, ff.Names, rec)
	if len(uses) == 0 {
		return SkipResult("no-records", "no A record in Cloud DNS holds the names the client uses ("+dnsNameListPlain(ff.Names)+"), so there is no record to compare; see dns-servfail for how they resolve")
	}
	fwd, fwdErr := env.Inv.AllForwardingRules(ctx, ff.Project)
	if fwdErr != nil {
		rec.Step("forwarding rules", Skip, "could not list the forwarding rules, so old load-balancer IPs cannot be told apart: "+fwdErr.Error(), "")
	} else {
		rec.Step("forwarding rules", Pass, fmt.Sprintf("%d forwarding rule(s) in project %s", len(fwd), ff.Project),
			"gcloud compute forwarding-rules list --project "+ff.Project)
	}
	var evals []*dnsEval
	for _, u := range uses {
		e := dnsStaleVerdict(ctx, env, &ff, u, fwd, fwdErr)
		st := e.Status
		rec.Step("record "+model.Fqdn(u.RR.Name), st, fmt.Sprintf("A %s (TTL %d) in zone %s (project %s); %s", strings.Join(u.RR.Rrdatas, ", "), u.RR.Ttl, u.Zone.Name, u.Project, u.Role),
			fmt.Sprintf("gcloud dns record-sets describe %s --type A --zone %s --project %s", model.Fqdn(u.RR.Name), u.Zone.Name, u.Project))
		e.recordUse = u
		evals = append(evals, e)
	}
	return dnsAggregate(ctx, env, &ff, evals, "point where the client can connect", dnsStalePlans)
}

func dnsNameListPlain(ns []*dnsName) string {
	var s []string
	for _, n := range ns {
		s = append(s, strings.TrimSuffix(n.FQDN, "."))
	}
	return strings.Join(s, ", ")
}

// dnsStalePlans: update the record in place only in a zone the user owns (not GKE's, not a
// forwarding zone) when the Service's internal LB IP is known; otherwise publish the name in a zone
// the user owns.
func dnsStalePlans(env *Env, f *dnsFacts, first *dnsEval, failing []*dnsEval) []*fixes.Plan {
	var out []*fixes.Plan
	var needOwned []*dnsName
	seen := map[string]bool{}
	for _, e := range failing {
		u := e.recordUse
		if u == nil {
			continue
		}
		svc := u.N.Service
		if svc == nil {
			svc = dnsServiceForRecord(u, f)
		}
		managed, _ := dnsmodel.GKEManaged(u.Zone, f.Cluster)
		if e.Cause == "record-old-lb-ip" && !managed && dnsmodel.KindOf(u.Zone) == dnsmodel.KindPrivate && svc != nil {
			if ilb, ip := dnsILBFor(svc, 0, f); ilb != nil && ip != "" {
				id := fixes.UpdateRecordPlanID(u.Zone.Name, u.RR.Name)
				if !seen[id] {
					seen[id] = true
					project := u.Project
					if project == "" {
						project = f.Project
					}
					plan := fixes.NewUpdateRecordPlan(fixes.UpdateRecordParams{Project: project, Zone: u.Zone.Name, Record: u.RR, NewIP: ip,
						Service: ilb.Namespace + "/" + ilb.Name, GuardDomains: dnsGuardDomains(f), Deps: env.FixDeps})
					if u.Overridden != "" {
						plan = dnsRefused(plan, u.Overridden+" answers the client before the zone, so changing the record changes nothing for it")
					}
					var nets []string
					for _, n := range dnsmodel.BoundNetworks(u.Zone, project) {
						nets = append(nets, gref.NetworkName(n))
					}
					_, unread := dnsZoneJudged(f, "", nil)
					plan.Judge([]string{"networks bound to zone " + u.Zone.Name + ": " + strings.Join(nets, ", "),
						"every client of those networks resolving " + u.RR.Name + " (only this record changes; the zone's other records stay)"}, unread...)
					out = append(out, plan)
				}
				continue
			}
		}
		n := *u.N
		n.Service = svc
		needOwned = append(needOwned, &n)
	}
	if len(needOwned) > 0 {
		out = append(dnsOwnedZonePlans(env, f, needOwned), out...)
	}
	return out
}
