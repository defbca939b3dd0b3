package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// Exit codes for a run stopped by a signal (128 + the signal's number, as shells report it).
const (
	ExitSIGINT  = 130
	ExitSIGTERM = 143
)

// exitNow ends the process at once (the second signal); tests replace it.
var exitNow = os.Exit

// cancelledError is the cause of a run's context when a signal stopped it.
type cancelledError struct{ sig os.Signal }

func (e *cancelledError) Error() string { return "cancelled by " + signalName(e.sig) }

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

func signalExitCode(s os.Signal) int {
	if s == syscall.SIGTERM {
		return ExitSIGTERM
	}
	return ExitSIGINT
}

// signalWatcher turns the first SIGINT/SIGTERM into the cancellation of the run's context (the
// command stops, cleans up and says it was cancelled) and the second into an immediate exit.
type signalWatcher struct {
	mu   sync.Mutex
	got  os.Signal
	stop func()
}

func watchSignals(ctx context.Context, errOut io.Writer) (context.Context, *signalWatcher) {
	ctx, cancel := context.WithCancelCause(ctx)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	w := &signalWatcher{}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel(nil)
		})
	}
	go func() {
		var first os.Signal
		select {
		case first = <-ch:
		case <-done:
			return
		}
		w.mu.Lock()
		w.got = first
		w.mu.Unlock()
		fmt.Fprintf(errOut, invokedAs+": %s received: stopping (send it again to exit at once)\n", signalName(first))
		cancel(&cancelledError{sig: first})
		select {
		case second := <-ch:
			fmt.Fprintf(errOut, invokedAs+": %s received again: exiting now\n", signalName(second))
			exitNow(signalExitCode(first))
		case <-done:
		}
	}()
	return ctx, w
}

// signal returns the signal that cancelled the run, if any.
func (w *signalWatcher) signal() os.Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got
}

var quietOnce sync.Once

// quietLibraryLogs keeps library logging off the user's terminal: client-go logs through klog
// (directly and through klog.FromContext), which would otherwise write unformatted lines such as
// "Warning: unable to cancel request" to stderr; the standard logger likewise. Everything the user
// needs to know leaves through the command's own one-line errors and reports.
func quietLibraryLogs() {
	quietOnce.Do(func() {
		discard := slog.New(slog.NewTextHandler(io.Discard, nil))
		klog.SetSlogLogger(discard)
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
		log.SetOutput(io.Discard)
	})
}

// runDeadline bounds a command by --timeout; when it runs out, the context's cause says so with the
// real limit (the per-check limit is not the one that stopped the run).
func runDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("the run did not finish within --timeout %s", d))
}

// stopped is the error of a command whose run was cancelled or ran out of time before it could
// decide anything more.
func stopped(ctx context.Context) error {
	return &exitError{code: ExitFindings, msg: context.Cause(ctx).Error()}
}
