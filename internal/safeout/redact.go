package safeout

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redacted replaces every secret Redact finds.
const Redacted = "[REDACTED]"

// The rule set. Token shapes with a fixed prefix are ported from gitleaks v8.30.1
// (github.com/zricethezav/gitleaks/v8, cmd/generate/config/rules; rule ids in the comments), the
// reference set for secret shapes. The module itself is not linked: its rules package pulls in viper,
// a WebAssembly RE2 (wazero) and the rule generator, far too much for a tool whose start-up budget is
// 30 ms, for a few dozen regular expressions. The contextual rules (key=value, YAML, JSON members,
// flags, Authorization headers) are gkedoctor's own: gitleaks' generic-api-key rule needs an
// entropy threshold and allowlists to keep its false positives down, which a report cannot afford to
// get wrong in either direction, so these key on the names that hold secrets instead.

// rules is the rule set, compiled on first use: `gkedoctor version` and other output without a
// secret-looking word never pays for it (start-up budget, README "Test it").
type ruleSet struct {
	rePrivateKey       *regexp.Regexp
	reJWT              *regexp.Regexp
	reTokenShapes      *regexp.Regexp
	reAuthHeader       *regexp.Regexp
	reScheme           *regexp.Regexp
	reKeyValue         *regexp.Regexp
	reYAML             *regexp.Regexp
	reJSONMember       *regexp.Regexp
	reJSONMemberQuoted *regexp.Regexp
	reSecretFlag       *regexp.Regexp
	reURLPassword      *regexp.Regexp
}

var rules = sync.OnceValue(func() *ruleSet {
	return &ruleSet{
		// gitleaks "private-key": a PEM private key block (RSA, EC, OPENSSH, ENCRYPTED, plain PKCS#8).
		// A block cut off before its END line (a truncated detail) is masked up to the next double quote
		// or the end, so a truncated block inside a JSON string does not swallow the rest of the document.
		// The label excludes '-' (gitleaks allows it), so one block's END cannot reach into the next block.
		rePrivateKey: regexp.MustCompile(`(?i)-----BEGIN[ A-Z0-9_]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[^"]*?-----END[ A-Z0-9_]{0,100}PRIVATE KEY(?: BLOCK)?-----|[^"]*)`),
		// gitleaks "jwt", widened: three base64url segments, the header starting with eyJ (`{"`); the
		// signature may be empty (alg none). ServiceAccount tokens are JWTs.
		reJWT: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`),
		// Token shapes with a fixed prefix, each a gitleaks rule:
		reTokenShapes: regexp.MustCompile(strings.Join([]string{
			`AIza[\w-]{35}`,               // gcp-api-key
			`ghp_[0-9a-zA-Z]{36}`,         // github-pat
			`github_pat_\w{82}`,           // github-fine-grained-pat
			`gho_[0-9a-zA-Z]{36}`,         // github-oauth
			`(?:ghu|ghs)_[0-9a-zA-Z]{36}`, // github-app-token
			`ghr_[0-9a-zA-Z]{36}`,         // github-refresh-token
			`glpat-[\w-]{20}`,             // gitlab-pat
			`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`, // aws-access-token
			`xox[baprse]-[0-9a-zA-Z-]{10,}`,                       // slack-bot-token, slack-user-token, slack-app-token (merged)
			`(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}`,     // stripe-access-token
			`sk-ant-(?:api03|admin01)-[a-zA-Z0-9_\-]{93}AA`,       // anthropic-api-key, anthropic-admin-api-key
			`sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}`,        // openai-api-key (prefix only)
			`\bya29\.[A-Za-z0-9_.\-]+`,                            // Google OAuth access token (gitleaks has none)
			`\b1//[A-Za-z0-9_\-]{20,}`,                            // Google OAuth refresh token
			`GOCSPX-[A-Za-z0-9_\-]{20,}`,                          // Google OAuth client secret
		}, "|")),
		// An Authorization header value: always a credential, whatever it looks like.
		reAuthHeader: regexp.MustCompile(`(?i)\b(authorization\s*[:=]\s*"?(?:bearer|basic)\s+)([A-Za-z0-9\-._~+/]*[A-Za-z0-9\-_~+/]=*)`),
		// Bearer or Basic credentials anywhere else ("curl -H 'Bearer …'", a log line). Prose such as
		// "a bearer token" must survive, so the value is only masked when it looks like a credential
		// (see looksLikeCredential). A value never ends in a dot, so a sentence's full stop is not taken in.
		reScheme: regexp.MustCompile(`(?i)\b(bearer|basic)(\s+|%20)([A-Za-z0-9\-._~+/]*[A-Za-z0-9\-_~+/]=*)`),
		// key=value where the key names a secret: query strings (?token=…, &access_token=…,
		// X-Goog-Signature=…), flags (--token=…, --from-literal=password=…), env and config lines
		// (DB_PASSWORD=…, AWS_SECRET_ACCESS_KEY=…, ACCESS_KEY=…, PRIVATE_KEY=…, *_PASS=…). The key is kept;
		// it must be a whole key (the character before it is not part of a name), so bypass=1 stays.
		reKeyValue: regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_.\-])(` + secretKey + `)(=)("[^"\\]*"|'[^'\\]*'|[^\s&"',;\\]+)`),
		// The same keys in YAML (token: …, password: …, client-key-data: …), at the start of a line or in
		// a flow mapping, or after an escaped "\n" (YAML quoted into an error message or a JSON string).
		// The key is unquoted or single-quoted (a double-quoted key is JSON's, below). An unquoted value
		// runs to the end of the line, or to a double quote or an escaped newline (inside a JSON string).
		reYAML: regexp.MustCompile(`(?im)((?:^|[{,]|\\n)[ \t]*(?:-[ \t]+)?'?(?:` + secretKey + `)'?[ \t]*:[ \t]+)('[^'\n]*'|"(?:[^"\\\n]|\\.)*"|[^\s'"#\\](?:[^\n"\\]|\\[^n"\\])*)`),
		// The same keys as JSON members: "access_key": "…", "client_secret": "…".
		reJSONMember: regexp.MustCompile(`(?i)("(?:` + secretKey + `)"\s*:\s*)"(?:[^"\\]|\\.)*"`),
		// … and JSON quoted once more (in a %q-quoted error, or a JSON string holding JSON): {\"token\": \"…\"}.
		reJSONMemberQuoted: regexp.MustCompile(`(?i)(\\"(?:` + secretKey + `)\\"\s*:\s*)\\"(?:[^"\\]|\\[^"])*\\"`),
		// Flags that take a secret as their next word: --token abc, --password abc, --client-secret abc.
		// "string" is what --help prints for a flag's value.
		reSecretFlag: regexp.MustCompile(`(?i)(--(?:token|password|client-secret)\s+)([^\s-][^\s]*)`),
		// Credentials in a URL: scheme://user:password@host.
		reURLPassword: regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)([^/\s@]+)@`),
	}
})

// secretKey matches the name of a key that holds a secret: anything ending in token, password,
// passwd, pwd, secret, api key, access key, private key, secret key, signature (X-Goog-Signature),
// the kubeconfig's client-key-data and client-certificate-data, or a whole key pass / *_pass.
const secretKey = `[A-Za-z0-9_.\-]*(?:token|passw(?:or)?d|pwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|secret[_-]?key|signature|client-key-data|client-certificate-data)|(?:[A-Za-z0-9_.\-]*[_.\-])?pass`

// Redact masks secrets in s: PEM private key blocks, JWTs (ServiceAccount tokens), token shapes with
// a known prefix (Google API keys AIza…, OAuth tokens ya29.… and 1//…, GitHub ghp_…/github_pat_…,
// GitLab, AWS access key ids, Slack, Stripe), Bearer and Basic credentials, values of keys that name
// a secret in key=value form (query strings, flags, environment lines), in YAML and as JSON members,
// and passwords in URLs. Each secret becomes [REDACTED]; the names of things (the key, the word
// Bearer) are kept so the reader knows what was there. Ordinary text, IP addresses and resource names
// (including Secret names such as sa-token-abcde) are left alone. Redact is idempotent.
//
// Redaction is a safety net, not a guarantee: checks should not put secrets into evidence at all.
func Redact(s string) string {
	if s == "" || !mayHoldSecret(s) {
		return s
	}
	// Rules can uncover one another (a value cut at a quote by one rule is a whole token to another):
	// repeat until nothing changes, so the result is a fixed point.
	for i := 0; i < 4; i++ {
		r := redactOnce(s)
		if r == s {
			break
		}
		s = r
	}
	return s
}

func redactOnce(s string) string { return redactOnceGated(s, true) }

// redactOnceGated applies the rules once. With gate, a rule runs only when the text holds what every
// match of that rule must contain (see gates): the same result — a test and the fuzz target hold
// the gated and ungated passes equal — without running a dozen regular expressions over a whole
// report (a 20,000-Service audit's JSON) that holds none of it.
func redactOnceGated(s string, gate bool) string {
	r := rules()
	var g gates
	if gate {
		g = gatesOf(s)
	} else {
		g = allGates
	}
	if g.pem {
		s = r.rePrivateKey.ReplaceAllString(s, Redacted)
	}
	if g.jwt {
		s = r.reJWT.ReplaceAllString(s, Redacted)
	}
	if g.shapes {
		s = r.reTokenShapes.ReplaceAllString(s, Redacted)
	}
	if g.auth {
		s = r.reAuthHeader.ReplaceAllString(s, "${1}"+Redacted)
	}
	if g.scheme {
		s = r.reScheme.ReplaceAllStringFunc(s, func(m string) string {
			sub := r.reScheme.FindStringSubmatch(m)
			if !looksLikeCredential(sub[3]) {
				return m
			}
			return sub[1] + sub[2] + Redacted
		})
	}
	if g.keys {
		s = r.reJSONMember.ReplaceAllString(s, `${1}"`+Redacted+`"`)
		s = r.reJSONMemberQuoted.ReplaceAllString(s, `${1}\"`+Redacted+`\"`)
		s = r.reKeyValue.ReplaceAllStringFunc(s, func(m string) string {
			sub := r.reKeyValue.FindStringSubmatch(m)
			v := strings.Trim(sub[4], `"'`)
			if v == "" || v == Redacted {
				return m
			}
			return sub[1] + sub[2] + sub[3] + Redacted
		})
		s = r.reYAML.ReplaceAllStringFunc(s, func(m string) string {
			sub := r.reYAML.FindStringSubmatch(m)
			v := strings.TrimSpace(sub[2])
			q := ""
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
				q = v[:1]
			}
			if inner := strings.Trim(v, `"'`); inner == "" || inner == Redacted || inner == "|" || inner == ">" {
				return m
			}
			return sub[1] + q + Redacted + q
		})
	}
	if g.flag {
		s = r.reSecretFlag.ReplaceAllStringFunc(s, func(m string) string {
			sub := r.reSecretFlag.FindStringSubmatch(m)
			if sub[2] == Redacted || sub[2] == "string" {
				return m
			}
			return sub[1] + Redacted
		})
	}
	if g.url {
		s = r.reURLPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
	}
	return s
}

// looksLikeCredential tells a credential after "Bearer"/"Basic" from an English word ("a bearer token",
// "basic authentication"): credentials are long, or carry digits, capitals or token punctuation.
func looksLikeCredential(v string) bool {
	if v == "REDACTED" {
		return false
	}
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

// triggers are lower-case words at least one of which every rule's match contains (its literal
// prefix, key word or scheme). A string with none of them cannot match any rule and is returned
// as is, without running (or compiling) the rules. Keep it in step with the rules above.
var triggers = []string{
	"begin",                                                       // PEM
	"eyj",                                                         // JWT
	"aiza", "ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_", // token shapes
	"glpat-", "a3t", "akia", "asia", "abia", "acca", "xox", "sk_", "rk_", "sk-", "ya29.", "1//", "gocspx-",
	"bearer", "basic", // Authorization, schemes
	"token", "passw", "pwd", "secret", "key", "signature", "client-", "pass", // secret keys, flags
	"://", // passwords in URLs
}

// mayHoldSecret reports whether s, folded the way the rules' (?i) fold it, contains a trigger. It
// runs on every string and every line of a report (megabytes for a large audit), so it scans once,
// folding ASCII as it goes, without allocating; only a text holding a character that folds to an ASCII
// letter — the Kelvin sign (k), the long s (s), the capital I with dot (i, as strings.ToLower maps it)
// — is folded whole and searched trigger by trigger (TestMayHoldSecretIsTheFoldedSearch holds the
// two ways equal).
func mayHoldSecret(s string) bool {
	nonASCII := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			nonASCII = true
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		for _, t := range triggersByFirst[c] {
			if hasPrefixFoldASCII(s[i+1:], t[1:]) {
				return true
			}
		}
	}
	if !nonASCII || !strings.ContainsAny(s, "\u212a\u017f\u0130") {
		return false
	}
	return mayHoldSecretFolded(s)
}

// mayHoldSecretFolded is mayHoldSecret by folding s whole and searching for each trigger.
func mayHoldSecretFolded(s string) bool {
	l := foldASCII(s)
	for _, t := range triggers {
		if strings.Contains(l, t) {
			return true
		}
	}
	return false
}

// triggersByFirst indexes the triggers by their first byte.
var triggersByFirst = func() (by [utf8.RuneSelf][]string) {
	for _, t := range triggers {
		by[t[0]] = append(by[t[0]], t)
	}
	return by
}()

// hasPrefixFoldASCII reports whether s starts with prefix (lower-case ASCII), ASCII case ignored.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// gates says which rules can match a text: each is a condition every match of the rule satisfies
// (a literal it must contain, or for the secret keys a key word followed by = or :), so a rule whose
// gate is false would replace nothing. Checking them costs a few substring searches; running the
// rules costs a regular-expression scan of the whole text each.
type gates struct{ pem, jwt, shapes, auth, scheme, keys, flag, url bool }

var allGates = gates{true, true, true, true, true, true, true, true}

// foldASCII lower-cases s the way the rules' (?i) matches it: besides ASCII case, Unicode simple
// folding maps the Kelvin sign to k (strings.ToLower does too) and the long s (ſ) to s.
func foldASCII(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "ſ", "s")
}

func gatesOf(s string) gates {
	l := foldASCII(s)
	has := func(in string, words ...string) bool {
		for _, w := range words {
			if strings.Contains(in, w) {
				return true
			}
		}
		return false
	}
	return gates{
		pem: strings.Contains(l, "-----begin"),
		jwt: strings.Contains(s, "eyJ"),
		shapes: has(s, "AIza", "ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "A3T", "AKIA", "ASIA", "ABIA",
			"ACCA", "xox", "sk_test_", "sk_live_", "sk_prod_", "rk_test_", "rk_live_", "rk_prod_", "sk-ant-", "sk-proj-",
			"sk-svcacct-", "sk-admin-", "ya29.", "1//", "GOCSPX-"),
		auth:   strings.Contains(l, "authorization"),
		scheme: has(l, "bearer", "basic"),
		keys:   secretKeyAssigned(l),
		flag:   has(l, "--token", "--password", "--client-secret"),
		url:    urlWithPassword(s),
	}
}

// keyEnds are the endings of every name secretKey matches (api_key, access-key, private_key and
// secret_key end in key; client-key-data and client-certificate-data in -data).
var keyEnds = []string{"token", "passwd", "password", "pwd", "secret", "key", "signature", "-data", "pass"}

// secretKeyAssigned reports whether the folded text l holds a key word followed, after quotes,
// backslashes and white space, by = or : — what every match of the key=value, YAML and JSON member
// rules has right after its key.
func secretKeyAssigned(l string) bool {
	for _, end := range keyEnds {
		for i := 0; ; {
			j := strings.Index(l[i:], end)
			if j < 0 {
				break
			}
			k := i + j + len(end)
			for k < len(l) && strings.IndexByte("\"'\\ \t\n\r\f\v", l[k]) >= 0 {
				k++
			}
			if k < len(l) && (l[k] == '=' || l[k] == ':') {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// urlWithPassword reports whether s holds "://", then a user (no /, :, @ or space), ":", a
// password (no /, @ or space) and "@": the shape the URL password rule matches.
func urlWithPassword(s string) bool {
	const space = " \t\n\r\f"
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return false
		}
		k := i + j + 3
		u := k
		for k < len(s) && strings.IndexByte("/:@"+space, s[k]) < 0 {
			k++
		}
		if k > u && k < len(s) && s[k] == ':' {
			p := k + 1
			m := p
			for m < len(s) && strings.IndexByte("/@"+space, s[m]) < 0 {
				m++
			}
			if m > p && m < len(s) && s[m] == '@' {
				return true
			}
		}
		i += j + 1
	}
}
