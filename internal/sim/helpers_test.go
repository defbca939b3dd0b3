package sim

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	run "google.golang.org/api/run/v2"

	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/probe"
)

// start starts a world for one test, failing the test if anything in it tries to leave loopback.
func start(t *testing.T, o Options) *World {
	t.Helper()
	if o.OnNonLoopback == nil {
		o.OnNonLoopback = func(network, addr string) {
			t.Errorf("the world tried to dial %s %s, outside loopback", network, addr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

// clients are the product's Google API clients pointed at the world.
func clients(t *testing.T, w *World, readOnly bool) *gcp.Clients {
	t.Helper()
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: w.GCPEndpoint(), ReadOnly: readOnly, MaxRetries: 1})
	if err != nil {
		t.Fatalf("gcp.New: %v", err)
	}
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial probes addr from source with a short deadline, as a check's live probe does.
func dial(t *testing.T, d probe.Dialer, addr string, timeout time.Duration) probe.TCPResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return probe.TCP(ctx, d, addr)
}

// get fetches http://addr/ through the dialer and returns the body.
func get(t *testing.T, d probe.Dialer, addr string) (string, error) {
	t.Helper()
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// patchRun replaces a Cloud Run service's template through the real client and waits for the
// operation.
func patchRun(t *testing.T, c *gcp.Clients, name string, change func(*run.GoogleCloudRunV2Service)) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	full := "projects/" + Project + "/locations/" + Region + "/services/" + name
	svc, err := c.Run.Projects.Locations.Services.Get(full).Context(ctx).Do()
	if err != nil {
		t.Fatalf("get Cloud Run service: %v", err)
	}
	change(svc)
	op, err := c.Run.Projects.Locations.Services.Patch(full, svc).Context(ctx).Do()
	if err != nil {
		t.Fatalf("patch Cloud Run service: %v", err)
	}
	for !op.Done {
		time.Sleep(10 * time.Millisecond)
		if op, err = c.Run.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do(); err != nil {
			t.Fatalf("get operation: %v", err)
		}
	}
}

// refusals records what the loopback guard refused.
type refusals struct {
	mu   sync.Mutex
	list []string
}

func (r *refusals) hook(network, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, network+" "+addr)
}

func (r *refusals) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.list...)
}

func isLoopbackHostPort(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && strings.HasPrefix(host, "127.") && probe.IsLoopbackAddr(addr)
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return a
}
