package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

type fixOptions struct {
	App    *app.Options
	Output string
	All    bool
	Yes    bool
	DryRun bool
	Done   bool
	IDs    []string
}

// AppliedFix is one fix's outcome in `fix -o json` (added beside the report's results).
type AppliedFix struct {
	FixID     string `json:"fixId"`
	Check     string `json:"check"`
	Title     string `json:"title"`
	JournalID string `json:"journalId,omitempty"`
	State     string `json:"state"` // applied, not-effective, failed, aborted, not-attempted (fixrun.State); planned (--dry-run)
	Message   string `json:"message,omitempty"`
	Error     string `json:"error,omitempty"`
}

func newFixCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	o := &fixOptions{App: shared}
	cmd := &cobra.Command{
		Use:   "fix ID... | --all",
		Short: "Apply fixes non-interactively (asks unless --yes); --dry-run shows the plans",
		Long: `Runs the named checks and applies their recommended fixes. ID is a check id (its recommended fixes)
or a fix id (as shown by --dry-run or in the report). Every fix is journaled before it changes
anything and can be reverted with "gkedoctor undo". Destructive or VPC-wide fixes are listed as such
before the question. The fixes are applied in order and the set stops at the first one that fails
(or whose effect does not show in time): the ones after it are not attempted, and nothing already
applied is undone automatically ("gkedoctor undo" reverts it). Exit code 1 when a fix failed or the
re-check still fails.`,
		Example: `  gkedoctor fix --demo clusterip-unreachable --yes
  gkedoctor fix --all --dry-run
  gkedoctor fix create-internal-lb/default/development-agent`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IDs = args
			return o.run(cmd.Context(), ios)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json, markdown, junit")
	cmd.Flags().BoolVar(&o.All, "all", false, "apply the recommended fix of every failing check")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the plans (diff and equivalent commands) and change nothing")
	cmd.Flags().BoolVar(&o.Done, "done", false, "advice ids (and checks whose fix is advice) among ID were carried out by you: record it in the journal and re-check")
	return cmd
}

func (o *fixOptions) validate() error {
	if err := validateOutput(o.Output); err != nil {
		return err
	}
	if len(o.IDs) == 0 && !o.All {
		return usageErrorf("name what to fix (a check id or a fix id), or pass --all; --dry-run shows the plans")
	}
	if len(o.IDs) > 0 && o.All {
		return usageErrorf("give ids or --all, not both")
	}
	if o.Done && o.All {
		return usageErrorf("--done records advice you carried out: name it (an advice id or a check id), not --all")
	}
	if o.App.ReadOnly && !o.DryRun {
		if o.App.ReadOnlyWhy.Short != "" && o.App.ReadOnlyWhy.Short != "--read-only" {
			// Read-only by the config file: say which file, line and rule, and the way out.
			return usageErrorf("fix cannot apply anything: this session is read-only: %s, or --dry-run to see the plans", o.App.ReadOnlyWhy.Long)
		}
		return usageErrorf("fix cannot apply anything with --read-only; use --dry-run to see the plans")
	}
	if err := o.App.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

func (o *fixOptions) run(ctx context.Context, ios *iostreams.IOStreams) error {
	if o.DryRun {
		o.App.ForceReadOnly("--dry-run", "a dry run changes nothing") // by construction
	}
	if err := o.App.Complete(); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	// Which checks to run: check ids directly; fix ids need every check (we do not know the owner).
	var checkIDs []string
	for _, id := range o.IDs {
		if _, ok := checks.InfoFor(id); ok {
			checkIDs = append(checkIDs, id)
		} else {
			checkIDs = nil
			break
		}
	}
	list, err := checks.Select(checkIDs)
	if err != nil {
		return usageErrorf("%v", err)
	}
	ctx, cancel := runDeadline(ctx, o.App.Timeout)
	defer cancel()
	s, err := app.Build(ctx, o.App)
	if err != nil {
		return err
	}
	defer s.Close()
	textOut := o.Output == "text"
	progressW := ios.ErrOut
	if textOut {
		progressW = ios.Out
	}
	_, results := runChecks(ctx, ios, s, list, o.Output, "fix")
	if ctx.Err() != nil {
		// The checks were stopped: their results say nothing about what to fix.
		return stopped(ctx)
	}
	plans, err := selectPlans(o.IDs, o.All, o.Done, results)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var outcomes []AppliedFix
	if len(plans) == 0 {
		fmt.Fprintln(progressW, "Nothing to fix: no failing check has an applicable fix.")
		rep := newReport("fix", s, time.Now(), results)
		return o.finish(ios, rep, results, nil)
	}
	printPlans(progressW, plans)
	if o.DryRun {
		for _, p := range plans {
			outcomes = append(outcomes, AppliedFix{FixID: p.ID, Check: p.Check, Title: p.Title, State: "planned"})
		}
		rep := newReport("fix", s, time.Now(), results)
		return o.finish(ios, rep, results, outcomes)
	}
	if !o.Yes {
		if !ios.IsStdinTTY() {
			return usageErrorf("refusing to apply %d fix(es) without confirmation: stdin is not a terminal; pass --yes", len(plans))
		}
		if !confirm(ios, fmt.Sprintf("Apply %d fix(es) to %s?", len(plans), describeTarget(s))) {
			fmt.Fprintln(progressW, "Nothing applied.")
			return &silentExit{code: ExitOK}
		}
	}
	// One runner, one stop policy (internal/fixrun): in order, journal first, stop at the first fix
	// that does not take, undo nothing, re-check on fresh facts.
	start := time.Now()
	runner := &fixrun.Runner{Applier: s.Applier, Invalidate: func() { s.Inv.Invalidate() }, Engine: checks.DefaultEngine()}
	set := runner.Apply(ctx, plans, fixrun.Events{
		Start:    func(p *fixes.Plan) { fmt.Fprintf(progressW, "\n→ %s\n", safeout.Line(p.Title)) },
		Progress: func(_ *fixes.Plan, line string) { fmt.Fprintf(progressW, "  … %s\n", safeout.Line(line)) },
		Done: func(o fixrun.Outcome) {
			jid := safeout.Line(o.JournalID)
			switch o.State {
			case fixrun.Applied:
				fmt.Fprintf(progressW, "  ✓ applied (journal %s). %s\n", jid, safeout.Line(o.Message))
			case fixrun.NotEffective:
				fmt.Fprintf(progressW, "  ! %s (journal %s; undo with: gkedoctor undo %s)\n", errLine(o.Err), jid, jid)
			default:
				fmt.Fprintf(progressW, "  ✗ %s\n", errLine(o.Err))
			}
		},
	})
	for _, p := range set.NotAttempted() {
		fmt.Fprintf(progressW, "\n– not attempted: %s\n", safeout.Line(p.Title))
	}
	if note := set.StopNote(); note != "" {
		fmt.Fprintf(progressW, "\n%s\n", safeout.Text(note))
	}
	for _, o := range set.Outcomes() {
		af := AppliedFix{FixID: o.Plan.ID, Check: o.Plan.Check, Title: o.Plan.Title, JournalID: o.JournalID, State: string(o.State), Message: o.Message}
		if o.Err != nil {
			af.Error = o.Err.Error()
		}
		outcomes = append(outcomes, af)
	}
	// Re-run every selected check on fresh facts: a fix for one check changes what its supporting
	// checks and its neighbours see too, and the report must not mix before and after.
	again := list
	if textOut && len(again) > 0 {
		fmt.Fprintln(progressW, "\nRe-checking:")
	}
	var onEvent func(checks.Event)
	if textOut {
		onEvent = report.NewText(ios.Out, report.TextOptions{Color: ios.ColorEnabled()}).Event
	}
	newResults := runner.Recheck(ctx, s.Env, again, onEvent)
	byID := map[string]checks.Result{}
	for _, r := range newResults {
		byID[r.ID] = r
	}
	for i, r := range results {
		if nr, ok := byID[r.ID]; ok {
			results[i] = nr
		}
	}
	rep := newReport("fix", s, start, results)
	err = o.finish(ios, rep, results, outcomes)
	if set.Failed() {
		return &silentExit{code: ExitFindings}
	}
	return err
}

func (o *fixOptions) finish(ios *iostreams.IOStreams, rep *report.Report, results []checks.Result, outcomes []AppliedFix) error {
	if o.Output == "json" {
		// The report object with the fixes' outcomes beside it (fields may be added, never renamed).
		var buf bytes.Buffer
		if err := report.WriteJSON(&buf, rep); err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			return err
		}
		if outcomes == nil {
			outcomes = []AppliedFix{}
		}
		for i := range outcomes {
			outcomes[i] = outcomes[i].safe()
		}
		applied, err := marshalNoEscape(outcomes)
		if err != nil {
			return err
		}
		m["applied"] = applied
		out, err := marshalNoEscape(m)
		if err != nil {
			return err
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, out, "", "  "); err != nil {
			return err
		}
		pretty.WriteByte('\n')
		if _, err := ios.Out.Write(safeout.EscapeJSON(pretty.Bytes())); err != nil {
			return err
		}
	} else if err := render(ios, o.Output, rep); err != nil {
		return err
	}
	if o.DryRun {
		return nil
	}
	code := report.ExitCode(results)
	sayNothingChecked(ios, o.Output, code)
	return exitFor(code)
}

// selectPlans picks the plans to apply: for a check id its recommended plans (not advice, not
// alternatives); for a fix id that plan; with all, the recommended plans of every failing check.
// With done, advice named by its id, or the advice of a named check that has nothing else, is
// recorded as carried out by the operator (fixes.CarriedOut).
func selectPlans(ids []string, all, done bool, results []checks.Result) ([]*fixes.Plan, error) {
	plans, err := selectPlansDup(ids, all, done, results)
	if err != nil {
		return nil, err
	}
	// Two checks may propose the same fix (both DNS checks offer the owned zone): apply it once.
	seen := map[string]bool{}
	var out []*fixes.Plan
	for _, p := range plans {
		if !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func selectPlansDup(ids []string, all, done bool, results []checks.Result) ([]*fixes.Plan, error) {
	var out []*fixes.Plan
	recommended := func(r checks.Result) []*fixes.Plan {
		var ps []*fixes.Plan
		if r.Status != checks.Fail && r.Status != checks.Warn {
			return nil
		}
		for _, p := range r.Fixes {
			if !p.Advice && !p.Alternative {
				ps = append(ps, p)
			}
		}
		return ps
	}
	if all {
		for _, r := range results {
			out = append(out, recommended(r)...)
		}
		return out, nil
	}
	for _, id := range ids {
		found := false
		for _, r := range results {
			if r.ID == id {
				found = true
				ps := recommended(r)
				if len(ps) == 0 && done && (r.Status == checks.Fail || r.Status == checks.Warn) {
					for _, p := range r.Fixes {
						if p.Advice && !p.Alternative {
							ps = append(ps, fixes.CarriedOut(p))
						}
					}
				}
				if len(ps) == 0 {
					if r.Status == checks.Pass || r.Status == checks.Skip {
						return nil, fmt.Errorf("check %s is %s: nothing to fix (%s)", id, r.Status, r.Summary)
					}
					return nil, fmt.Errorf("check %s has no fix the tool can apply; see its advice with `gkedoctor audit %s`, make the change, then record it with `gkedoctor fix %s --done`", id, id, id)
				}
				out = append(out, ps...)
			}
			for _, p := range r.Fixes {
				if p.ID == id {
					found = true
					if p.Advice && done {
						out = append(out, fixes.CarriedOut(p))
						continue
					}
					if p.Advice {
						return nil, fmt.Errorf("fix %s is advice only: %s (once you have made the change, record it with `gkedoctor fix %s --done`)", id, strings.Join(p.Commands, "; "), id)
					}
					out = append(out, p)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no check or proposed fix has id %q (run `gkedoctor fix --all --dry-run` to see the fix ids)", id)
		}
	}
	return out, nil
}

func printPlans(w io.Writer, plans []*fixes.Plan) {
	fmt.Fprintf(w, "\n%d fix(es) planned:\n", len(plans))
	for _, p := range plans {
		flags := []string{}
		if p.Destructive {
			flags = append(flags, "destructive")
		}
		if p.VPCWide {
			flags = append(flags, "VPC-wide")
		}
		if p.Reversible {
			flags = append(flags, "reversible")
		}
		fmt.Fprintf(w, "\n  %s  [%s]\n  id: %s\n", safeout.Line(p.Title), strings.Join(flags, ", "), safeout.Line(p.ID))
		if p.Affects != "" {
			fmt.Fprintf(w, "  affects: %s\n", safeout.Line(p.Affects))
		}
		for i, j := range p.JudgedAgainst {
			lead := "  judged against: "
			if i > 0 {
				lead = "                  "
			}
			fmt.Fprintf(w, "%s%s\n", lead, safeout.Line(j))
		}
		if p.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(safeout.Text(p.Diff), "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		for _, c := range p.Commands {
			fmt.Fprintf(w, "  $ %s\n", safeout.Command(c)) // a heredoc's lines stay as they are: copyable
		}
	}
	fmt.Fprintln(w)
}

func confirm(ios *iostreams.IOStreams, q string) bool {
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", q)
	line, _ := bufio.NewReader(ios.In).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func describeTarget(s *app.Session) string {
	if s.Env.Where == checks.DemoWorld {
		return "the demo world"
	}
	t := s.Env.Target
	parts := []string{}
	if t.Project != "" {
		parts = append(parts, "project "+t.Project)
	}
	if t.Cluster != "" {
		parts = append(parts, "cluster "+t.Cluster)
	}
	if t.Context != "" {
		parts = append(parts, "context "+t.Context)
	}
	if len(parts) == 0 {
		return "the current target"
	}
	return safeout.Line(strings.Join(parts, ", "))
}

// safe is the outcome as it may be shown: every string through the one output layer.
func (a AppliedFix) safe() AppliedFix {
	for _, p := range []*string{&a.FixID, &a.Check, &a.Title, &a.JournalID, &a.State, &a.Message, &a.Error} {
		*p = safeout.Text(*p)
	}
	return a
}

// errLine is an error as one safe line.
func errLine(err error) string {
	if err == nil {
		return ""
	}
	return safeout.Line(err.Error())
}

// marshalNoEscape encodes v without HTML escaping, so commands like `2>&1` stay readable.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
