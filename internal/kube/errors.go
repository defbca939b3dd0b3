package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

var forbiddenRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?`)
})

// Map classifies a Kubernetes API error. op says what was attempted, resource on what.
func Map(err error, op, resource string) error {
	if err == nil {
		return nil
	}
	if _, ok := apierr.As(err); ok {
		return err
	}
	e := &apierr.Error{Kind: apierr.Other, Op: op, Resource: resource, Err: err}
	switch {
	case apierrors.IsForbidden(err):
		e.Kind = apierr.Permission
		e.Permission = RBACPermission(err.Error())
	case apierrors.IsUnauthorized(err):
		e.Kind, e.Remedy = apierr.Unauthenticated, "gcloud container clusters get-credentials CLUSTER --location LOCATION (or refresh your credentials)"
	case apierrors.IsNotFound(err):
		e.Kind = apierr.NotFound
	case apierrors.IsConflict(err):
		e.Kind = apierr.Conflict
	case apierrors.IsTooManyRequests(err):
		e.Kind = apierr.RateLimited
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), errors.Is(err, context.DeadlineExceeded):
		e.Kind = apierr.Timeout
	case apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err):
		e.Kind = apierr.Unavailable
	default:
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind = apierr.Timeout
		} else if errors.As(err, &oe) {
			e.Kind = apierr.Unavailable
			e.Err = fmt.Errorf("cannot reach the API server: %w", err)
		}
	}
	return e
}

// RBACPermission turns a Forbidden message into "VERB RESOURCE" (RBAC), e.g. "list services".
func RBACPermission(msg string) string {
	m := forbiddenRE().FindStringSubmatch(msg)
	if m == nil {
		return "an RBAC permission"
	}
	res := m[2]
	if m[3] != "" {
		res += "." + m[3]
	}
	return fmt.Sprintf("RBAC %s %s", m[1], res)
}
