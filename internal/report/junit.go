package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
)

// JUnit XML, the shape CI systems (Jenkins, GitLab, GitHub test reporters) read: one testsuite, one
// testcase per check.
type junitSuite struct {
	XMLName    xml.Name        `xml:"testsuite"`
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes r as JUnit XML: one <testsuite name="gkedoctor">, one <testcase
// classname="gkedoctor.PARENT-OR-ID" name="ID"> per check. fail and warn become <failure type="fail">
// or <failure type="warn"> (both count as failures, as both exit 1), error becomes <error>, skip becomes
// <skipped message="REASON"/>; the evidence is the failure's text and the case's system-out. Strings are
// redacted as for Markdown, since CI logs are read by more people than the terminal is.
func WriteJUnit(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("write JUnit report: no report")
	}
	r = r.mapStrings(redactAndSanitize)
	s := junitSuite{
		Name:      ToolName,
		Tests:     len(r.Results),
		Time:      seconds(r.DurationMs),
		Timestamp: r.StartedAt,
		Cases:     make([]junitCase, 0, len(r.Results)),
	}
	props := []junitProperty{
		{"mode", r.Mode},
		{"version", r.Tool.Version},
		{"where", r.Where},
		{"readOnly", fmt.Sprint(r.ReadOnly)},
		{"project", r.Target.Project},
		{"location", r.Target.Location},
		{"cluster", r.Target.Cluster},
		{"namespace", r.Target.Namespace},
		{"context", r.Target.Context},
	}
	for _, n := range r.NotTested {
		props = append(props, junitProperty{"notTested", n})
	}
	for _, p := range props {
		if p.Value != "" {
			s.Properties = append(s.Properties, p)
		}
	}
	for _, res := range r.Results {
		group := res.Parent
		if group == "" {
			group = res.ID
		}
		c := junitCase{
			Classname: ToolName + "." + group,
			Name:      res.ID,
			Time:      seconds(res.DurationMs),
			SystemOut: junitOut(res),
		}
		switch res.Status {
		case checks.Fail, checks.Warn:
			s.Failures++
			c.Failure = &junitProblem{Message: oneLine(res.Summary), Type: string(res.Status), Text: junitDetail(res)}
		case checks.Skip:
			s.Skipped++
			c.Skipped = &junitSkipped{Message: oneLine(res.Summary)}
		case checks.Pass:
		default:
			s.Errors++
			typ := res.Cause
			if typ == "" {
				typ = string(checks.Error)
			}
			c.Error = &junitProblem{Message: oneLine(res.Summary), Type: typ, Text: junitDetail(res)}
		}
		s.Cases = append(s.Cases, c)
	}
	out, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header+string(out)+"\n"); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	return nil
}

// junitDetail is the body of a failure or error: the cause and the evidence.
func junitDetail(res Result) string {
	var b strings.Builder
	if res.Cause != "" {
		fmt.Fprintf(&b, "cause: %s\n", res.Cause)
	}
	fmt.Fprintf(&b, "%s\n", res.Summary)
	writeEvidenceText(&b, res.Evidence)
	return b.String()
}

// junitOut is the case's system-out: title, evidence with commands, fixes with commands.
func junitOut(res Result) string {
	var b strings.Builder
	if res.Title != "" {
		fmt.Fprintf(&b, "%s\n", res.Title)
	}
	fmt.Fprintf(&b, "%s %s: %s\n", Glyph(res.Status), res.Status, res.Summary)
	writeEvidenceText(&b, res.Evidence)
	if len(res.Fixes) > 0 {
		b.WriteString("fixes:\n")
		for _, f := range res.Fixes {
			fmt.Fprintf(&b, "  - %s (%s)\n", f.Title, f.ID)
			for _, c := range f.Commands {
				fmt.Fprintf(&b, "      $ %s\n", indentRest(c, "        "))
			}
		}
	}
	return b.String()
}

func writeEvidenceText(b *strings.Builder, ev []Evidence) {
	if len(ev) == 0 {
		return
	}
	b.WriteString("evidence:\n")
	for _, e := range ev {
		fmt.Fprintf(b, "  %s %s: %s\n", Glyph(e.Status), e.Status, indentRest(stepText(e.Step, e.Detail), "    "))
		if e.Command != "" {
			fmt.Fprintf(b, "      $ %s\n", indentRest(e.Command, "        "))
		}
	}
}

func seconds(ms int64) string {
	return fmt.Sprintf("%.3f", (time.Duration(ms) * time.Millisecond).Seconds())
}
