package dnsmodel

import (
	"strings"

	"github.com/gkedoctor/gkedoctor/internal/model"
)

// InZone reports whether name is the zone's apex or below it. Both are compared as FQDNs.
func InZone(name, zone string) bool {
	name, zone = model.Fqdn(name), model.Fqdn(zone)
	if zone == "" || name == "" {
		return false
	}
	if zone == "." {
		return true
	}
	return name == zone || strings.HasSuffix(name, "."+zone)
}

// parent returns the name one label up ("a.b.c." → "b.c."), "." for a TLD and "" for the root.
func parent(name string) string {
	if name == "." || name == "" {
		return ""
	}
	i := strings.IndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

// labels counts the labels of an FQDN.
func labels(name string) int {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return 0
	}
	return strings.Count(name, ".") + 1
}

// tld returns the last label of an FQDN, without dots.
func tld(name string) string {
	name = strings.TrimSuffix(name, ".")
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// nonPublicTLDs are top-level labels no public DNS answers (RFC 2606, RFC 6761, ICANN's .internal,
// and the names private networks habitually use), so a name under them that no private zone holds is
// NXDOMAIN from the VPC.
var nonPublicTLDs = map[string]bool{
	"local": true, "localhost": true, "test": true, "example": true, "invalid": true, "internal": true,
	"lan": true, "home": true, "corp": true, "intranet": true, "private": true, "localdomain": true,
	"svc": true,
}
