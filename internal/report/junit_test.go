package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// The JUnit shape as a CI system reads it, declared independently of the writer's types.
type parsedSuite struct {
	XMLName    xml.Name `xml:"testsuite"`
	Name       string   `xml:"name,attr"`
	Tests      int      `xml:"tests,attr"`
	Failures   int      `xml:"failures,attr"`
	Errors     int      `xml:"errors,attr"`
	Skipped    int      `xml:"skipped,attr"`
	Time       string   `xml:"time,attr"`
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []struct {
		Classname string `xml:"classname,attr"`
		Name      string `xml:"name,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Type    string `xml:"type,attr"`
			Message string `xml:"message,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Error *struct {
			Type    string `xml:"type,attr"`
			Message string `xml:"message,attr"`
			Text    string `xml:",chardata"`
		} `xml:"error"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	} `xml:"testcase"`
}

func parseJUnit(t *testing.T, r *Report) (parsedSuite, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	var s parsedSuite
	if err := xml.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, buf.String())
	}
	return s, buf.String()
}

func TestJUnitCounts(t *testing.T) {
	tests := []struct {
		fixture                          string
		tests, failures, errors, skipped int
		time                             string
	}{
		{"all_statuses", 5, 2, 1, 1, "3.210"}, // warn counts as a failure: both exit 1
		{"empty", 0, 0, 0, 0, "3.210"},
		{"fixes_with_commands", 1, 1, 0, 0, "3.210"},
		{"unicode", 2, 1, 0, 0, "3.210"},
		{"invalid_status", 1, 0, 1, 0, "3.210"},
	}
	byName := map[string]fixture{}
	for _, f := range fixtures() {
		byName[f.name] = f
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			s, raw := parseJUnit(t, byName[tt.fixture].build())
			if !strings.HasPrefix(raw, `<?xml version="1.0" encoding="UTF-8"?>`) {
				t.Errorf("no XML declaration")
			}
			if s.Name != "gkedoctor" || s.Tests != tt.tests || s.Failures != tt.failures || s.Errors != tt.errors ||
				s.Skipped != tt.skipped || s.Time != tt.time || len(s.Cases) != tt.tests {
				t.Errorf("suite %q tests=%d failures=%d errors=%d skipped=%d time=%s cases=%d; want %d/%d/%d/%d %s",
					s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, len(s.Cases),
					tt.tests, tt.failures, tt.errors, tt.skipped, tt.time)
			}
		})
	}
}

func TestJUnitCaseMapping(t *testing.T) {
	s, _ := parseJUnit(t, fixtures()[0].build())
	type want struct {
		classname, kind, typ, message string
	}
	wants := map[string]want{
		"run-vpc-egress":        {"gkedoctor.clusterip-unreachable", "pass", "", ""},
		"clusterip-unreachable": {"gkedoctor.clusterip-unreachable", "failure", "fail", "Cloud Run calls development-agent"},
		"dns-stale-record":      {"gkedoctor.dns-stale-record", "failure", "warn", "An A record in the GKE-managed zone"},
		"sa-token-401":          {"gkedoctor.sa-token-401", "skipped", "", "no --workload given"},
		"websocket-handshake":   {"gkedoctor.websocket-handshake", "error", "check-timeout", "the check did not finish"},
	}
	if len(s.Cases) != len(wants) {
		t.Fatalf("%d cases", len(s.Cases))
	}
	for _, c := range s.Cases {
		t.Run(c.Name, func(t *testing.T) {
			w, ok := wants[c.Name]
			if !ok {
				t.Fatalf("unexpected case %q", c.Name)
			}
			if c.Classname != w.classname {
				t.Errorf("classname = %q, want %q", c.Classname, w.classname)
			}
			kinds := 0
			for _, present := range []bool{c.Failure != nil, c.Error != nil, c.Skipped != nil} {
				if present {
					kinds++
				}
			}
			switch w.kind {
			case "pass":
				if kinds != 0 {
					t.Errorf("a pass carries failure/error/skipped")
				}
			case "failure":
				if kinds != 1 || c.Failure == nil || c.Failure.Type != w.typ || !strings.HasPrefix(c.Failure.Message, w.message) {
					t.Errorf("failure = %+v, want type %q message %q…", c.Failure, w.typ, w.message)
				} else if !strings.Contains(c.Failure.Text, "evidence:") {
					t.Errorf("failure text lacks the evidence: %q", c.Failure.Text)
				}
			case "skipped":
				if kinds != 1 || c.Skipped == nil || !strings.HasPrefix(c.Skipped.Message, w.message) {
					t.Errorf("skip is not <skipped message=reason>: %+v / failure %+v / error %+v", c.Skipped, c.Failure, c.Error)
				}
			case "error":
				if kinds != 1 || c.Error == nil || c.Error.Type != w.typ || !strings.HasPrefix(c.Error.Message, w.message) {
					t.Errorf("error is not <error>: %+v / failure %+v", c.Error, c.Failure)
				}
			}
			// Every fixture result but the skip and the error recorded evidence; system-out carries it.
			hasEvidence := w.kind == "pass" || w.kind == "failure"
			if hasEvidence != strings.Contains(c.SystemOut, "evidence:\n") {
				t.Errorf("system-out evidence present=%v, want %v: %q", !hasEvidence, hasEvidence, c.SystemOut)
			}
		})
	}
	if got := s.Cases[1].SystemOut; !strings.Contains(got, "$ kubectl get service development-agent -n default -o wide") ||
		!strings.Contains(got, "$ kubectl expose service development-agent") {
		t.Errorf("system-out lacks evidence or fix commands:\n%s", got)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	if props["project"] != "dev-orchestra" || props["where"] != "laptop" || props["readOnly"] != "true" {
		t.Errorf("properties = %v", props)
	}
}

func TestJUnitIsRedactedAndParsesDespiteControlCharacters(t *testing.T) {
	s, raw := parseJUnit(t, fixtures()[4].build())
	for _, secret := range secretValues {
		if strings.Contains(raw, secret) {
			t.Errorf("JUnit leaks %q", secret)
		}
	}
	if strings.ContainsAny(raw, "\x1b\x07") {
		t.Errorf("JUnit carries control characters (invalid XML 1.0)")
	}
	if s.Failures != 1 {
		t.Errorf("failures = %d", s.Failures)
	}
}
