package report

import "github.com/gkedoctor/gkedoctor/internal/safeout"

// Redacted replaces every secret Redact finds.
const Redacted = safeout.Redacted

// Redact masks secrets in s (safeout.Redact: the rule set and where it comes from). Every renderer
// applies safeout.Text, which includes it, to every string; callers outside the renderers use
// safeout directly.
func Redact(s string) string { return safeout.Redact(s) }
