package vantage

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// Predictions a check's verdict makes about a live probe.
const (
	Reachable   = "reachable"
	Unreachable = "unreachable"
	Answer      = "answer"
	NoAnswer    = "no answer"
)

// Expectation pairs one probe with what the checks predicted it would see from that vantage point.
type Expectation struct {
	Probe     probe.Probe `json:"probe"`
	Check     string      `json:"check"`
	Predicted string      `json:"predicted,omitempty"` // "" when the checks make no prediction for it
	Why       string      `json:"why,omitempty"`
}

// Comparison is one expectation beside what was observed.
type Comparison struct {
	Expectation
	Observed string `json:"observed"` // the probe's outcome
	OK       bool   `json:"ok"`
	Detail   string `json:"detail"`
	// Verdict: "agrees", "disagrees" or "observed" (no prediction to compare with).
	Verdict string `json:"verdict"`
}

// Vantage plans: what a vantage point probes, with the expectations.
type VantagePlan struct {
	From   string
	Source *checks.Source // the client a Cloud Run vantage imitates
	Plan   probe.Plan
	Expect []Expectation
}

func statusOf(results []checks.Result, id string) (checks.Status, bool) {
	for _, r := range results {
		if r.ID == id {
			return r.Status, true
		}
	}
	return "", false
}

// PredictFrom turns a check's status into a prediction: pass → yes, fail → no, anything else → none.
func PredictFrom(results []checks.Result, id, yes, no string) (string, string) {
	st, ok := statusOf(results, id)
	switch {
	case !ok:
		return "", id + " did not run"
	case st == checks.Pass:
		return yes, id + " passed"
	case st == checks.Fail:
		return no, id + " failed"
	}
	return "", id + " is " + string(st) + ": no prediction"
}

// Plans builds the vantage plans for froms from the run's path (the sources and what they call) and
// the checks' results. A vantage point with nothing to probe gets no plan, and the reason.
func Plans(ctx context.Context, env *checks.Env, results []checks.Result, froms []string) ([]VantagePlan, []string) {
	var out []VantagePlan
	var notes []string
	path, err := checks.DiscoverPath(ctx, env)
	if err != nil {
		path = &checks.Path{}
		notes = append(notes, "could not find the clients and what they call: "+err.Error())
	}
	for _, from := range froms {
		switch from {
		case FromCloudRun:
			n := 0
			for i := range path.Sources {
				src := &path.Sources[i]
				if src.Kind != checks.KindCloudRun || src.Service == nil {
					continue
				}
				vp := cloudRunPlan(src, path.Dests, results)
				if len(vp.Plan.Probes) > 0 {
					out = append(out, vp)
					n++
				}
			}
			if n == 0 {
				notes = append(notes, "--from cloud-run: no Cloud Run client with a URL to probe (name one with --cloud-run-service)")
			}
		case FromCluster, FromNode:
			vp := clusterPlan(from, path.Dests, env.Targets.Peers, results)
			if len(vp.Plan.Probes) > 0 {
				out = append(out, vp)
			} else {
				notes = append(notes, "--from "+from+": nothing to probe (no Service the clients call, no --service, no --peer with a port)")
			}
		}
	}
	return out, notes
}

func cloudRunPlan(src *checks.Source, dests []checks.Dest, results []checks.Result) VantagePlan {
	vp := VantagePlan{From: FromCloudRun, Source: src, Plan: probe.Plan{SchemaVersion: probe.PlanSchemaVersion, TimeoutMillis: 5000}}
	seen := map[string]bool{}
	for _, d := range dests {
		if d.Source != src.Name || d.Port == 0 {
			continue
		}
		hostPort := net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
		if seen[hostPort] {
			continue
		}
		seen[hostPort] = true
		if _, err := netip.ParseAddr(d.Host); err != nil {
			pr := probe.Probe{Kind: probe.KindDNS, ID: "dns " + d.Host, Name: d.Host, Type: "A"}
			e := Expectation{Probe: pr, Check: "dns-servfail"}
			if d.Kind == checks.TargetClusterDNS {
				e.Predicted, e.Why = PredictFrom(results, "dns-servfail", Answer, NoAnswer)
			}
			vp.Plan.Probes = append(vp.Plan.Probes, pr)
			vp.Expect = append(vp.Expect, e)
		}
		pr := probe.Probe{Kind: probe.KindTCP, ID: "tcp " + hostPort, Addr: hostPort}
		e := Expectation{Probe: pr, Check: "clusterip-unreachable"}
		e.Predicted, e.Why = PredictFrom(results, "clusterip-unreachable", Reachable, Unreachable)
		vp.Plan.Probes = append(vp.Plan.Probes, pr)
		vp.Expect = append(vp.Expect, e)
	}
	return vp
}

func clusterPlan(from string, dests []checks.Dest, peers []string, results []checks.Result) VantagePlan {
	vp := VantagePlan{From: from, Plan: probe.Plan{SchemaVersion: probe.PlanSchemaVersion, TimeoutMillis: 5000}}
	seen := map[string]bool{}
	// Inside the cluster the Services answer on their cluster names: a failure here means the
	// backend, not the path from the VPC, is the problem.
	for _, d := range dests {
		if d.Name == "" || d.Port == 0 || d.Service == nil {
			continue
		}
		host := d.Name + "." + d.Namespace + ".svc.cluster.local"
		hp := net.JoinHostPort(host, strconv.Itoa(d.Port))
		if seen[hp] {
			continue
		}
		seen[hp] = true
		pr := probe.Probe{Kind: probe.KindTCP, ID: "tcp " + hp, Addr: hp}
		vp.Plan.Probes = append(vp.Plan.Probes, pr)
		vp.Expect = append(vp.Expect, Expectation{Probe: pr, Check: "clusterip-unreachable",
			Why: "from inside the cluster: tells a broken backend from a broken path"})
	}
	for _, p := range peers {
		addr, ok := peerAddr(p)
		if !ok || seen[addr] {
			continue
		}
		seen[addr] = true
		pr := probe.Probe{Kind: probe.KindTCP, ID: "tcp " + addr, Addr: addr}
		e := Expectation{Probe: pr, Check: "pod-egress-cross-project"}
		if from == FromCluster {
			e.Predicted, e.Why = PredictFrom(results, "pod-egress-cross-project", Reachable, Unreachable)
		} else {
			e.Why = "the node's view: compared with the pod's to tell a return-route/SNAT cause"
		}
		vp.Plan.Probes = append(vp.Plan.Probes, pr)
		vp.Expect = append(vp.Expect, e)
	}
	return vp
}

// peerAddr is IP:PORT of a --peer value (CIDR|IP[:PORT]); a peer without a port cannot be probed.
func peerAddr(p string) (string, bool) {
	if strings.Contains(p, "/") {
		return "", false
	}
	host, port, err := net.SplitHostPort(p)
	if err != nil || port == "" {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

// Compare puts each expectation beside the observation of its probe.
func Compare(expect []Expectation, rep *probe.Report) []Comparison {
	byID := map[string]probe.Result{}
	if rep != nil {
		for _, r := range rep.Results {
			byID[r.ID] = r
		}
	}
	var out []Comparison
	for _, e := range expect {
		c := Comparison{Expectation: e}
		r, ok := byID[e.Probe.ID]
		if !ok {
			c.Observed, c.Verdict, c.Detail = "not run", "observed", "no result for this probe"
			out = append(out, c)
			continue
		}
		c.Observed, c.OK, c.Detail = r.Outcome, r.OK, r.Detail
		switch e.Predicted {
		case "":
			c.Verdict = "observed"
		case Reachable, Answer:
			c.Verdict = map[bool]string{true: "agrees", false: "disagrees"}[r.OK]
		case Unreachable, NoAnswer:
			c.Verdict = map[bool]string{true: "disagrees", false: "agrees"}[r.OK]
		}
		out = append(out, c)
	}
	return out
}

// PodNodePair reads the pod-vs-node pair for peers probed from both: "pod fails, node succeeds"
// confirms a return-route/SNAT cause (FAILURE-MODES §6).
func PodNodePair(pod, node []Comparison) []string {
	nodeOK := map[string]bool{}
	for _, c := range node {
		if c.Check == "pod-egress-cross-project" && c.Observed != "not run" {
			nodeOK[c.Probe.Addr] = c.OK
		}
	}
	var out []string
	for _, c := range pod {
		if c.Check != "pod-egress-cross-project" {
			continue
		}
		ok, seen := nodeOK[c.Probe.Addr]
		switch {
		case !seen:
		case !c.OK && ok:
			out = append(out, fmt.Sprintf("%s: the pod fails and the node succeeds — the peer answers nodes but not pod addresses: a return route or SNAT (ip-masq) cause, as pod-egress-cross-project says", c.Probe.Addr))
		case !c.OK && !ok:
			out = append(out, fmt.Sprintf("%s: both the pod and the node fail — not an ip-masq cause: look at routes, peering and the peer's firewall", c.Probe.Addr))
		case c.OK && ok:
			out = append(out, fmt.Sprintf("%s: both the pod and the node connect", c.Probe.Addr))
		}
	}
	return out
}
