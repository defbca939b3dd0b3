package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/dnsmodel"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/model"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

func init() {
	Register(CheckFunc{CheckID: "dns-servfail", Fn: runDNSServfail})
}

// dnsEval is what is known about one name: the prediction from configuration and the live answer.
type dnsEval struct {
	N      *dnsName
	Pred   *dnsmodel.Prediction // nil when the Cloud DNS facts could not be read
	Obs    *probe.DNSResult     // nil when no live probe was made
	ObsVPC bool                 // Obs is what the client's VPC resolver answers
	// The verdict for this name.
	Status  Status
	Cause   string
	Summary string
	// recordUse is the record a dns-stale-record verdict is about.
	recordUse *dnsRecordUse
}

// unknown reports that nothing could be concluded for the name.
func (e *dnsEval) unknown() bool { return e.Status == "" }

// dnsEvaluate predicts and probes one name and records both in the evidence.
func dnsEvaluate(ctx context.Context, env *Env, f *dnsFacts, m *dnsmodel.Model, rec *Recorder, n *dnsName) *dnsEval {
	e := &dnsEval{N: n}
	if m != nil {
		p := m.Predict(n.FQDN, n.Network)
		e.Pred = &p
		cmd := ""
		switch {
		case p.ServerPolicy != nil:
			cmd = fmt.Sprintf("gcloud dns policies describe %s --project %s", p.ServerPolicy.Policy.Name, p.ServerPolicy.Project)
		case p.Rule != nil && p.RulePolicy != nil:
			cmd = fmt.Sprintf("gcloud dns response-policies rules describe %s --response-policy %s --project %s", p.Rule.RuleName, p.RulePolicy.Name(), p.RulePolicy.Project)
		case p.Zone != nil:
			zp := m.ZoneProject(p.Zone)
			cmd = fmt.Sprintf("gcloud dns managed-zones describe %s --project %s", p.Zone.Name, zp)
			if p.Kind == dnsmodel.KindPrivate {
				cmd = fmt.Sprintf("gcloud dns record-sets list --zone %s --project %s --name %s", p.Zone.Name, zp, n.FQDN)
			}
		}
		st := Skip
		switch {
		case p.Outcome == probe.OutcomeAnswer:
			st = Pass
		case p.Outcome != 0:
			st = Fail
		}
		detail := fmt.Sprintf("from configuration: %s via %s: %s", dnsPredicted(p), p.Via, p.Reason)
		if len(p.Bypassed) > 0 {
			detail += "; " + strings.Join(p.Bypassed, "; ")
		}
		if note := p.IncompleteNote(); note != "" {
			detail += "; " + note
			if st == Pass {
				st = Skip
			}
		}
		rec.Step("predict "+n.FQDN, st, detail, cmd)
	}
	if env.Resolver == "" {
		return e
	}
	vpc := dnsVPCView(env)
	if !vpc && e.Pred != nil && e.Pred.Zone != nil {
		rec.Step("query "+n.FQDN, Skip, fmt.Sprintf("not queried live: the resolver here (%s, %s) does not see the VPC's private zones, and %s answers this name",
			env.Resolver, env.ResolverWhy, e.Pred.Via), "")
		return e
	}
	r := dnsProbe(ctx, env, n.FQDN)
	e.Obs = &r
	e.ObsVPC = vpc || (e.Pred != nil && e.Pred.Zone == nil && len(e.Pred.Unseen) == 0 && e.Pred.Via == "public DNS")
	st := Pass
	if r.Outcome != probe.OutcomeAnswer {
		st = Fail
	}
	detail := "observed: " + dnsObservation(r)
	if !e.ObsVPC {
		st = Skip
		detail += fmt.Sprintf(" — this is %s (%s), which may not answer as the VPC does, so it is not used for the verdict", env.Resolver, env.ResolverWhy)
	}
	rec.Step("query "+n.FQDN, st, detail, r.Dig())
	if e.Pred != nil && e.ObsVPC && e.Pred.Outcome != 0 {
		if dnsSameAnswer(*e.Pred, r) {
			rec.Step("compare "+n.FQDN, Pass, fmt.Sprintf("prediction (%s) and observation agree", dnsPredicted(*e.Pred)), "")
		} else {
			rec.Step("compare "+n.FQDN, Warn, fmt.Sprintf("prediction and observation differ: configuration says %s, the resolver answered %s; something the model does not see is in play (a server or response policy, a zone in another project, a change in progress)",
				dnsPredicted(*e.Pred), dnsObservationShort(r)), "")
		}
	}
	return e
}

// dnsObservationShort names an observed outcome in one word or the answer's addresses.
func dnsObservationShort(r probe.DNSResult) string {
	if r.Outcome == probe.OutcomeAnswer {
		var ips []string
		for _, ip := range r.IPs() {
			ips = append(ips, ip.String())
		}
		return "A " + strings.Join(ips, ", ")
	}
	switch {
	case r.Outcome == probe.OutcomeNoData:
		return "NODATA"
	case r.RcodeName != "":
		return r.RcodeName
	case r.Outcome == probe.OutcomeTimeout:
		return "no reply before the deadline (timeout)"
	case r.Outcome == probe.OutcomeMalformed:
		return "a malformed reply: " + fmt.Sprint(r.Err)
	case r.Err != nil:
		return "error: " + r.Err.Error()
	}
	return r.Outcome.String()
}

// dnsObservedCause maps an observed failure to its cause id and sentence.
func dnsObservedCause(n string, r probe.DNSResult, resolver string) (string, string) {
	symptom := ""
	if s := r.Symptom(); s != "" {
		eai, code := r.EAI()
		symptom = fmt.Sprintf(`; an application sees "%s" (%s, [Errno %d])`, s, eai, code)
	}
	switch r.Outcome {
	case probe.OutcomeServFail:
		return "observed-servfail", fmt.Sprintf("%s: the resolver %s answered SERVFAIL%s", n, resolver, symptom)
	case probe.OutcomeNXDomain:
		return "observed-nxdomain", fmt.Sprintf("%s: the resolver %s answered NXDOMAIN (the name does not exist)%s", n, resolver, symptom)
	case probe.OutcomeNoData:
		return "observed-nodata", fmt.Sprintf("%s: the resolver %s knows the name but has no A record for it (NODATA)%s", n, resolver, symptom)
	}
	return "observed-no-answer", fmt.Sprintf("%s: the resolver %s gave no usable answer (%s)%s", n, resolver, dnsObservationShort(r), symptom)
}

// dnsConfigCause is the §2 cause a prediction shows, if any ("" for a name that resolves to an
// address other than a ClusterIP). known is false when the prediction cannot tell.
func dnsConfigCause(p *dnsmodel.Prediction, n *dnsName, f *dnsFacts) (cause, summary string, known bool) {
	if p == nil {
		return "", "", false
	}
	name := strings.TrimSuffix(n.FQDN, ".")
	if p.Unjudged() && p.Situation == dnsmodel.SitForwarded {
		var ts []string
		for _, t := range p.Targets {
			ts = append(ts, t.Target+" ("+t.Why+")")
		}
		return "forwarding-unverified", fmt.Sprintf("%s: forwarding zone %s sends queries for %s to %s: cannot judge from configuration whether they answer; a live query decides",
			name, p.Zone.Name, model.Fqdn(p.Zone.DnsName), strings.Join(ts, "; ")), true
	}
	switch p.Situation {
	case dnsmodel.SitServerPolicy:
		if p.Outcome == probe.OutcomeServFail {
			return "server-policy", fmt.Sprintf("%s: SERVFAIL (\"Temporary failure in name resolution\"): %s", name, p.Reason), true
		}
		return "server-policy", fmt.Sprintf("%s: %s; cannot judge from configuration what they answer, a live query decides", name, p.Reason), true
	case dnsmodel.SitResponsePolicy:
		switch p.Outcome {
		case probe.OutcomeNoData, probe.OutcomeNXDomain:
			return "response-policy-nodata", fmt.Sprintf("%s: %s: %s", name, dnsPredicted(*p), p.Reason), true
		case probe.OutcomeAnswer:
			if c, why := dnsAnswerClusterIP(p.IPs, f); c {
				return "answer-is-clusterip", fmt.Sprintf("%s resolves to %s, %s (%s): reachable only inside the cluster, so the connection from the VPC hangs", name, dnsIPs(p.IPs), why, p.Via), true
			}
			return "", "", true
		}
		return "", "", false
	case dnsmodel.SitForwardUnreachable:
		var ts []string
		for _, t := range p.Targets {
			switch {
			case t.ClusterIP && t.Service != "":
				ts = append(ts, t.Target+", the ClusterIP of Service "+t.Service)
			case t.ClusterIP:
				ts = append(ts, t.Target+", a ClusterIP")
			default:
				ts = append(ts, t.Target+" ("+t.Why+")")
			}
		}
		if !p.AllClusterOnly() {
			// A resolver in the VPC the firewall closes: the zone is right, its path is not.
			return "forwarding-target-closed", fmt.Sprintf("%s: SERVFAIL (\"Temporary failure in name resolution\"): forwarding zone %s sends queries for %s to %s; the firewall does not admit the Cloud DNS forwarder (35.199.192.0/19) on port 53",
				name, p.Zone.Name, model.Fqdn(p.Zone.DnsName), strings.Join(ts, "; ")), true
		}
		return "forwarding-to-clusterip", fmt.Sprintf("%s: SERVFAIL (\"Temporary failure in name resolution\"): forwarding zone %s sends queries for %s to %s, which the Cloud DNS forwarder (35.199.192.0/19) cannot reach",
			name, p.Zone.Name, model.Fqdn(p.Zone.DnsName), strings.Join(ts, "; ")), true
	case dnsmodel.SitClusterOnly:
		return "cluster-scope", fmt.Sprintf("%s: NXDOMAIN (\"Name or service not known\"), because %s", name, p.Reason), true
	case dnsmodel.SitWrongDomain:
		return "wrong-domain", fmt.Sprintf("%s: NXDOMAIN, because %s", name, p.Reason), true
	case dnsmodel.SitOtherNetwork:
		return "zone-other-network", fmt.Sprintf("%s: %s", name, p.Reason), true
	case dnsmodel.SitNoRecord, dnsmodel.SitNoZone:
		if s := n.Service; s != nil && s.Spec.ClusterIP == corev1.ClusterIPNone && p.Zone != nil {
			if managed, _ := dnsmodel.GKEManaged(p.Zone, f.Cluster); managed {
				return "headless-no-endpoints", fmt.Sprintf("%s: %s; %s/%s is a headless Service, which the Kubernetes DNS spec leaves without any record while none of its endpoints is ready",
					name, p.Reason, s.Namespace, s.Name), true
			}
		}
		return "no-record", fmt.Sprintf("%s: %s", name, p.Reason), true
	case dnsmodel.SitAnswer:
		if c, why := dnsAnswerClusterIP(p.IPs, f); c {
			return "answer-is-clusterip", fmt.Sprintf("%s resolves to %s, %s: reachable only inside the cluster, so the connection from the VPC hangs", name, dnsIPs(p.IPs), why), true
		}
		return "", "", true
	}
	return "", "", false
}

func dnsAnswerClusterIP(ips []netip.Addr, f *dnsFacts) (bool, string) {
	for _, ip := range ips {
		if ok, svc := dnsClusterIPOf(ip, f); ok {
			if svc != "" {
				return true, "the ClusterIP of Service " + svc
			}
			return true, "an address in the cluster's services range " + f.Cluster.ServicesCIDR.String()
		}
	}
	return false, ""
}

func dnsIPs(ips []netip.Addr) string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return strings.Join(s, ", ")
}

// verdictServfail decides one name for dns-servfail.
func (e *dnsEval) verdictServfail(f *dnsFacts, env *Env) {
	name := strings.TrimSuffix(e.N.FQDN, ".")
	cause, summary, known := dnsConfigCause(e.Pred, e.N, f)
	if e.Obs != nil && e.ObsVPC {
		r := *e.Obs
		if r.Outcome == probe.OutcomeAnswer {
			if c, why := dnsAnswerClusterIP(r.IPs(), f); c {
				e.Status, e.Cause = Fail, "answer-is-clusterip"
				e.Summary = fmt.Sprintf("%s resolves to %s, %s: reachable only inside the cluster, so the connection from the VPC hangs", name, dnsIPs(r.IPs()), why)
				return
			}
			if ips := r.IPs(); len(ips) > 0 && dnsDefaultServicesRange.Contains(ips[0]) && f.Cluster == nil {
				e.Status, e.Cause = Warn, "answer-is-clusterip"
				e.Summary = fmt.Sprintf("%s resolves to %s, in GKE's default services range %s: probably a ClusterIP, unreachable from the VPC (the cluster could not be read to be sure)",
					name, dnsIPs(r.IPs()), dnsDefaultServicesRange)
				return
			}
			e.Status, e.Summary = Pass, fmt.Sprintf("%s resolves to %s from the VPC (resolver %s)", name, dnsIPs(r.IPs()), env.Resolver)
			return
		}
		if cause != "" && e.Pred != nil && !dnsCannotJudge(cause, e.Pred) && dnsSameAnswer(*e.Pred, r) {
			e.Status, e.Cause = Fail, cause
			e.Summary = summary + fmt.Sprintf("; observed live: %s from %s", dnsObservationShort(r), env.Resolver)
			return
		}
		e.Status = Fail
		e.Cause, e.Summary = dnsObservedCause(name, r, env.Resolver)
		if e.Pred != nil && e.Pred.Outcome != 0 {
			e.Summary += fmt.Sprintf("; the configuration predicted %s (%s), so something the model does not see is in play", dnsPredicted(*e.Pred), e.Pred.Reason)
		}
		return
	}
	if !known {
		return
	}
	not := "not queried live from here"
	switch {
	case env.Resolver == "":
		not += " (no resolver: pass --resolver HOST:PORT, or run in the VPC)"
	case !dnsVPCView(env):
		not += " (this machine's resolver does not see the VPC's private zones; run in the VPC or pass --resolver)"
	}
	note := e.Pred.IncompleteNote()
	if cause == "" {
		if note != "" {
			// Never a pass on an unread view: a zone or rule there may answer instead.
			e.Summary = fmt.Sprintf("%s resolves to %s as far as the configuration read shows, but %s", name, dnsIPs(e.Pred.IPs), note)
			return
		}
		e.Status, e.Summary = Pass, fmt.Sprintf("%s resolves to %s from the VPC (predicted from configuration; %s)", name, dnsIPs(e.Pred.IPs), not)
		return
	}
	e.Status, e.Cause, e.Summary = Fail, cause, summary+" (predicted from configuration; "+not+")"
	if dnsCannotJudge(cause, e.Pred) {
		e.Status = Warn
	}
	if note != "" {
		e.Status = Warn
		e.Summary += "; " + note
	}
}

// dnsCannotJudge reports a cause configuration cannot settle: a live query decides (warn, no fix).
func dnsCannotJudge(cause string, p *dnsmodel.Prediction) bool {
	return cause == "forwarding-unverified" || (cause == "server-policy" && p != nil && p.Outcome == 0)
}

var dnsDefaultServicesRange = netip.MustParsePrefix("34.118.224.0/20")

// dnsCommonEvidence records what both DNS checks looked at. It returns false (with the result) when
// there is nothing to look at.
func dnsCommonEvidence(env *Env, f *dnsFacts, rec *Recorder) (Result, bool) {
	if f.Cluster != nil {
		rec.Step("cluster DNS", Pass, fmt.Sprintf("%s (domain %s, services range %s)", f.Cluster.ScopeName(), f.Cluster.Domain, f.Cluster.ServicesCIDR),
			fmt.Sprintf("gcloud container clusters describe %s --location %s --project %s --format 'yaml(networkConfig.dnsConfig,servicesIpv4Cidr)'",
				env.Inv.Scope.Cluster, env.Inv.Scope.Location, env.Inv.Scope.Project))
	} else {
		rec.Step("cluster DNS", Skip, "could not read the cluster: "+f.ClusterErr.Error(), "")
	}
	if f.ZonesErr == nil {
		dnsViewEvidence(f, rec)
	} else {
		rec.Step("Cloud DNS zones", Skip, "could not list the zones: "+f.ZonesErr.Error(), "")
	}
	if f.PathErr != nil {
		rec.Step("client", Skip, "could not discover the VPC client and the names it uses: "+f.PathErr.Error(), "")
	}
	if f.SvcErr != nil {
		rec.Step("cluster Services", Skip, "could not list the cluster's Services, so ClusterIPs are recognised by the services range only and names are not mapped to Services: "+f.SvcErr.Error(), "")
	}
	if len(f.Names) > 0 {
		var ns []string
		for _, n := range f.Names {
			ns = append(ns, strings.TrimSuffix(n.FQDN, ".")+" ("+strings.Join(n.From, "; ")+")")
		}
		rec.Step("names", Pass, strings.Join(ns, ", "), "")
	}
	if f.Network != "" {
		rec.Step("client network", Pass, f.NetworkHow, "")
	}
	for _, note := range f.Notes {
		rec.Step("note", Skip, note, "")
	}
	if len(f.Skipped) > 0 {
		rec.Step("names not checked", Pass, "public names the client uses (public DNS answers them): "+strings.Join(f.Skipped, ", "), "")
	}
	switch {
	case env.Resolver != "" && dnsVPCView(env):
		rec.Step("resolver", Pass, fmt.Sprintf("live queries to %s (%s)", env.Resolver, orDefault(env.ResolverWhy, "given")), "")
	case env.Resolver != "":
		rec.Step("resolver", Skip, fmt.Sprintf("%s (%s): not the VPC's view; private names are predicted from configuration only", env.Resolver, env.ResolverWhy), "")
	default:
		rec.Step("resolver", Skip, "no live DNS queries: "+orDefault(env.ResolverWhy, "no resolver"), "")
	}
	if len(f.Names) == 0 {
		reason := "no name to check: no URL of the client names a cluster Service, and no --dns-name or --service was given"
		if f.PathErr != nil {
			reason += " (" + f.PathErr.Error() + ")"
		}
		cause := "no-names"
		if apierr.IsCouldNotLook(f.PathErr) {
			cause = "not-configured"
		}
		return SkipResult(cause, reason), false
	}
	if f.ZonesErr != nil && env.Resolver == "" {
		r := FromErr("list the Cloud DNS zones", f.ZonesErr)
		if r.Status == Skip {
			r.Summary += "; and there is no resolver for a live query (--resolver)"
		}
		return r, false
	}
	return Result{}, true
}

// dnsViewEvidence records the zones of every project read, what could not be read (skip, naming the
// project and the permission), and the client network's view in Cloud DNS's order.
func dnsViewEvidence(f *dnsFacts, rec *Recorder) {
	projects := f.Projects
	if len(projects) == 0 {
		projects = []dnsProject{{ID: f.Project, Why: "the cluster's project"}}
	}
	for _, dp := range projects {
		var zs []string
		for _, z := range f.Zones {
			if zp, ok := f.ZoneProjects[z]; (ok && zp != dp.ID) || (!ok && dp.ID != f.Project) {
				continue
			}
			k := string(dnsmodel.KindOf(z))
			if managed, _ := dnsmodel.GKEManaged(z, f.Cluster); managed {
				k += ", GKE-managed"
			}
			zs = append(zs, fmt.Sprintf("%s (%s, %s)", z.Name, model.Fqdn(z.DnsName), k))
		}
		unread := false
		for _, u := range f.Unread {
			if u.Project == dp.ID && u.What == "managed zones" {
				unread = true
			}
		}
		if unread {
			continue
		}
		detail := fmt.Sprintf("%d zone(s) in project %s (%s)", len(zs), dp.ID, dp.Why)
		if len(zs) > 0 {
			detail += ": " + strings.Join(zs, "; ")
		}
		step := "Cloud DNS zones"
		if dp.ID != f.Project {
			step += " (" + dp.ID + ")"
		}
		rec.Step(step, Pass, detail, "gcloud dns managed-zones list --project "+dp.ID)
	}
	for _, u := range f.Unread {
		cmd := "gcloud dns managed-zones list --project " + u.Project
		switch u.What {
		case "response policies":
			cmd = "gcloud dns response-policies list --project " + u.Project
		case "server policies":
			cmd = "gcloud dns policies list --project " + u.Project
		}
		rec.Step("not read: "+u.What+" of "+u.Project, Skip, "could not read "+u.String()+"; what it holds may answer the client instead, so no verdict that depends on it is a pass", cmd)
	}
	if f.Network != "" {
		m := &dnsmodel.Model{Project: f.Project, Zones: f.Zones, ZoneProjects: f.ZoneProjects, ResponsePolicies: f.ResponsePolicies, ServerPolicies: f.ServerPolicies}
		v := m.View(f.Network)
		st := Pass
		for _, rp := range v.ResponsePolicies {
			if rp.RulesErr != nil {
				st = Skip
			}
		}
		rec.Step("DNS view of network "+gref.NetworkName(f.Network), st, "in Cloud DNS's order: "+strings.Join(v.Lines()[:len(v.Lines())-len(v.Unread)], "; "),
			"gcloud dns policies list --project "+gref.ProjectOf(f.Network)+"; gcloud dns response-policies list --project "+gref.ProjectOf(f.Network))
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// dnsFilterNames keeps the names worth checking: explicit ones, and path names a private zone or the
// cluster holds (public names are public DNS's business).
func dnsFilterNames(f *dnsFacts, m *dnsmodel.Model) []*dnsName {
	var out []*dnsName
	f.Skipped = nil
	for _, n := range f.Names {
		if n.Explicit || n.Service != nil || m == nil {
			out = append(out, n)
			continue
		}
		p := m.Predict(n.FQDN, n.Network)
		if p.Zone == nil && len(p.Unseen) == 0 && p.Situation == dnsmodel.SitUnpredicted {
			f.Skipped = append(f.Skipped, strings.TrimSuffix(n.FQDN, "."))
			continue
		}
		out = append(out, n)
	}
	return out
}

func runDNSServfail(ctx context.Context, env *Env, rec *Recorder) Result {
	f, err := dnsGetFacts(ctx, env)
	if err != nil {
		return ErrorResult(err)
	}
	m := dnsModel(ctx, env, f)
	ff := *f
	ff.Names = dnsFilterNames(&ff, m)
	if r, ok := dnsCommonEvidence(env, &ff, rec); !ok {
		return r
	}
	var evals []*dnsEval
	for _, n := range ff.Names {
		e := dnsEvaluate(ctx, env, &ff, m, rec, n)
		e.verdictServfail(&ff, env)
		evals = append(evals, e)
	}
	if m != nil {
		rec.Step("caveats", Pass, dnsmodel.Caveats, "")
	}
	return dnsAggregate(ctx, env, &ff, evals, "resolve from the VPC", dnsServfailPlans)
}

// dnsAggregate turns the names' verdicts into the check's result: the first failing name decides
// (names in the order the client uses them, then the flags), with the fixes for its cause.
func dnsAggregate(ctx context.Context, env *Env, f *dnsFacts, evals []*dnsEval, good string,
	plans func(env *Env, f *dnsFacts, first *dnsEval, failing []*dnsEval) []*fixes.Plan) Result {
	var failing, warning, passing, unknown []*dnsEval
	for _, e := range evals {
		switch e.Status {
		case Fail:
			failing = append(failing, e)
		case Warn:
			warning = append(warning, e)
		case Pass:
			passing = append(passing, e)
		default:
			unknown = append(unknown, e)
		}
	}
	bad := append(append([]*dnsEval{}, failing...), warning...)
	if len(bad) > 0 {
		first := bad[0]
		summary := first.Summary
		if more := len(bad) - 1; more > 0 {
			summary += fmt.Sprintf(" (and %d more name(s): %s)", more, dnsNameList(bad[1:]))
		}
		res := Result{Status: first.Status, Cause: first.Cause, Summary: summary}
		res.Fixes = plans(env, f, first, bad)
		return res
	}
	if len(unknown) > 0 {
		var why []string
		for _, e := range unknown {
			r := "not predictable from configuration and not queried live"
			switch {
			case e.Summary != "":
				why = append(why, e.Summary)
				continue
			case e.Pred != nil && e.Pred.Reason != "":
				r = e.Pred.Reason
				if note := e.Pred.IncompleteNote(); note != "" {
					r += "; " + note
				}
			}
			why = append(why, strings.TrimSuffix(e.N.FQDN, ".")+": "+r)
		}
		s := fmt.Sprintf("could not tell whether %d name(s) %s: %s; run in the VPC or pass --resolver to query live", len(unknown), good, strings.Join(why, "; "))
		if len(passing) > 0 {
			s = fmt.Sprintf("%d name(s) %s, but ", len(passing), good) + s
		}
		return SkipResult("unverifiable", s)
	}
	if len(passing) == 1 {
		return PassResult(passing[0].Summary)
	}
	var parts []string
	for _, e := range passing {
		parts = append(parts, e.Summary)
	}
	return PassResult(fmt.Sprintf("all %d names %s: %s", len(passing), good, strings.Join(parts, "; ")))
}

// dnsForwarderFirewallAdvice is the firewall rule a forwarding target in the VPC needs. It is advice:
// the target's network tags or service account are not known here, and a hierarchical or network
// policy rule that denies (named in the evidence) would still win.
func dnsForwarderFirewallAdvice(f *dnsFacts, p *dnsmodel.Prediction) *fixes.Plan {
	var targets, why []string
	for _, t := range p.Targets {
		targets = append(targets, t.Target)
		why = append(why, t.Target+": "+t.Why)
	}
	project := gref.ProjectOf(f.Network)
	if project == "" {
		project = f.Project
	}
	return &fixes.Plan{ID: "allow-dns-forwarder/" + p.Zone.Name, Title: "Let the Cloud DNS forwarder (35.199.192.0/19) reach " + strings.Join(targets, ", ") + " on port 53", Advice: true,
		JudgedAgainst: []string{"network " + gref.NetworkName(f.Network) + ": the resolvers " + strings.Join(targets, ", ") + " (only those, by network tag or service account), and every zone that forwards to them"},
		Description:   "Forwarding zone " + p.Zone.Name + " is right; its targets are closed to the forwarder (" + strings.Join(why, "; ") + "). Add an ingress rule for 35.199.192.0/19 on UDP and TCP 53, limited to the resolvers' network tags or service account; if a firewall policy denies it, the rule must go into that policy instead.",
		Commands: []string{fmt.Sprintf("gcloud compute firewall-rules create allow-cloud-dns-forwarder --project %s --network %s --direction INGRESS --source-ranges 35.199.192.0/19 --allow udp:53,tcp:53 --target-tags RESOLVER-TAG",
			project, gref.NetworkName(f.Network))}}
}

func dnsNameList(es []*dnsEval) string {
	var s []string
	for _, e := range es {
		s = append(s, strings.TrimSuffix(e.N.FQDN, ".")+" ("+e.Cause+")")
	}
	return strings.Join(s, ", ")
}

// dnsServfailPlans are the fixes for dns-servfail's causes (DESIGN §7: create before change before
// delete; never GKE's zone; never clusterDnsScope).
func dnsServfailPlans(env *Env, f *dnsFacts, first *dnsEval, failing []*dnsEval) []*fixes.Plan {
	var names []*dnsName
	for _, e := range failing {
		if !dnsCannotJudge(e.Cause, e.Pred) { // a live query decides: no fix
			names = append(names, e.N)
		}
	}
	out := dnsOwnedZonePlans(env, f, names)
	vm := dnsViewModel(f)
	seen := map[string]bool{}
	for _, e := range failing {
		p := e.Pred
		switch e.Cause {
		case "server-policy":
			sp := p.ServerPolicy
			if sp == nil || seen["policy/"+sp.Policy.Name] {
				continue
			}
			seen["policy/"+sp.Policy.Name] = true
			out = append(out, &fixes.Plan{ID: "server-policy/" + sp.Policy.Name, Title: "Check the alternative name servers of server policy " + sp.Policy.Name, Advice: true,
				JudgedAgainst: []string{"every query of every client of network " + gref.NetworkName(e.N.Network) + " (the policy sends all of them to " + dnsTargetList(p) + ")"},
				Description: "Every query from network " + gref.NetworkName(e.N.Network) + " goes to " + dnsTargetList(p) + ", not to Cloud DNS's zones: those servers must answer the cluster's names (forward them to a resolver that holds them), or the policy must go. " +
					"Changing the policy changes resolution for every client of the network, so gkedoctor never does it; zone fixes are refused while it is in place.",
				Commands: []string{fmt.Sprintf("gcloud dns policies describe %s --project %s", sp.Policy.Name, sp.Project)}})
		case "forwarding-target-closed":
			if p == nil || p.Zone == nil || seen[p.Zone.Name] {
				continue
			}
			seen[p.Zone.Name] = true
			out = append(out, dnsForwarderFirewallAdvice(f, p))
		case "forwarding-to-clusterip":
			// The zone is deleted only when every target exists only inside the cluster: a zone that
			// forwards to anything else (a resolver in the VPC, one on premises) is never touched.
			if p == nil || p.Zone == nil || seen[p.Zone.Name] || !p.AllClusterOnly() {
				continue
			}
			seen[p.Zone.Name] = true
			if managed, why := dnsmodel.GKEManaged(p.Zone, f.Cluster); managed {
				out = append(out, &fixes.Plan{ID: "gke-zone/" + p.Zone.Name, Title: "Leave GKE's zone " + p.Zone.Name + " alone", Advice: true,
					JudgedAgainst: []string{"GKE's own records in zone " + p.Zone.Name + ", which GKE rewrites and every client of the cluster's network resolves"},
					Description:   "The zone is GKE's (" + why + "); gkedoctor never writes to it. Publish names in a zone you own instead."})
				continue
			}
			var why []string
			for _, t := range p.Targets {
				why = append(why, t.Target+" is "+t.Why)
			}
			plan := fixes.NewDeleteForwardingZonePlan(fixes.DeleteForwardingZoneParams{Project: vm.ZoneProject(p.Zone), Zone: p.Zone,
				Why: strings.Join(why, "; "), GuardDomains: dnsGuardDomains(f), Deps: env.FixDeps})
			if over := vm.OverriddenBy(e.N.Network); over != "" {
				plan = dnsRefused(plan, over)
			}
			zp := vm.ZoneProject(p.Zone)
			var nets []string
			for _, n := range dnsmodel.BoundNetworks(p.Zone, zp) {
				nets = append(nets, gref.NetworkName(n))
			}
			_, unread := dnsZoneJudged(f, "", nil)
			plan.Judge([]string{"networks bound: " + strings.Join(nets, ", "),
				"every name under " + p.Zone.DnsName + " for clients of those networks: it forwards only to " + dnsTargetList(p) + ", which answer nothing outside the cluster"}, unread...)
			out = append(out, plan)
		case "zone-other-network":
			if p == nil || len(p.Unseen) == 0 || seen[p.Unseen[0].Zone.Name] {
				continue
			}
			z := p.Unseen[0].Zone
			seen[z.Name] = true
			if managed, why := dnsmodel.GKEManaged(z, f.Cluster); managed {
				out = append(out, &fixes.Plan{ID: "bind-zone/" + z.Name, Title: "Zone " + z.Name + " is GKE's: it cannot be bound to the client's network", Advice: true,
					JudgedAgainst: []string{"GKE's own zone " + z.Name + " and every client of the networks it is bound to"},
					Description:   "The zone holding the name is GKE-managed (" + why + "); gkedoctor never changes it. Publish names in a zone you own, bound to the client's network, or move the client to the cluster's network."})
				continue
			}
			zp := vm.ZoneProject(z)
			nets := append(dnsmodel.BoundNetworks(z, zp), e.N.Network)
			var urls []string
			for _, n := range nets {
				urls = append(urls, gref.NetworkURL(n, zp))
			}
			var bound []string
			for _, n := range nets {
				bound = append(bound, gref.NetworkName(n))
			}
			out = append(out, &fixes.Plan{ID: "bind-zone/" + z.Name, Title: "Bind zone " + z.Name + " to the client's network " + gref.NetworkName(e.N.Network), Advice: true, VPCWide: true,
				JudgedAgainst: []string{"networks bound after the change: " + strings.Join(bound, ", "), "every name under " + z.DnsName + " for every client of network " + gref.NetworkName(e.N.Network)},
				Description:   "A private zone answers only the networks it is bound to. Binding it to the client's network changes resolution of " + z.DnsName + " for every client of that network, so it is advice: run it if that is what you want.",
				Commands:      []string{fmt.Sprintf("gcloud dns managed-zones update %s --project %s --networks %s", z.Name, zp, strings.Join(urls, ","))}})
		case "headless-no-endpoints":
			if s := e.N.Service; s != nil && !seen["headless/"+s.Name] {
				seen["headless/"+s.Name] = true
				out = append(out, &fixes.Plan{ID: "ready-endpoints/" + s.Namespace + "/" + s.Name, Title: "Make the pods behind " + s.Namespace + "/" + s.Name + " ready", Advice: true,
					JudgedAgainst: []string{"the pods Service " + s.Namespace + "/" + s.Name + " selects (" + dnsSelector(s) + ")"},
					Description:   "A headless Service's name exists only while at least one endpoint is ready; find why its pods are not ready.",
					Commands: []string{fmt.Sprintf("kubectl get endpointslices -n %s -l kubernetes.io/service-name=%s -o wide", s.Namespace, s.Name),
						fmt.Sprintf("kubectl describe pods -n %s -l %s", s.Namespace, dnsSelector(s))}})
			}
		case "cluster-scope", "wrong-domain":
			if s := e.N.Service; s != nil && s.Spec.ClusterIP == corev1.ClusterIPNone && f.Cluster != nil && !seen["additive"] {
				seen["additive"] = true
				out = append(out, dnsAdditiveAdvice(env, f))
			}
		}
	}
	return out
}

func dnsTargetList(p *dnsmodel.Prediction) string {
	var s []string
	for _, t := range p.Targets {
		s = append(s, t.Target)
	}
	return strings.Join(s, ", ")
}

func dnsSelector(s *corev1.Service) string {
	var parts []string
	for k, v := range s.Spec.Selector {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// dnsAdditiveAdvice is the headless-only alternative of FAILURE-MODES §2: additive VPC scope. Never a
// change of clusterDnsScope (it needs a re-create).
func dnsAdditiveAdvice(env *Env, f *dnsFacts) *fixes.Plan {
	return &fixes.Plan{
		ID: "additive-vpc-scope/" + gref.ShortName(f.Cluster.Name), Title: "For headless Services: publish the cluster's records to the VPC with additive VPC scope", Advice: true,
		JudgedAgainst: []string{"every Service of cluster " + gref.ShortName(f.Cluster.Name) + ": their records become visible to the whole VPC under the new domain"},
		Description: "Additive VPC scope keeps cluster scope and adds a zone under a domain unique in the VPC, visible to the VPC (Standard clusters; on Autopilot only at creation; not in Shared VPC service projects). " +
			"Headless Services then resolve to their ready pod IPs (routable only in VPC-native clusters). ClusterIP Services still resolve to ClusterIPs, which the VPC cannot reach: for them use an internal load balancer and a zone you own. " +
			"Whether it can be enabled in place on every Standard version is not confirmed. Never change clusterDnsScope of an existing cluster: that needs a re-create.",
		Commands: []string{fmt.Sprintf("gcloud container clusters update %s --location %s --project %s --additive-vpc-scope-dns-domain=DOMAIN.example",
			env.Inv.Scope.Cluster, env.Inv.Scope.Location, env.Inv.Scope.Project)},
	}
}
