package gcp

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/api/googleapi"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
)

var permissionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[Pp]ermission '?"?([a-zA-Z]+\.[a-zA-Z]+\.[a-zA-Z.]+)'?"?`)
})

// requiredRE is the compute API's wording: "Required 'compute.networks.getEffectiveFirewalls'
// permission for 'projects/p/global/networks/n'".
var requiredRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Required '([a-zA-Z]+\.[a-zA-Z]+\.[a-zA-Z.]+)' permission`)
})

// Permissions of the calls whose 403 names no permission in every API version; MapWith fills them in.
const (
	PermNetworksGetEffectiveFirewalls = "compute.networks.getEffectiveFirewalls"
	PermRegionEffectiveFirewalls      = "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls"
)

// MapWith is Map for a call that needs permission: a 403 that does not name the missing permission
// is reported as missing permission (a 403 that names another one keeps that name).
func MapWith(err error, op, resource, permission string) error {
	err = Map(err, op, resource)
	if e, ok := apierr.As(err); ok && e.Kind == apierr.Permission && e.Permission == "" {
		e.Permission = permission
	}
	return err
}

// Map classifies err from a Google API call. op says what was attempted ("list firewalls"), resource on
// what. It is the only place a googleapi.Error is interpreted.
func Map(err error, op, resource string) error {
	if err == nil {
		return nil
	}
	if _, ok := apierr.As(err); ok {
		return err
	}
	e := &apierr.Error{Kind: apierr.Other, Op: op, Resource: resource, Err: err}
	var ge *googleapi.Error
	switch {
	case errors.As(err, &ge):
		switch ge.Code {
		case 401:
			e.Kind, e.Remedy = apierr.Unauthenticated, "gcloud auth application-default login"
		case 403:
			if disabled(ge) {
				e.Kind = apierr.APIDisabled
				if svc := serviceName(ge); svc != "" {
					e.Remedy = "gcloud services enable " + svc
				}
			} else {
				e.Kind, e.Permission = apierr.Permission, PermissionOf(ge)
			}
		case 404:
			e.Kind = apierr.NotFound
		case 409, 412:
			e.Kind = apierr.Conflict
		case 429:
			e.Kind = apierr.RateLimited
		case 500, 502, 503, 504:
			e.Kind = apierr.Unavailable
		}
		e.Err = errors.New(shortMessage(ge))
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		e.Kind = apierr.Timeout
	case errors.Is(err, context.Canceled):
		e.Kind = apierr.Timeout
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			e.Kind = apierr.Unavailable
		}
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// PermissionOf extracts the missing permission from a 403: the ErrorInfo detail's metadata.permission,
// else the "Permission 'x.y.z' denied" text.
func PermissionOf(ge *googleapi.Error) string {
	for _, d := range ge.Details {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			if p, ok := md["permission"].(string); ok && p != "" {
				return p
			}
		}
	}
	for _, s := range []string{ge.Message, ge.Body} {
		if m := requiredRE().FindStringSubmatch(s); m != nil {
			return m[1]
		}
		if m := permissionRE().FindStringSubmatch(s); m != nil {
			return m[1]
		}
	}
	return ""
}

func disabled(ge *googleapi.Error) bool {
	for _, it := range ge.Errors {
		if it.Reason == "accessNotConfigured" {
			return true
		}
	}
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok && m["reason"] == "SERVICE_DISABLED" {
			return true
		}
	}
	return strings.Contains(ge.Message, "has not been used in project") || strings.Contains(ge.Message, "is disabled")
}

func serviceName(ge *googleapi.Error) string {
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok {
			if md, ok := m["metadata"].(map[string]any); ok {
				if s, ok := md["service"].(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

func shortMessage(ge *googleapi.Error) string {
	msg := ge.Message
	if msg == "" {
		msg = strings.TrimSpace(firstLine(ge.Body))
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return "HTTP " + strconv.Itoa(ge.Code) + ": " + msg
}
