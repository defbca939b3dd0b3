package vantage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// Runner runs vantage plans for one run of the tool: the CLI's `check --from` and the TUI's observe
// key share it.
type Runner struct {
	Env     *checks.Env
	Applier *fixes.Applier
	Image   string
	// ServiceAccount runs cluster probe pods as that ServiceAccount, its token mounted ("" = none).
	ServiceAccount string
	// Simulated shortens polls and deadlines for a network that answers in milliseconds (the demo).
	Simulated bool
	// Log receives progress lines (sweeps); nil drops them.
	Log func(string)
}

// Live is one vantage point's run: the observation and its comparison with the predictions.
type Live struct {
	Observation
	Compared []Comparison `json:"compared,omitempty"`
}

// Disagrees reports an observation that contradicts a prediction.
func (l Live) Disagrees() bool {
	for _, c := range l.Compared {
		if c.Verdict == "disagrees" {
			return true
		}
	}
	return false
}

func (r *Runner) log(format string, args ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, args...))
	}
}

// Preview says what running vp would create; ok is false (with the reason) when it cannot run here.
func (r *Runner) Preview(vp VantagePlan) (Preview, string) {
	if vp.From == FromCloudRun {
		v, why := r.cloudRun(vp)
		if v == nil {
			return Preview{}, why
		}
		return v.Preview(), ""
	}
	v, why := r.cluster(vp)
	if v == nil {
		return Preview{}, why
	}
	return v.Preview(), ""
}

func (r *Runner) cloudRun(vp VantagePlan) (*CloudRun, string) {
	if r.Env.FixDeps == nil || r.Env.FixDeps.GCP == nil {
		return nil, "no Google API client"
	}
	if vp.Source == nil || vp.Source.Service == nil {
		return nil, "no Cloud Run client to imitate"
	}
	v := &CloudRun{GCP: r.Env.FixDeps.GCP, Applier: r.Applier, Service: vp.Source.Service, Image: r.Image, Check: "check"}
	if r.Simulated {
		v.Poll, v.Deadline = 100*time.Millisecond, time.Minute
	}
	return v, ""
}

func (r *Runner) cluster(vp VantagePlan) (*Cluster, string) {
	if r.Env.FixDeps == nil || r.Env.FixDeps.Kube == nil {
		return nil, "no Kubernetes client"
	}
	ns := r.Env.Target.Namespace
	if ns == "" {
		ns = "default"
	}
	v := &Cluster{Kube: r.Env.FixDeps.Kube, Applier: r.Applier, Namespace: ns, Image: r.Image, HostNetwork: vp.From == FromNode,
		ServiceAccount: r.ServiceAccount, Check: "check"}
	if r.Simulated {
		v.Poll, v.Deadline = 50*time.Millisecond, time.Minute
	}
	return v, ""
}

// Run sweeps leftovers of killed runs, runs vp from its vantage point and compares.
func (r *Runner) Run(ctx context.Context, vp VantagePlan) Live {
	var obs Observation
	if vp.From == FromCloudRun {
		v, why := r.cloudRun(vp)
		if v == nil {
			return Live{Observation: Observation{From: vp.From, Error: "skipped: " + why}}
		}
		p, l := v.where()
		if gone, err := SweepCloudRun(ctx, v.GCP, p, l, time.Now()); err == nil && len(gone) > 0 {
			r.log("swept %d probe job(s) a killed run left: %s", len(gone), strings.Join(gone, ", "))
		}
		obs = v.Run(ctx, vp.Plan)
	} else {
		v, why := r.cluster(vp)
		if v == nil {
			return Live{Observation: Observation{From: vp.From, Error: "skipped: " + why}}
		}
		if gone, err := SweepCluster(ctx, v.Kube, time.Now()); err == nil && len(gone) > 0 {
			r.log("swept %d probe pod(s) a killed run left: %s", len(gone), strings.Join(gone, ", "))
		}
		obs = v.Run(ctx, vp.Plan)
	}
	return Live{Observation: obs, Compared: Compare(vp.Expect, obs.Report)}
}

// Lines renders a live result for people: what was observed from where, beside what was predicted.
func (l Live) Lines() []string {
	out := []string{"Observed from " + l.Vantage + ":"}
	if l.Vantage == "" {
		out[0] = "Observed from " + l.From + ":"
	}
	if l.Error != "" {
		out = append(out, "  ! "+l.Error)
	}
	for _, c := range l.Compared {
		mark := "  "
		switch c.Verdict {
		case "agrees":
			mark = "= "
		case "disagrees":
			mark = "≠ "
		}
		line := fmt.Sprintf("  %s%s: %s", mark, c.Probe.ID, c.Observed)
		if c.Predicted != "" {
			line += fmt.Sprintf(" (predicted %s: %s; %s)", c.Predicted, c.Why, c.Verdict)
		} else if c.Why != "" {
			line += " (" + c.Why + ")"
		}
		out = append(out, line)
		if c.Detail != "" {
			out = append(out, "      "+c.Detail)
		}
	}
	if l.Created != "" {
		out = append(out, fmt.Sprintf("  created %s (journal %s); cleanup: %s", l.Created, l.Journal, l.Cleanup))
	}
	return out
}

// ForCheck picks the vantage points that observe a check: Cloud Run for the reachability and DNS
// checks, the pod and the node for pod egress; nil when none does.
func ForCheck(id string) []string {
	switch id {
	case "clusterip-unreachable", "dns-servfail", "dns-stale-record", "run-vpc-egress", "firewall-serverless-to-nodes", "vpc-connector-ready", "ilb-provisioned":
		return []string{FromCloudRun}
	case "pod-egress-cross-project":
		return []string{FromCluster, FromNode}
	}
	return nil
}
