package fakegcp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error answer in Google's JSON envelope:
//
//	{"error":{"code":403,"message":"…","status":"PERMISSION_DENIED",
//	  "errors":[{"message":"…","domain":"global","reason":"forbidden"}],
//	  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",…}]}}
type apiError struct {
	Code       int
	Status     string // canonical gRPC status name; derived from Code when empty
	Reason     string // errors[].reason; derived from Code when empty
	Message    string
	Details    []any
	RetryAfter time.Duration // sent as Retry-After on 429 and 503 (default 1s)
}

type errorEnvelope struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Status  string      `json:"status"`
	Errors  []errorItem `json:"errors"`
	Details []any       `json:"details,omitempty"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// statusName maps an HTTP status to the canonical status Google sends with it.
func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 412:
		return "FAILED_PRECONDITION"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// reasonFor is the legacy errors[].reason Google sends with an HTTP status.
func reasonFor(code int) string {
	switch code {
	case 400:
		return "badRequest"
	case 401:
		return "required"
	case 403:
		return "forbidden"
	case 404:
		return "notFound"
	case 409:
		return "aborted"
	case 412:
		return "conditionNotMet"
	case 429:
		return "rateLimitExceeded"
	case 504:
		return "deadlineExceeded"
	}
	if code >= 500 {
		return "backendError"
	}
	return "unknown"
}

func newError(code int, reason, format string, args ...any) *apiError {
	return &apiError{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// errNotFound names the missing resource's path, e.g. projects/p/global/firewalls/x.
func errNotFound(resource string) *apiError {
	return newError(http.StatusNotFound, "notFound", "The resource '%s' was not found", resource)
}

func errAlreadyExists(resource string) *apiError {
	return &apiError{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Reason: "alreadyExists",
		Message: fmt.Sprintf("The resource '%s' already exists", resource)}
}

func errAborted(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "aborted", format, args...)
}

func errPrecondition(format string, args ...any) *apiError {
	return newError(http.StatusPreconditionFailed, "conditionNotMet", format, args...)
}

func errInvalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "invalid", format, args...)
}

func errBadJSON(err error) *apiError {
	return newError(http.StatusBadRequest, "parseError", "Invalid JSON payload received. %v", err)
}

func errInternal(msg string) *apiError {
	return &apiError{Code: http.StatusInternalServerError, Message: msg}
}

// errPermission is the 403 a caller without permission perm on resource gets, with the ErrorInfo
// detail (reason IAM_PERMISSION_DENIED, metadata.permission) that carries the permission's name.
func errPermission(perm, resource string) *apiError {
	return &apiError{
		Code:    http.StatusForbidden,
		Reason:  "forbidden",
		Message: fmt.Sprintf("Permission '%s' denied on '%s'", perm, resource),
		Details: []any{errorInfo("IAM_PERMISSION_DENIED", "iam.googleapis.com", map[string]string{"permission": perm})},
	}
}

func errorInfo(reason, domain string, md map[string]string) map[string]any {
	return map[string]any{
		"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
		"reason":   reason,
		"domain":   domain,
		"metadata": md,
	}
}

// withStatus overrides the canonical status name of an error.
func (e *apiError) withStatus(status string) *apiError {
	e.Status = status
	return e
}

// writeError sends e in the envelope and returns the status sent.
func writeError(w http.ResponseWriter, e *apiError) int {
	code := e.Code
	if code < 400 || code > 599 {
		code = http.StatusInternalServerError
	}
	status := e.Status
	if status == "" {
		status = statusName(code)
	}
	reason := e.Reason
	if reason == "" {
		reason = reasonFor(code)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(code)
		if msg == "" {
			msg = "error " + strconv.Itoa(code)
		}
	}
	env := errorEnvelope{Error: errorPayload{
		Code:    code,
		Message: msg,
		Status:  status,
		Errors:  []errorItem{{Message: msg, Domain: "global", Reason: reason}},
		Details: e.Details,
	}}
	b, err := json.Marshal(env)
	if err != nil { // only reachable with unencodable details
		env.Error.Details = nil
		b, _ = json.Marshal(env)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		ra := e.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		secs := int((ra + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
	return code
}
