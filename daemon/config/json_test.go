package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// refWalk describes raw, a valid JSON value, using encoding/json's
// Decoder: the reference for objectMembers and arrayElems.
func refWalk(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", err
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return "", err
			}
			sub, err := refWalk(val)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&out, "%q:%s;", key, sub)
		}
		return "{" + out.String() + "}", nil
	case json.Delim('['):
		for dec.More() {
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return "", err
			}
			sub, err := refWalk(val)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&out, "%s;", sub)
		}
		return "[" + out.String() + "]", nil
	default:
		return string(bytes.TrimSpace(raw)), nil
	}
}

// walk is refWalk with objectMembers and arrayElems.
func walk(raw []byte) string {
	var out bytes.Buffer
	switch kindOf(raw) {
	case kindObject:
		for _, m := range objectMembers(raw) {
			fmt.Fprintf(&out, "%q:%s;", m.key, walk(m.val))
		}
		return "{" + out.String() + "}"
	case kindArray:
		for _, e := range arrayElems(raw) {
			fmt.Fprintf(&out, "%s;", walk(e))
		}
		return "[" + out.String() + "]"
	default:
		return string(raw)
	}
}

func TestWalk(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `{ }`, `[ ]`, `1`, `"x"`, `null`,
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
		" {\n\t\"a\" :\r\n 1 ,\n \"b\" : [ 1 , -2.5e+3 , \"]\" ] , \"c\\\"}\" : { } } ",
		`[{"}": "{", "]": "[\\"}]", [], [[]], "\u00e9\ud83d\ude00", "\"", "\\"]`,
		`{"a":1,"a":2}`,
		"{\"\xff\": \"\xfe\"}",
	} {
		want, err := refWalk([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := walk(bytes.TrimSpace([]byte(in))); got != want {
			t.Errorf("%q:\ngot  %s\nwant %s", in, got, want)
		}
	}
}

// TestWalkInvalid checks that the walkers neither panic nor loop on
// invalid JSON, which Decode never gives them.
func TestWalkInvalid(t *testing.T) {
	for _, in := range []string{`{`, `[`, `{"a`, `{"a":`, `{"a" 1`, `[1,`, `["a`, `[}`, `{"a":[}`, `[1 2]`, `{"a":1 "b":2}`, `{"\`} {
		walk([]byte(in))
	}
}
