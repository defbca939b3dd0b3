package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

type undoOptions struct {
	App   *app.Options
	Last  bool
	List  bool
	Force bool
	ID    string
}

func newUndoCmd(ios *iostreams.IOStreams, shared *app.Options) *cobra.Command {
	o := &undoOptions{App: shared}
	cmd := &cobra.Command{
		Use:   "undo [JOURNAL-ID | --last]",
		Short: "Revert a journaled fix (--list shows the journal)",
		Long: `Reverts a fix from the journal ($XDG_STATE_HOME/gkedoctor/journal, one JSON file per applied fix
holding the objects as they were before and the undo steps, each journaled before its write). A fix
stopped part-way (the process was killed, a write failed) is undone too: each step is idempotent, and a
step whose object is absent says so. Undo refuses to run against another kubeconfig context, project
or cluster than the one the fix was applied to (naming both), and refuses to overwrite an object that
changed since the fix, showing the difference, unless --force. Two processes cannot undo one entry
twice (the journal is locked). An unreadable journal file is listed as such and blocks nothing else.
--list --demo lists the demo world's journal (journal-demo/).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.ID = args[0]
			}
			return o.run(cmd.Context(), ios)
		},
	}
	cmd.Flags().BoolVar(&o.Last, "last", false, "undo the most recent applied fix")
	cmd.Flags().BoolVar(&o.List, "list", false, "list the journal and change nothing")
	cmd.Flags().BoolVar(&o.Force, "force", false, "revert objects that changed since the fix instead of refusing (shows the difference first)")
	return cmd
}

func (o *undoOptions) validate() error {
	if o.List {
		return nil
	}
	if o.ID == "" && !o.Last {
		return usageErrorf("name a journal id or pass --last (gkedoctor undo --list shows the journal)")
	}
	if o.ID != "" && o.Last {
		return usageErrorf("give a journal id or --last, not both")
	}
	if o.App.ReadOnly {
		return usageErrorf("undo changes things and cannot run with --read-only")
	}
	if o.App.Demo {
		// Each process starts a new demo world: a fix applied by another process is not in it, so an
		// undo here would "succeed" against nothing.
		return usageErrorf("the demo world is new in every process, so a fix from another run is not in it: undo in the same session (press u in `gkedoctor demo`)")
	}
	return nil
}

func (o *undoOptions) run(ctx context.Context, ios *iostreams.IOStreams) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.List {
		return listJournal(ios, app.JournalFor(o.App))
	}
	if err := o.App.Complete(); err != nil {
		return err
	}
	if o.App.ReadOnly {
		// Read-only by the config file (the flag was refused above).
		return usageErrorf("undo changes things and this session is read-only: %s", o.App.ReadOnlyWhy.Long)
	}
	if err := o.App.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	ctx, cancel := runDeadline(ctx, o.App.Timeout)
	defer cancel()
	s, err := app.Build(ctx, o.App)
	if err != nil {
		return err
	}
	defer s.Close()
	var e *fixes.Entry
	if o.Last {
		e, err = s.Journal.Last(s.Applier.Target)
	} else {
		e, err = s.Journal.Get(o.ID)
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	fmt.Fprintf(ios.Out, "Undoing %s: %s\n", safeout.Line(e.ID), safeout.Line(e.Title))
	if e.State == fixes.StatePending || e.State == fixes.StateFailed {
		fmt.Fprintf(ios.Out, "  the fix did not finish (%s): each journaled step is reverted if it happened\n", e.State)
	}
	err = s.Applier.UndoWith(ctx, e, fixes.UndoOptions{Force: o.Force, Progress: func(line string) {
		fmt.Fprintf(ios.Out, "  %s\n", safeout.Text(line))
	}})
	if err != nil {
		return &exitError{code: ExitFindings, msg: err.Error()} // printed through oneLine
	}
	fmt.Fprintf(ios.Out, "✓ undone: %s\n", safeout.Line(e.Title))
	return nil
}

func listJournal(ios *iostreams.IOStreams, j *fixes.Journal) error {
	l, err := j.Scan()
	if err != nil {
		return &exitError{code: ExitFindings, msg: err.Error()}
	}
	if len(l.Entries) == 0 && len(l.Unreadable) == 0 {
		fmt.Fprintf(ios.Out, "The journal in %s is empty.\n", safeout.Line(j.Dir))
		return nil
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCHECK\tFIX")
	// A journal file is read back from disk: every field is shown through the one output layer
	// (and as one cell: a tab or a newline in a title must not break the columns).
	cell := func(s string) string { return strings.ReplaceAll(safeout.Line(s), "\t", " ") }
	for _, e := range l.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(e.ID), cell(e.State), cell(e.Check), cell(e.Title))
	}
	for _, u := range l.Unreadable {
		fmt.Fprintf(tw, "%s\tunreadable\t-\t%s\n", cell(strings.TrimSuffix(filepath.Base(u.File), ".json")), cell(fmt.Sprint(u.Err)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(l.Unreadable) > 0 {
		fmt.Fprintf(ios.Out, "%d unreadable file(s) in %s cannot be undone by gkedoctor; the other entries are unaffected.\n", len(l.Unreadable), safeout.Line(j.Dir))
	}
	return nil
}
