package fixes

import (
	"strings"
)

// Diff renders a before/after of two multi-line texts as "- " / "+ " / "  " lines: the common prefix
// and suffix are context, the middle is the change. It is meant for small object excerpts (YAML of the
// fields a fix touches), not for large files.
func Diff(before, after string) string {
	b := splitLines(before)
	a := splitLines(after)
	i := 0
	for i < len(b) && i < len(a) && b[i] == a[i] {
		i++
	}
	j := 0
	for j < len(b)-i && j < len(a)-i && b[len(b)-1-j] == a[len(a)-1-j] {
		j++
	}
	var sb strings.Builder
	for _, l := range b[:i] {
		sb.WriteString("  " + l + "\n")
	}
	for _, l := range b[i : len(b)-j] {
		sb.WriteString("- " + l + "\n")
	}
	for _, l := range a[i : len(a)-j] {
		sb.WriteString("+ " + l + "\n")
	}
	for _, l := range b[len(b)-j:] {
		sb.WriteString("  " + l + "\n")
	}
	return sb.String()
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
