package gcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// A call backing off on 503 when the run's deadline comes is named, with what it last got.
func TestRetryTransportNamesTheCallItIsWaitingOn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, f := apierr.WithInFlight(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	rt := &retryTransport{base: http.DefaultTransport, max: 3, attemptTimeout: time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/compute/v1/projects/p/global/networks/n", nil)
	got := make(chan string, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		got <- f.Describe()
	}()
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want the deadline's error")
	}
	d := <-got
	if !strings.Contains(d, "GET ") || !strings.Contains(d, "/compute/v1/projects/p/global/networks/n") || !strings.Contains(d, "503") {
		t.Fatalf("in flight: %q", d)
	}
	// Cut off by the deadline, it stays listed: the engine reads the list after the same deadline.
	if d := f.Describe(); !strings.Contains(d, "cut off by the deadline") {
		t.Fatalf("after the deadline: %q", d)
	}
	// A call that returns before any deadline is forgotten.
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	ctx2, f2 := apierr.WithInFlight(context.Background())
	req2, _ := http.NewRequestWithContext(ctx2, http.MethodGet, ok.URL+"/x", nil)
	if resp, err := rt.RoundTrip(req2); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if d := f2.Describe(); d != "" {
		t.Fatalf("a finished call is still listed: %q", d)
	}
}
