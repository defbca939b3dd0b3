package report

import (
	"regexp"
	"strings"
)

// Redacted replaces every secret Redact finds.
const Redacted = "[REDACTED]"

var (
	// A PEM private key block (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8). A block cut off before its
	// END line (a truncated detail) is masked to the end of the string.
	rePrivateKey = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`)
	// A JWT: three base64url segments, the header starting with eyJ (`{"`); the signature may be
	// empty (alg none). ServiceAccount tokens are JWTs.
	reJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	// A Google OAuth access token (ya29.…) or refresh token (1//…).
	reGoogleToken = regexp.MustCompile(`\bya29\.[A-Za-z0-9_.\-]+|\b1//[A-Za-z0-9_\-]{20,}`)
	// An Authorization header value: always a credential, whatever it looks like.
	reAuthHeader = regexp.MustCompile(`(?i)\b(authorization\s*[:=]\s*"?(?:bearer|basic)\s+)([A-Za-z0-9\-._~+/]*[A-Za-z0-9\-_~+/]=*)`)
	// Bearer or Basic credentials anywhere else ("curl -H 'Bearer …'", a log line). Prose such as
	// "a bearer token" must survive, so the value is only masked when it looks like a credential
	// (see looksLikeCredential). A value never ends in a dot, so a sentence's full stop is not taken in.
	reScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20)([A-Za-z0-9\-._~+/]*[A-Za-z0-9\-_~+/]=*)`)
	// key=value where the key names a secret: query strings (?access_token=…), flags
	// (--token=…, --from-literal=password=…), env and config lines (DB_PASSWORD=…). The key is kept.
	reKeyValue = regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:token|password|passwd|pwd|secret|api[_-]?key))(=)("[^"]*"|'[^']*'|[^\s&"',;]+)`)
	// The same keys as JSON members: "client_secret": "…".
	reJSONMember = regexp.MustCompile(`(?i)("[A-Za-z0-9_.\-]*(?:token|password|passwd|secret|api[_-]?key)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// Flags that take a secret as their next word: --token abc, --password abc, --client-secret abc.
	reSecretFlag = regexp.MustCompile(`(?i)(--(?:token|password|client-secret)\s+)([^\s-][^\s]*)`)
	// Credentials in a URL: scheme://user:password@host.
	reURLPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)([^/\s@]+)@`)
)

// Redact masks secrets in s so a report can be pasted into a ticket: bearer and basic credentials,
// JWTs (ServiceAccount tokens), PEM private key blocks, Google OAuth tokens (ya29.…, 1//…), values of
// token=/password=/secret= (and kin) in query strings, flags and key=value lines, the same keys as JSON
// members, and passwords in URLs. Each secret becomes [REDACTED]; names of the things (the key, the word
// Bearer) are kept so the reader knows what was there. Ordinary text, IP addresses and resource names
// (including Secret names such as sa-token-abcde) are left alone.
//
// Redaction is a safety net, not a guarantee: checks should not put secrets into evidence at all.
func Redact(s string) string {
	if s == "" {
		return s
	}
	s = rePrivateKey.ReplaceAllString(s, Redacted)
	s = reJWT.ReplaceAllString(s, Redacted)
	s = reGoogleToken.ReplaceAllString(s, Redacted)
	s = reAuthHeader.ReplaceAllString(s, "${1}"+Redacted)
	s = reScheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := reScheme.FindStringSubmatch(m)
		if !looksLikeCredential(sub[3]) {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
	s = reKeyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := reKeyValue.FindStringSubmatch(m)
		v := strings.Trim(sub[3], `"'`)
		if v == "" || v == Redacted {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
	s = reJSONMember.ReplaceAllString(s, `${1}"`+Redacted+`"`)
	s = reSecretFlag.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretFlag.FindStringSubmatch(m)
		if sub[2] == Redacted {
			return m
		}
		return sub[1] + Redacted
	})
	s = reURLPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
	return s
}

// looksLikeCredential tells a credential after "Bearer"/"Basic" from an English word ("a bearer token",
// "basic authentication"): credentials are long, or carry digits, capitals or token punctuation.
func looksLikeCredential(v string) bool {
	if len(v) >= 20 {
		return true
	}
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			return true
		case r >= 'A' && r <= 'Z' && i > 0:
			return true
		case strings.ContainsRune("-._~+/=", r):
			return true
		}
	}
	return false
}
