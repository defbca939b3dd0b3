package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// run-vpc-egress: the Cloud Run service (or App Engine standard version) has VPC access (a connector
// or Direct VPC egress), its egress setting sends every target address into the VPC
// (PRIVATE_RANGES_ONLY only sends RFC 1918 / RFC 6598 destinations, App Engine's PRIVATE_IP_RANGES
// RFC 1918; GKE's default services range 34.118.224.0/20 is neither), and the VPC it lands in is the
// cluster's network or peered with it.

func init() {
	Register(CheckFunc{CheckID: "run-vpc-egress", Fn: runRunVPCEgress})
}

type egressFinding struct {
	Src       *Source
	Status    Status
	Cause     string
	Summary   string
	Evidence  []Evidence
	Err       error
	Offending []*target // addresses PRIVATE_RANGES_ONLY sends to the internet
	// NetworkMismatch: the connector / Direct VPC network is neither the cluster's nor peered with it.
	NetworkMismatch bool
	Network         string // projects/P/global/networks/N the source lands in, when known
}

type egressAnalysis struct {
	Facts    *reachFacts
	Findings []*egressFinding
}

func (a *egressAnalysis) finding(s *Source) *egressFinding {
	for _, f := range a.Findings {
		if f.Src.Name == s.Name {
			return f
		}
	}
	return nil
}

var egressSlot = inventory.NewSlot[*egressAnalysis]("run-vpc-egress")

func analyseEgress(ctx context.Context, env *Env) (*egressAnalysis, error) {
	return inventory.Derive(ctx, env.Inv, egressSlot, func(ctx context.Context) (*egressAnalysis, error) {
		f, err := getReachFacts(ctx, env)
		if err != nil {
			return nil, err
		}
		a := &egressAnalysis{Facts: f}
		for i := range f.Path.Sources {
			a.Findings = append(a.Findings, egressFor(ctx, env, f, &f.Path.Sources[i]))
		}
		return a, nil
	})
}

// egressFor decides one source: it has VPC access; its egress setting sends every target address
// into the VPC; the network it lands in is the cluster's or ACTIVE-peered with it. Each aspect records
// its evidence; the verdict is the first confirmed cause, else a skip for what could not be read.
func egressFor(ctx context.Context, env *Env, f *reachFacts, src *Source) *egressFinding {
	fd := &egressFinding{Src: src}
	if !fd.access() {
		return fd
	}
	var errs couldNotLook
	fd.egressSetting(f, &errs)
	fd.network(ctx, env, f, &errs)
	fd.verdict(f, &errs)
	return fd
}

func (fd *egressFinding) step(st Status, s, detail, cmd string) {
	fd.Evidence = append(fd.Evidence, Evidence{Step: s, Status: st, Detail: detail, Command: cmd})
}

// access: without a connector or Direct VPC egress nothing internal is reachable.
func (fd *egressFinding) access() bool {
	src, step := fd.Src, fd.step
	label := sourceLabel(src)
	if !src.HasVPCAccess() {
		fd.Status, fd.Cause = Fail, "no-vpc-access"
		fd.Summary = fmt.Sprintf("%s has no VPC access (no connector, no Direct VPC egress): it cannot reach any internal address", label)
		what := "template.vpcAccess has neither a connector nor network interfaces"
		if src.Kind == KindAppEngine {
			what = "the version has no vpcAccessConnector (app.yaml vpc_access_connector)"
		}
		step(Fail, "VPC access of "+label, what, runDescribe(src))
		return false
	}
	if src.Connector != "" {
		step(Pass, "VPC access of "+label, "Serverless VPC Access connector "+gref.ShortName(src.Connector), runDescribe(src))
	} else {
		detail := fmt.Sprintf("Direct VPC egress: network %s, subnetwork %s", orPlaceholder(src.DirectVPC.Network, "(the subnet's)"), orPlaceholder(src.DirectVPC.Subnetwork, "(default)"))
		if len(src.DirectVPC.Tags) > 0 {
			detail += ", network tags " + strings.Join(src.DirectVPC.Tags, ",")
		}
		step(Pass, "VPC access of "+label, detail, runDescribe(src))
	}
	return true
}

// egressSetting: PRIVATE_RANGES_ONLY sends only RFC 1918 / RFC 6598 destinations into the VPC. A
// target whose address could not be worked out because the cluster's Services could not be read is
// not judged: the check cannot say its client's targets go through the VPC.
func (fd *egressFinding) egressSetting(f *reachFacts, errs *couldNotLook) {
	src, step, label := fd.Src, fd.step, sourceLabel(fd.Src)
	// Egress versus the addresses the client's packets go to.
	egress := src.EffectiveEgress()
	var unknown []string
	for _, t := range f.targetsOf(src) {
		switch {
		case t.Err != nil:
			errs.add(t.Err)
			step(Skip, "address of target "+t.Ref(), "could not read the cluster's Services, which decide where its packets go: "+t.Err.Error(), "kubectl get services -A")
		case t.L7Err != nil:
			errs.add(t.L7Err)
			step(Skip, "address of target "+t.Ref(), "could not read the internal Gateways and Ingresses that may expose it (and decide where its packets go): "+t.L7Err.Error(), "kubectl get gateways,httproutes,ingresses -A")
		case !t.Addr.IsValid():
			unknown = append(unknown, t.Dest.Host)
		case !src.sendsThroughVPC(t.Addr):
			fd.Offending = append(fd.Offending, t)
		}
	}
	shown := egress
	if src.Egress == "" {
		shown += " (the default)"
	}
	if len(fd.Offending) > 0 {
		var as []string
		for _, t := range fd.Offending {
			as = append(as, fmt.Sprintf("%s (%s, for %s)", t.Addr, t.Class, t.Ref()))
		}
		step(Fail, "egress setting of "+label, fmt.Sprintf("egress %s sends only %s destinations into the VPC; %s are outside those ranges, so those packets go to the internet", shown, src.privateRangesText(), strings.Join(as, ", ")),
			egressCommand(src))
	} else {
		detail := "egress " + shown
		if egress != "ALL_TRAFFIC" {
			detail += ": every target address is in " + src.privateRangesText() + " ranges"
		}
		if len(unknown) > 0 {
			detail += fmt.Sprintf(" (addresses not known for %s: they depend on DNS)", strings.Join(unknown, ", "))
		}
		step(Pass, "egress setting of "+label, detail, egressCommand(src))
	}
}

// network: the network the packets land in versus the cluster's (same, or ACTIVE-peered).
func (fd *egressFinding) network(ctx context.Context, env *Env, f *reachFacts, errs *couldNotLook) {
	src, step, label := fd.Src, fd.step, sourceLabel(fd.Src)
	// The network the packets land in versus the cluster's.
	network, _, err := sourceNetwork(ctx, env, src)
	if err != nil {
		errs.add(err)
		if src.Connector != "" {
			step(Skip, "network of connector "+gref.ShortName(src.Connector), err.Error(), connectorDescribe(src))
		} else {
			step(Skip, "network of the Direct VPC egress subnet of "+label, err.Error(), connectorOrSubnetCommand(src))
		}
	}
	fd.Network = network
	srcProject, srcNet := gref.SplitNetwork(network)
	cf := f.Cluster
	switch {
	case f.ClusterErr != nil:
		errs.add(f.ClusterErr)
		step(Skip, "network of the cluster", f.ClusterErr.Error(), clusterCommand(env))
	case srcNet == "":
	case srcNet == cf.NetworkName() && srcProject == cf.NetworkProject:
		step(Pass, "network", fmt.Sprintf("%s lands in %s, the cluster's network", label, fd.Network), clusterCommand(env))
	default:
		n, err := env.Inv.Network(ctx, cf.NetworkProject, cf.NetworkName())
		if err != nil {
			errs.add(err)
			step(Skip, "peering of "+cf.Network, err.Error(), fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", cf.NetworkName(), cf.NetworkProject))
			break
		}
		peered := ""
		for _, pe := range n.Peerings {
			p, nn := gref.SplitNetwork(pe.Network)
			if nn == srcNet && (p == "" || p == srcProject) && pe.State == "ACTIVE" {
				peered = pe.Name
			}
		}
		cmd := fmt.Sprintf("gcloud compute networks peerings list --network %s --project %s", cf.NetworkName(), cf.NetworkProject)
		if peered != "" {
			step(Pass, "network", fmt.Sprintf("%s lands in %s; the cluster's network %s is peered with it (peering %s, ACTIVE)", label, fd.Network, cf.Network, peered), cmd)
		} else {
			fd.NetworkMismatch = true
			step(Fail, "network", fmt.Sprintf("%s lands in %s, but the cluster is in %s and no ACTIVE peering joins them", label, fd.Network, cf.Network), cmd)
		}
	}
}

// verdict: the first confirmed cause, else a skip for what could not be read, else a pass.
func (fd *egressFinding) verdict(f *reachFacts, errs *couldNotLook) {
	src, label, egress, cf := fd.Src, sourceLabel(fd.Src), fd.Src.EffectiveEgress(), f.Cluster
	switch {
	case len(fd.Offending) > 0:
		fd.Status, fd.Cause = Fail, "egress-private-ranges-only"
		var as []string
		for _, t := range fd.Offending {
			as = append(as, t.Addr.String())
		}
		fd.Summary = fmt.Sprintf("%s has egress %s, so its packets to %s (outside %s) go to the internet instead of the VPC", label, egress, strings.Join(as, ", "), src.privateRangesText())
	case fd.NetworkMismatch:
		fd.Status, fd.Cause = Fail, "no-vpc-access"
		fd.Summary = fmt.Sprintf("%s has VPC access to %s, not to the cluster's network %s (and they are not peered)", label, fd.Network, cf.Network)
	case len(errs.errs) > 0:
		r := errs.result("confirm that " + label + " sends its targets through the VPC into the cluster's network")
		fd.Status, fd.Cause, fd.Summary, fd.Err = Skip, r.Cause, r.Summary, errs.errs[0]
	default:
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("%s sends its targets through the VPC (%s, egress %s) into the cluster's network", label, accessLabel(src), egress)
	}
}

// egressCommand shows a source's egress setting.
func egressCommand(src *Source) string {
	if src.Kind == KindAppEngine {
		svc, ver, _ := strings.Cut(src.Name, "/")
		return fmt.Sprintf("gcloud app versions describe %s --service %s --project %s --format='value(vpcAccessConnector.egressSetting)'", ver, svc, src.ProjectID())
	}
	return fmt.Sprintf("gcloud run services describe %s --region %s --format='value(template.vpcAccess.egress)'", src.Name, src.Location)
}

func accessLabel(src *Source) string {
	if src.Connector != "" {
		return "connector " + gref.ShortName(src.Connector)
	}
	if src.DirectVPC != nil {
		return "Direct VPC egress"
	}
	return "no VPC access"
}

func connectorDescribe(src *Source) string {
	return fmt.Sprintf("gcloud compute networks vpc-access connectors describe %s --region %s --project %s --format='value(state,network,ipCidrRange,subnet.name)'",
		gref.ShortName(src.Connector), gref.LocationOf(src.Connector), gref.ProjectOf(src.Connector))
}

func noSourceResult(f *reachFacts) Result {
	if f.RunErr != nil {
		return FromErr("list the Cloud Run services", f.RunErr)
	}
	msg := "not applicable: no Cloud Run or App Engine source to check (name one with --cloud-run-service NAME or --app-engine-service SERVICE[/VERSION]; clients without VPC access are only analysed when named)"
	if len(f.Path.Notes) > 0 {
		msg += " (" + strings.Join(f.Path.Notes, "; ") + ")"
	}
	return SkipResult("not-applicable", msg)
}

func runRunVPCEgress(ctx context.Context, env *Env, rec *Recorder) Result {
	a, err := analyseEgress(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(a.Findings) == 0 {
		return noSourceResult(a.Facts)
	}
	r := combineFindings(rec, a.Findings, func(fd *egressFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		return fmt.Sprintf("%d client(s) reach the cluster's network with egress covering their targets", n)
	})
	if r.Status == Pass && a.Facts.RunErr != nil {
		// Every client found passes, but a project's clients could not be listed: not a pass.
		sk := FromErr("list the Cloud Run services of every source project", a.Facts.RunErr)
		sk.Summary = r.Summary + "; but " + sk.Summary
		rec.Step("Cloud Run clients of every source project", Skip, a.Facts.RunErr.Error(), "gcloud run services list --project PROJECT")
		return sk
	}
	fixHint(rec, r)
	return r
}

// fixHint points a failing supporting check at the primary, which offers the fixes (once per cause,
// so that `fix --all` never applies the same plan twice).
func fixHint(rec *Recorder, r Result) {
	if r.Status == Fail || r.Status == Warn {
		rec.Step("fix", r.Status, "clusterip-unreachable offers the fix for this cause, with the other causes on the path", "gkedoctor fix clusterip-unreachable --dry-run")
	}
}
