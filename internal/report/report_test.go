package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

func writeJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return buf.Bytes()
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("emitted JSON does not parse: %v\n%s", err, b)
	}
	return v
}

func TestJSONReportValidatesAgainstSchema(t *testing.T) {
	sch := compileSchema(t)
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			out := writeJSON(t, f.build())
			if !bytes.HasSuffix(out, []byte("}\n")) {
				t.Errorf("JSON does not end with a newline: %q", out[max(0, len(out)-10):])
			}
			if !bytes.Contains(out, []byte("\n  \"tool\": {")) {
				t.Errorf("JSON is not indented:\n%s", out)
			}
			if err := sch.Validate(decode(t, out)); err != nil {
				t.Fatalf("report does not validate against report-v1 schema: %v\n%s", err, out)
			}
		})
	}
}

func TestJSONReportShape(t *testing.T) {
	out := writeJSON(t, fixtures()[0].build())
	var m struct {
		SchemaVersion int            `json:"schemaVersion"`
		Tool          map[string]any `json:"tool"`
		Mode          string         `json:"mode"`
		Target        map[string]any `json:"target"`
		StartedAt     string         `json:"startedAt"`
		DurationMs    int64          `json:"durationMs"`
		Where         string         `json:"where"`
		ReadOnly      bool           `json:"readOnly"`
		NotTested     []string       `json:"notTested"`
		Results       []struct {
			ID, Status, Cause string
			Evidence          []map[string]any
			Fixes             []map[string]any
			DurationMs        int64
			Parent            string
		} `json:"results"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 1 || m.Tool["name"] != "gkedoctor" || m.Tool["version"] != "v0.3.0" || m.Mode != "audit" {
		t.Errorf("header = %d %v %q", m.SchemaVersion, m.Tool, m.Mode)
	}
	if m.StartedAt != "2026-03-14T03:07:09Z" || m.DurationMs != 3210 {
		t.Errorf("startedAt/durationMs = %q/%d", m.StartedAt, m.DurationMs)
	}
	if m.Target["context"] != fixtureTarget.Context || m.Target["cluster"] != "dev-orchestra-cluster" {
		t.Errorf("target = %v", m.Target)
	}
	if m.Where != "laptop" || !m.ReadOnly || len(m.NotTested) != 1 {
		t.Errorf("where/readOnly/notTested = %q %v %v", m.Where, m.ReadOnly, m.NotTested)
	}
	want := map[string]int{"pass": 1, "fail": 1, "warn": 1, "skip": 1, "error": 1}
	for k, v := range want {
		if m.Summary[k] != v {
			t.Errorf("summary[%s] = %d, want %d (summary %v)", k, m.Summary[k], v, m.Summary)
		}
	}
	first := m.Results[0]
	if first.Status != "pass" || first.Cause != "" {
		t.Errorf("pass result keeps cause %q", first.Cause)
	}
	if first.Parent != "clusterip-unreachable" || first.DurationMs != 120 {
		t.Errorf("parent/duration = %q/%d", first.Parent, first.DurationMs)
	}
	if m.Results[1].Fixes[0]["commands"] == nil || len(m.Results[1].Fixes) != 2 {
		t.Errorf("fixes = %v", m.Results[1].Fixes)
	}
	// Commands keep shell characters unescaped (no \u003e for >).
	if bytes.Contains(out, []byte(`\u003e`)) || bytes.Contains(out, []byte(`\u0026`)) {
		t.Errorf("JSON escapes HTML characters in commands")
	}
}

func TestJSONArraysAreNeverNull(t *testing.T) {
	for name, r := range map[string]*Report{
		"built_by_New_from_nil_slices": New("audit", "dev", checks.Target{}, fixtureStart, 0,
			[]checks.Result{{ID: "x", Status: checks.Skip, Summary: "no cluster"}}),
		"built_by_hand": {SchemaVersion: 1, Tool: Tool{Name: ToolName}, Mode: "audit", StartedAt: "2026-01-01T00:00:00Z",
			Results: []Result{{ID: "x", Status: checks.Fail, Cause: "c", Fixes: []Fix{{ID: "f"}}}}},
		"hand_built_without_results": {SchemaVersion: 1, Tool: Tool{Name: ToolName}, Mode: "audit", StartedAt: "2026-01-01T00:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			out := writeJSON(t, r)
			if bytes.Contains(out, []byte("null")) {
				t.Errorf("JSON contains null:\n%s", out)
			}
			if err := compileSchema(t).Validate(decode(t, out)); err != nil {
				t.Errorf("does not validate: %v\n%s", err, out)
			}
		})
	}
}

// The schema must be able to say no, or validating against it proves nothing.
func TestSchemaRejectsReportsThatBreakTheContract(t *testing.T) {
	sch := compileSchema(t)
	valid := writeJSON(t, fixtures()[0].build())
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"bad_result_status", func(m map[string]any) { result(m, 1)["status"] = "failed" }},
		{"bad_evidence_status", func(m map[string]any) {
			result(m, 1)["evidence"].([]any)[0].(map[string]any)["status"] = "ok"
		}},
		{"missing_schemaVersion", func(m map[string]any) { delete(m, "schemaVersion") }},
		{"wrong_schemaVersion", func(m map[string]any) { m["schemaVersion"] = 2 }},
		{"missing_results", func(m map[string]any) { delete(m, "results") }},
		{"null_evidence", func(m map[string]any) { result(m, 1)["evidence"] = nil }},
		{"null_fixes", func(m map[string]any) { result(m, 1)["fixes"] = nil }},
		{"cause_on_pass", func(m map[string]any) { result(m, 0)["cause"] = "something" }},
		{"skip_without_reason", func(m map[string]any) { result(m, 3)["summary"] = "" }},
		{"missing_summary_count", func(m map[string]any) { delete(m["summary"].(map[string]any), "error") }},
		{"negative_duration", func(m map[string]any) { m["durationMs"] = -1 }},
		{"startedAt_not_RFC3339", func(m map[string]any) { m["startedAt"] = "14/03/2026 03:07" }},
		{"fix_without_commands", func(m map[string]any) {
			delete(result(m, 1)["fixes"].([]any)[0].(map[string]any), "commands")
		}},
		{"target_missing_context", func(m map[string]any) { delete(m["target"].(map[string]any), "context") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(valid, &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = sch.Validate(decode(t, b))
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("schema accepted a report with %s (err=%v)", tt.name, err)
			}
		})
	}
	t.Run("extra_fields_are_allowed", func(t *testing.T) {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		m["applied"] = []any{map[string]any{"fix": "x"}}
		result(m, 1)["confidence"] = "high"
		b, _ := json.Marshal(m)
		if err := sch.Validate(decode(t, b)); err != nil {
			t.Errorf("schema rejects added fields (the contract allows them): %v", err)
		}
	})
}

func result(m map[string]any, i int) map[string]any {
	return m["results"].([]any)[i].(map[string]any)
}

func TestSchemaIsDraft202012(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(SchemaJSON, &s); err != nil {
		t.Fatalf("embedded schema is not JSON: %v", err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", s["$schema"])
	}
}

func TestNewEnforcesTheContract(t *testing.T) {
	in := []checks.Result{
		{ID: "a", Status: checks.Pass, Cause: "leftover", Summary: "fine", Duration: 1500 * time.Microsecond},
		{ID: "b", Status: "ok", Summary: "made up status"},
		{ID: "c", Status: checks.Skip},
		{ID: "d", Status: checks.Fail, Cause: "x", Fixes: []*fixes.Plan{nil, {ID: "p", Title: "P"}},
			Evidence: []checks.Evidence{{Step: "s", Status: "info"}}},
		{ID: "e", Status: checks.Warn, Cause: "neg", Duration: -time.Second},
	}
	r := New("fix", "dev", fixtureTarget, time.Date(2026, 3, 14, 4, 7, 9, 5e8, time.FixedZone("CET", 3600)), 2*time.Second, in)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"startedAt_is_RFC3339_UTC", r.StartedAt, "2026-03-14T03:07:09Z"},
		{"fix_mode_is_not_assumed_read_only", r.ReadOnly, false},
		{"pass_has_no_cause", r.Results[0].Cause, ""},
		{"duration_in_ms", r.Results[0].DurationMs, int64(1)},
		{"invalid_status_becomes_error", r.Results[1].Status, checks.Error},
		{"invalid_status_is_said", strings.Contains(r.Results[1].Summary, `invalid status "ok"`), true},
		{"skip_always_has_a_reason", r.Results[2].Summary != "", true},
		{"nil_plan_dropped", len(r.Results[3].Fixes), 1},
		{"plan_commands_never_nil", r.Results[3].Fixes[0].Commands != nil, true},
		{"invalid_step_status_becomes_error", r.Results[3].Evidence[0].Status, checks.Error},
		{"negative_duration_is_zero", r.Results[4].DurationMs, int64(0)},
		{"evidence_never_nil", r.Results[0].Evidence != nil, true},
		{"summary_counts", r.Summary, Summary{Pass: 1, Fail: 1, Warn: 1, Skip: 1, Error: 1}},
		{"input_not_mutated", in[0].Cause, "leftover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if a := New("audit", "dev", fixtureTarget, fixtureStart, 0, nil); !a.ReadOnly || a.Results == nil {
		t.Errorf("audit report: readOnly=%v results=%v", a.ReadOnly, a.Results)
	}
}

func TestExitCode(t *testing.T) {
	rs := func(ss ...checks.Status) []checks.Result {
		out := make([]checks.Result, len(ss))
		for i, s := range ss {
			out[i] = checks.Result{ID: string(s), Status: s}
		}
		return out
	}
	tests := []struct {
		name    string
		results []checks.Result
		want    int
	}{
		{"no_results", nil, 0},
		{"all_pass", rs(checks.Pass, checks.Pass), 0},
		{"pass_and_skip", rs(checks.Pass, checks.Skip), 0},
		{"only_skips_nothing_could_be_checked", rs(checks.Skip, checks.Skip), 3},
		{"one_skip", rs(checks.Skip), 3},
		{"one_fail", rs(checks.Pass, checks.Fail), 1},
		{"one_warn", rs(checks.Warn, checks.Pass), 1},
		{"error_counts_as_1_the_run_could_not_vouch", rs(checks.Pass, checks.Error), 1},
		{"unknown_status_counts_as_1", rs(checks.Pass, "maybe"), 1},
		{"everything", rs(checks.Pass, checks.Fail, checks.Warn, checks.Skip, checks.Error), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.results); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderersReportWriteErrorsAndNilReports(t *testing.T) {
	r := fixtures()[0].build()
	for name, fn := range map[string]func(w *bytes.Buffer, fail bool, r *Report) error{
		"json": func(w *bytes.Buffer, fail bool, r *Report) error {
			if fail {
				return WriteJSON(failingWriter{}, r)
			}
			return WriteJSON(w, r)
		},
		"markdown": func(w *bytes.Buffer, fail bool, r *Report) error {
			if fail {
				return WriteMarkdown(failingWriter{}, r)
			}
			return WriteMarkdown(w, r)
		},
		"junit": func(w *bytes.Buffer, fail bool, r *Report) error {
			if fail {
				return WriteJUnit(failingWriter{}, r)
			}
			return WriteJUnit(w, r)
		},
		"text": func(w *bytes.Buffer, fail bool, r *Report) error {
			if fail {
				return NewText(failingWriter{}, TextOptions{}).Final(r)
			}
			return NewText(w, TextOptions{}).Final(r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := fn(nil, true, r); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("write error not returned: %v", err)
			}
			var buf bytes.Buffer
			if err := fn(&buf, false, nil); err == nil {
				t.Errorf("nil report accepted")
			}
		})
	}
}
