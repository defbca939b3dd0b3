package fakegcp

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Fault makes matching requests fail, hang or slow down. A request matches when its method equals
// Method (any method if empty, case-insensitive) and its decoded path contains PathContains and
// matches PathRegexp (each ignored when empty or nil). The first matching fault, in injection order,
// applies; requests matching no fault are served normally.
type Fault struct {
	Method       string
	PathContains string
	PathRegexp   *regexp.Regexp

	// Latency delays the request before anything else the fault does.
	Latency time.Duration
	// Hang blocks the request until the client gives up (its context ends) or the server closes.
	Hang bool
	// Status, if non-zero, answers with this HTTP status in Google's error envelope. 0 with neither
	// Hang nor ServiceDisabled set serves the request normally after Latency.
	Status int
	// StatusName overrides the envelope's "status" (default from Status: 403 PERMISSION_DENIED,
	// 404 NOT_FOUND, 409 ABORTED, 412 FAILED_PRECONDITION, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, …).
	StatusName string
	// Reason overrides errors[].reason (default from Status: forbidden, notFound, rateLimitExceeded, …).
	Reason string
	// Permission, with Status 403 (the default when Permission is set), names the missing
	// permission: the message reads "Permission 'P' denied on 'projects/…'" and an ErrorInfo detail
	// carries metadata.permission.
	Permission string
	// ServiceDisabled, e.g. "compute.googleapis.com", answers 403 as Google does for a disabled API:
	// reason accessNotConfigured and an ErrorInfo SERVICE_DISABLED detail with metadata.service.
	ServiceDisabled string
	// Message overrides the error message.
	Message string
	// RetryAfter is sent as the Retry-After header on 429 and 503 (default 1s, rounded up to seconds).
	RetryAfter time.Duration
	// Times limits how many requests the fault applies to; 0 means until removed.
	Times int
}

type faultEntry struct {
	f    Fault
	left int // remaining uses when f.Times > 0
}

// InjectFault adds f and returns a function that removes it (safe to call more than once).
func (s *Server) InjectFault(f Fault) (remove func()) {
	e := &faultEntry{f: f, left: f.Times}
	s.mu.Lock()
	s.faults = append(s.faults, e)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.removeFault(e)
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) removeFault(e *faultEntry) {
	for i, x := range s.faults {
		if x == e {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return
		}
	}
}

// matchFault returns a copy of the fault that applies to r, consuming one use of it.
func (s *Server) matchFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.faults {
		f := &e.f
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains) {
			continue
		}
		if f.PathRegexp != nil && !f.PathRegexp.MatchString(r.URL.Path) {
			continue
		}
		out := *f
		if f.Times > 0 {
			e.left--
			if e.left <= 0 {
				s.removeFault(e)
			}
		}
		return &out
	}
	return nil
}

// apiError is the error the fault answers with, or nil if the request proceeds.
func (f *Fault) apiError(r *http.Request) *apiError {
	code := f.Status
	if code == 0 && (f.Permission != "" || f.ServiceDisabled != "") {
		code = http.StatusForbidden
	}
	if code == 0 {
		return nil
	}
	resource := resourceOf(r.URL.Path)
	var e *apiError
	switch {
	case f.ServiceDisabled != "":
		project := projectOf(r.URL.Path)
		e = &apiError{Code: code, Reason: "accessNotConfigured",
			Message: fmt.Sprintf("%s API has not been used in project %s before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/%s/overview?project=%s then retry.",
				f.ServiceDisabled, project, f.ServiceDisabled, project),
			Details: []any{errorInfo("SERVICE_DISABLED", "googleapis.com", map[string]string{
				"service": f.ServiceDisabled, "consumer": "projects/" + project})}}
	case f.Permission != "":
		e = errPermission(f.Permission, resource)
		e.Code = code
	case code == http.StatusForbidden:
		e = &apiError{Code: code, Message: "The caller does not have permission"}
	case code == http.StatusNotFound:
		e = errNotFound(resource)
	case code == http.StatusTooManyRequests:
		e = &apiError{Code: code, Message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service.",
			Details: []any{errorInfo("RATE_LIMIT_EXCEEDED", "googleapis.com", map[string]string{"quota_metric": "Queries"})}}
	default:
		e = &apiError{Code: code}
	}
	if f.StatusName != "" {
		e.Status = f.StatusName
	}
	if f.Reason != "" {
		e.Reason = f.Reason
	}
	if f.Message != "" {
		e.Message = f.Message
	}
	e.RetryAfter = f.RetryAfter
	return e
}

// resourceOf strips the API prefix from a path: /compute/v1/projects/p/global/firewalls →
// projects/p/global/firewalls; a trailing ":verb" is dropped.
func resourceOf(path string) string {
	p := strings.TrimPrefix(path, "/")
	if i := strings.Index(p, "projects/"); i >= 0 {
		p = p[i:]
	}
	if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
		p = p[:i]
	}
	return p
}

// projectOf returns the project segment of a path, or "".
func projectOf(path string) string {
	segs := strings.Split(resourceOf(path), "/")
	if len(segs) >= 2 && segs[0] == "projects" {
		return segs[1]
	}
	return ""
}
