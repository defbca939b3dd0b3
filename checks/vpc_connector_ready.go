package checks

import (
	"context"
	"fmt"
	"strings"

	vpcaccess "google.golang.org/api/vpcaccess/v1"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/inventory"
)

// vpc-connector-ready: the Serverless VPC Access connector a source uses is READY. A connector in
// ERROR ("Connector is in a bad state, manual deletion recommended") cannot be repaired in place: the
// advice is to create a new one, move the services, then delete the old one.

func init() {
	Register(CheckFunc{CheckID: "vpc-connector-ready", Fn: runVPCConnectorReady})
}

type connectorFinding struct {
	Src       *Source
	Connector *vpcaccess.Connector
	Status    Status
	Cause     string
	Summary   string
	Evidence  []Evidence
	Err       error
	// FirewallPlan is the fix for a READY connector that Serverless VPC Access cannot reach.
	FirewallPlan *fixes.Plan
}

type connectorAnalysis struct {
	Facts    *reachFacts
	Findings []*connectorFinding
}

func (a *connectorAnalysis) finding(s *Source) *connectorFinding {
	for _, f := range a.Findings {
		if f.Src.Name == s.Name {
			return f
		}
	}
	return nil
}

var connectorSlot = inventory.NewSlot[*connectorAnalysis]("vpc-connector-ready")

func analyseConnectors(ctx context.Context, env *Env) (*connectorAnalysis, error) {
	return inventory.Derive(ctx, env.Inv, connectorSlot, func(ctx context.Context) (*connectorAnalysis, error) {
		f, err := getReachFacts(ctx, env)
		if err != nil {
			return nil, err
		}
		a := &connectorAnalysis{Facts: f}
		for i := range f.Path.Sources {
			src := &f.Path.Sources[i]
			if src.Connector == "" {
				continue
			}
			a.Findings = append(a.Findings, connectorFor(ctx, env, f, src))
		}
		return a, nil
	})
}

func connectorFor(ctx context.Context, env *Env, f *reachFacts, src *Source) *connectorFinding {
	fd := &connectorFinding{Src: src}
	name := gref.ShortName(src.Connector)
	c, err := env.Inv.Connector(ctx, src.Connector)
	if apierr.KindOf(err) == apierr.NotFound {
		// Readable, and absent: a verdict, not a reason to skip.
		fd.Status, fd.Cause = Fail, "connector-not-ready"
		fd.Summary = fmt.Sprintf("connector %s used by %s does not exist (deleted, or named in another region or project): the client has no way into the VPC", name, sourceLabel(src))
		fd.Evidence = append(fd.Evidence, Evidence{Step: "state of connector " + name, Status: Fail, Detail: err.Error(), Command: connectorDescribe(src)})
		return fd
	}
	if err != nil {
		fd.Status, fd.Err = Skip, err
		r := FromErr("read connector "+name, err)
		fd.Cause, fd.Summary = r.Cause, r.Summary
		fd.Evidence = append(fd.Evidence, Evidence{Step: "state of connector " + name, Status: Skip, Detail: err.Error(), Command: connectorDescribe(src)})
		return fd
	}
	fd.Connector = c
	where := c.IpCidrRange
	if where == "" && c.Subnet != nil {
		where = "subnet " + c.Subnet.Name
	}
	detail := fmt.Sprintf("state %s, network %s, %s", orPlaceholder(c.State, "STATE_UNSPECIFIED"), c.Network, where)
	switch c.State {
	case "READY":
		fd.Status = Pass
		fd.Summary = fmt.Sprintf("connector %s used by %s is READY", name, sourceLabel(src))
	case "ERROR":
		fd.Status, fd.Cause = Fail, "connector-not-ready"
		fd.Summary = fmt.Sprintf("connector %s used by %s is in ERROR (\"Connector is in a bad state, manual deletion recommended\"): it cannot be repaired in place", name, sourceLabel(src))
	case "CREATING", "UPDATING":
		fd.Status, fd.Cause = Warn, "connector-not-ready"
		fd.Summary = fmt.Sprintf("connector %s used by %s is %s, not READY yet", name, sourceLabel(src), c.State)
	default:
		fd.Status, fd.Cause = Fail, "connector-not-ready"
		fd.Summary = fmt.Sprintf("connector %s used by %s is %s, not READY", name, sourceLabel(src), orPlaceholder(c.State, "STATE_UNSPECIFIED"))
	}
	fd.Evidence = append(fd.Evidence, Evidence{Step: "state of connector " + name, Status: fd.Status, Detail: detail, Command: connectorDescribe(src)})
	if fd.Status == Pass {
		connectorIngress(ctx, env, fd)
	}
	if fd.Status == Pass {
		connectorOnPath(env, f, fd)
	}
	return fd
}

// connectorOnPath: a READY connector that Serverless VPC Access reaches is only a pass when it is
// known to be the client's way to the cluster: the cluster (its network) and the client's targets
// (the cluster's Services) were read. Otherwise the verdict is the skip naming what could not be read,
// with what was confirmed kept in the summary.
func connectorOnPath(env *Env, f *reachFacts, fd *connectorFinding) {
	var errs couldNotLook
	if f.ClusterErr != nil {
		errs.add(f.ClusterErr)
		fd.Evidence = append(fd.Evidence, Evidence{Step: "network of the cluster", Status: Skip, Detail: f.ClusterErr.Error(), Command: clusterCommand(env)})
	}
	for _, t := range f.targetsOf(fd.Src) {
		switch {
		case t.Err != nil:
			errs.add(t.Err)
			fd.Evidence = append(fd.Evidence, Evidence{Step: "target " + t.Ref(), Status: Skip, Detail: "could not read the cluster's Services: " + t.Err.Error(), Command: "kubectl get services -A"})
		case t.L7Err != nil:
			errs.add(t.L7Err)
			fd.Evidence = append(fd.Evidence, Evidence{Step: "target " + t.Ref(), Status: Skip, Detail: "could not read the internal Gateways and Ingresses that may expose it: " + t.L7Err.Error(), Command: "kubectl get gateways,httproutes,ingresses -A"})
		}
	}
	if len(errs.errs) == 0 {
		return
	}
	name := gref.ShortName(fd.Src.Connector)
	r := errs.result(fmt.Sprintf("confirm that connector %s is the way from %s to the cluster", name, sourceLabel(fd.Src)))
	fd.Status, fd.Cause, fd.Err = r.Status, r.Cause, errs.errs[0]
	fd.Summary = fmt.Sprintf("connector %s used by %s is READY; but %s", name, sourceLabel(fd.Src), r.Summary)
}

// connectorPlan is the advice for a connector that is not READY: replacing it only when it is in
// ERROR (it cannot be repaired in place); while it is CREATING or UPDATING, waiting; otherwise none.
func connectorPlan(fd *connectorFinding, users []*Source) *fixes.Plan {
	c := fd.Connector
	switch {
	case c == nil:
		return nil
	case c.State == "ERROR":
		return connectorAdvice(fd, users)
	case c.State == "CREATING" || c.State == "UPDATING":
		name := gref.ShortName(fd.Src.Connector)
		return &fixes.Plan{ID: "wait-connector/" + gref.LocationOf(fd.Src.Connector) + "/" + name, Advice: true,
			Title:         fmt.Sprintf("Wait for the connector %s to finish %s, then re-run the check", name, strings.ToLower(c.State)),
			Description:   "A connector being created or updated becomes READY by itself (usually within minutes); replacing it now would only start over.",
			JudgedAgainst: []string{"nothing is changed: every user of connector " + name + " waits for it alike"},
			Commands:      []string{connectorDescribe(fd.Src)}}
	}
	return nil
}

// connectorAdvice is the advice for a connector in ERROR, naming every source that uses it.
func connectorAdvice(fd *connectorFinding, users []*Source) *fixes.Plan {
	var names, versions []string
	for _, u := range users {
		if u.Kind == KindAppEngine {
			versions = append(versions, u.Name)
			continue
		}
		names = append(names, u.FullName)
	}
	c := fd.Connector
	o := fixes.ConnectorReplacement{Connector: fd.Src.Connector, Network: c.Network, Range: c.IpCidrRange, Services: names, AppEngine: versions}
	if c.Subnet != nil {
		o.Subnet, o.SubnetProject = c.Subnet.Name, c.Subnet.ProjectId
	}
	return fixes.NewConnectorAdvice(o)
}

func runVPCConnectorReady(ctx context.Context, env *Env, rec *Recorder) Result {
	a, err := analyseConnectors(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(a.Findings) == 0 {
		if len(a.Facts.Path.Sources) > 0 {
			return SkipResult("not-applicable", "not applicable: no Cloud Run or App Engine source uses a Serverless VPC Access connector (Direct VPC egress or no VPC access)")
		}
		return noSourceResult(a.Facts)
	}
	r := combineFindings(rec, a.Findings, func(fd *connectorFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		distinct := map[string]bool{}
		for _, fd := range a.Findings {
			distinct[fd.Src.Connector] = true
		}
		if len(distinct) == n {
			return fmt.Sprintf("%d connector(s) in use, all READY", n)
		}
		return fmt.Sprintf("%d connector(s) in use by %d clients, all READY", len(distinct), n)
	})
	if r.Cause == "connector-firewall-missing" {
		fixHint(rec, r)
	}
	for _, fd := range a.Findings {
		if fd.Status != Pass {
			if p := connectorPlan(fd, usersOf(a.Facts, fd.Src.Connector)); p != nil {
				r.Fixes = append(r.Fixes, p)
			}
		}
	}
	return r
}

func usersOf(f *reachFacts, connector string) []*Source {
	var out []*Source
	for i := range f.Path.Sources {
		if f.Path.Sources[i].Connector == connector {
			out = append(out, &f.Path.Sources[i])
		}
	}
	return out
}
