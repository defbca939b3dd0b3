package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	nm "google.golang.org/api/networkmanagement/v1"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/gref"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/vantage"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

// checkOptions is `gkedoctor check`: the checks as audit runs them, plus live probes from the
// vantage points named. It creates short-lived things (a pod, a Cloud Run job, a connectivity test),
// journaled and deleted, and never applies a fix.
type checkOptions struct {
	App              *app.Options
	Output           string
	IDs              []string
	From             []string
	ConnectivityTest bool
	ProbeImage       string
	ProbeSA          string
	DryRun           bool
	list             []checks.Check
}

// liveResult is one vantage point's run in the report.
type liveResult struct {
	vantage.Observation
	Compared []vantage.Comparison     `json:"compared,omitempty"`
	Opinions []connectivityTestResult `json:"connectivityTests,omitempty"`
}

type connectivityTestResult struct {
	vantage.SecondOpinion
	Destination string `json:"destination"`
	Predicted   string `json:"predicted,omitempty"`
	Verdict     string `json:"verdict"` // agrees, disagrees, observed
}

func newCheckCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	o := &checkOptions{App: shared}
	cmd := &cobra.Command{
		Use:   "check [CHECK-ID...] --from cloud-run|cluster|node [--connectivity-test]",
		Short: "Run the checks plus live probes from where the client runs (creates and deletes a probe pod or job)",
		Long: `check runs the checks exactly as audit does, then observes from the vantage points named:

  --from cloud-run   an ephemeral Cloud Run job with the client service's exact VPC settings (connector
                     or Direct VPC, egress, service account) runs "gkedoctor probe" once; its result is
                     read from Cloud Logging; the job is deleted.
  --from cluster     an ephemeral pod in the target namespace runs the probe (the pod's view).
  --from node        the same as a hostNetwork pod (the node's view); with --from cluster it gives the
                     pod-vs-node pair that tells a return-route/SNAT cause.
  --connectivity-test  a Network Management connectivity test from the client to each target, shown
                     beside the tool's verdict as a second opinion, then deleted.

Each created object is journaled with its cleanup before it is created and deleted afterwards, on
success, failure, timeout and ctrl+c; a later run sweeps what a killed one left. Nothing here runs
under audit or --read-only. Observed results are put beside the checks' predictions; a disagreement
is shown as such. Exit codes as audit's; a disagreement is a finding (1).`,
		Example: `  gkedoctor check --demo --from cloud-run
  gkedoctor check clusterip-unreachable --from cloud-run --connectivity-test --cloud-run-service gke-connectivity-tester4
  gkedoctor check pod-egress-cross-project --from cluster --from node --peer 10.20.0.5:5432
  gkedoctor check --from cluster --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IDs = args
			if !cmd.Flags().Changed("timeout") && !cmd.Root().PersistentFlags().Changed("timeout") {
				o.App.Timeout = 10 * time.Minute // checks plus vantage points: each of those has its own deadline
			}
			return o.run(cmd.Context(), ios)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text, json")
	f.StringArrayVar(&o.From, "from", nil, "a vantage point: cloud-run, cluster or node (repeatable)")
	f.BoolVar(&o.ConnectivityTest, "connectivity-test", false, "also ask Network Management connectivity tests for a second opinion")
	f.StringVar(&o.ProbeImage, "probe-image", "", "the image the probe pod or job runs (default: this build's, "+version.ProbeImage()+")")
	f.StringVar(&o.ProbeSA, "probe-service-account", "", "run the --from cluster/node probe pod as this ServiceAccount of the namespace, with its token mounted (the workload's, to see what it sees); default: the namespace's default, no token")
	f.BoolVar(&o.DryRun, "dry-run", false, "print what would be created, create nothing")
	return cmd
}

func (o *checkOptions) validate() error {
	if o.Output != "text" && o.Output != "json" {
		return usageErrorf("unknown output format %q for check: valid formats are text, json", o.Output)
	}
	if len(o.From) == 0 && !o.ConnectivityTest {
		return usageErrorf("check needs --from cloud-run|cluster|node or --connectivity-test (without live probes, run gkedoctor audit)")
	}
	for _, f := range o.From {
		switch f {
		case vantage.FromCloudRun, vantage.FromCluster, vantage.FromNode:
		default:
			return usageErrorf("--from %q: valid vantage points are cloud-run, cluster, node", f)
		}
	}
	if o.App.ReadOnly && !o.DryRun {
		return usageErrorf("--from and --connectivity-test create a probe pod, job or test, which --read-only forbids (drop --read-only, or add --dry-run to see what would be created)")
	}
	if o.ProbeSA != "" && !dnsLabel().MatchString(o.ProbeSA) {
		return usageErrorf("--probe-service-account %q is not a ServiceAccount name (a DNS subdomain: lowercase letters, digits, '-' and '.')", o.ProbeSA)
	}
	if o.ProbeImage != "" && (strings.ContainsAny(o.ProbeImage, " \t\n\"'`$;|&<>") || len(o.ProbeImage) > 512) {
		return usageErrorf("--probe-image %q is not an image reference", o.ProbeImage)
	}
	if err := o.App.Complete(); err != nil {
		return err
	}
	if o.App.ReadOnly && !o.DryRun {
		// Read-only by the config file (the flag was refused above).
		return usageErrorf("--from and --connectivity-test create a probe pod, job or test, and this session is read-only: %s (or add --dry-run to see what would be created)", o.App.ReadOnlyWhy.Long)
	}
	if err := o.App.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	list, err := checks.Select(o.IDs)
	if err != nil {
		return usageErrorf("%v", err)
	}
	o.list = list
	return nil
}

func (o *checkOptions) image() string {
	if o.ProbeImage != "" {
		return o.ProbeImage
	}
	return version.ProbeImage()
}

func (o *checkOptions) run(ctx context.Context, ios *iostreams.IOStreams) error {
	if err := o.validate(); err != nil {
		return err
	}
	ctx, cancel := runDeadline(ctx, o.App.Timeout)
	defer cancel()
	s, err := app.Build(ctx, o.App)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, results := runChecks(ctx, ios, s, o.list, o.Output, "check")
	plans, notes := vantage.Plans(ctx, s.Env, results, o.From)
	log := ios.ErrOut
	if o.Output == "text" {
		log = ios.Out
	}
	for _, n := range notes {
		fmt.Fprintln(log, "note: "+n)
	}
	var live []liveResult
	disagree := false
	for _, vp := range plans {
		lr, ok := o.runVantage(ctx, log, s, vp)
		if lr == nil {
			continue
		}
		disagree = disagree || !ok
		live = append(live, *lr)
	}
	if o.ConnectivityTest && !o.DryRun {
		for _, lr := range o.connectivityTests(ctx, log, s, results) {
			for _, op := range lr.Opinions {
				disagree = disagree || op.Verdict == "disagrees"
			}
			live = append(live, lr)
		}
	}
	if b, err := json.Marshal(live); err == nil && len(live) > 0 {
		rep.Observations = b
	}
	if o.Output == "json" {
		if err := report.WriteJSON(ios.Out, rep); err != nil {
			return err
		}
	} else {
		if err := report.NewText(ios.Out, report.TextOptions{Color: ios.ColorEnabled()}).Final(rep); err != nil {
			return err
		}
	}
	code := report.ExitCode(results)
	if disagree && code == 0 {
		code = ExitFindings
	}
	return exitFor(code)
}

// runVantage runs one plan from its vantage point (or previews it) and prints what was seen beside
// what was predicted. ok is false when an observation disagrees with a prediction.
func (o *checkOptions) runVantage(ctx context.Context, w io.Writer, s *app.Session, vp vantage.VantagePlan) (*liveResult, bool) {
	r := &vantage.Runner{Env: s.Env, Applier: s.Applier, Image: o.image(), ServiceAccount: o.ProbeSA, Simulated: s.World != nil,
		Log: func(line string) { fmt.Fprintln(w, line) }}
	pv, why := r.Preview(vp)
	if why != "" {
		fmt.Fprintf(w, "--from %s: skipped: %s\n", vp.From, why)
		return nil, true
	}
	fmt.Fprintf(w, "\n--from %s: %s", vp.From, pv.String())
	if o.DryRun {
		fmt.Fprintln(w, "  (--dry-run: nothing created)")
		return nil, true
	}
	live := r.Run(ctx, vp)
	for _, line := range live.Lines() {
		fmt.Fprintln(w, line)
	}
	return &liveResult{Observation: live.Observation, Compared: live.Compared}, !live.Disagrees()
}

// connectivityTests asks Network Management for each Cloud Run client and each of its targets with
// an address, and puts the answer beside the tool's own verdict.
func (o *checkOptions) connectivityTests(ctx context.Context, w io.Writer, s *app.Session, results []checks.Result) []liveResult {
	if s.Env.FixDeps == nil || s.Env.FixDeps.GCP == nil {
		fmt.Fprintf(w, "--connectivity-test: skipped: no Google API client (%v)\n", s.GCPErr)
		return nil
	}
	path, err := checks.DiscoverPath(ctx, s.Env)
	if err != nil {
		fmt.Fprintf(w, "--connectivity-test: skipped: %v\n", err)
		return nil
	}
	predicted, why := vantage.PredictFrom(results, "clusterip-unreachable", vantage.Reachable, vantage.Unreachable)
	var out []liveResult
	for _, src := range path.Sources {
		if src.Service == nil || src.Service.LatestReadyRevision == "" {
			continue
		}
		p, l := projectLocation(src.FullName)
		rev := "projects/" + p + "/locations/" + l + "/revisions/" + src.Service.LatestReadyRevision
		lr := liveResult{Observation: vantage.Observation{From: "connectivity-test", Vantage: "Network Management analysis of Cloud Run revision " + src.Service.LatestReadyRevision}}
		for _, d := range path.Dests {
			if d.Source != src.Name || d.Port == 0 {
				continue
			}
			ip := d.Host
			if d.Resolved.IsValid() {
				ip = d.Resolved.String()
			} else if d.Service != nil && d.Service.Spec.ClusterIP != "" && d.Service.Spec.ClusterIP != "None" {
				ip = d.Service.Spec.ClusterIP
			}
			ct := &vantage.ConnTest{GCP: s.Env.FixDeps.GCP, Applier: s.Applier, Project: p, Check: "clusterip-unreachable",
				Source:      &nm.Endpoint{CloudRunRevision: &nm.CloudRunRevisionEndpoint{Uri: rev}},
				Destination: &nm.Endpoint{IpAddress: ip, Port: int64(d.Port)}}
			if s.World != nil {
				ct.Poll = 50 * time.Millisecond
			}
			fmt.Fprintf(w, "\n--connectivity-test: %s", ct.Preview().String())
			op := ct.Run(ctx)
			res := connectivityTestResult{SecondOpinion: op, Destination: fmt.Sprintf("%s:%d", ip, d.Port), Predicted: predicted, Verdict: "observed"}
			if r, known := op.Reachable(); known && predicted != "" {
				res.Verdict = map[bool]string{true: "agrees", false: "disagrees"}[r == (predicted == vantage.Reachable)]
			}
			fmt.Fprintf(w, "Connectivity test to %s: %s", res.Destination, dash(op.Result))
			if predicted != "" {
				fmt.Fprintf(w, " (gkedoctor predicted %s: %s; %s)", predicted, why, res.Verdict)
			}
			fmt.Fprintln(w)
			for _, st := range op.Steps {
				fmt.Fprintln(w, "      "+st)
			}
			if op.Error != "" {
				fmt.Fprintln(w, "  ! "+op.Error)
			}
			fmt.Fprintf(w, "  journal %s; cleanup: %s\n", op.Journal, op.Cleanup)
			lr.Opinions = append(lr.Opinions, res)
		}
		if len(lr.Opinions) > 0 {
			out = append(out, lr)
		}
	}
	return out
}

var dnsLabel = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`) })

// projectLocation is P and L of projects/P/locations/L/….
func projectLocation(name string) (string, string) {
	return gref.ProjectOf(name), gref.LocationOf(name)
}
