package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/safeout/poison"
)

// Every renderer, including the streaming events with Verbose (each step and its command) and the
// report-level fields (target, where, NotTested), leaves no escape, control, bidi or invisible
// character and no secret: the fields are poisoned one by one and together.
func TestEveryRendererIsSanitisedAndRedacted(t *testing.T) {
	p := poison.Value
	res := checks.Result{ID: "sa-token-401", Title: p("title"), Status: checks.Fail, Cause: "sa-recreated", Summary: p("summary"),
		Path:     []string{p("path")},
		Evidence: []checks.Evidence{{Step: p("step"), Status: checks.Fail, Detail: p("detail"), Command: p("command")}},
		Fixes: []*fixes.Plan{{ID: p("fix-id"), Title: p("fix-title"), Description: p("fix-description"), Affects: p("affects"),
			JudgedAgainst: []string{p("judged-against")}, Diff: p("diff"), Commands: []string{p("fix-command")}}},
		Duration: time.Second}
	target := checks.Target{Project: p("project"), Location: p("location"), Cluster: p("cluster"), Namespace: p("ns"), Context: p("context")}
	rep := New("audit", p("version"), target, time.Unix(0, 0), time.Second, []checks.Result{res})
	rep.Where = p("where")
	rep.NotTested = []string{p("not-tested")}
	check := func(name, out string, color bool) {
		t.Helper()
		for _, l := range poison.Leaks(out, color) {
			t.Errorf("%s: %s", name, l)
		}
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	check("json", b.String(), false)
	if !json.Valid(b.Bytes()) {
		t.Error("json: not valid JSON")
	}
	for name, w := range map[string]func(*bytes.Buffer) error{
		"markdown": func(b *bytes.Buffer) error { return WriteMarkdown(b, rep) },
		"junit":    func(b *bytes.Buffer) error { return WriteJUnit(b, rep) },
	} {
		b.Reset()
		if err := w(&b); err != nil {
			t.Fatal(err)
		}
		check(name, b.String(), false)
	}
	for _, color := range []bool{false, true} {
		b.Reset()
		txt := NewText(&b, TextOptions{Color: color, Verbose: true})
		txt.Event(checks.Event{Kind: checks.EventStarted, CheckID: p("id")})
		txt.Event(checks.Event{Kind: checks.EventStep, CheckID: p("id"), Step: &res.Evidence[0]})
		txt.Event(checks.Event{Kind: checks.EventFinished, CheckID: p("id"), Result: &res})
		if err := txt.Final(rep); err != nil {
			t.Fatal(err)
		}
		check("text", b.String(), color)
		if !bytes.Contains(b.Bytes(), []byte("not-tested")) || !bytes.Contains(b.Bytes(), []byte("[REDACTED]")) {
			t.Errorf("text: the poisoned fields did not reach the output: the test shows nothing")
		}
	}
}
