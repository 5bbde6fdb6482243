package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     any // what the output decodes to
	}{
		{"plain", `{"a": 1}`, map[string]any{"a": 1.0}},
		{"line comment", "{\n// comment\n\"a\": 1 // after\n}", map[string]any{"a": 1.0}},
		{"block comment", "/* head */ {\"a\": /* in */ 1} /* tail */", map[string]any{"a": 1.0}},
		{"trailing commas", `{"a": [1, 2,], "b": {"c": 3,},}`, map[string]any{"a": []any{1.0, 2.0}, "b": map[string]any{"c": 3.0}}},
		{"comment markers in strings", `{"a": "// not a comment /* nor this */"}`, map[string]any{"a": "// not a comment /* nor this */"}},
		{"byte order mark", "\uFEFF{\"a\": 1}", map[string]any{"a": 1.0}},
		{"scalar", `"x"`, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			orig := bytes.Clone(in)
			out, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Errorf("Parse modified its input: %q", in)
			}
			if !json.Valid(out) {
				t.Fatalf("got invalid JSON %q", out)
			}
			var got any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestParseKeepsOffsets checks that comments become spaces, so that an
// offset in the output is the same place in the input.
func TestParseKeepsOffsets(t *testing.T) {
	in := "{\n  // comment\n  \"a\": 1, /* x */\n  \"b\": 2,\n}\n"
	out, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) || strings.Count(string(out), "\n") != strings.Count(in, "\n") {
		t.Errorf("got %q for %q", out, in)
	}
	if i, j := strings.Index(in, `"b"`), strings.Index(string(out), `"b"`); i != j {
		t.Errorf("\"b\" moved from %d to %d", i, j)
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "1:1: parsing value: unexpected EOF"},
		{"unclosed object", "{\n  \"a\": 1,\n", "3:1: parsing value: unexpected EOF"},
		{"missing colon", "{\n  \"a\" 1\n}", `2:7: invalid character '1' after object name`},
		{"missing comma", "{\n  \"a\": 1\n  \"b\": 2\n}", `3:3: invalid character '"' after object value (expecting ',' or '}')`},
		{"double comma", `{"a": 1,,}`, `1:9: invalid character ',' at start of value`},
		{"unquoted key", "{\n\ta: 1}", `2:2: invalid literal (strings must be in double quotes)`},
		{"single quotes", `{'a': 1}`, `1:2: invalid character '\'' at start of value`},
		{"bad literal", `{"a": tru}`, `1:7: invalid literal (strings must be in double quotes)`},
		{"unquoted secret", `{"password": hunter2}`, `1:14: invalid literal (strings must be in double quotes)`},
		{"bad number", `{"a": 01}`, `1:7: invalid number`},
		{"bad number 2", `{"a": 1.}`, `1:7: invalid number`},
		{"tab in string", "{\"a\": \"se\tcret\"}", `1:10: invalid character '\t' in string literal`},
		{"bad escape", `{"a": "se\qcret"}`, `1:11: invalid character 'q' in string escape code`},
		{"unterminated string", `{"a": "secret`, `1:14: parsing string: unexpected EOF`},
		{"unterminated comment", "{\"a\": 1}\n/* secret", `2:1: parsing comment: unexpected EOF`},
		{"trailing value", "{\"a\": 1}\n// c\n x", `3:2: invalid character 'x' after top-level value`},
		{"too deep", strings.Repeat("[", 10001), "1:10001: exceeded maximum nesting depth of 10000"},
		{"too deep object", "{\"a\":" + strings.Repeat("{\"a\": ", 10000), "1:60000: exceeded maximum nesting depth of 10000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("got %q, want an error", out)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *SyntaxError", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows a literal: %v", err)
			}
		})
	}
}

func TestParseDeepButAllowed(t *testing.T) {
	in := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, err := Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	// Brackets in strings and comments do not count.
	in = `["` + strings.Repeat("[", 20000) + `", /* ` + strings.Repeat("{", 20000) + " */ // " + strings.Repeat("[", 20000) + "\n]"
	if _, err := Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
}

func TestSyntaxErrorWithoutPosition(t *testing.T) {
	e := &SyntaxError{Msg: "bad"}
	if got := e.Error(); got != "bad" {
		t.Errorf("got %q, want %q", got, "bad")
	}
}
