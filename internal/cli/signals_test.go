package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/klog/v2"
)

// silentGoogle is a loopback server that accepts connections and never answers: a hanging Google
// endpoint (never a real address).
func silentGoogle(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

var googleTarget = []string{"--project", "dev-orchestra", "--location", "europe-west1", "--cluster", "c1"}

// The whole run honours --timeout, and what it prints names that limit, not the per-check one.
func TestRunHonoursTimeoutAndSaysTheRealLimit(t *testing.T) {
	t.Setenv("GKEDOCTOR_GCP_ENDPOINT", silentGoogle(t))
	start := time.Now()
	code, out, stderr := run(t, append([]string{"audit", "-o", "json", "--timeout", "1s"}, googleTarget...)...)
	took := time.Since(start)
	if took > 10*time.Second {
		t.Fatalf("--timeout 1s took %s", took)
	}
	if code != ExitFindings {
		t.Errorf("exit %d, want 1: %s", code, stderr)
	}
	if strings.Contains(out, "within 2m0s") || strings.Contains(out, "within "+(2*time.Minute).String()) {
		t.Errorf("the report names the per-check limit, not --timeout 1s:\n%s", out)
	}
	if !strings.Contains(out, "--timeout 1s") {
		t.Errorf("the report does not say the run's limit (--timeout 1s):\n%s", out)
	}
}

// The first signal cancels the run's context with a cause that names it; the second exits at once.
func TestSignalWatcherFirstCancelsSecondExits(t *testing.T) {
	exited := make(chan int, 1)
	exitNow = func(code int) { exited <- code }
	defer func() { exitNow = os.Exit }()
	var errOut syncBuffer
	ctx, w := watchSignals(context.Background(), &errOut)
	defer w.stop()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGTERM did not cancel the run")
	}
	var ce *cancelledError
	if !errors.As(context.Cause(ctx), &ce) || ce.Error() != "cancelled by SIGTERM" {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	if w.signal() != syscall.SIGTERM {
		t.Fatalf("signal %v", w.signal())
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) on the first signal", code)
	default:
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-exited:
		if code != ExitSIGTERM {
			t.Fatalf("second signal: exit %d, want %d (the first signal's code)", code, ExitSIGTERM)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	if s := errOut.String(); !strings.Contains(s, "SIGTERM received: stopping") || !strings.Contains(s, "exiting now") {
		t.Fatalf("stderr %q", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A real binary, real signals: a run stopped during its checks exits 130 (SIGINT) or 143 (SIGTERM)
// and says it was cancelled, not that a check has no fix or did not finish within its limit.
func TestSignalsStopTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "gkedoctor")
	build := exec.Command("go", "build", "-o", bin, "github.com/gkedoctor/gkedoctor/cmd/gkedoctor")
	build.Env = append(os.Environ(), "HOME="+origHome) // the go tool's caches live there
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	endpoint := silentGoogle(t)
	cases := []struct {
		name    string
		args    []string
		signals []syscall.Signal
		code    int
	}{
		{"audit SIGINT", []string{"audit"}, []syscall.Signal{syscall.SIGINT}, ExitSIGINT},
		{"audit SIGTERM", []string{"audit"}, []syscall.Signal{syscall.SIGTERM}, ExitSIGTERM},
		{"fix SIGINT", []string{"fix", "clusterip-unreachable", "--yes"}, []syscall.Signal{syscall.SIGINT}, ExitSIGINT},
		{"audit twice", []string{"audit"}, []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, ExitSIGINT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append(tc.args, googleTarget...)...)
			cmd.Env = append(os.Environ(), "GKEDOCTOR_GCP_ENDPOINT="+endpoint)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal once the checks are under way (the text report's header is out).
			buf := make([]byte, 1)
			if _, err := stdout.Read(buf); err != nil {
				t.Fatalf("no output: %v; stderr %s", err, stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
			for _, s := range tc.signals {
				cmd.Process.Signal(s)
				time.Sleep(20 * time.Millisecond)
			}
			go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(stdout) }()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 15s after the signal; stderr %s", stderr.String())
			}
			if got := cmd.ProcessState.ExitCode(); got != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", got, tc.code, stderr.String())
			}
			s := stderr.String()
			want := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[tc.signals[0]]
			if !strings.Contains(s, "cancelled by "+want) && !strings.Contains(s, want+" received again: exiting now") {
				t.Errorf("stderr does not report the cancellation: %s", s)
			}
			for _, wrong := range []string{"has no fix the tool can apply", "did not finish within 2m0s", "unable to cancel", "panic:"} {
				if strings.Contains(s, wrong) {
					t.Errorf("stderr says %q: %s", wrong, s)
				}
			}
		})
	}
}

// Library logging (client-go's klog, directly and through klog.FromContext) never reaches the
// terminal once a command runs.
func TestKlogNeverReachesTheTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	prev := os.Stderr
	os.Stderr = w
	run(t, "version")
	klog.Warning("Warning: unable to cancel request")
	klog.Error("an error")
	klog.FromContext(context.Background()).Info("Warning: unable to cancel request", "roundTripperType", "x")
	klog.Flush()
	os.Stderr = prev
	w.Close()
	var got bytes.Buffer
	got.ReadFrom(r)
	if got.Len() > 0 {
		t.Fatalf("klog wrote to stderr: %q", got.String())
	}
}
