package gcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

// readOnlyPOSTSuffixes are POST methods that only read: the policy reads.
var readOnlyPOSTSuffixes = []string{":getIamPolicy", ":testIamPermissions", ":getEffectiveOrgPolicy", ":getAncestry"}

// Guard refuses, in read-only mode, every Google API call that could change something: anything but
// GET/HEAD, except the read-only POSTs (getIamPolicy, testIamPermissions, getAncestry). A refused call never leaves
// the process.
type Guard struct {
	Base     http.RoundTripper
	ReadOnly bool
}

// Allowed reports whether the guard lets req through in read-only mode.
func Allowed(method, path string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		for _, s := range readOnlyPOSTSuffixes {
			if strings.HasSuffix(path, s) {
				return true
			}
		}
	}
	return false
}

func (g *Guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.ReadOnly && !Allowed(req.Method, req.URL.Path) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &apierr.Error{Kind: apierr.ReadOnly, Op: req.Method, Resource: req.URL.Path,
			Err: fmt.Errorf("refused by the read-only guard: %s is not a read", req.Method)}
	}
	return g.Base.RoundTrip(req)
}

// retryTransport retries idempotent calls on 429 and 503 with exponential backoff, honouring
// Retry-After, and bounds each attempt.
type retryTransport struct {
	base           http.RoundTripper
	max            int
	attemptTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	idempotent := Allowed(req.Method, req.URL.Path)
	var body []byte
	if req.Body != nil && idempotent {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	sleep := t.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	backoff := 200 * time.Millisecond
	note, done := apierr.Track(req.Context(), fmt.Sprintf("%s %s%s", req.Method, req.URL.Host, req.URL.Path))
	defer done()
	for attempt := 0; ; attempt++ {
		r, cancel := t.bound(req)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			timedOut := errors.Is(context.Cause(r.Context()), errAttemptTimeout) && req.Context().Err() == nil
			cancel()
			if timedOut {
				// A silent endpoint: not retried (each retry would wait as long again).
				return nil, &AttemptTimeoutError{Limit: t.attemptTimeout, Method: req.Method, Host: req.URL.Host}
			}
			return nil, err
		}
		// The attempt's limit covers reading the body too; closing the body releases it.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		if !idempotent || attempt >= t.max || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, nil
		}
		wait := backoff
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
		}
		if wait > 10*time.Second {
			wait = 10 * time.Second
		}
		note(fmt.Sprintf("answered %s, retrying in %s", resp.Status, wait))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errAttemptTimeout is the cause of an attempt's context when its own limit ran out.
var errAttemptTimeout = errors.New("attempt timeout")

// bound returns a copy of req whose context ends after the per-attempt limit (attemptTimeout; none
// when it is zero), and the function that releases it.
func (t *retryTransport) bound(req *http.Request) (*http.Request, context.CancelFunc) {
	if t.attemptTimeout <= 0 {
		ctx, cancel := context.WithCancel(req.Context())
		return req.Clone(ctx), cancel
	}
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.attemptTimeout, errAttemptTimeout)
	return req.Clone(ctx), cancel
}

// AttemptTimeoutError is a Google API call that got no answer within the per-attempt limit. It is a
// timeout (net.Error) and matches context.DeadlineExceeded, so Map classes it as apierr.Timeout.
type AttemptTimeoutError struct {
	Limit        time.Duration
	Method, Host string
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("%s gave no answer within %s (the per-call limit)", e.Host, e.Limit)
}
func (e *AttemptTimeoutError) Timeout() bool   { return true }
func (e *AttemptTimeoutError) Temporary() bool { return true }
func (e *AttemptTimeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded
}

// cancelOnClose releases an attempt's context when the response body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
