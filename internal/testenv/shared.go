package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// skipMessage is what Shared says when the binaries are not built.
const skipMessage = "kube-apiserver/etcd test binaries not built: run `make test` (or hack/testbin/build.sh and set GKEDOCTOR_TESTBIN)"

var shared struct {
	once sync.Once
	mu   sync.Mutex // guards srv against a concurrent stop
	srv  *APIServer
	err  error
}

var mainRunning atomic.Bool

// Main runs a test package's tests and then stops the package's shared
// server; call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It exits the process with the tests' exit code. When tests failed, the
// server logs and audit log are kept and their directory printed. SIGINT
// and SIGTERM stop the server before exiting.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	mainRunning.Store(true)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			stopShared(false)
			fmt.Fprintf(os.Stderr, "testenv: stopped the shared kube-apiserver on %v\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	signal.Stop(sigs)
	stopShared(code != 0)
	return code
}

func stopShared(keepLogs bool) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	srv := shared.srv
	if srv == nil {
		return
	}
	shared.srv = nil
	shared.err = errors.New("testenv: the shared server was stopped")
	err := srv.stop(keepLogs)
	if keepLogs {
		fmt.Fprintf(os.Stderr, "testenv: tests failed; kube-apiserver, etcd and audit logs kept in %s\n", srv.Dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stop shared server: %v\n", err)
	}
}

// Shared returns the test package's kube-apiserver, starting it on first use.
// The package's TestMain must call Main, which stops it. When the binaries
// are not built the test is skipped, or fails if GKEDOCTOR_REQUIRE_TESTBIN=1;
// any other start-up failure fails the test with the server logs. Tests
// sharing the server should work in their own namespace (NewNamespace).
func Shared(t testing.TB) *APIServer {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("testenv.Shared needs the package's TestMain to call testenv.Main(m), which stops the server")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		srv, err := Start(ctx, Options{})
		shared.mu.Lock()
		shared.srv, shared.err = srv, err
		shared.mu.Unlock()
	})
	shared.mu.Lock()
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoBinaries):
		detail := strings.TrimPrefix(err.Error(), ErrNoBinaries.Error()+": ")
		if os.Getenv(EnvRequireTestBin) == "1" {
			t.Fatalf("%s (%s); %s=1 forbids skipping", skipMessage, detail, EnvRequireTestBin)
		}
		t.Skipf("%s (%s)", skipMessage, detail)
	case err != nil:
		t.Fatalf("start the shared kube-apiserver: %v", err)
	}
	return srv
}
