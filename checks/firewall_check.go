package checks

import (
	"context"
	"fmt"
)

func runFirewallServerlessToNodes(ctx context.Context, env *Env, rec *Recorder) Result {
	a, err := analyseFirewall(ctx, env)
	if err != nil {
		return reachSkip(err)
	}
	if len(a.Findings) == 0 {
		if len(a.Facts.Path.Sources) == 0 {
			return noSourceResult(a.Facts)
		}
		return SkipResult("not-applicable", "not applicable: no Cloud Run source with VPC access calls a Service of this cluster, so there is no source range and port to evaluate")
	}
	r := combineFindings(rec, a.Findings, func(fd *fwFinding) (Status, string, string, []Evidence, error) {
		return fd.Status, fd.Cause, fd.Summary, fd.Evidence, fd.Err
	}, func(n int) string {
		return fmt.Sprintf("the firewall lets every client range reach the nodes on the Service port(s) (%d path(s) evaluated)", n)
	})
	fixHint(rec, r)
	// Advice only here (the applicable fix is offered by clusterip-unreachable, once per cause).
	for _, fd := range a.Findings {
		if fd.Status == Fail && fd.denied() {
			r.Fixes = append(r.Fixes, firewallPlan(env, a, fd, ""))
		}
	}
	return r
}
