// Package report holds the renderers for audit and fix results: the JSON report of the contract
// (DESIGN §2) with its JSON Schema, streaming terminal text, Markdown for a support ticket (redacted),
// and JUnit XML for CI. It also decides the exit code a run's results stand for.
//
// Every renderer reads one *Report built by New, so the formats cannot drift apart on what a run found.
package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// SchemaVersion is the version of the JSON report this package writes.
const SchemaVersion = 1

// ToolName is the tool's name in reports.
const ToolName = "gkedoctor"

// SchemaJSON is the JSON Schema (draft 2020-12) of the report, version 1. Consumers may validate
// `gkedoctor audit -o json` against it; the tests validate every report this package writes.
//
//go:embed schema/report-v1.schema.json
var SchemaJSON []byte

// TriageSchemaJSON is the JSON Schema of what `gkedoctor triage -o json` prints, version 1.
//
//go:embed schema/triage-v1.schema.json
var TriageSchemaJSON []byte

// Report is the JSON object of the contract (DESIGN §2). Fields may be added, never renamed.
type Report struct {
	SchemaVersion int    `json:"schemaVersion"`
	Tool          Tool   `json:"tool"`
	Mode          string `json:"mode"` // "audit" or "fix"
	Target        Target `json:"target"`
	StartedAt     string `json:"startedAt"` // RFC3339, UTC
	DurationMs    int64  `json:"durationMs"`
	// Where the tool ran (checks.Where: "laptop", "in VPC", …); it decides which live probes were possible.
	Where string `json:"where,omitempty"`
	// ReadOnly is true when nothing could be changed during the run (always for audit).
	ReadOnly bool `json:"readOnly"`
	// NotTested lists what could not be tested from where the tool ran. Absent when the caller did not
	// say; an empty list is not a claim that everything was tested.
	NotTested []string `json:"notTested,omitempty"`
	Results   []Result `json:"results"`
	Summary   Summary  `json:"summary"`
	// Observations are what `gkedoctor check --from …` saw live from its vantage points, beside the
	// checks' predictions (absent from audit and fix reports).
	Observations json.RawMessage `json:"observations,omitempty"`
	// Triage is what `gkedoctor triage --run` recognised in the text it was given (its matches,
	// extracted targets and the checks it chose); absent from other reports.
	Triage json.RawMessage `json:"triage,omitempty"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Target is what the run was about. Its own type (not checks.Target) so the contract's field names
// cannot change with an internal refactor.
type Target struct {
	Project   string `json:"project"`
	Location  string `json:"location"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Context   string `json:"context"`
}

// Result is one check's outcome in the report.
type Result struct {
	ID         string        `json:"id"`
	Title      string        `json:"title"`
	Status     checks.Status `json:"status"`
	Cause      string        `json:"cause"` // "" on pass
	Summary    string        `json:"summary"`
	Evidence   []Evidence    `json:"evidence"` // never null
	Fixes      []Fix         `json:"fixes"`    // never null
	DurationMs int64         `json:"durationMs"`
	Parent     string        `json:"parent,omitempty"` // the primary check a supporting check belongs to
	Path       []string      `json:"path,omitempty"`   // the path analysed: source → … → target
}

// Evidence is one thing a check looked at and the command a person could run to see it too.
type Evidence struct {
	Step    string        `json:"step"`
	Status  checks.Status `json:"status"`
	Detail  string        `json:"detail"`
	Command string        `json:"command"`
}

// Fix is a proposed fix as the report shows it: what it is, how risky, and the equivalent commands.
type Fix struct {
	ID          string `json:"id"`
	Check       string `json:"check,omitempty"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Destructive bool   `json:"destructive"`
	Reversible  bool   `json:"reversible"`
	VPCWide     bool   `json:"vpcWide"`
	Advice      bool   `json:"advice"`
	Alternative bool   `json:"alternative,omitempty"`
	Affects     string `json:"affects,omitempty"`
	// JudgedAgainst is what else uses what the fix changes, as judged when the plan was built.
	JudgedAgainst []string `json:"judgedAgainst,omitempty"`
	Diff          string   `json:"diff,omitempty"`
	Commands      []string `json:"commands"` // never null
}

// Summary counts results by status.
type Summary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Skip  int `json:"skip"`
	Error int `json:"error"`
}

// Total is the number of results counted.
func (s Summary) Total() int { return s.Pass + s.Fail + s.Warn + s.Skip + s.Error }

// New builds the report of one run. It copies what it needs (the report does not alias results) and
// enforces the contract's invariants even if a result slipped past the engine: a valid status (anything
// else becomes error, saying so), no cause on pass, a reason on skip, arrays rather than nulls.
func New(mode string, version string, target checks.Target, startedAt time.Time, duration time.Duration, results []checks.Result) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: ToolName, Version: version},
		Mode:          mode,
		Target: Target{
			Project:   target.Project,
			Location:  target.Location,
			Cluster:   target.Cluster,
			Namespace: target.Namespace,
			Context:   target.Context,
		},
		StartedAt:  startedAt.UTC().Format(time.RFC3339),
		DurationMs: nonNegMs(duration),
		ReadOnly:   mode == "audit", // audit is read-only by construction; callers set it for other modes
		Results:    make([]Result, 0, len(results)),
	}
	for _, cr := range results {
		r.Results = append(r.Results, fromCheck(cr))
	}
	r.Summary = summarize(r.Results)
	return r
}

func fromCheck(cr checks.Result) Result {
	res := Result{
		ID:         cr.ID,
		Title:      cr.Title,
		Status:     cr.Status,
		Cause:      cr.Cause,
		Summary:    Redact(cr.Summary),
		Evidence:   make([]Evidence, 0, len(cr.Evidence)),
		Fixes:      make([]Fix, 0, len(cr.Fixes)),
		DurationMs: nonNegMs(cr.Duration),
		Parent:     cr.Parent,
	}
	if len(cr.Path) > 0 {
		for _, p := range cr.Path {
			res.Path = append(res.Path, Redact(p))
		}
	}
	if !validStatus(res.Status) {
		res.Summary = fmt.Sprintf("the check returned an invalid status %q: %s", res.Status, res.Summary)
		res.Status = checks.Error
		if res.Cause == "" {
			res.Cause = "invalid-status"
		}
	}
	switch res.Status {
	case checks.Pass:
		res.Cause = ""
	case checks.Skip:
		if res.Summary == "" {
			res.Summary = "skipped without a reason (a bug in the check)"
		}
	}
	for _, e := range cr.Evidence {
		// Every output carries the redaction, not only the ticket formats: a terminal is screen-shared too.
		ev := Evidence{Step: Redact(e.Step), Status: e.Status, Detail: Redact(e.Detail), Command: Redact(e.Command)}
		if !validStatus(ev.Status) {
			ev.Detail = fmt.Sprintf("(invalid step status %q) %s", ev.Status, ev.Detail)
			ev.Status = checks.Error
		}
		res.Evidence = append(res.Evidence, ev)
	}
	for _, p := range cr.Fixes {
		if p == nil {
			continue
		}
		res.Fixes = append(res.Fixes, fromPlan(p))
	}
	return res
}

func fromPlan(p *fixes.Plan) Fix {
	f := Fix{
		ID:          p.ID,
		Check:       p.Check,
		Title:       p.Title,
		Description: Redact(p.Description),
		Destructive: p.Destructive,
		Reversible:  p.Reversible,
		VPCWide:     p.VPCWide,
		Advice:      p.Advice,
		Alternative: p.Alternative,
		Affects:     p.Affects,
		Diff:        Redact(p.Diff),
		JudgedAgainst: func() []string {
			if len(p.JudgedAgainst) == 0 {
				return nil
			}
			out := make([]string, 0, len(p.JudgedAgainst))
			for _, j := range p.JudgedAgainst {
				out = append(out, Redact(j))
			}
			return out
		}(),
		Commands: make([]string, 0, len(p.Commands)),
	}
	for _, c := range p.Commands {
		f.Commands = append(f.Commands, Redact(c))
	}
	return f
}

func validStatus(s checks.Status) bool {
	switch s {
	case checks.Pass, checks.Fail, checks.Warn, checks.Skip, checks.Error:
		return true
	}
	return false
}

func summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		switch r.Status {
		case checks.Pass:
			s.Pass++
		case checks.Fail:
			s.Fail++
		case checks.Warn:
			s.Warn++
		case checks.Skip:
			s.Skip++
		default:
			s.Error++
		}
	}
	return s
}

func nonNegMs(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return d.Milliseconds()
}

// ExitCodeNothingChecked is the exit code of a run in which every check skipped: nothing could be
// checked (a CI job that lost its credentials must not turn green).
const ExitCodeNothingChecked = 3

// NothingCheckedLine is the text report's last line when every check skipped.
const NothingCheckedLine = "Nothing could be checked: every check skipped (exit 3). Give the run what the skips above ask for."

// ExitCode is the process exit code the results stand for (DESIGN §1): 0 when every result passed or
// was skipped and at least one passed (or there are none), 3 when every result skipped, 1 when any
// failed, warned or errored. An error counts as 1 because the run could not vouch for that check; a
// status this package does not know counts as 1 for the same reason. Usage errors (exit 2) are decided
// before any check runs, not here.
func ExitCode(results []checks.Result) int {
	skipped := 0
	for _, r := range results {
		switch r.Status {
		case checks.Pass:
		case checks.Skip:
			skipped++
		default:
			return 1
		}
	}
	if len(results) > 0 && skipped == len(results) {
		return ExitCodeNothingChecked
	}
	return 0
}

// WriteJSON writes r as indented JSON with a trailing newline. HTML characters are not escaped so
// commands such as `2>&1` stay readable. Every string is redacted and sanitised like in the other
// formats (a consumer may print a field to a terminal), and whatever JSON encoding would leave raw
// (C1, bidi, zero-width characters) is escaped as \uXXXX.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write JSON report: no report")
	}
	// Every line of the document stands alone (MarshalJSON indents; no string spans a line): the safe
	// writer under the command's output redacts it line by line (safeout.Writer.WriteLines).
	write := w.Write
	if lw, ok := w.(interface{ WriteLines([]byte) (int, error) }); ok {
		write = lw.WriteLines
	}
	// The results are encoded one at a time, into the place the whole document gives them: a large
	// audit's report is megabytes, and encoding it whole held it three times over at the end of the
	// run (the redacted copy, the encoder's buffer, the escaped bytes). The bytes are the same.
	head := *r
	head.Results = nil
	b, err := MarshalJSON(head.mapStrings(redactAndSanitize))
	if err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	const empty = "\n  \"results\": [],\n"
	at := bytes.Index(b, []byte(empty))
	if at < 0 && len(r.Results) > 0 { // not where it is expected: the whole document at once
		if b, err = MarshalJSON(r.mapStrings(redactAndSanitize)); err != nil {
			return fmt.Errorf("write JSON report: %w", err)
		}
	}
	if len(r.Results) == 0 || at < 0 {
		if _, err := write(b); err != nil {
			return fmt.Errorf("write JSON report: %w", err)
		}
		return nil
	}
	open, rest := b[:at+len(empty)-len("],\n")], b[at+len(empty)-len(",\n"):] // …"results": [ and ,\n  "summary"…
	if _, err := write(append(append([]byte(nil), open...), '\n')); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	var line []byte // reused from result to result: writers do not keep what they are given
	for i, res := range r.Results {
		safe := res.normalized().mapStrings(redactAndSanitize)
		line = safeout.EscapeJSON(appendResultJSON(append(line[:0], "    "...), &safe, "    "))
		if i < len(r.Results)-1 {
			line = append(line, ',')
		}
		line = append(line, '\n')
		if _, err := write(line); err != nil {
			return fmt.Errorf("write JSON report: %w", err)
		}
	}
	if _, err := write(append([]byte("  ]"), rest...)); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// MarshalJSON encodes v the way the reports are written: indented, HTML characters kept, a trailing
// newline, and every character safeout would remove escaped as \uXXXX. Strings in v should already
// have been through safeout.Text.
func MarshalJSON(v any) ([]byte, error) {
	b, err := marshalJSON(v, "")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// marshalJSON is MarshalJSON for a value written at an indentation of prefix, without the newline.
func marshalJSON(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return safeout.EscapeJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// normalized returns a copy of r whose arrays are never nil, so a Report built by hand (not by New)
// still renders with the contract's arrays rather than null.
func (r *Report) normalized() *Report {
	c := *r
	c.Results = make([]Result, len(r.Results))
	for i, res := range r.Results {
		c.Results[i] = res.normalized()
	}
	return &c
}

// normalized returns res with its arrays never nil.
func (res Result) normalized() Result {
	if res.Evidence == nil {
		res.Evidence = []Evidence{}
	}
	if res.Fixes == nil {
		res.Fixes = []Fix{}
	} else {
		fs := make([]Fix, len(res.Fixes))
		for j, f := range res.Fixes {
			if f.Commands == nil {
				f.Commands = []string{}
			}
			fs[j] = f
		}
		res.Fixes = fs
	}
	return res
}
