package report

import (
	"bytes"
	"testing"

	"github.com/gkedoctor/gkedoctor/internal/safeout"
)

// TestJSONResultsWrittenOneAtATimeAreTheWholeDocument: WriteJSON encodes the results one by one into
// the document; the bytes are those of encoding the whole report at once, for every fixture (no
// results, one, many; secrets to redact; characters to escape), through a plain writer and through
// the safe writer that redacts line by line.
func TestJSONResultsWrittenOneAtATimeAreTheWholeDocument(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			for _, extra := range []Result{{}, {ID: "x", Summary: "token=abcdefghijklmnopqrstuvwxyz012345 \u202e\u200b <b>&2>&1",
				Evidence: []Evidence{{Step: "a\u00a0b", Detail: "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}}}} {
				r := f.build()
				if extra.ID != "" {
					r.Results = append(r.Results, extra, extra)
				}
				whole, err := MarshalJSON(r.mapStrings(redactAndSanitize))
				if err != nil {
					t.Fatal(err)
				}
				if got := writeJSON(t, r); !bytes.Equal(got, whole) {
					t.Fatalf("streamed:\n%s\nwhole:\n%s", got, whole)
				}
				var a, b bytes.Buffer
				if err := WriteJSON(safeout.NewWriter(&a, false), r); err != nil {
					t.Fatal(err)
				}
				if _, err := safeout.NewWriter(&b, false).WriteLines(whole); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatalf("through the safe writer, streamed:\n%s\nwhole:\n%s", a.Bytes(), b.Bytes())
				}
			}
		})
	}
}
