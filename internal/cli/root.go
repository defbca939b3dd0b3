// Package cli holds gkedoctor's cobra commands. Each command has an Options struct with Complete,
// Validate and Run (kubectl's pattern); the commands parse flags and call into packages that tests can
// drive directly, and every error leaves through Execute with the contract's exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/kube"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// Exit codes (contract, DESIGN §1).
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitUsage    = 2
)

// exitError carries an exit code and one line for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// silentExit ends the command with a code and nothing more to say (the report said it).
type silentExit struct{ code int }

func (e *silentExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// TUI opens the interactive checklist; the tui package sets it (nil until it is linked in).
var TUI func(ctx context.Context, s *app.Session, ios *iostreams.IOStreams, guided bool) error

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, ios *iostreams.IOStreams, args []string) int {
	quietLibraryLogs()
	ctx, w := watchSignals(ctx, ios.ErrOut)
	defer w.stop()
	root := NewRoot(ios)
	if completeAsPlugin {
		args = append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	root.SetArgs(args)
	prefix := invokedAs + ": "
	err := root.ExecuteContext(ctx)
	if sig := w.signal(); sig != nil {
		// Cancellation is reported as cancellation, whatever the interrupted step made of it.
		msg := prefix + (&cancelledError{sig: sig}).Error()
		var ee *exitError
		if errors.As(err, &ee) && ee.code != ExitUsage && !strings.Contains(ee.msg, msg[len(prefix):]) {
			msg += ": " + oneLine(ee.msg)
		}
		fmt.Fprintln(ios.ErrOut, msg)
		return signalExitCode(sig)
	}
	if err == nil {
		return ExitOK
	}
	var se *silentExit
	if errors.As(err, &se) {
		return se.code
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(ios.ErrOut, prefix+oneLine(ee.msg))
		return ee.code
	}
	var ue *kube.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(ios.ErrOut, prefix+oneLine(ue.Msg))
		return ExitUsage
	}
	var ae *app.UsageError
	if errors.As(err, &ae) {
		fmt.Fprintln(ios.ErrOut, prefix+oneLine(ae.Msg))
		return ExitUsage
	}
	// Anything cobra itself rejects (unknown command or flag, bad arguments) is a usage error.
	fmt.Fprintln(ios.ErrOut, prefix+oneLine(err.Error()))
	if isCobraUsage(err) {
		return ExitUsage
	}
	return ExitFindings
}

// oneLine is every message for stderr: on one line, sanitised and redacted (an API error body may
// carry escape sequences and tokens).
func oneLine(s string) string { return safeout.Line(s) }

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag", "if any flags in the group"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// NewRoot builds the command tree.
func NewRoot(ios *iostreams.IOStreams) *cobra.Command {
	opts := app.NewOptions()
	var guided bool
	root := &cobra.Command{
		Use:   "gkedoctor",
		Short: "Diagnose and fix connectivity between Cloud Run (or any VPC client) and GKE",
		Long: `gkedoctor walks the known failure modes between Cloud Run / App Engine / VMs and GKE, and inside
GKE: ClusterIPs unreachable from the VPC, DNS SERVFAIL for *.svc.cluster.local, stale Cloud DNS
records, 401 with ServiceAccount tokens, the exec WebSocket handshake, and pod egress to peered
projects. It runs live checks, shows its evidence with the equivalent gcloud/kubectl commands, and
applies journaled, undoable fixes.

Run without a subcommand it opens the interactive checklist; "gkedoctor demo" shows it on a
simulated project without any cloud account.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInteractive(cmd.Context(), ios, opts, guided)
		},
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	defer nameAs(root, invokedAs) // after every command is added
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	addSharedFlags(root.PersistentFlags(), opts)
	// Every command, even one that ignores them, refuses malformed flag values (exit 2).
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		opts.FlagChanged = cmd.Flags().Changed
		if opts.ReadOnly && opts.Write {
			return usageErrorf("--read-only and --write contradict each other: give one")
		}
		if err := opts.ValidateInput(); err != nil {
			return usageErrorf("%v", err)
		}
		return nil
	}
	root.Flags().BoolVar(&guided, "guided", false, "guided mode: one failure mode at a time, each step explained before it runs")
	root.Flags().BoolVar(&opts.OpenTriage, "triage", false, "open the triage screen first: paste an error text, see what it fits, Enter runs those checks")
	root.MarkFlagsMutuallyExclusive("guided", "triage")
	root.AddCommand(
		newDemoCmd(ios, opts),
		newAuditCmd(ios, opts),
		newFixCmd(ios, opts),
		newUndoCmd(ios, opts),
		newChecksCmd(ios),
		newExplainCmd(ios),
		newVersionCmd(ios),
		newProbeCmd(ios, opts),
		newCheckCmd(ios, opts),
		newConfigCmd(ios, opts),
		newTriageCmd(ios, opts),
	)
	addCompletions(root, opts)
	return root
}

// addSharedFlags registers kubectl's flags and DESIGN §1's shared flags.
func addSharedFlags(fs *pflag.FlagSet, o *app.Options) {
	o.Kube.AddFlags(fs)
	fs.StringVar(&o.Project, "project", "", "Google Cloud project (default: from a gke_PROJECT_LOCATION_CLUSTER context)")
	fs.StringVar(&o.Location, "location", "", "cluster location, region or zone (default: from the context name)")
	fs.StringVar(&o.Cluster, "cluster", "", "GKE cluster name (default: from the context name)")
	fs.StringVar(&o.CloudRunService, "cloud-run-service", "", "the Cloud Run service that is the client: NAME, LOCATION/NAME or projects/P/locations/L/services/NAME (default: every service with VPC access in every location of the cluster's project and each --source-project)")
	fs.StringArrayVar(&o.SourceProjects, "source-project", nil, "a project whose Cloud Run services are clients too, besides the cluster's (repeatable; Shared VPC service projects)")
	fs.StringVar(&o.AppEngineService, "app-engine-service", "", "an App Engine standard service that is the client, S or S/VERSION (default: every serving version with a VPC connector)")
	fs.StringArrayVar(&o.Services, "service", nil, "a GKE Service to reach, NS/NAME (repeatable)")
	fs.StringVar(&o.Workload, "workload", "", "workload for token and exec checks, KIND/NS/NAME (deploy, sts, ds, job, cronjob, pod)")
	fs.StringVar(&o.TokenFile, "token-file", "", "the token a failing client sends (claims decoded locally, checked by TokenReview; never printed)")
	fs.StringArrayVar(&o.DNSNames, "dns-name", nil, "a DNS name the client resolves (repeatable)")
	fs.StringArrayVar(&o.DNSProjects, "dns-project", nil, "another project whose Cloud DNS zones and policies may apply to the client's network, e.g. a hub DNS project (repeatable)")
	fs.StringArrayVar(&o.Peers, "peer", nil, "a peered destination for pod egress checks, CIDR|IP[:PORT] (repeatable)")
	fs.BoolVar(&o.InternalGateway, "internal", false, "gateway fixes (knative-gateway-address) put the gateway on an internal load balancer, not an external one")
	fs.BoolVar(&o.ReadOnly, "read-only", false, "change nothing: fixes are disabled (audit is always read-only)")
	fs.BoolVar(&o.Write, "write", false, "allow changes even where the config file marks the context or project read-only")
	fs.StringVar(&o.ConfigPath, "config", "", "the config file (default: $GKEDOCTOR_CONFIG, else $XDG_CONFIG_HOME/gkedoctor/config.yaml; see gkedoctor config path)")
	fs.StringVar(&o.Resolver, "resolver", "", "DNS server for live probes, HOST:PORT (default: the VPC resolver on GCE, else the system resolver)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "time limit for the whole run")
	fs.BoolVar(&o.NoGCP, "no-gcp", false, "call no Google API; the checks that need one are skipped")
	fs.BoolVar(&o.Demo, "demo", false, "run against the built-in demo world (no cloud, no cluster)")
	fs.StringVar(&o.DemoWorld, "world", "", "the demo world's layout with --demo or demo: seed (default) or shared-vpc")
}

func runInteractive(ctx context.Context, ios *iostreams.IOStreams, opts *app.Options, guided bool) error {
	if TUI == nil || !ios.IsStdoutTTY() {
		// Bad input is refused first, on its own line, before the notice.
		a := &auditOptions{App: opts, Output: "text"}
		if err := a.complete(); err != nil {
			return err
		}
		if err := a.validate(); err != nil {
			return err
		}
		if TUI != nil {
			fmt.Fprintln(ios.ErrOut, invokedAs+": output is not a terminal; printing the audit report instead of the interactive checklist")
		} else {
			fmt.Fprintln(ios.ErrOut, invokedAs+": the interactive checklist is not in this build; printing what `"+invokedAs+" audit` prints")
		}
		return a.execute(ctx, ios)
	}
	if err := opts.Complete(); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	s, err := app.Build(ctx, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	return TUI(ctx, s, ios, guided)
}
