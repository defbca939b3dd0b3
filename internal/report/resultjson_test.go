package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// encodingJSON is what appendResultJSON stands in for: encoding/json, HTML characters kept, indented
// at prefix, without the trailing newline.
func encodingJSON(t *testing.T, v any, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// strangeStrings are the strings whose encoding differs from their bytes: quotes and backslashes,
// every kind of control character, HTML characters (kept), invalid UTF-8, U+2028/U+2029, other
// non-ASCII, and the empty string (which omitempty leaves out).
var strangeStrings = []string{"", "a", `say "hi"`, `C:\path`, "line\nnext", "\t\r\b\f\x00\x01\x1f\x7f", "<b>&amp;</b>",
	"\xff\xfe bad", "\xe2\x80", "sep\u2028par\u2029", "é ü 日本 🙂", "\u202e\u200b", "token=abc", "   ", "}],{\"x\":"}

// fill sets every field of v (a pointer) from rng: strings from strangeStrings or random bytes,
// booleans, integers, and slices nil, empty or with up to three elements, recursively. A field added
// to Result, Evidence or Fix is filled too, so an encoder that forgets it is caught.
func fill(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		fill(rng, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i))
			}
		}
	case reflect.String:
		if rng.IntN(3) == 0 {
			b := make([]byte, rng.IntN(12))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			v.SetString(string(b))
		} else {
			v.SetString(strangeStrings[rng.IntN(len(strangeStrings))])
		}
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Slice:
		switch n := rng.IntN(5); n {
		case 0: // nil
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(rng, s.Index(i))
			}
			v.Set(s)
		}
	default:
		panic("fill: no generator for " + v.Type().String())
	}
}

// TestResultJSONIsEncodingJSON: the hand-written result encoder gives encoding/json's bytes, at the
// report's indentation and at none, on results with every field filled (empty, nil and strange
// values included).
func TestResultJSONIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var res Result
		fill(rng, reflect.ValueOf(&res))
		for _, prefix := range []string{"    ", ""} {
			want := encodingJSON(t, res, prefix)
			if got := appendResultJSON(nil, &res, prefix); !bytes.Equal(got, want) {
				t.Fatalf("result %d at prefix %q:\ngot:\n%s\nwant:\n%s\nresult: %#v", i, prefix, got, want, res)
			}
		}
	}
}

// TestResultJSONAppends: the encoder appends to what the buffer holds and leaves it alone.
func TestResultJSONAppends(t *testing.T) {
	res := Result{ID: "x", Evidence: []Evidence{}, Fixes: []Fix{}}
	got := appendResultJSON([]byte("    "), &res, "    ")
	if want := append([]byte("    "), encodingJSON(t, res, "    ")...); !bytes.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func BenchmarkResultJSON(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	res := Result{ID: "clusterip-unreachable", Title: "Cloud Run / VPC client can reach the GKE Services it calls", Status: "fail"}
	for range 1000 {
		var e Evidence
		fill(rng, reflect.ValueOf(&e))
		res.Evidence = append(res.Evidence, e)
	}
	res.Fixes = []Fix{}
	b.Run("appendResultJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendResultJSON(buf[:0], &res, "    ")
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("    ", "  ")
			_ = enc.Encode(res)
		}
	})
}
