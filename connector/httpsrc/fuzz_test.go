package httpsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseBody checks the body parser. Invariants, for every format:
// parseBody never panics; it returns at most max events, or errTooMany;
// no event is empty. For "ndjson", a body that parses round-trips: the
// events joined by newlines are the body's non-blank lines, trimmed. For
// "json", every event of an array of objects is valid, compact JSON.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{"", "{}\n", "{\"a\":1}\n[1,2]\n\"x\"\r\n", "[{\"a\": 1}, \"s\"]", "{\"a\" : [1, 2]}",
		"a\nb\n\n", "[", "{\"a\":\"\\\"} \"}", "[1]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, format := range []string{"ndjson", "json", "lines"} {
			raws, err := parseBody(body, format, 50)
			if errors.Is(err, errTooMany) || err != nil {
				continue
			}
			if len(raws) > 50 {
				t.Fatalf("%s: %d events, want at most 50", format, len(raws))
			}
			for _, r := range raws {
				if len(r) == 0 && format != "json" {
					t.Fatalf("%s: an empty event", format)
				}
			}
			switch format {
			case "ndjson":
				var want [][]byte
				for l := range bytes.SplitSeq(body, []byte("\n")) {
					if l = trimJSONSpace(l); len(l) > 0 {
						want = append(want, l)
					}
				}
				if got := bytes.Join(raws, []byte("\n")); !bytes.Equal(got, bytes.Join(want, []byte("\n"))) {
					t.Fatalf("ndjson: got %q, want %q", got, bytes.Join(want, []byte("\n")))
				}
				for _, r := range raws {
					if !json.Valid(r) {
						t.Fatalf("ndjson: event %q is not valid JSON", r)
					}
				}
			case "json":
				for _, r := range raws {
					if len(r) > 0 && r[0] == '{' {
						var buf bytes.Buffer
						if err := json.Compact(&buf, r); err != nil || !bytes.Equal(buf.Bytes(), r) {
							t.Fatalf("json: event %q is not compact JSON (%v)", r, err)
						}
					}
				}
			}
		}
	})
}
