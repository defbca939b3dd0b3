package gcp

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// silentServer accepts connections on loopback and never answers (the request is read, nothing is
// written): a Google endpoint that hangs.
func silentServer(t *testing.T) (url string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int32{}
	var open []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			open = append(open, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range open {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), conns
}

// The per-attempt limit is applied: a silent endpoint fails the call after CallTimeout even when the
// caller's context has no deadline, the failure is a Timeout that says the limit, and a hang is not
// retried (each retry would wait as long again).
func TestAttemptTimeoutIsApplied(t *testing.T) {
	url, conns := silentServer(t)
	c, err := New(context.Background(), Options{Endpoint: url, ReadOnly: true, CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Compute.Firewalls.List("p").Context(context.Background()).Do()
	took := time.Since(start)
	if err == nil {
		t.Fatal("a silent endpoint answered")
	}
	if took > 3*time.Second {
		t.Fatalf("the call took %s: the per-attempt limit of 300ms was not applied", took)
	}
	mapped := Map(err, "list firewalls", "p")
	if apierr.KindOf(mapped) != apierr.Timeout {
		t.Fatalf("kind %v: %v", apierr.KindOf(mapped), mapped)
	}
	if !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("the error does not say the limit: %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections: a hang was retried", n)
	}
}

// Each attempt's request carries the per-attempt deadline.
func TestAttemptCarriesItsDeadline(t *testing.T) {
	rt := &retryTransport{attemptTimeout: 30 * time.Second}
	r, cancel := rt.bound(mustRequest(t))
	defer cancel()
	dl, ok := r.Context().Deadline()
	if !ok || time.Until(dl) > 30*time.Second || time.Until(dl) < 29*time.Second {
		t.Fatalf("deadline %v (ok %v)", dl, ok)
	}
}

// A malformed endpoint never reaches the Google client (it panics on some): New and ParseEndpoint
// return an error naming the variable.
func TestMalformedEndpointsAreErrorsNotPanics(t *testing.T) {
	for _, v := range []string{"garbage", "http://a b", "http://a\tb", "http://%zz", "http://", "http://:80", "https://h:0", "http://h:65536", "http://u@h", "http://h#f", "http://h?x", "mailto:x@y", "http://h\x1b[2J"} {
		if _, err := ParseEndpoint(v); err == nil || !strings.HasPrefix(err.Error(), EndpointEnv+"=") {
			t.Errorf("ParseEndpoint(%q) = %v", v, err)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("New with endpoint %q panicked: %v", v, p)
				}
			}()
			if _, err := New(context.Background(), Options{Endpoint: v, ReadOnly: true}); err == nil {
				t.Errorf("New accepted endpoint %q", v)
			}
		}()
	}
	for _, v := range []string{"http://127.0.0.1:8080", "https://emulator.example.com/", "http://[::1]:9000/base"} {
		if _, err := ParseEndpoint(v); err != nil {
			t.Errorf("ParseEndpoint(%q): %v", v, err)
		}
	}
}

func mustRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
