package report

import (
	"fmt"
	"strings"
)

// skipGroup is the skipped checks that share one reason and one remedy.
type skipGroup struct {
	reason, remedy string
	results        []Result
}

// line is the group's one line: "7 checks skipped: REASON — run REMEDY".
func (g skipGroup) line() string {
	s := fmt.Sprintf("%d checks skipped: %s", len(g.results), oneLine(g.reason))
	switch {
	case g.remedy == "":
	case strings.HasPrefix(g.remedy, "-"):
		s += " — pass " + oneLine(g.remedy)
	default:
		s += " — run " + oneLine(g.remedy)
	}
	return s
}

// groupSkips groups skipped results by their shared reason (skipReason), in the order each reason is
// first met.
func groupSkips(skipped []Result) []*skipGroup {
	var groups []*skipGroup
	byKey := map[string]*skipGroup{}
	for _, res := range skipped {
		reason, remedy := skipReason(res.Summary)
		k := reason + "\x00" + remedy
		g := byKey[k]
		if g == nil {
			g = &skipGroup{reason: reason, remedy: remedy}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.results = append(g.results, res)
	}
	return groups
}

// skipReason splits a skip's summary into the reason underneath it and the command that would fix it.
// Skips are worded "could not WHAT: REASON (run: REMEDY)" (checks.FromErr over an apierr error), the
// remedy sometimes nested inside a check's own parenthesis ("no name to check: … (REASON (run:
// REMEDY))"); what the check was trying to do differs from check to check, the reason and the remedy
// do not. A summary of another shape is its own reason.
func skipReason(summary string) (reason, remedy string) {
	s := oneLine(summary)
	before := s
	if i := strings.LastIndex(s, "(run: "); i >= 0 {
		if end := closingParen(s, i); end > i {
			remedy = strings.TrimSpace(s[i+len("(run: ") : end])
			before = s[:i]
			// Inside a check's own parenthesis: the reason starts after its unmatched "(".
			if open := unmatchedOpen(before); open >= 0 {
				before = before[open+1:]
			}
		}
	}
	before = strings.TrimSpace(before)
	if strings.HasPrefix(before, "could not ") {
		if _, after, ok := strings.Cut(before, ": "); ok && after != "" {
			before = after
		}
	}
	return strings.TrimSpace(before), remedy
}

// closingParen returns the index of the ")" closing the "(" at open, or -1.
func closingParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// unmatchedOpen returns the index of the last "(" in s that no ")" closes, or -1.
func unmatchedOpen(s string) int {
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}
