package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
)

// WriteMarkdown writes r as Markdown for a support ticket: a title, the target, where the run happened
// and what it could not test, the counts, then one section per result with its status, summary, cause,
// evidence (commands in code spans or blocks) and fixes (commands in ```sh blocks). Every string goes
// through Redact first, and text outside code is escaped so a value read from a cluster cannot inject
// links or HTML into the ticket.
func WriteMarkdown(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write Markdown report: no report")
	}
	r = r.mapStrings(redactAndSanitize)
	var b strings.Builder
	mode := r.Mode
	if mode == "" {
		mode = "run"
	}
	fmt.Fprintf(&b, "# gkedoctor %s report\n\n", mdText(mode))

	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Project", mdCell(r.Target.Project))
	row("Location", mdCell(r.Target.Location))
	row("Cluster", mdCell(r.Target.Cluster))
	row("Namespace", mdCell(r.Target.Namespace))
	row("Context", mdCell(r.Target.Context))
	where := r.Where
	if where == "" {
		where = "unknown"
	}
	row("Ran from", tableEscape(mdText(where)))
	row("Read-only", yesNo(r.ReadOnly))
	row("Started", mdCell(r.StartedAt))
	row("Duration", formatDuration(time.Duration(r.DurationMs)*time.Millisecond))
	row("Version", mdCell(strings.TrimSpace(r.Tool.Name+" "+r.Tool.Version)))
	b.WriteString("\n")

	s := r.Summary
	fmt.Fprintf(&b, "**Summary:** %d pass · %d fail · %d warn · %d skip · %d error (%s)\n\n",
		s.Pass, s.Fail, s.Warn, s.Skip, s.Error, plural(s.Total(), "check"))
	if len(r.NotTested) > 0 {
		b.WriteString("**Not tested from where it ran:**\n\n")
		for _, n := range r.NotTested {
			fmt.Fprintf(&b, "- %s\n", mdText(oneLine(n)))
		}
		b.WriteString("\n")
	}

	if len(r.Results) == 0 {
		b.WriteString("No checks ran.\n")
	}
	for _, res := range r.Results {
		mdResult(&b, res)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write Markdown report: %w", err)
	}
	return nil
}

func mdResult(b *strings.Builder, res Result) {
	fmt.Fprintf(b, "## %s %s: %s", Glyph(res.Status), res.Status, mdCode(res.ID))
	if res.Title != "" {
		fmt.Fprintf(b, " — %s", mdText(oneLine(res.Title)))
	}
	b.WriteString("\n\n")
	fmt.Fprintf(b, "- **Status:** %s\n", res.Status)
	fmt.Fprintf(b, "- **Summary:** %s\n", mdText(oneLine(res.Summary)))
	if res.Cause != "" {
		fmt.Fprintf(b, "- **Cause:** %s\n", mdCode(res.Cause))
	}
	if res.Parent != "" {
		fmt.Fprintf(b, "- **Part of:** %s\n", mdCode(res.Parent))
	}
	if len(res.Path) > 0 {
		parts := make([]string, len(res.Path))
		for i, p := range res.Path {
			parts[i] = mdText(oneLine(p))
		}
		fmt.Fprintf(b, "- **Path:** %s\n", strings.Join(parts, " → "))
	}
	fmt.Fprintf(b, "- **Duration:** %s\n", formatDuration(time.Duration(res.DurationMs)*time.Millisecond))
	if res.Status == checks.Fail || res.Status == checks.Warn || res.Status == checks.Error {
		next := "`gkedoctor explain " + res.ID + "`"
		for _, f := range res.Fixes {
			if !f.Advice {
				next = "`gkedoctor fix " + res.ID + "` · " + next
				break
			}
		}
		if strings.Contains(res.ID, "`") {
			next = mdCode("gkedoctor explain " + res.ID)
		}
		fmt.Fprintf(b, "- **Next:** %s\n", next)
	}
	b.WriteString("\n")

	if len(res.Evidence) > 0 {
		b.WriteString("**Evidence**\n\n")
		for _, e := range res.Evidence {
			mdEvidence(b, e)
		}
		b.WriteString("\n")
	}
	if len(res.Fixes) > 0 {
		b.WriteString("**Fixes**\n\n")
		for i, f := range res.Fixes {
			mdFix(b, i+1, f)
		}
	}
}

// mdEvidence writes one list item; a multi-line detail or command becomes a block under the item.
func mdEvidence(b *strings.Builder, e Evidence) {
	fmt.Fprintf(b, "- %s **%s** %s", Glyph(e.Status), e.Status, mdText(oneLine(e.Step)))
	multiDetail := strings.Contains(strings.TrimSpace(e.Detail), "\n")
	if e.Detail != "" && !multiDetail {
		fmt.Fprintf(b, ": %s", mdText(strings.TrimSpace(e.Detail)))
	}
	multiCmd := strings.Contains(strings.TrimSpace(e.Command), "\n")
	if e.Command != "" && !multiCmd {
		fmt.Fprintf(b, " — %s", mdCode(e.Command))
	}
	b.WriteString("\n")
	if multiDetail {
		b.WriteString("\n")
		mdFence(b, "  ", "text", e.Detail)
	}
	if multiCmd {
		b.WriteString("\n")
		mdFence(b, "  ", "sh", e.Command)
	}
}

func mdFix(b *strings.Builder, n int, f Fix) {
	fmt.Fprintf(b, "%d. **%s**", n, mdText(oneLine(f.Title)))
	if f.ID != "" {
		fmt.Fprintf(b, " (%s)", mdCode(f.ID))
	}
	var fl []string
	if f.Destructive {
		fl = append(fl, "destructive")
	}
	if f.Reversible {
		fl = append(fl, "reversible")
	} else if !f.Advice {
		fl = append(fl, "not reversible")
	}
	if f.VPCWide {
		fl = append(fl, "VPC-wide")
	}
	if f.Advice {
		fl = append(fl, "advice only")
	}
	if f.Alternative {
		fl = append(fl, "alternative")
	}
	if len(fl) > 0 {
		fmt.Fprintf(b, " — %s", strings.Join(fl, ", "))
	}
	b.WriteString("\n")
	if f.Description != "" {
		fmt.Fprintf(b, "\n   %s\n", mdText(oneLine(f.Description)))
	}
	if f.Affects != "" {
		fmt.Fprintf(b, "\n   Affects: %s\n", mdText(oneLine(f.Affects)))
	}
	if len(f.JudgedAgainst) > 0 {
		fmt.Fprintf(b, "\n   Judged against: %s\n", mdText(oneLine(strings.Join(f.JudgedAgainst, "; "))))
	}
	if len(f.Commands) > 0 {
		b.WriteString("\n")
		mdFence(b, "   ", "sh", strings.Join(f.Commands, "\n"))
	}
	b.WriteString("\n")
}

// mdFence writes a fenced code block, indented to sit inside a list item, with a fence longer than any
// run of backticks in the content.
func mdFence(b *strings.Builder, indent, lang, content string) {
	content = strings.TrimRight(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	fence := strings.Repeat("`", max(3, longestRun(content, '`')+1))
	fmt.Fprintf(b, "%s%s%s\n", indent, fence, lang)
	for _, line := range strings.Split(content, "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(b, "%s%s\n", indent, line)
	}
	fmt.Fprintf(b, "%s%s\n", indent, fence)
}

// mdCode is an inline code span that survives backticks in its content. Empty stays visible as "-".
func mdCode(s string) string {
	s = oneLine(s)
	if s == "" {
		return "-"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell is a code span inside a table cell: GFM splits cells on | even inside code.
func mdCell(s string) string { return tableEscape(mdCode(s)) }

func tableEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\|`, "|"), "|", `\|`)
}

// mdEscaper backslash-escapes what could start emphasis, code, links, HTML or break a table.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "|", `\|`,
)

// mdText is plain text for Markdown: escaped, with [REDACTED] kept readable (it cannot form a link
// on its own).
func mdText(s string) string {
	return strings.ReplaceAll(mdEscaper.Replace(s), `\[REDACTED\]`, Redacted)
}

func longestRun(s string, c byte) int {
	longest, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			longest = max(longest, cur)
		} else {
			cur = 0
		}
	}
	return longest
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
