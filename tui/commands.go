package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/report"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
	"github.com/gkedoctor/gkedoctor/internal/version"
)

// Messages. Long work never runs in Update: it is a command that reports back with one of these.
type (
	// checkStartedMsg, checkStepMsg and checkDoneMsg are the engine's progress events, tagged with the
	// run that produced them so a superseded run cannot overwrite a newer one.
	checkStartedMsg struct {
		run int
		id  string
		at  time.Time
	}
	checkStepMsg struct {
		run int
		id  string
		ev  checks.Evidence
	}
	checkDoneMsg struct {
		run    int
		id     string
		result checks.Result
	}
	// runDoneMsg ends one engine run.
	runDoneMsg struct{ run int }
	// mailMsg carries everything queued in the mailbox since the last delivery.
	mailMsg []tea.Msg

	fixProgressMsg struct {
		job  int
		line string
		at   time.Time
	}
	fixAppliedMsg struct {
		job     int
		outcome fixrun.Outcome
	}
	undoDoneMsg struct {
		entry *fixes.Entry
		err   error
	}
	exportDoneMsg struct {
		path string
		err  error
	}
)

// mailbox is an unbounded queue between goroutines (engine, fix progress) and the program: the
// engine's callback must not block, and the program drains it with one outstanding listen command.
type mailbox struct {
	mu     sync.Mutex
	q      []tea.Msg
	notify chan struct{}
}

func newMailbox() *mailbox { return &mailbox{notify: make(chan struct{}, 1)} }

func (mb *mailbox) put(msg tea.Msg) {
	mb.mu.Lock()
	mb.q = append(mb.q, msg)
	mb.mu.Unlock()
	select {
	case mb.notify <- struct{}{}:
	default:
	}
}

// listen waits for queued messages and delivers them all at once; nil when ctx ends.
func (mb *mailbox) listen(ctx context.Context) tea.Cmd {
	return func() tea.Msg {
		for {
			mb.mu.Lock()
			if len(mb.q) > 0 {
				out := mb.q
				mb.q = nil
				mb.mu.Unlock()
				return mailMsg(out)
			}
			mb.mu.Unlock()
			select {
			case <-mb.notify:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// runChecks runs list in the engine in the command's goroutine; progress goes through the mailbox.
// With invalidate the inventory forgets its facts first, so a re-run looks again.
func (m *Model) runChecks(run int, list []checks.Check, invalidate bool) tea.Cmd {
	ctx, env, eng, mb, inv := m.ctx, m.cfg.env, m.cfg.engine, m.mb, m.cfg.invalidate
	timeout := m.cfg.runTimeout
	return func() tea.Msg {
		if invalidate && inv != nil {
			inv()
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		eng.Run(rctx, env, list, func(ev checks.Event) {
			switch ev.Kind {
			case checks.EventStarted:
				mb.put(checkStartedMsg{run: run, id: ev.CheckID, at: ev.Time})
			case checks.EventStep:
				if ev.Step != nil {
					mb.put(checkStepMsg{run: run, id: ev.CheckID, ev: *ev.Step})
				}
			case checks.EventFinished:
				if ev.Result != nil {
					mb.put(checkDoneMsg{run: run, id: ev.CheckID, result: *ev.Result})
				}
			}
		})
		mb.put(runDoneMsg{run: run})
		return nil
	}
}

// applyFix applies one plan through the fix runner (journal first; the inventory is invalidated
// afterwards whatever happened); its progress lines go through the mailbox.
func (m *Model) applyFix(job int, p *fixes.Plan) tea.Cmd {
	ctx, mb := m.ctx, m.mb
	// Reads and writes get the run's limit; the wait for the effect has its own (plan.WaitTimeout).
	runner := &fixrun.Runner{Applier: m.cfg.applier, Invalidate: m.cfg.invalidate, Timeout: m.cfg.runTimeout, Engine: m.cfg.engine}
	return func() tea.Msg {
		o := runner.ApplyOne(ctx, p, func(line string) {
			mb.put(fixProgressMsg{job: job, line: line, at: time.Now()})
		})
		return fixAppliedMsg{job: job, outcome: o}
	}
}

// undoLast reverts the newest undoable journal entry of this target.
func (m *Model) undoLast() tea.Cmd {
	ctx, ap, j, target, inv := m.ctx, m.cfg.applier, m.cfg.journal, m.cfg.target, m.cfg.invalidate
	limit := m.cfg.runTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		if j == nil {
			return undoDoneMsg{err: errors.New("no journal in this session")}
		}
		e, err := j.Last(target)
		if err != nil {
			return undoDoneMsg{err: err}
		}
		err = ap.Undo(ctx, e)
		if inv != nil {
			inv()
		}
		return undoDoneMsg{entry: e, err: err}
	}
}

// export writes the Markdown report (redacted by the renderer) to a new file in the working directory,
// or in the temp directory when that is not writable.
func (m *Model) export() tea.Cmd {
	results := m.results()
	env, started, readOnly, dirs := m.cfg.env, m.started, m.cfg.readOnly, m.cfg.exportDirs
	now := m.cfg.now
	return func() tea.Msg {
		rep := report.New("interactive", version.Version, env.Target, started, now().Sub(started), results)
		rep.Where = string(env.Where)
		rep.ReadOnly = readOnly
		name := "gkedoctor-report-" + now().UTC().Format("20060102-150405") + ".md"
		var lastErr error
		for _, dir := range dirs() {
			if dir == "" {
				continue
			}
			path := filepath.Join(dir, name)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				lastErr = err
				continue
			}
			werr := report.WriteMarkdown(safeout.NewWriter(f, false), rep) // a file is a way out too
			cerr := f.Close()
			if werr == nil {
				werr = cerr
			}
			if werr != nil {
				_ = os.Remove(path)
				return exportDoneMsg{err: fmt.Errorf("write report %s: %w", path, werr)}
			}
			return exportDoneMsg{path: path}
		}
		return exportDoneMsg{err: fmt.Errorf("no writable directory for the report: %w", lastErr)}
	}
}

// defaultExportDirs: the working directory, then the temp directory.
func defaultExportDirs() []string {
	wd, _ := os.Getwd()
	return []string{wd, os.TempDir()}
}
