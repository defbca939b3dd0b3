package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

var outputFormats = []string{"text", "json", "markdown", "junit"}

func validateOutput(o string) error {
	for _, f := range outputFormats {
		if o == f {
			return nil
		}
	}
	return usageErrorf("unknown output format %q: valid formats are %s", o, strings.Join(outputFormats, ", "))
}

type auditOptions struct {
	App    *app.Options
	Output string
	IDs    []string
	list   []checks.Check
}

func newAuditCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	o := &auditOptions{App: shared}
	cmd := &cobra.Command{
		Use:   "audit [CHECK-ID...]",
		Short: "Read-only, non-interactive run of every check (or the named ones); prints a report",
		Long: `Runs the checks without changing anything: the Kubernetes and Google API transports refuse every
write below the tool. Exit code 0 when every check passed or was skipped and at least one passed,
1 when one failed or warned, 3 when every check skipped (nothing could be checked), 2 on a usage or
set-up error, 130/143 when stopped by SIGINT/SIGTERM.`,
		Example: `  gkedoctor audit --demo
  gkedoctor audit -o json --cloud-run-service gke-connectivity-tester4
  gkedoctor audit dns-servfail --no-gcp --dns-name api.internal.example.com --resolver 10.0.0.2:53`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IDs = args
			return o.run(cmd.Context(), ios, nil)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json, markdown, junit")
	// audit is read-only by construction: the live vantage points create things, so they live in check.
	var from []string
	cmd.Flags().StringArrayVar(&from, "from", nil, "not for audit: use gkedoctor check --from")
	_ = cmd.Flags().MarkHidden("from")
	var ct bool
	cmd.Flags().BoolVar(&ct, "connectivity-test", false, "not for audit: use gkedoctor check --connectivity-test")
	_ = cmd.Flags().MarkHidden("connectivity-test")
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if len(from) > 0 || ct {
			return usageErrorf("audit is read-only and creates nothing: --from and --connectivity-test create a probe pod, job or test; use gkedoctor check %s", strings.Join(args, " "))
		}
		return nil
	}
	return cmd
}

func (o *auditOptions) complete() error {
	o.App.ForceReadOnly("audit", "audit is read-only by construction") // whatever the config says
	return o.App.Complete()
}

func (o *auditOptions) validate() error {
	if err := validateOutput(o.Output); err != nil {
		return err
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

func (o *auditOptions) run(ctx context.Context, ios *iostreams.IOStreams, _ []string) error {
	if err := o.complete(); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return o.execute(ctx, ios)
}

// execute runs the completed and validated audit.
func (o *auditOptions) execute(ctx context.Context, ios *iostreams.IOStreams) error {
	return o.executeAs(ctx, ios, "audit", nil)
}

// executeAs runs the audit under another mode's name (triage --run), with what that mode adds to the
// report (extra, marshalled into the report's field of that name).
func (o *auditOptions) executeAs(ctx context.Context, ios *iostreams.IOStreams, mode string, extra any) error {
	ctx, cancel := runDeadline(ctx, o.App.Timeout)
	defer cancel()
	s, err := app.Build(ctx, o.App)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, results := runChecks(ctx, ios, s, o.list, o.Output, mode)
	if extra != nil {
		if err := attachExtra(rep, mode, extra); err != nil {
			return err
		}
	}
	if err := render(ios, o.Output, rep); err != nil {
		return err
	}
	code := report.ExitCode(results)
	sayNothingChecked(ios, o.Output, code)
	return exitFor(code)
}

// runChecks runs list, streaming text progress when the output is text, and builds the report.
func runChecks(ctx context.Context, ios *iostreams.IOStreams, s *app.Session, list []checks.Check, output, mode string) (*report.Report, []checks.Result) {
	start := time.Now()
	var onEvent func(checks.Event)
	var text *report.Text
	if output == "text" {
		text = report.NewText(ios.Out, report.TextOptions{Color: ios.ColorEnabled()})
		header(ios.Out, s)
		onEvent = text.Event
	}
	results := checks.DefaultEngine().Run(ctx, s.Env, list, onEvent)
	rep := newReport(mode, s, start, results)
	return rep, results
}

func newReport(mode string, s *app.Session, start time.Time, results []checks.Result) *report.Report {
	rep := report.New(mode, version.Version, s.Env.Target, start, time.Since(start), results)
	rep.Where = string(s.Env.Where)
	rep.ReadOnly = s.Env.ReadOnly
	if !s.Env.CanProbeVPC() {
		rep.NotTested = append(rep.NotTested, "live connections to VPC-internal addresses (the tool is not running in the VPC): reachability verdicts come from configuration")
	}
	if s.KubeErr != nil {
		rep.NotTested = append(rep.NotTested, "the cluster: "+s.KubeErr.Error())
	}
	if s.GCPErr != nil {
		rep.NotTested = append(rep.NotTested, "Google Cloud APIs: "+s.GCPErr.Error())
	}
	return rep
}

func header(w io.Writer, s *app.Session) {
	t := s.Env.Target
	mode := "[RW]"
	if s.Env.ReadOnly {
		mode = "[RO]"
	}
	ctxName := t.Context
	if ctxName == "" {
		ctxName = "-"
	}
	fmt.Fprintf(w, "gkedoctor %s  context %s  project %s  location %s  cluster %s  (%s)\n\n",
		mode, safeout.Line(ctxName), safeout.Line(dash(t.Project)), safeout.Line(dash(t.Location)), safeout.Line(dash(t.Cluster)), s.Env.Where)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func render(ios *iostreams.IOStreams, format string, rep *report.Report) error {
	w := ios.Out
	switch format {
	case "json":
		return report.WriteJSON(w, rep)
	case "markdown":
		return report.WriteMarkdown(w, rep)
	case "junit":
		return report.WriteJUnit(w, rep)
	default:
		return report.NewText(w, report.TextOptions{Color: ios.ColorEnabled()}).Final(rep)
	}
}

func exitFor(code int) error {
	if code == 0 {
		return nil
	}
	return &silentExit{code: code}
}

// sayNothingChecked ends a text report whose every check skipped with the line that says so.
func sayNothingChecked(ios *iostreams.IOStreams, output string, code int) {
	if output == "text" && code == report.ExitCodeNothingChecked {
		fmt.Fprintln(ios.Out, report.NothingCheckedLine)
	}
}
