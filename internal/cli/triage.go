package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
	"github.com/gkedoctor/gkedoctor/internal/triage"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

type triageOptions struct {
	App    *app.Options
	Output string
	Run    bool
	Args   []string

	text   string
	result triage.Result
}

func newTriageCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	o := &triageOptions{App: shared}
	cmd := &cobra.Command{
		Use:   "triage [TEXT...]",
		Short: "Map an error message, traceback or curl -v output (args or stdin) to the checks and causes that fit",
		Long: `Matches the text against the error signatures of the catalogue (gkedoctor checks -o json lists
them): "Handshake status 200 OK", "Name or service not known" / [Errno -2], "Temporary failure in name
resolution" / [Errno -3], "No address associated with hostname" / [Errno -5], SERVFAIL, 401
Unauthorized versus 403 Forbidden, "Upgrade request required", a connect timeout to a ClusterIP or
another address, "trafficdirector.networks.getConfigs", "Waiting for load balancer to be ready". It
extracts what the text names (hosts, *.svc.cluster.local Services, IPs, ports, URLs, ServiceAccounts,
pods, HTTP status codes), explains which failure modes and causes fit and why, quoting the text, and
prints the audit command that runs exactly those checks with the targets filled in. --run runs them
(read-only, as audit: same report, same exit codes). A text that carries no known signature is said to
be unrecognised; nothing is guessed.

The text is the arguments, or stdin when there are none or the only one is "-".`,
		Example: `  kubectl logs deploy/environment-manager | gkedoctor triage
  gkedoctor triage "socket.gaierror: [Errno -2] Name or service not known"
  pbpaste | gkedoctor triage --run --demo -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args
			return o.run(cmd.Context(), ios)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json (with --run also markdown, junit)")
	cmd.Flags().BoolVar(&o.Run, "run", false, "run the checks that fit, with the extracted targets, read-only as audit does")
	return cmd
}

// readText reads the text from the arguments or stdin.
func (o *triageOptions) readText(ios *iostreams.IOStreams) error {
	if len(o.Args) > 0 && !(len(o.Args) == 1 && o.Args[0] == "-") {
		o.text = strings.Join(o.Args, " ")
	} else {
		if ios.IsStdinTTY() {
			fmt.Fprintln(ios.ErrOut, invokedAs+" triage: paste the error text, then Ctrl-D")
		}
		b, err := io.ReadAll(io.LimitReader(ios.In, triage.MaxInput+1))
		if err != nil {
			return usageErrorf("triage: read stdin: %v", err)
		}
		o.text = string(b)
	}
	if strings.TrimSpace(o.text) == "" {
		return usageErrorf("triage: no text: give the error message as arguments or on stdin (e.g. kubectl logs POD | %s triage)", invokedAs)
	}
	return nil
}

func (o *triageOptions) validate() error {
	formats := []string{"text", "json"}
	if o.Run {
		formats = outputFormats
	}
	for _, f := range formats {
		if o.Output == f {
			return nil
		}
	}
	return usageErrorf("unknown output format %q for triage: valid formats are %s", o.Output, strings.Join(formats, ", "))
}

func (o *triageOptions) run(ctx context.Context, ios *iostreams.IOStreams) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := o.readText(ios); err != nil {
		return err
	}
	o.result = triage.Analyze(o.text, checks.Catalogue())
	if !o.Run || !o.result.Recognised() {
		if err := o.print(ios); err != nil {
			return err
		}
		if o.Run {
			// Nothing fits, so nothing was checked (exit 3, as an audit whose every check skipped).
			return exitFor(report.ExitCodeNothingChecked)
		}
		return nil
	}
	a := &auditOptions{App: o.App, Output: o.Output, IDs: o.result.Checks}
	applyTargets(o.App, o.result.Targets)
	if o.Output == "text" {
		o.printText(ios.Out)
		fmt.Fprintln(ios.Out)
	}
	if err := a.complete(); err != nil {
		return err
	}
	if err := a.validate(); err != nil {
		return err
	}
	return a.executeAs(ctx, ios, "triage", &o.result)
}

// applyTargets adds the extracted targets to the flags the user gave (theirs come first and win for
// the single-valued --workload).
func applyTargets(opts *app.Options, t triage.Targets) {
	opts.Services = triage.AppendMissing(opts.Services, t.Services...)
	opts.DNSNames = triage.AppendMissing(opts.DNSNames, t.DNSNames...)
	opts.Peers = triage.AppendMissing(opts.Peers, t.Peers...)
	if opts.Workload == "" {
		opts.Workload = t.Workload
	}
}

// auditCommand is the audit command line that runs what triage would.
func auditCommand(r triage.Result) string {
	parts := append([]string{invokedAs, "audit"}, r.Checks...)
	for _, f := range r.Targets.Flags() {
		parts = append(parts, shellQuote(f))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TriageJSON is what triage -o json prints (schema: internal/report/schema/triage-v1.schema.json).
type TriageJSON struct {
	SchemaVersion int            `json:"schemaVersion"`
	Tool          report.Tool    `json:"tool"`
	Mode          string         `json:"mode"`
	Recognised    bool           `json:"recognised"`
	Matches       []triage.Match `json:"matches"`
	Extracted     triage.Found   `json:"extracted"`
	Checks        []string       `json:"checks"`
	Targets       triage.Targets `json:"targets"`
	// Command is the audit command that runs the checks with the targets; empty when nothing fits.
	Command string `json:"command,omitempty"`
	// Available lists every check id when nothing fits, to choose from.
	Available []string `json:"available,omitempty"`
}

func triageJSON(r triage.Result) TriageJSON {
	out := TriageJSON{SchemaVersion: 1, Tool: report.Tool{Name: "gkedoctor", Version: version.Version}, Mode: "triage",
		Recognised: r.Recognised(), Matches: r.Matches, Extracted: r.Found, Checks: r.Checks, Targets: r.Targets}
	if out.Matches == nil {
		out.Matches = []triage.Match{}
	}
	if out.Checks == nil {
		out.Checks = []string{}
	}
	if r.Recognised() {
		out.Command = auditCommand(r)
	} else {
		for _, i := range checks.Catalogue() {
			if i.Available {
				out.Available = append(out.Available, i.ID)
			}
		}
	}
	return out
}

func (o *triageOptions) print(ios *iostreams.IOStreams) error {
	if o.Output == "json" {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(triageJSON(o.result))
	}
	o.printText(ios.Out)
	return nil
}

func (o *triageOptions) printText(w io.Writer) {
	r := o.result
	if !r.Recognised() {
		fmt.Fprintln(w, "Recognised no known error in the text: gkedoctor does not guess.")
		fmt.Fprintln(w, "\nThe checks it knows (gkedoctor explain ID tells more):")
		for _, i := range checks.Catalogue() {
			if i.Available {
				fmt.Fprintf(w, "  %-30s %s\n", i.ID, i.Title)
			}
		}
		fmt.Fprintf(w, "\nRun them all: %s audit\n", invokedAs)
		return
	}
	fmt.Fprintf(w, "Recognised %d error signature(s) pointing at %d check(s).\n", len(r.Matches), len(r.Checks))
	last := ""
	for _, m := range r.Matches {
		if m.Check != last {
			fmt.Fprintf(w, "\n%s — %s\n  %s\n", m.Check, m.FailureMode, m.Title)
			last = m.Check
		}
		fmt.Fprintf(w, "  matched %q (signature %s)\n", m.Quote, m.Signature)
		fmt.Fprintf(w, "    why: %s\n", m.Why)
		fmt.Fprintln(w, "    causes that fit:")
		for _, c := range m.Causes {
			fmt.Fprintf(w, "      %-32s %s\n", c.ID, c.Title)
		}
	}
	printFound(w, r.Found)
	fmt.Fprintf(w, "\nRun exactly these checks, read-only (or add --run to this command):\n  %s\n", safeout.Line(auditCommand(r)))
}

func printFound(w io.Writer, f triage.Found) {
	rows := []struct {
		name string
		vals []string
	}{
		{"services", f.Services}, {"hosts", f.Hosts}, {"addresses", f.IPs}, {"ports", ints(f.Ports)},
		{"URLs", f.URLs}, {"service accounts", f.ServiceAccounts}, {"pods", f.Pods}, {"HTTP status", ints(f.StatusCodes)},
	}
	header := false
	for _, r := range rows {
		if len(r.vals) == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nExtracted from the text:")
			header = true
		}
		fmt.Fprintf(w, "  %-17s %s\n", r.name, safeout.Line(strings.Join(r.vals, ", ")))
	}
}

func ints(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = fmt.Sprint(n)
	}
	return out
}

// attachExtra puts triage's findings into the report it ran.
func attachExtra(rep *report.Report, mode string, extra any) error {
	if r, ok := extra.(*triage.Result); ok && mode == "triage" {
		b, err := json.Marshal(triageJSON(*r))
		if err != nil {
			return fmt.Errorf("triage: encode the findings: %w", err)
		}
		rep.Triage = b
	}
	return nil
}
