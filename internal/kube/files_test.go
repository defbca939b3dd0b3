package kube

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/transport"
)

// Files that cannot be read whole and safely are refused from their metadata alone: each case must
// return within a second (a FIFO opened for reading would block forever; /dev/zero grows forever).
func TestResolveContextRefusesFilesThatAreNotSmallRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(MaxKubeconfigBytes + 1) // sparse: no disk used
	f.Close()
	cases := []struct{ name, path, want string }{
		{"dev zero", "/dev/zero", "not a regular file (a character device)"},
		{"fifo", fifo, "not a regular file (a named pipe)"},
		{"directory", dir, "not a regular file (a directory)"},
		{"too large", huge, "the limit is 33554432 bytes (32 MiB)"},
		{"missing", filepath.Join(dir, "absent"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"flag", "env"} {
				f := genericclioptions.NewConfigFlags(true)
				if how == "flag" {
					p := tc.path
					f.KubeConfig = &p
					t.Setenv("KUBECONFIG", "")
				} else {
					if tc.name == "missing" {
						continue // a missing file on $KUBECONFIG is skipped, as kubectl does
					}
					t.Setenv("KUBECONFIG", filepath.Join(dir, "absent")+string(os.PathListSeparator)+tc.path)
				}
				done := make(chan error, 1)
				go func() { _, err := ResolveContext(f); done <- err }()
				select {
				case err := <-done:
					ue, ok := err.(*UsageError)
					if !ok {
						t.Fatalf("%s: %T %v, want a usage error", how, err, err)
					}
					if !strings.Contains(ue.Msg, tc.want) {
						t.Errorf("%s: %q lacks %q", how, ue.Msg, tc.want)
					}
					wantName := "--kubeconfig"
					if how == "env" {
						wantName = "KUBECONFIG"
					}
					if !strings.HasPrefix(ue.Msg, wantName) {
						t.Errorf("%s: %q does not name %s", how, ue.Msg, wantName)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: ResolveContext(%s) hangs", how, tc.path)
				}
			}
		})
	}
	// The certificate files named on the command line are held to the same rule.
	f2 := genericclioptions.NewConfigFlags(true)
	ca := "/dev/zero"
	f2.CAFile = &ca
	t.Setenv("KUBECONFIG", "")
	if _, err := ResolveContext(f2); err == nil || !strings.HasPrefix(err.Error(), "--certificate-authority") {
		t.Errorf("--certificate-authority /dev/zero: %v", err)
	}
}

type cancelRecorder struct{ cancelled int }

func (c *cancelRecorder) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }
func (c *cancelRecorder) CancelRequest(*http.Request)                     { c.cancelled++ }

// client-go cancels a request by unwrapping its transports down to one that can; the guard lets it
// through (otherwise klog says "unable to cancel request" and the request is not cancelled).
func TestGuardPassesCancellationThrough(t *testing.T) {
	base := &cancelRecorder{}
	rt := transport.NewBearerAuthRoundTripper("token", &guard{base: base})
	c, ok := rt.(interface{ CancelRequest(*http.Request) })
	if !ok {
		t.Fatalf("%T cannot cancel", rt)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api", nil)
	c.CancelRequest(req)
	if base.cancelled != 1 {
		t.Fatalf("the transport below the guard was asked to cancel %d times, want 1", base.cancelled)
	}
}
