package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeKeepsDefaults(t *testing.T) {
	retries := 5
	c := webConfig{
		Port:    514,
		Timeout: 30 * time.Second,
		Tags:    []string{"default"},
		Headers: map[string]string{"A": "1", "B": "1"},
		TLS:     &tlsConfig{KeyFile: "key.pem"},
		Retries: &retries,
	}
	data := `{"addr": "a", "port": null, "retries": null, "tags": ["x"], "headers": {"B": "2", "C": "2"}, "tls": {"certFile": "c"}}`
	if err := Decode([]byte(data), "", &c); err != nil {
		t.Fatal(err)
	}
	want := webConfig{
		Addr:    "a",
		Port:    514,
		Timeout: 30 * time.Second,
		Tags:    []string{"x"},                                   // arrays replace
		Headers: map[string]string{"A": "1", "B": "2", "C": "2"}, // objects merge
		TLS:     &tlsConfig{CertFile: "c", KeyFile: "key.pem"},
		Retries: &retries, // null leaves it
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestDecodeNullElements(t *testing.T) {
	var c struct {
		Ptrs []*int `json:"ptrs"`
		Anys []any  `json:"anys"`
	}
	if err := Decode([]byte(`{"ptrs": [1, null], "anys": [null, "x"]}`), "", &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Ptrs) != 2 || *c.Ptrs[0] != 1 || c.Ptrs[1] != nil || !reflect.DeepEqual(c.Anys, []any{nil, "x"}) {
		t.Errorf("got %v %v", c.Ptrs, c.Anys)
	}
}

func TestDecodeTargets(t *testing.T) {
	t.Run("map", func(t *testing.T) {
		var m map[string]int
		err := Decode([]byte(`{"type": 1, "a": 1, "b": "x"}`), "limits", &m, Skip("type"))
		if got, want := errString(err), "limits.b: want an integer, got a string"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if !reflect.DeepEqual(m, map[string]int{"a": 1}) {
			t.Errorf("got %v", m)
		}
	})
	t.Run("slice", func(t *testing.T) {
		var s []uint8
		err := Decode([]byte(`[1, 256]`), "bytes", &s)
		if got, want := errString(err), "bytes[1]: want an integer between 0 and 255, got 256"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("scalar", func(t *testing.T) {
		var d time.Duration
		if err := Decode([]byte(` "2s" `), "", &d); err != nil || d != 2*time.Second {
			t.Errorf("got %v, %v", d, err)
		}
	})
	t.Run("not a pointer", func(t *testing.T) {
		var c webConfig
		for _, v := range []any{c, (*webConfig)(nil), nil} {
			err := Decode([]byte(`{}`), "", v)
			var fe *FieldError
			if err == nil || errors.As(err, &fe) {
				t.Errorf("Decode(%T) = %v, want a plain error", v, err)
			}
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		var c struct {
			Ch    chan int       `json:"ch"`
			Arr   [2]int         `json:"arr"`
			Keys  map[int]string `json:"keys"`
			Fine  string         `json:"fine"`
			Error error          `json:"error"`
		}
		err := Decode([]byte(`{"ch": 1, "arr": [1, 2], "keys": {}, "fine": "x", "error": "e"}`), "", &c)
		got, _ := messages(err)
		want := []string{
			"ch: cannot decode into Go type chan int",
			"arr: cannot decode into Go type [2]int",
			"keys: cannot decode into Go type map[int]string",
			"error: cannot decode into Go type error",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// Promotion follows encoding/json.
type (
	embA struct {
		Same   string // clashes with embB.Same: neither is decoded
		A      string `json:"a"`
		Shadow string `json:"shadow"`
	}
	embB struct {
		Same string
		B    string `json:"b"`
	}
	embTagged struct {
		Win  string `json:"win"`
		Both string `json:"Win"` // tagged: wins over embUntagged.Win
	}
	embUntagged struct{ Win string }
	EmbPtr      struct {
		P string `json:"p" sluice:"required"`
	}
	embOuter struct {
		embA
		embB
		embTagged
		embUntagged
		*EmbPtr
		Shadow string `json:"shadow"`
	}
)

func TestDecodeEmbedded(t *testing.T) {
	var c embOuter
	err := Decode([]byte(`{"a": "a", "b": "b", "win": "w", "Win": "W", "shadow": "outer", "p": "p", "Same": "x"}`), "", &c)
	if got, want := errString(err), `Same: unknown field`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if c.A != "a" || c.B != "b" || c.embTagged.Win != "w" || c.Both != "W" || c.embUntagged.Win != "" || c.Shadow != "outer" || c.embA.Shadow != "" {
		t.Errorf("got %+v", c)
	}
	if c.EmbPtr == nil || c.P != "p" {
		t.Errorf("embedded pointer not allocated: %+v", c.EmbPtr)
	}

	var empty embOuter
	if got, want := errString(Decode([]byte(`{}`), "", &empty)), "p: required"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if empty.EmbPtr != nil {
		t.Errorf("embedded pointer allocated without a field")
	}

	// As in encoding/json, fields behind an embedded pointer to an
	// unexported type cannot be set: here they are unknown.
	var hidden struct{ *embA }
	if got, want := errString(Decode([]byte(`{"a": "x"}`), "", &hidden)), "a: unknown field"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecodeValidateTypedNil(t *testing.T) {
	var c nilValidator
	if err := Decode([]byte(`{}`), "", &c); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

type nilValidator struct{}

func (nilValidator) Validate() error {
	var fe *FieldError
	return fe // a typed nil: a bug in the caller, but no panic
}

// TestDecodeSecretNotShown decodes bad values into secret fields and
// checks that no message shows the value.
func TestDecodeSecretNotShown(t *testing.T) {
	type inner struct {
		N int           `json:"n"`
		D time.Duration `json:"d"`
		S string        `json:"s"`
	}
	type secrets struct {
		Net    network           `json:"net" sluice:"secret"`
		Level  level             `json:"level" sluice:"secret"`
		Inner  inner             `json:"inner" sluice:"secret"`
		Tokens []Secret          `json:"tokens"`
		ByName map[string]Secret `json:"byName"`
		Port   int               `json:"port" sluice:"secret"`
		Ptr    *Secret           `json:"ptr"`
	}
	const value = "hunter2"
	inputs := []string{
		`{"net": "hunter2"}`,
		`{"net": "$PASS"}`,
		`{"level": "hunter2"}`,
		`{"level": 12345}`,
		`{"inner": {"n": "$PASS", "d": "hunter2", "s": "${hunter2 x}"}}`,
		`{"inner": {"d": "$PASS", "s": "${hunter2"}}`,
		`{"inner": {"n": 12345.5}}`,
		`{"tokens": ["${hunter2!}", 1]}`,
		`{"byName": {"a": "${hunter2 }"}}`,
		`{"port": "$PASS"}`,
		`{"port": 12345.5}`,
		`{"ptr": "${hunter2"}`,
	}
	lk := func(name string) (string, bool) {
		if name == "PASS" {
			return value, true
		}
		return "", false
	}
	for _, in := range inputs {
		var c secrets
		err := Decode([]byte(in), "", &c, WithLookup(lk))
		if err == nil {
			t.Errorf("%s: no error", in)
			continue
		}
		for _, bad := range []string{value, "12345"} {
			if strings.Contains(err.Error(), bad) {
				t.Errorf("%s: error shows %q: %v", in, bad, err)
			}
		}
	}
}

func TestPeek(t *testing.T) {
	tests := []struct {
		data, key, want, err string
	}{
		{`{"type": "syslog", "addr": ":514"}`, "type", "syslog", ""},
		{` {"addr": ":514", "type": "$TYPE"} `, "type", "$TYPE", ""},
		{`{"addr": ":514"}`, "type", "", ""},
		{`{"type": null}`, "type", "", ""},
		{`{"nested": {"type": "x"}}`, "type", "", ""},
		{`{"type": 1}`, "type", "", "type: want a string, got a number"},
		{`{"type": "a", "type": "b"}`, "type", "", "type: duplicate field"},
		{`{"a b": 1}`, "a b", "", `["a b"]: want a string, got a number`},
		{`["type"]`, "type", "", "want an object, got an array"},
		{`{"type": `, "type", "", "invalid JSON: unexpected end of JSON input"},
	}
	for _, tc := range tests {
		got, err := Peek([]byte(tc.data), tc.key)
		if got != tc.want || errString(err) != tc.err {
			t.Errorf("Peek(%s, %q) = %q, %q; want %q, %q", tc.data, tc.key, got, errString(err), tc.want, tc.err)
		}
		var fe *FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("Peek(%s): %T is not a *FieldError", tc.data, err)
		}
	}
}

func TestFieldError(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Path: "a.b", Msg: "required"}, "a.b: required"},
		{FieldError{Msg: "required"}, "required"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// A FieldError that reports an error wraps it, also once nested under a
// path.
func TestFieldErrorUnwraps(t *testing.T) {
	cause := errors.New("bind: address already in use")
	fe := &FieldError{Path: "addr", Msg: "listen tcp 127.0.0.1:1: " + cause.Error(), Err: cause}
	nested := Nest("sources.in", fmt.Errorf("http source: %w", fe))
	if len(nested) != 1 {
		t.Fatalf("Nest: got %d errors, want 1", len(nested))
	}
	if got, want := nested[0].Error(), "sources.in.addr: listen tcp 127.0.0.1:1: bind: address already in use"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(nested[0], cause) {
		t.Error("the nested FieldError does not wrap its cause")
	}
}

func TestJoinKey(t *testing.T) {
	for _, tc := range []struct{ path, key, want string }{
		{"", "a", "a"},
		{"s", "web-1_x", "s.web-1_x"},
		{"s", "a.b", `s["a.b"]`},
		{"", "a b", `["a b"]`},
		{"s", "", `s[""]`},
		{"s", `"`, `s["\""]`},
	} {
		if got := joinKey(tc.path, tc.key); got != tc.want {
			t.Errorf("joinKey(%q, %q) = %q, want %q", tc.path, tc.key, got, tc.want)
		}
	}
}

func TestDecodeTagOptions(t *testing.T) {
	var c struct {
		Key  string `json:"key" sluice:"required,secret"`
		Port int    `json:"port" sluice:"secret, required"`
		Name string `json:"name" sluice:"optional"`
	}
	err := Decode([]byte(`{"type": "x", "buffer": {}, "port": "$WORD", "name": 1}`), "s", &c, Skip("type"), Skip("buffer"), WithLookup(lookup))
	got, _ := messages(err)
	want := []string{
		"s.port: want an integer (from $WORD)",
		"s.name: want a string, got a number",
		"s.key: required",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if docs := Describe(c); !docs[0].Required || !docs[0].Secret || !docs[1].Required || !docs[1].Secret || docs[2].Required || docs[2].Secret {
		t.Errorf("got %+v", docs)
	}
}

// BenchmarkDecode decodes a file of 100 sources, each a full webConfig.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"sources": {`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"web%d": {"addr": ":%d", "port": %d, "timeout": "30s", "token": "$PASS", "tags": ["a", "b"],
			"headers": {"X": "1"}, "tls": {"certFile": "c"}, "routes": [{"from": ["a", "b"], "to": "c"}]}`, i, i, i)
	}
	sb.WriteString(`}}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var c struct {
			Sources map[string]webConfig `json:"sources"`
		}
		if err := Decode(data, "", &c, WithLookup(lookup)); err != nil {
			b.Fatal(err)
		}
	}
}
