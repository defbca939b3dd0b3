// Package poison is the poisoned fixture of the output-path tests: values holding every escape
// sequence, control, bidi and invisible character class and every secret shape gkedoctor must never
// print, and Leaks, which says what of it reached an output. Only tests import it.
package poison

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// Secrets holds one value of every secret shape issue 15 names, each with a marker that must never
// reach any output: the marker is what a leak looks like.
var Secrets = []struct{ In, Marker string }{
	{"token=SECRETTOKEN01", "SECRETTOKEN01"},
	{"AWS_SECRET_ACCESS_KEY=SECRETAWS02", "SECRETAWS02"},
	{"ACCESS_KEY=SECRETACCESS03", "SECRETACCESS03"},
	{"PRIVATE_KEY=SECRETPRIV04", "SECRETPRIV04"},
	{"DB_PASS=SECRETPASS05", "SECRETPASS05"},
	{"DB_PASSWORD=SECRETPASSWORD06", "SECRETPASSWORD06"},
	{"\ntoken: SECRETYAMLTOKEN07\n", "SECRETYAMLTOKEN07"},
	{"\npassword: SECRETYAMLPW08\n", "SECRETYAMLPW08"},
	{"\n    client-key-data: SECRETCKD09\n", "SECRETCKD09"},
	{"\n    client-certificate-data: SECRETCCD10\n", "SECRETCCD10"},
	{`{"access_key": "SECRETJSON11"}`, "SECRETJSON11"},
	{"AIzaSyA1234567890SECRETGOOGLEKEY1234567", "SECRETGOOGLEKEY"},
	{"ghp_SECRETGHP0123456789abcdefghijABCDEFG", "SECRETGHP0123456789"},
	{"github_pat_" + strings.Repeat("SECRETFG", 10) + "ab", "SECRETFGSECRETFG"},
	{"https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=SECRETSIG13", "SECRETSIG13"},
	{"http://agent.example/cb?token=SECRETURLTOKEN14", "SECRETURLTOKEN14"},
	{"http://agent.example/cb?a=1&access_token=SECRETAT15", "SECRETAT15"},
	{"Authorization: Bearer SECRETBEARER16", "SECRETBEARER16"},
	{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQxNyJ9.U0VDUkVUSldUU0lH", "eyJzdWIiOiJTRUNSRVQxNyJ9"},
	{"-----BEGIN RSA PRIVATE KEY-----\nSECRETPEM18\n-----END RSA PRIVATE KEY-----", "SECRETPEM18"},
	{"ya29.SECRETYA2919", "SECRETYA2919"},
}

// Terminal holds what must never drive the terminal or spoof a command: escape sequences (CSI clear,
// OSC title, OSC 52 clipboard), a raw 8-bit CSI (U+009B), C1, bidi overrides and isolates,
// zero-width characters, a carriage return.
const Terminal = "\x1b[2J\x1b]0;PWNED\a\x1b]52;c;cm0gLXJmIH4=\a\u009b2J\u0085\u202e\u2066\u200b\u200d\u2060\ufeff\r"

// Value is one value holding all of it; where, first, says where it was put (so a test can check the
// value did reach the output, made safe).
func Value(where string) string {
	var b strings.Builder
	b.WriteString(where + " " + Terminal)
	for _, s := range Secrets {
		b.WriteString(" " + s.In)
	}
	return b.String()
}

var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// Leaks lists what of the poison out holds: a forbidden character (a control other than newline
// and tab, C1, bidi, zero-width), invalid UTF-8, a secret's marker. With sgrAllowed, SGR colour
// sequences (ESC [ … m), which renderers paint with, are removed first: they and only they may pass.
func Leaks(out string, sgrAllowed bool) []string {
	if sgrAllowed {
		out = sgr.ReplaceAllString(out, "")
	}
	var leaks []string
	if !utf8.ValidString(out) {
		leaks = append(leaks, "invalid UTF-8")
	}
	for i, r := range out {
		if safeout.Forbidden(r) {
			leaks = append(leaks, "raw "+quoteRune(r)+" at …"+strconvQuote(out[max(0, i-40):min(len(out), i+40)])+"…")
			break
		}
	}
	for _, s := range Secrets {
		if i := strings.Index(out, s.Marker); i >= 0 {
			leaks = append(leaks, "secret "+s.Marker+" at …"+strconvQuote(out[max(0, i-60):min(len(out), i+40)])+"…")
		}
	}
	return leaks
}
