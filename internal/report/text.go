package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// TextOptions set how the terminal text looks. The caller decides Color (see ColorEnabled).
type TextOptions struct {
	Color   bool // ANSI SGR colour; the text is the same with or without it
	Verbose bool // also print started events and each evidence step as it is recorded
}

// Text renders a run for a terminal: one line per finished check as it arrives (Event), then a summary
// block with the cause, evidence, equivalent commands and fixes of everything that needs attention
// (Final). Every status glyph is followed by its status word, so a screen reader or a terminal without
// colour loses nothing. Text is safe for concurrent use.
type Text struct {
	w    io.Writer
	opts TextOptions
	mu   sync.Mutex
	err  error // the first write error; later writes are skipped
}

// NewText returns a text renderer writing to w.
func NewText(w io.Writer, opts TextOptions) *Text { return &Text{w: w, opts: opts} }

// ColorEnabled reports whether colour should be used on out: it is a terminal, NO_COLOR is not set (to
// anything, even empty) and TERM is not "dumb".
func ColorEnabled(out *os.File) bool {
	if out == nil {
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(out.Fd())
}

// Err returns the first error writing to the output, if any. Event cannot return one (it is the
// engine's callback); Final returns it too.
func (t *Text) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Event prints a progress event: one line for a finished check; started events and steps only when
// Verbose. It has the engine's callback signature, so NewText(...).Event can be handed to Engine.Run.
func (t *Text) Event(ev checks.Event) {
	var b strings.Builder
	switch ev.Kind {
	case checks.EventFinished:
		if ev.Result == nil {
			fmt.Fprintf(&b, "%s  %s  %s\n", t.statusLabel(checks.Error), t.bold(safeout.Line(ev.CheckID)), "finished without a result (a bug in the engine)")
			break
		}
		r := fromCheck(*ev.Result).mapStrings(redactAndSanitize)
		if r.ID == "" {
			r.ID = ev.CheckID
		}
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", t.statusLabel(r.Status), t.bold(r.ID), oneLine(r.Summary), t.dim("("+formatDuration(ev.Result.Duration)+")"))
	case checks.EventStarted:
		if t.opts.Verbose {
			fmt.Fprintf(&b, "%s %s started\n", t.dim("…"), safeout.Line(ev.CheckID))
		}
	case checks.EventStep:
		if t.opts.Verbose && ev.Step != nil {
			st := ev.Step.Status
			if !validStatus(st) {
				st = checks.Error
			}
			id := safeout.Line(ev.CheckID)
			fmt.Fprintf(&b, "    %s: %s  %s\n", id, t.statusLabel(st), stepLine(safeout.Text(ev.Step.Step), safeout.Text(ev.Step.Detail)))
			if ev.Step.Command != "" {
				// "$" under the glyph: past "    ID: ".
				fmt.Fprintf(&b, "    %s$ %s\n", strings.Repeat(" ", len([]rune(id))+2), oneLine(safeout.Command(ev.Step.Command)))
			}
		}
	}
	t.write(b.String())
}

// Final prints the summary block: counts, where the run happened and what it could not test, then for
// every fail, warn and error its cause, evidence with the equivalent commands, its fixes and what to
// run next, then the skipped checks with their reasons (a skip is never a pass).
func (t *Text) Final(r *Report) error {
	if r == nil {
		return fmt.Errorf("write text report: no report")
	}
	r = r.mapStrings(redactAndSanitize)
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "\n%s %s, %s, %s, %s, %s  %s\n", t.bold("Summary:"),
		t.count(checks.Pass, s.Pass), t.count(checks.Fail, s.Fail), t.count(checks.Warn, s.Warn),
		t.count(checks.Skip, s.Skip), t.count(checks.Error, s.Error),
		t.dim(fmt.Sprintf("(%s in %s)", plural(s.Total(), "check"), formatDuration(time.Duration(r.DurationMs)*time.Millisecond))))
	where := r.Where
	if where == "" {
		where = "unknown"
	}
	ro := "changes allowed"
	if r.ReadOnly {
		ro = "read-only"
	}
	fmt.Fprintf(&b, "Ran from: %s (%s, %s)\n", where, r.Mode, ro)
	if len(r.NotTested) > 0 {
		b.WriteString("Not tested from here:\n")
		for _, n := range r.NotTested {
			fmt.Fprintf(&b, "  - %s\n", indentRest(n, "    "))
		}
	}
	if len(r.Results) == 0 {
		b.WriteString("\nNo checks ran.\n")
	}
	var skipped []Result
	for _, res := range r.Results {
		switch res.Status {
		case checks.Pass:
			continue
		case checks.Skip:
			skipped = append(skipped, res)
			continue
		}
		t.attention(&b, res)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "\n%s\n", t.bold("Skipped (could not look; not a pass):"))
		// Checks skipped for one reason share one line with the command that fixes it; a reason
		// met once keeps its check's own line.
		for _, g := range groupSkips(skipped) {
			if len(g.results) == 1 {
				res := g.results[0]
				fmt.Fprintf(&b, "  %s  %s  %s\n", t.statusLabel(res.Status), t.bold(res.ID), oneLine(res.Summary))
				continue
			}
			ids := make([]string, len(g.results))
			for i, res := range g.results {
				ids[i] = res.ID
			}
			fmt.Fprintf(&b, "  %s  %s\n", t.statusLabel(checks.Skip), g.line())
			fmt.Fprintf(&b, "           %s\n", t.dim(strings.Join(ids, ", ")))
		}
	}
	t.write(b.String())
	return t.Err()
}

// attention writes the block of one result that needs attention.
func (t *Text) attention(b *strings.Builder, res Result) {
	title := ""
	if res.Title != "" {
		title = "  " + res.Title
	}
	fmt.Fprintf(b, "\n%s  %s%s\n", t.statusLabel(res.Status), t.bold(res.ID), title)
	fmt.Fprintf(b, "  %s\n", indentRest(res.Summary, "  "))
	if res.Cause != "" {
		fmt.Fprintf(b, "  cause: %s\n", res.Cause)
	}
	if len(res.Path) > 0 {
		fmt.Fprintf(b, "  path: %s\n", strings.Join(res.Path, " → "))
	}
	if len(res.Evidence) > 0 {
		b.WriteString("  evidence:\n")
		// Continuation lines and the command line up with the step text: "    " + "✗ fail " + "  ".
		const under = "             "
		for _, e := range res.Evidence {
			fmt.Fprintf(b, "    %s  %s\n", t.statusLabel(e.Status), indentRest(stepText(e.Step, e.Detail), under))
			if e.Command != "" {
				fmt.Fprintf(b, "%s$ %s\n", under, indentRest(e.Command, under+"  "))
			}
		}
	}
	canApply := false
	if len(res.Fixes) > 0 {
		b.WriteString("  fixes:\n")
		for _, f := range res.Fixes {
			if !f.Advice {
				canApply = true
			}
			fmt.Fprintf(b, "    • %s%s\n", oneLine(f.Title), t.flags(f))
			if f.ID != "" {
				fmt.Fprintf(b, "      %s\n", t.dim("id: "+f.ID))
			}
			if f.Affects != "" {
				fmt.Fprintf(b, "      affects: %s\n", indentRest(f.Affects, "        "))
			}
			if len(f.JudgedAgainst) > 0 {
				fmt.Fprintf(b, "      judged against: %s\n", indentRest(strings.Join(f.JudgedAgainst, "; "), "        "))
			}
			for _, c := range f.Commands {
				fmt.Fprintf(b, "      $ %s\n", indentRest(c, "        "))
			}
		}
	}
	if canApply {
		fmt.Fprintf(b, "  next: gkedoctor fix %s  ·  gkedoctor explain %s\n", res.ID, res.ID)
	} else {
		fmt.Fprintf(b, "  next: gkedoctor explain %s\n", res.ID)
	}
}

// flags are the bracketed words after a fix's title.
func (t *Text) flags(f Fix) string {
	var fl []string
	if f.Destructive {
		fl = append(fl, t.paint(sgrFail, "[destructive]"))
	}
	if f.Reversible {
		fl = append(fl, "[reversible]")
	}
	if f.VPCWide {
		fl = append(fl, t.paint(sgrWarn, "[vpc-wide]"))
	}
	if f.Advice {
		fl = append(fl, "[advice]")
	}
	if f.Alternative {
		fl = append(fl, "[alternative]")
	}
	if len(fl) == 0 {
		return ""
	}
	return " " + strings.Join(fl, " ")
}

func (t *Text) write(s string) {
	if s == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	if _, err := io.WriteString(t.w, s); err != nil {
		t.err = fmt.Errorf("write text report: %w", err)
	}
}

// ANSI SGR parameters.
const (
	sgrBold  = "1"
	sgrDim   = "2"
	sgrPass  = "32" // green
	sgrFail  = "31" // red
	sgrWarn  = "33" // yellow
	sgrSkip  = "36" // cyan: not a pass, not a problem
	sgrError = "35" // magenta: the check broke
)

func (t *Text) paint(sgr, s string) string {
	if !t.opts.Color || s == "" {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

func (t *Text) bold(s string) string { return t.paint(sgrBold, s) }
func (t *Text) dim(s string) string  { return t.paint(sgrDim, s) }

// statusLabel is the glyph and the status word, padded to the widest word so the columns line up.
func (t *Text) statusLabel(s checks.Status) string {
	return t.paint(statusSGR(s), Glyph(s)+" "+string(s)) + strings.Repeat(" ", len("error")-len(s))
}

func (t *Text) count(s checks.Status, n int) string {
	txt := fmt.Sprintf("%d %s", n, s)
	if n == 0 {
		return txt
	}
	return t.paint(statusSGR(s), txt)
}

func statusSGR(s checks.Status) string {
	switch s {
	case checks.Pass:
		return sgrPass
	case checks.Fail:
		return sgrFail
	case checks.Warn:
		return sgrWarn
	case checks.Skip:
		return sgrSkip
	default:
		return sgrError
	}
}

// Glyph is the symbol shown before a status word (checks.Status.Glyph). Always print the word after it.
func Glyph(s checks.Status) string {
	if g := s.Glyph(); g != "?" {
		return g
	}
	return checks.Error.Glyph()
}

// formatDuration is short and stable: 0ms, 340ms, 1.2s, 2m05s.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int((d%time.Minute)/time.Second))
	}
}

// stepText is "step: detail" (or either alone).
func stepText(step, detail string) string {
	switch {
	case detail == "":
		return step
	case step == "":
		return detail
	}
	return step + ": " + detail
}

func stepLine(step, detail string) string { return oneLine(stepText(step, detail)) }

// oneLine folds a string onto one line, for the streaming lines.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// plural is "1 check", "2 checks".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// indentRest indents every line after the first, so multi-line details stay under their heading.
func indentRest(s, indent string) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}
