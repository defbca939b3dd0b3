package probe

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DNS name limits (RFC 1035 §2.3.4): 63 octets per label, 255 on the wire,
// which is 253 characters in presentation form without the trailing dot.
const (
	maxLabelLen = 63
	maxNameLen  = 253
)

// NormalizeName validates a DNS name a person typed (for --dns-name) and
// returns it lower-cased and fully qualified ("foo.default.svc.cluster.local.").
// The error says what is wrong in terms the person can act on: a URL or a
// host:port instead of a name, an IP address, an over-long label, a character
// DNS names do not use.
func NormalizeName(s string) (string, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("invalid DNS name %q: %s", orig, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty")
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
			return bad("looks like a URL; pass only the host name, e.g. %q", u.Hostname())
		}
		return bad("looks like a URL; pass only the host name")
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(s, ".")); err == nil {
		return bad("an IP address, not a DNS name")
	}
	if i := strings.IndexAny(s, ":/"); i >= 0 {
		return bad("contains %q; pass only the host name, without a port or path", s[i:i+1])
	}
	if s == "." {
		return bad("the root name is not a host name")
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) > maxNameLen {
		return bad("%d characters long; a DNS name has at most %d", len(name), maxNameLen)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return bad("empty label (a leading dot or two dots in a row)")
		}
		if len(label) > maxLabelLen {
			return bad("label %q is %d characters long; a label has at most %d", label, len(label), maxLabelLen)
		}
		for _, c := range label {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= utf8.RuneSelf:
				return bad("label %q contains %q; give internationalised names in their xn-- (punycode) form", label, c)
			default:
				return bad("label %q contains %q; DNS names use letters, digits, '-' and '_'", label, c)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("label %q starts or ends with '-'", label)
		}
	}
	return strings.ToLower(name) + ".", nil
}

// validHostname reports whether s (without a trailing dot) is a usable host
// name for a resolver address.
func validHostname(s string) bool {
	if strings.ContainsAny(s, ":/") {
		return false
	}
	_, err := NormalizeName(s)
	return err == nil
}
