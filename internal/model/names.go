package model

import (
	"net/netip"
	"strings"
)

// DefaultDomain is the cluster DNS domain when the cluster does not set one.
const DefaultDomain = "cluster.local."

// Fqdn lower-cases a DNS name and gives it its trailing dot ("" stays "").
func Fqdn(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// ServiceFQDN is NAME.NS.svc.DOMAIN. (domain defaults to cluster.local).
func ServiceFQDN(ns, name, domain string) string {
	if domain == "" {
		domain = DefaultDomain
	}
	return Fqdn(name + "." + ns + ".svc." + Fqdn(domain))
}

// NameForm says how a host names a Service.
type NameForm int

const (
	// NotServiceName: the host is not a Service name (an IP, a public-looking name, bad labels).
	NotServiceName NameForm = iota
	// FormFQDN: NAME.NS.svc.DOMAIN, the full in-cluster name.
	FormFQDN
	// FormSvc: NAME.NS.svc, completed by the pod's search path.
	FormSvc
	// FormShort: NAME.NS, completed by the pod's search path; it is only a Service name when the
	// namespace exists (the caller checks), since public names have two labels too.
	FormShort
)

// ParseServiceName is the one parser of Kubernetes Service DNS names: NAME.NS.svc.DOMAIN (domain
// defaults to cluster.local), NAME.NS.svc, or NAME.NS, each label an RFC 1123 label. It returns the
// namespace, the name and the form; form NotServiceName for anything else.
func ParseServiceName(host, domain string) (ns, name string, form NameForm) {
	if domain == "" {
		domain = DefaultDomain
	}
	h := strings.TrimSuffix(Fqdn(host), ".")
	if h == "" {
		return "", "", NotServiceName
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "", "", NotServiceName
	}
	split := func(rest string) (string, string, bool) {
		parts := strings.Split(rest, ".")
		if len(parts) == 2 && validLabel(parts[0]) && validLabel(parts[1]) {
			return parts[1], parts[0], true
		}
		return "", "", false
	}
	for _, s := range []struct {
		suffix string
		form   NameForm
	}{{".svc." + strings.TrimSuffix(Fqdn(domain), "."), FormFQDN}, {".svc", FormSvc}} {
		if rest, found := strings.CutSuffix(h, s.suffix); found {
			if ns, name, ok := split(rest); ok {
				return ns, name, s.form
			}
			return "", "", NotServiceName
		}
	}
	if ns, name, ok := split(h); ok {
		return ns, name, FormShort
	}
	return "", "", NotServiceName
}

// validLabel reports whether s is an RFC 1123 label as Kubernetes names Services and namespaces.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
