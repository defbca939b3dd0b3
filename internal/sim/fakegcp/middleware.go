package fakegcp

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind names one way an API endpoint can fail, as the fault matrix sweeps them.
type FaultKind string

// The faults of the matrix (DESIGN §5; issue 15 "A fault matrix, kept").
const (
	Fault401            FaultKind = "401"
	Fault403            FaultKind = "403"
	Fault403Permission  FaultKind = "403+permission"
	Fault404            FaultKind = "404"
	Fault409            FaultKind = "409"
	Fault429            FaultKind = "429+retry-after"
	Fault500            FaultKind = "500"
	Fault503            FaultKind = "503"
	FaultHang           FaultKind = "hang"
	FaultTruncated      FaultKind = "truncated-body"
	FaultInvalidJSON    FaultKind = "invalid-json"
	FaultHugeBody       FaultKind = "huge-body"
	FaultNone           FaultKind = ""
	hugeBodyDefaultSize           = 64 << 20
)

// AllFaults lists every FaultKind of the matrix, in a stable order.
var AllFaults = []FaultKind{Fault401, Fault403, Fault403Permission, Fault404, Fault409, Fault429, Fault500, Fault503,
	FaultHang, FaultTruncated, FaultInvalidJSON, FaultHugeBody}

// Injection is what the middleware does to one request.
type Injection struct {
	Kind FaultKind
	// Permission is the permission a Fault403Permission names ("compute.firewalls.list").
	Permission string
	// RetryAfter is the Retry-After of a 429 or 503 (default 1s).
	RetryAfter time.Duration
	// HugeBytes is the size of a FaultHugeBody body (default 64 MiB), streamed, never held in memory.
	HugeBytes int64
}

// Middleware wraps an API handler (this package's Server, or a reverse proxy to a real server) and
// injects faults per request, or observes writes. It is a test instrument: the fault matrix puts it
// in front of the fake Google server and of a real kube-apiserver; the crash test uses AfterWrite to
// SIGKILL a client right after its Nth write reached the server.
type Middleware struct {
	Next http.Handler
	// Inject picks what happens to r; nil or a nil result serves it normally.
	Inject func(r *http.Request) *Injection
	// ErrorBody renders an error status of kind k (default: Google's JSON error envelope, with the
	// permission in an ErrorInfo detail for Fault403Permission). A kube-apiserver proxy renders a
	// metav1.Status instead.
	ErrorBody func(r *http.Request, in *Injection, code int) []byte
	// IsWrite says whether r changes something (default: any method but GET and HEAD).
	IsWrite func(r *http.Request) bool
	// AfterWrite runs after Next served a write, before the response is released to the client.
	AfterWrite func(r *http.Request, status int)
	// Done, when closed, ends hanging requests (otherwise they end with the client).
	Done <-chan struct{}
}

// StatusOf is the HTTP status of an error FaultKind (0 for the others).
func StatusOf(k FaultKind) int {
	switch k {
	case Fault401:
		return http.StatusUnauthorized
	case Fault403, Fault403Permission:
		return http.StatusForbidden
	case Fault404:
		return http.StatusNotFound
	case Fault409:
		return http.StatusConflict
	case Fault429:
		return http.StatusTooManyRequests
	case Fault500:
		return http.StatusInternalServerError
	case Fault503:
		return http.StatusServiceUnavailable
	}
	return 0
}

func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in *Injection
	if m.Inject != nil {
		in = m.Inject(r)
	}
	if in == nil || in.Kind == FaultNone {
		m.serve(w, r)
		return
	}
	if code := StatusOf(in.Kind); code != 0 {
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			ra := in.RetryAfter
			if ra <= 0 {
				ra = time.Second
			}
			w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
		}
		body := m.errorBody(r, in, code)
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(code)
		_, _ = w.Write(body)
		return
	}
	switch in.Kind {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-m.Done:
		}
	case FaultInvalidJSON:
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"kind": "compute#firewallList", "items": [{"name": "x",, <html>not json`))
	case FaultTruncated:
		// The real answer, declared whole, cut off after half of it: the connection ends early.
		rec := &recorder{h: http.Header{}}
		m.Next.ServeHTTP(rec, r)
		body := rec.buf.Bytes()
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+64))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	case FaultHugeBody:
		n := in.HugeBytes
		if n <= 0 {
			n = hugeBodyDefaultSize
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"items": [{"name": "`))
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for sent := int64(0); sent < n; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil || r.Context().Err() != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}]}`))
	default:
		m.serve(w, r)
	}
}

func (m *Middleware) errorBody(r *http.Request, in *Injection, code int) []byte {
	if m.ErrorBody != nil {
		return m.ErrorBody(r, in, code)
	}
	f := Fault{Status: code, RetryAfter: in.RetryAfter}
	if in.Kind == Fault403Permission {
		f.Permission = in.Permission
		if f.Permission == "" {
			f.Permission = "unknown.permission"
		}
	}
	if code == http.StatusUnauthorized {
		f.Message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
		f.StatusName = "UNAUTHENTICATED"
	}
	rec := &recorder{h: http.Header{}}
	writeError(rec, f.apiError(r))
	return rec.buf.Bytes()
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request) {
	isWrite := m.IsWrite
	if isWrite == nil {
		isWrite = func(r *http.Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }
	}
	if m.AfterWrite == nil || !isWrite(r) {
		m.Next.ServeHTTP(w, r)
		return
	}
	// Buffer the answer: the write has happened on the server when AfterWrite runs, and the client
	// has not seen the answer yet.
	rec := &recorder{h: http.Header{}}
	m.Next.ServeHTTP(rec, r)
	m.AfterWrite(r, rec.statusCode())
	for k, v := range rec.h {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.statusCode())
	_, _ = w.Write(rec.buf.Bytes())
}

// IsGoogleWrite reports whether a Google API request changes something: anything but GET/HEAD, the
// read-only POSTs (getIamPolicy, testIamPermissions, …) and operation waits.
func IsGoogleWrite(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	p := r.URL.Path
	for _, s := range []string{":getIamPolicy", ":testIamPermissions", ":getEffectiveOrgPolicy", ":getAncestry", "/wait"} {
		if strings.HasSuffix(p, s) {
			return false
		}
	}
	return true
}

// recorder is a minimal buffering http.ResponseWriter.
type recorder struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.buf.Write(b)
}
func (r *recorder) statusCode() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
