// Package tui is gkedoctor's interactive checklist: a Bubble Tea v2 program that runs every check live,
// explains what each found with its evidence and the equivalent commands, and applies, journals and
// undoes fixes on one key.
//
// A root model (Model) owns the shared state — size, styles, key map, the rows of the catalogue — and
// routes keys and drawing to the active screen: the checklist, the detail pane (a viewport), the full
// help, the filter input, the confirmation dialog, the fix picker and guided mode. Children render
// strings; only the root returns a tea.View. Long work (the engine, fixes, undo, the export) runs in
// tea.Cmds and reports back with typed messages (checkStartedMsg, checkStepMsg, checkDoneMsg,
// fixAppliedMsg, …); the engine's progress events travel through a mailbox drained by one command.
//
// Read-only sessions keep the fix and undo keys in the help, disabled, with the reason. The guard
// transports below the UI are the real protection; the UI explains.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"k8s.io/klog/v2"

	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/vantage"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

// Run opens the interactive checklist full-screen on s and returns when the user quits (or ctx ends).
// With guided, it starts in guided mode: one failure mode at a time, each run on enter.
func Run(ctx context.Context, s *app.Session, ios *iostreams.IOStreams, guided bool) error {
	if s == nil || s.Env == nil {
		return errors.New("the interactive checklist needs a session")
	}
	keys, err := loadKeyMap(keysFile())
	if err != nil {
		return &app.UsageError{Msg: err.Error()}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Issue 14 item 6: nothing configured → the setup screen first, then the checklist on its choice.
	if wantsSetup(s) {
		next, err := runSetup(ctx, s, ios)
		if err != nil || next == nil {
			return err
		}
		if next != s {
			defer next.Close()
		}
		s = next
	}

	cfg := sessionConfig(s)
	cfg.keys = keys
	cfg.guided = guided
	cfg.triage = s.Options != nil && s.Options.OpenTriage
	cfg.noColor = !ios.ColorEnabled()
	m := newModel(ctx, cfg)

	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(ios.Terminal())}
	if cfg.noColor {
		opts = append(opts, tea.WithColorProfile(colorprofile.ASCII))
	}
	restore := silenceLogs()
	defer restore()
	_, err = tea.NewProgram(m, opts...).Run()
	if err != nil && errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		// Ended from outside (SIGTERM, --timeout): not an error of the checklist.
		return nil
	}
	if err != nil {
		return fmt.Errorf("interactive checklist: %w", err)
	}
	return nil
}

// sessionConfig takes what the model needs from the session.
func sessionConfig(s *app.Session) config {
	cfg := config{
		env:      s.Env,
		journal:  s.Journal,
		kubeErr:  s.KubeErr,
		gcpErr:   s.GCPErr,
		readOnly: s.Env.ReadOnly,
	}
	cfg.readOnlyShort, cfg.readOnlyLong = s.ReadOnlyWhy.Short, s.ReadOnlyWhy.Long
	if s.Applier != nil {
		cfg.applier = s.Applier
		cfg.target = s.Applier.Target
		cfg.readOnly = cfg.readOnly || s.Applier.ReadOnly
		cfg.observer = &vantage.Runner{Env: s.Env, Applier: s.Applier, Image: version.ProbeImage(), Simulated: s.World != nil}
	}
	if s.Journal == nil {
		cfg.journal = nil
	}
	if s.Inv != nil {
		inv := s.Inv
		cfg.invalidate = func() { inv.Invalidate() }
	}
	if s.Options != nil && s.Options.Timeout > 0 {
		cfg.runTimeout = s.Options.Timeout
	}
	if cfg.applier == nil {
		cfg.applier = noApplier{}
		cfg.readOnly = true
	}
	return cfg
}

// noApplier stands in when the session has none: every write is refused.
type noApplier struct{}

func (noApplier) Apply(context.Context, *fixes.Plan, func(string)) (*fixes.Applied, error) {
	return nil, errNoApplier
}
func (noApplier) Undo(context.Context, *fixes.Entry) error { return errNoApplier }

var errNoApplier = errors.New("this session cannot apply fixes")

// silenceLogs keeps library logging (client-go's klog, the standard logger, slog) off the screen for
// as long as the program owns the terminal.
func silenceLogs() func() {
	prevLog := log.Writer()
	prevSlog := slog.Default()
	log.SetOutput(io.Discard)
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	return func() {
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
		slog.SetDefault(prevSlog)
		log.SetOutput(prevLog)
	}
}
