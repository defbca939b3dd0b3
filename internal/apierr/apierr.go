// Package apierr is the one vocabulary for "why a call to an API did not give us the fact we wanted".
//
// Kubernetes and Google API errors are mapped to a Kind once, in internal/kube and internal/gcp; checks
// only ever look at the Kind, so a 403 from any API becomes the same kind of `skip` naming the missing
// permission, and a missing kubeconfig the same `skip` naming the command that would fix it.
package apierr

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a failed call by what the user can do about it.
type Kind string

const (
	// Permission: the caller is authenticated but lacks a permission (HTTP 403, RBAC forbidden).
	Permission Kind = "permission"
	// NotFound: the object does not exist (HTTP 404).
	NotFound Kind = "not-found"
	// Conflict: an optimistic-concurrency guard fired (409/412, resourceVersion, etag, fingerprint).
	Conflict Kind = "conflict"
	// RateLimited: quota or rate limit (HTTP 429) after our own retries.
	RateLimited Kind = "rate-limited"
	// Timeout: the call did not finish before its deadline.
	Timeout Kind = "timeout"
	// Unauthenticated: credentials were rejected (HTTP 401).
	Unauthenticated Kind = "unauthenticated"
	// NotConfigured: what the call needs is absent (no kubeconfig, no ADC, no project, --no-gcp).
	NotConfigured Kind = "not-configured"
	// APIDisabled: the Google API is not enabled on the project.
	APIDisabled Kind = "api-disabled"
	// ReadOnly: the read-only guard refused a mutating call; nothing was sent.
	ReadOnly Kind = "read-only"
	// Unavailable: the server could not be reached or answered 5xx.
	Unavailable Kind = "unavailable"
	// Other: anything else.
	Other Kind = "other"
)

// Error is a classified API error. It says what was attempted (Op), on what (Resource), and, where the
// cause is known, the permission that was missing or the command that would fix it (Remedy).
type Error struct {
	Kind       Kind
	Op         string // "get Cloud Run service", "list firewalls"
	Resource   string // "projects/p/locations/l/services/s"
	Permission string // e.g. "compute.firewalls.list" or "list services (RBAC)"
	Remedy     string // a command that would fix it, when known
	Err        error
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Resource != "" {
		msg += " " + e.Resource
	}
	switch e.Kind {
	case Permission:
		if e.Permission != "" {
			msg += ": permission denied: missing " + e.Permission
		} else {
			msg += ": permission denied"
		}
	case NotConfigured, ReadOnly:
		if e.Err != nil {
			if msg != "" {
				msg += ": "
			}
			msg += e.Err.Error()
		}
		if e.Remedy != "" {
			msg += " (run: " + e.Remedy + ")"
		}
		return msg
	default:
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err: the classified kind when err wraps an *Error, Timeout for deadline
// errors, Other otherwise.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Timeout
	}
	return Other
}

// As returns the classified error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// NotConfiguredf builds a NotConfigured error with the command that would fix it.
func NotConfiguredf(remedy, format string, args ...any) *Error {
	return &Error{Kind: NotConfigured, Op: "", Remedy: remedy, Err: fmt.Errorf(format, args...)}
}

// IsCouldNotLook reports whether err means "we could not look" (the honest answer is skip), as opposed
// to "the check broke" (error).
func IsCouldNotLook(err error) bool {
	switch KindOf(err) {
	case Permission, NotConfigured, APIDisabled, Unauthenticated:
		return true
	}
	return false
}
