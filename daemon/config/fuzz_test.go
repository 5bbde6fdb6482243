package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode parses arbitrary bytes as HuJSON and decodes them into a
// config struct that has a field of every supported kind. Invariants:
//
//   - Parse, Peek and Decode never panic;
//   - Parse returns JSON that encoding/json accepts, or a *SyntaxError;
//   - objectMembers and arrayElems split that JSON as encoding/json's
//     Decoder does;
//   - Decode returns nil or an errors.Join of *FieldError, each with a
//     message and a path under the one Decode was given;
//   - Decode is deterministic: the same input gives the same errors;
//   - no error shows any 8 bytes of a long environment variable's value
//     that the input does not itself contain.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"addr": ":514"}`,
		`{"type": "web", "addr": "$HOST", "port": "$PORT", "timeout": "$TIMEOUT", "token": "$PASS"}`,
		"{\n// comment\n\"addr\": \"a\", /* x */ \"tags\": [\"a\", \"b\",],\n}",
		`{"adr": 1, "port": 70000, "maxConnections": "x", "timeout": 30, "tls": {}, "routes": [{"from": {}}]}`,
		`{"addr": "${PASS}", "network": "$PASS", "allow": ["$PASS"], "ratio": "$PASS", "level": 3}`,
		`{"addr": "a", "headers": {"a": "1", "a": 2}, "limits": {"x": 1.5}, "extra": {"y": [1]}, "any": [null]}`,
		`{"addr": "a", "name": "nested", "delays": ["1s", "x"], "matrix": [[1]], "retries": null, "Untagged": "$$"}`,
		`[1, "two", {"three": 3}]`,
		`null`,
		`{"addr": "a", "pin": 1e400, "offset": -129, "debug": "$ENABLED"}`,
		"\uFEFF{\"addr\": tru}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const long = "x-very-long-secret-value-that-is-more-than-forty-characters"
	lk := func(name string) (string, bool) {
		switch name {
		case "PASS":
			return long, true
		case "PORT":
			return "8080", true
		case "HOST":
			return "example.com", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		js, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse: %T is not a *SyntaxError: %v", err, err)
			}
			return
		}
		_, _ = Peek(js, "type")
		if raw := bytes.TrimSpace(js); len(raw) > 0 {
			want, err := refWalk(raw)
			if err != nil {
				t.Fatalf("Parse returned invalid JSON %q: %v", js, err)
			}
			if got := walk(raw); got != want {
				t.Fatalf("walk(%q):\ngot  %s\nwant %s", raw, got, want)
			}
		}

		decode := func() string {
			var c webConfig
			err := Decode(js, "sources.web", &c, Skip("type"), WithLookup(lk))
			msgs, ferr := messages(err)
			if ferr != nil {
				t.Fatal(ferr)
			}
			for _, m := range msgs {
				if !strings.HasPrefix(m, "sources.web") || strings.HasSuffix(m, ": ") {
					t.Errorf("bad error %q", m)
				}
			}
			return strings.Join(msgs, "\n")
		}
		first := decode()
		if again := decode(); again != first {
			t.Fatalf("not deterministic:\n%s\n---\n%s", first, again)
		}
		for i := 0; i+8 <= len(long); i++ {
			run := long[i : i+8]
			if strings.Contains(first, run) && !bytes.Contains(data, []byte(run)) {
				t.Fatalf("error shows part of a secret (%q):\n%s", run, first)
			}
		}
	})
}
