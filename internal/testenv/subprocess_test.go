package testenv_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/testenv"
)

// These tests re-run the test binary as a child (selected by childEnv) to
// observe what a test process cannot see about itself: its skip/fail
// verdict, and what happens to the servers when it is SIGKILLed.
const childEnv = "GKEDOCTOR_TESTENV_CHILD"

// childCommand runs this test binary for one test, in child mode, with env
// added to the environment minus the variables the test controls.
func childCommand(ctx context.Context, test string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") && !strings.HasPrefix(kv, testenv.EnvRequireTestBin+"=") &&
			!strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestSharedSkipsOrFailsWithoutBinaries checks the contract that keeps CI
// honest: missing binaries skip a test, unless GKEDOCTOR_REQUIRE_TESTBIN=1
// makes that a failure.
func TestSharedSkipsOrFailsWithoutBinaries(t *testing.T) {
	if os.Getenv(childEnv) == "shared" {
		testenv.Shared(t)
		t.Log("Shared returned a server")
		return
	}
	t.Parallel()
	ctx := testContext(t)
	empty := t.TempDir()
	const msg = "kube-apiserver/etcd test binaries not built: run `make test` (or hack/testbin/build.sh and set GKEDOCTOR_TESTBIN)"
	for _, tc := range []struct {
		name    string
		require string
		verdict string
		exitOK  bool
	}{
		{"skip", "", "--- SKIP", true},
		{"required", "1", "--- FAIL", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := childCommand(ctx, "TestSharedSkipsOrFailsWithoutBinaries",
				childEnv+"=shared", testenv.EnvTestBin+"="+empty, testenv.EnvRequireTestBin+"="+tc.require)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.exitOK {
				t.Errorf("child exit: %v, want success %v", err, tc.exitOK)
			}
			if !bytes.Contains(out, []byte(tc.verdict)) || !bytes.Contains(out, []byte(msg)) {
				t.Errorf("child output lacks %q and the build hint:\n%s", tc.verdict, out)
			}
			if bytes.Contains(out, []byte("Shared returned a server")) {
				t.Errorf("Shared returned without binaries:\n%s", out)
			}
		})
	}
}

// TestServersDieWithTestBinary SIGKILLs a test binary that runs a server and
// checks that the kernel takes etcd and kube-apiserver down with it.
func TestServersDieWithTestBinary(t *testing.T) {
	if os.Getenv(childEnv) == "hold" {
		srv, err := testenv.Start(t.Context(), testenv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pids := srv.PIDs()
		if len(pids) != 2 {
			t.Fatalf("PIDs() = %v", pids)
		}
		fmt.Printf("TESTENV-PIDS %d %d\n", pids[0], pids[1])
		// Wait to be killed; the bound keeps a forgotten child finite.
		time.Sleep(2 * time.Minute)
		return
	}
	if testenv.BinDir() == "" && os.Getenv(testenv.EnvRequireTestBin) != "1" {
		t.Skip("kube-apiserver/etcd test binaries not built")
	}
	t.Parallel()
	ctx := testContext(t)
	// A killed owner cannot remove its temporary directory; keep it in ours.
	cmd := childCommand(ctx, "TestServersDieWithTestBinary", childEnv+"=hold", "TMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The child was killed below, or is killed here if the test failed.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	pidsCh := make(chan []int, 1)
	var output strings.Builder
	go func() {
		defer close(pidsCh)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			output.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "TESTENV-PIDS "); ok {
				var pids []int
				for _, f := range strings.Fields(rest) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
				pidsCh <- pids
				return
			}
		}
	}()
	var pids []int
	select {
	case pids = <-pidsCh:
	case <-ctx.Done():
	}
	if len(pids) != 2 {
		t.Fatalf("child did not report its server pids (got %v); output so far:\n%s%s", pids, output.String(), stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly after SIGKILL")
	}
	for _, pid := range pids {
		if err := eventually(ctx, func() error {
			if processGone(pid) {
				return nil
			}
			return fmt.Errorf("pid %d still running", pid)
		}); err != nil {
			t.Errorf("server outlived its SIGKILLed test binary: %v", err)
		}
	}
}

// processGone reports whether pid no longer runs. A zombie counts as gone:
// the servers' new parent (init, or a container's PID 1 that never reaps)
// may leave them as zombies for a while.
func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// /proc/PID/stat is "pid (comm) state …"; comm may contain spaces.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z'
	}
	return false
}
