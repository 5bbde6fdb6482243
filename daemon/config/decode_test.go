package config

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDecodeErrors pins every message Decode gives: they are user-facing.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		data string // HuJSON
		path string
		opts []DecodeOption
		want []string
	}{
		// Unknown fields.
		{"unknown near", `{"addr": "a", "adr": 1}`, "sources.web", nil,
			[]string{`sources.web.adr: unknown field (did you mean "addr"?)`}},
		{"unknown case", `{"addr": "a", "maxconnections": 1}`, "sources.web", nil,
			[]string{`sources.web.maxconnections: unknown field (did you mean "maxConnections"?)`}},
		{"unknown case beats near", `{"addr": "a", "Addr": "b"}`, "", nil,
			[]string{`Addr: unknown field (did you mean "addr"?)`}},
		{"unknown swap", `{"addr": "a", "adrd": 1}`, "", nil,
			[]string{`adrd: unknown field (did you mean "addr"?)`}},
		{"unknown far", `{"addr": "a", "bogus": 1}`, "sources.web", nil,
			[]string{`sources.web.bogus: unknown field`}},
		{"unknown short", `{"addr": "a", "x": 1}`, "", nil,
			[]string{`x: unknown field`}},
		{"unknown promoted", `{"addr": "a", "nmae": "n"}`, "", nil,
			[]string{`nmae: unknown field (did you mean "name"?)`}},
		{"unknown nested", `{"addr": "a", "tls": {"certfile": "c"}}`, "sources.web", nil,
			[]string{
				`sources.web.tls.certfile: unknown field (did you mean "certFile"?)`,
				`sources.web.tls.certFile: required`,
			}},
		{"unknown json dash", `{"addr": "a", "Ignored": "x", "unexported": "y"}`, "", nil,
			[]string{`Ignored: unknown field`, `unexported: unknown field`}},
		{"unknown odd key", `{"addr": "a", "the key": 1}`, "s", nil,
			[]string{`s["the key"]: unknown field`}},
		{"skip only top level", `{"type": "web", "addr": "a", "tls": {"certFile": "c", "type": "x"}}`, "", []DecodeOption{Skip("type")},
			[]string{`tls.type: unknown field`}},
		{"not skipped", `{"type": "web", "addr": "a"}`, "sources.web", nil,
			[]string{`sources.web.type: unknown field`}},

		// Required and duplicates.
		{"required", `{}`, "sources.web", nil, []string{`sources.web.addr: required`}},
		{"required null", `{"addr": null}`, "", nil, []string{`addr: required`}},
		{"required in array", `{"addr": "a", "routes": [{"from": ["x"]}, {"to": "y"}]}`, "", nil,
			[]string{`routes[1].from: required`}},
		{"duplicate field", `{"addr": "a", "addr": "b"}`, "", nil, []string{`addr: duplicate field`}},
		{"duplicate null field", `{"addr": "a", "port": null, "port": 1}`, "", nil, []string{`port: duplicate field`}},
		{"duplicate key", `{"addr": "a", "headers": {"a": "1", "a": "2"}}`, "", nil, []string{`headers.a: duplicate key`}},

		// Type mismatches.
		{"string got number", `{"addr": 1}`, "", nil, []string{`addr: want a string, got a number`}},
		{"int got string", `{"addr": "a", "maxConnections": "10"}`, "sources.web", nil,
			[]string{`sources.web.maxConnections: want an integer, got a string`}},
		{"int got bool", `{"addr": "a", "maxConnections": true}`, "", nil,
			[]string{`maxConnections: want an integer, got a boolean`}},
		{"int got object", `{"addr": "a", "maxConnections": {}}`, "", nil,
			[]string{`maxConnections: want an integer, got an object`}},
		{"int with $$", `{"addr": "a", "maxConnections": "$$5"}`, "", nil,
			[]string{`maxConnections: want an integer, got a string`}},
		{"bool got string", `{"addr": "a", "debug": "true"}`, "", nil, []string{`debug: want a boolean, got a string`}},
		{"bool got number", `{"addr": "a", "debug": 1}`, "", nil, []string{`debug: want a boolean, got a number`}},
		{"float got string", `{"addr": "a", "ratio": "0.5"}`, "", nil, []string{`ratio: want a number, got a string`}},
		{"duration got number", `{"addr": "a", "timeout": 30}`, "sources.web", nil,
			[]string{`sources.web.timeout: want a duration string like "30s", got a number`}},
		{"duration bad", `{"addr": "a", "timeout": "30 s"}`, "", nil,
			[]string{`timeout: want a duration string like "30s", got "30 s"`}},
		{"duration no unit", `{"addr": "a", "timeout": "30"}`, "", nil,
			[]string{`timeout: want a duration string like "30s", got "30"`}},
		{"array got object", `{"addr": "a", "tags": {}}`, "", nil, []string{`tags: want an array of strings, got an object`}},
		{"array got string", `{"addr": "a", "tags": "a,b"}`, "", nil, []string{`tags: want an array of strings, got a string`}},
		{"array element", `{"addr": "a", "tags": ["a", 1, "c", false]}`, "", nil,
			[]string{`tags[1]: want a string, got a number`, `tags[3]: want a string, got a boolean`}},
		{"array null element", `{"addr": "a", "tags": ["a", null]}`, "", nil, []string{`tags[1]: want a string, got null`}},
		{"array of objects", `{"addr": "a", "routes": {}}`, "", nil, []string{`routes: want an array of objects, got an object`}},
		{"array in array", `{"addr": "a", "routes": [{"from": ["a"]}, {"from": {}}]}`, "", nil,
			[]string{`routes[1].from: want an array of strings, got an object`}},
		{"array of arrays", `{"addr": "a", "matrix": "x"}`, "", nil,
			[]string{`matrix: want an array of arrays of strings, got a string`}},
		{"array of arrays element", `{"addr": "a", "matrix": [[], ["a", 1]]}`, "", nil,
			[]string{`matrix[1][1]: want a string, got a number`}},
		{"array of durations", `{"addr": "a", "delays": ["1s", 2]}`, "", nil,
			[]string{`delays[1]: want a duration string like "30s", got a number`}},
		{"array of durations got string", `{"addr": "a", "delays": "1s"}`, "", nil,
			[]string{`delays: want an array of duration strings, got a string`}},
		{"map got array", `{"addr": "a", "headers": []}`, "", nil, []string{`headers: want an object, got an array`}},
		{"map value", `{"addr": "a", "headers": {"X-Id": 1, "a.b": true}}`, "", nil,
			[]string{`headers.X-Id: want a string, got a number`, `headers["a.b"]: want a string, got a boolean`}},
		{"map of ints", `{"addr": "a", "limits": {"x": 1.5}}`, "", nil, []string{`limits.x: want an integer, got 1.5`}},
		{"struct got string", `{"addr": "a", "tls": "x"}`, "", nil, []string{`tls: want an object, got a string`}},
		{"pointer got string", `{"addr": "a", "retries": "3"}`, "", nil, []string{`retries: want an integer, got a string`}},
		{"top level", `[1]`, "sources.web", nil, []string{`sources.web: want an object, got an array`}},
		{"top level no path", `"x"`, "", nil, []string{`want an object, got a string`}},
		{"top level null", `null`, "sources.web", nil, []string{`sources.web: want an object, got null`}},

		// Numbers.
		{"uint range", `{"addr": "a", "port": 70000}`, "sources.web", nil,
			[]string{`sources.web.port: want an integer between 0 and 65535, got 70000`}},
		{"uint negative", `{"addr": "a", "port": -1}`, "", nil, []string{`port: want an integer between 0 and 65535, got -1`}},
		{"int8 range", `{"addr": "a", "offset": 200}`, "", nil, []string{`offset: want an integer between -128 and 127, got 200`}},
		{"int8 range negative", `{"addr": "a", "offset": -129}`, "", nil, []string{`offset: want an integer between -128 and 127, got -129`}},
		{"int64 range", `{"addr": "a", "maxConnections": 9223372036854775808}`, "", nil,
			[]string{`maxConnections: want an integer between -9223372036854775808 and 9223372036854775807, got 9223372036854775808`}},
		{"int fraction", `{"addr": "a", "maxConnections": 1.5}`, "", nil, []string{`maxConnections: want an integer, got 1.5`}},
		{"int exponent", `{"addr": "a", "maxConnections": 1e3}`, "", nil, []string{`maxConnections: want an integer, got 1e3`}},
		{"int long", `{"addr": "a", "maxConnections": 1234567890123456789012345678901234567890123}`, "", nil,
			[]string{`maxConnections: want an integer between -9223372036854775808 and 9223372036854775807`}},
		{"float range", `{"addr": "a", "ratio": 1e400}`, "", nil, []string{`ratio: want a number, got 1e400`}},

		// Methods.
		{"text method", `{"addr": "a", "network": "udpp"}`, "sources.web", nil,
			[]string{`sources.web.network: invalid value "udpp": want udp, tcp or udp+tcp`}},
		{"text method got number", `{"addr": "a", "network": 1}`, "", nil, []string{`network: want a string, got a number`}},
		{"text method array", `{"addr": "a", "allow": ["10.0.0.0/8", "10.0.0.0/33", 1]}`, "", nil,
			[]string{
				`allow[1]: invalid value "10.0.0.0/33": netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
				`allow[2]: want a string, got a number`,
			}},
		{"text method long", `{"addr": "a", "allow": ["10.0.0.0/8 and a comment that goes on and on"]}`, "", nil,
			[]string{`allow[0]: invalid value`}},
		{"text method long, no echo", `{"addr": "a", "network": "udp and a comment that goes on and on and on"}`, "", nil,
			[]string{`network: invalid value: want udp, tcp or udp+tcp`}},
		{"json method", `{"addr": "a", "level": 10}`, "", nil, []string{`level: invalid value 10: level 10 is not 0 to 9`}},
		{"json method string", `{"addr": "a", "level": "$PORT"}`, "", nil,
			[]string{`level: invalid value "$PORT": level "$PORT" is not 0 to 9`}},

		// Environment.
		{"env unset", `{"addr": "$NOPE"}`, "sources.web", nil,
			[]string{`sources.web.addr: environment variable NOPE is not set`}},
		{"env unset braces", `{"addr": "${NOPE}:${PORT}/${NOPE2}/${NOPE}"}`, "", nil,
			[]string{`addr: environment variable NOPE is not set`, `addr: environment variable NOPE2 is not set`}},
		{"env unset int", `{"addr": "a", "port": "$NOPE"}`, "", nil, []string{`port: environment variable NOPE is not set`}},
		{"env unset secret", `{"addr": "a", "token": "$NOPE"}`, "", nil, []string{`token: environment variable NOPE is not set`}},
		{"env missing brace", `{"addr": "http://${HOST"}`, "", nil,
			[]string{`addr: missing "}" after "${" (write "$$" for a literal "$")`}},
		{"env bad name", `{"addr": "${1A}"}`, "", nil, []string{`addr: invalid environment variable name "1A"`}},
		{"env empty name", `{"addr": "${}"}`, "", nil, []string{`addr: invalid environment variable name ""`}},
		{"env default syntax", `{"addr": "${HOST:-x}"}`, "", nil, []string{`addr: invalid environment variable name "HOST:-x"`}},
		{"env bad name secret", `{"addr": "a", "token": "${pass word}"}`, "", nil, []string{`token: invalid environment variable name`}},
		{"env int", `{"addr": "a", "maxConnections": "$WORD"}`, "", nil,
			[]string{`maxConnections: want an integer, got "eighty" (from $WORD)`}},
		{"env int range", `{"addr": "a", "port": "$BIG"}`, "", nil,
			[]string{`port: want an integer between 0 and 65535, got "70000" (from $BIG)`}},
		{"env int two vars", `{"addr": "a", "maxConnections": "${HOST}:${PORT}"}`, "", nil,
			[]string{`maxConnections: want an integer, got "example.com:8080" (from $HOST, $PORT)`}},
		{"env int empty", `{"addr": "a", "maxConnections": "$EMPTY"}`, "", nil,
			[]string{`maxConnections: want an integer, got "" (from $EMPTY)`}},
		{"env bool", `{"addr": "a", "debug": "$WORD"}`, "", nil,
			[]string{`debug: want a boolean, got "eighty" (from $WORD)`}},
		{"env float", `{"addr": "a", "ratio": "$WORD"}`, "", nil,
			[]string{`ratio: want a number, got "eighty" (from $WORD)`}},
		{"env duration", `{"addr": "a", "timeout": "$WORD"}`, "", nil,
			[]string{`timeout: want a duration string like "30s", got "eighty" (from $WORD)`}},
		{"env text method", `{"addr": "a", "network": "$NET"}`, "", nil,
			[]string{`network: invalid value "udpp": want udp, tcp or udp+tcp (from $NET)`}},
		{"env long", `{"addr": "a", "maxConnections": "$LONG", "timeout": "$LONG"}`, "", nil,
			[]string{
				`maxConnections: want an integer (from $LONG)`,
				`timeout: want a duration string like "30s" (from $LONG)`,
			}},
		{"env in array", `{"addr": "a", "tags": ["$HOST", "$NOPE"]}`, "", nil,
			[]string{`tags[1]: environment variable NOPE is not set`}},

		// Secrets: values are never shown.
		{"secret int", `{"addr": "a", "pin": 1.5}`, "", nil, []string{`pin: want an integer`}},
		{"secret int env", `{"addr": "a", "pin": "$PASS"}`, "", nil, []string{`pin: want an integer (from $PASS)`}},
		{"secret int range", `{"addr": "a", "pin": 12345678901234567890}`, "", nil,
			[]string{`pin: want an integer between -9223372036854775808 and 9223372036854775807`}},
		{"secret got kind", `{"addr": "a", "token": 12, "apiKey": ["x"]}`, "", nil,
			[]string{`token: want a string, got a number`, `apiKey: want a string, got an array`}},

		// Validate.
		{"validate field error", `{"addr": "a", "network": "udp", "tls": {"certFile": "c"}}`, "sources.web", nil,
			[]string{`sources.web.tls: not with udp`}},
		{"validate plain error", `{"addr": "a", "name": "invalid"}`, "sources.web", nil,
			[]string{`sources.web: name is invalid`}},
		{"validate plain error no path", `{"addr": "a", "name": "invalid"}`, "", nil, []string{`name is invalid`}},
		{"validate joined", `{"addr": "a", "name": "nested"}`, "sources.web", nil,
			[]string{`sources.web.name: one`, `sources.web.routes[0]: two`, `sources.web: three`}},
		{"validate nested value receiver", `{"addr": "a", "routes": [{"from": ["a"], "to": "nowhere"}]}`, "x", nil,
			[]string{`x.routes[0].to: not a destination`}},
		{"validate skipped after errors", `{"name": "invalid"}`, "", nil, []string{`addr: required`}},
		{"validate beside a failed field", `{"addr": "a", "name": "invalid", "routes": [{"from": ["a"], "to": "nowhere"}, {"from": 1, "to": "nowhere"}]}`, "", nil,
			[]string{`routes[0].to: not a destination`, `routes[1].from: want an array of strings, got a number`, `routes[1].to: not a destination`}},

		// Order: document order, then required fields in field order.
		{"order", `{"tls": {"keyFile": 1}, "port": "x", "adr": 1, "tags": [1, 2]}`, "s", nil,
			[]string{
				`s.tls.keyFile: want a string, got a number`,
				`s.tls.certFile: required`,
				`s.port: want an integer, got a string`,
				`s.adr: unknown field (did you mean "addr"?)`,
				`s.tags[0]: want a string, got a number`,
				`s.tags[1]: want a string, got a number`,
				`s.addr: required`,
			}},

		// Input that is not JSON.
		{"invalid JSON", `{"addr": 1`, "sources.web", nil,
			[]string{`sources.web: invalid JSON: unexpected end of JSON input`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			if parsed, err := Parse(data); err == nil {
				data = parsed
			}
			var c webConfig
			err := Decode(data, tc.path, &c, append([]DecodeOption{WithLookup(lookup)}, tc.opts...)...)
			got, ferr := messages(err)
			if ferr != nil {
				t.Fatal(ferr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got errors\n\t%s\nwant\n\t%s", strings.Join(quoteAll(got), "\n\t"), strings.Join(quoteAll(tc.want), "\n\t"))
			}
		})
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = "`" + x + "`"
	}
	return out
}

func TestDecodeValues(t *testing.T) {
	data, err := Parse([]byte(`{
		// every kind of field
		"name": "web", "debug": true,
		"addr": ":514", "port": 514, "maxConnections": -3, "offset": -128, "ratio": 0.25,
		"timeout": "1m30s", "token": "tok", "apiKey": "key", "pin": 1234,
		"network": "tcp", "level": 7, "allow": ["10.0.0.0/8"],
		"tags": ["a", "b"], "headers": {"X-Id": "1"}, "limits": {"a": 1},
		"tls": {"certFile": "c", "password": "p",},
		"routes": [{"from": ["a"], "to": "b"}],
		"extra": {"x": [1, "$HOST"]},
		"any": {"n": 1, "s": "$HOST"},
		"retries": 3,
		"delays": ["1s", "500ms"],
		"matrix": [["a"], []],
		"Untagged": "u",
	}`))
	if err != nil {
		t.Fatal(err)
	}
	var c webConfig
	if err := Decode(data, "", &c, WithLookup(lookup)); err != nil {
		t.Fatal(err)
	}
	three := 3
	want := webConfig{
		common: common{Name: "web", Debug: true},
		Addr:   ":514", Port: 514, MaxConnections: -3, Offset: -128, Ratio: 0.25,
		Timeout: 90 * time.Second, Token: "tok", APIKey: "key", PIN: 1234,
		Network: "tcp", Level: 7, Allow: c.Allow,
		Tags: []string{"a", "b"}, Headers: map[string]string{"X-Id": "1"}, Limits: map[string]int{"a": 1},
		TLS:      &tlsConfig{CertFile: "c", Password: "p"},
		Routes:   []route{{From: []string{"a"}, To: "b"}},
		Extra:    json.RawMessage(`{"x": [1, "$HOST"]}`),
		Any:      map[string]any{"n": 1.0, "s": "$HOST"},
		Retries:  &three,
		Delays:   []time.Duration{time.Second, 500 * time.Millisecond},
		Matrix:   [][]string{{"a"}, {}},
		Untagged: "u",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c, want)
	}
	if len(c.Allow) != 1 || c.Allow[0].String() != "10.0.0.0/8" {
		t.Errorf("got allow %v, want [10.0.0.0/8]", c.Allow)
	}
}

// envConfig has no required fields, so that each case can set one.
type envConfig struct {
	Addr    string            `json:"addr"`
	Port    uint16            `json:"port"`
	Debug   bool              `json:"debug"`
	Timeout time.Duration     `json:"timeout"`
	Ratio   float32           `json:"ratio"`
	Retries *int              `json:"retries"`
	Token   Secret            `json:"token"`
	Network network           `json:"network"`
	Tags    []string          `json:"tags"`
	Headers map[string]string `json:"headers"`
	Limits  map[string]int    `json:"limits"`
	Extra   json.RawMessage   `json:"extra"`
	Any     any               `json:"any"`
}

func TestDecodeEnv(t *testing.T) {
	eightyEighty := 8080
	tests := []struct {
		name, data string
		want       envConfig
	}{
		{"int", `{"port": "$PORT"}`, envConfig{Port: 8080}},
		{"int braces", `{"port": "${PORT}"}`, envConfig{Port: 8080}},
		{"bool", `{"debug": "$ENABLED"}`, envConfig{Debug: true}},
		{"duration", `{"timeout": "$TIMEOUT"}`, envConfig{Timeout: 90 * time.Second}},
		{"float", `{"ratio": "$RATIO"}`, envConfig{Ratio: 0.5}},
		{"pointer", `{"retries": "$PORT"}`, envConfig{Retries: &eightyEighty}},
		{"secret", `{"token": "$PASS"}`, envConfig{Token: "hunter2"}},
		{"inside", `{"addr": "http://${HOST}:${PORT}/"}`, envConfig{Addr: "http://example.com:8080/"}},
		{"empty", `{"addr": "$EMPTY"}`, envConfig{}},
		{"not recursive", `{"addr": "$DOLLAR"}`, envConfig{Addr: "$HOST"}},
		{"escaped", `{"addr": "$$HOST"}`, envConfig{Addr: "$HOST"}},
		{"escaped braces", `{"addr": "$${HOST}"}`, envConfig{Addr: "${HOST}"}},
		{"escaped dollar", `{"addr": "a$$b$$"}`, envConfig{Addr: "a$b$"}},
		{"lone dollar", `{"addr": "$"}`, envConfig{Addr: "$"}},
		{"dollar digit", `{"addr": "$5"}`, envConfig{Addr: "$5"}},
		{"dollar inside", `{"addr": "http://$HOST/"}`, envConfig{Addr: "http://$HOST/"}},
		{"dollar at end", `{"addr": "a$"}`, envConfig{Addr: "a$"}},
		{"array", `{"tags": ["$HOST", "x${PORT}"]}`, envConfig{Tags: []string{"example.com", "x8080"}}},
		{"map values not keys", `{"headers": {"$HOST": "$HOST"}}`, envConfig{Headers: map[string]string{"$HOST": "example.com"}}},
		{"map of ints", `{"limits": {"a": "$PORT"}}`, envConfig{Limits: map[string]int{"a": 8080}}},
		{"text method", `{"network": "$NETOK"}`, envConfig{Network: "tcp"}},
		{"raw kept", `{"extra": "$HOST"}`, envConfig{Extra: json.RawMessage(`"$HOST"`)}},
		{"any kept", `{"any": "$HOST"}`, envConfig{Any: "$HOST"}},
	}
	lk := func(name string) (string, bool) {
		if name == "NETOK" {
			return "tcp", true
		}
		return lookup(name)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c envConfig
			if err := Decode([]byte(tc.data), "", &c, WithLookup(lk)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, tc.want) {
				t.Errorf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestDecodeDefaultLookup(t *testing.T) {
	t.Setenv("SLUICE_CONFIG_TEST_PORT", "99")
	var c envConfig
	err := Decode([]byte(`{"port": "$SLUICE_CONFIG_TEST_PORT", "addr": "${SLUICE_CONFIG_TEST_UNSET}"}`), "", &c, WithLookup(nil))
	if got, want := errString(err), "addr: environment variable SLUICE_CONFIG_TEST_UNSET is not set"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if c.Port != 99 {
		t.Errorf("got port %d, want 99", c.Port)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
