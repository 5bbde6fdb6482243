package config

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	retries := 3
	defaults := webConfig{
		common:  common{Name: "web", Debug: true},
		Port:    514,
		Ratio:   0.5,
		Timeout: 30 * time.Second,
		Token:   "t",
		APIKey:  "k",
		Network: "udp",
		Allow:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Tags:    []string{"a", "<b>"},
		Headers: map[string]string{"X": "1"},
		TLS:     &tlsConfig{KeyFile: "key.pem"},
		Extra:   json.RawMessage(`{"a":1}`),
		Retries: &retries,
		Delays:  []time.Duration{time.Second},
	}
	want := []FieldDoc{
		{Path: "name", Type: "string", Default: `"web"`},
		{Path: "debug", Type: "boolean", Default: `true`},
		{Path: "addr", Type: "string", Required: true},
		{Path: "port", Type: "integer", Default: `514`},
		{Path: "maxConnections", Type: "integer"},
		{Path: "offset", Type: "integer"},
		{Path: "ratio", Type: "number", Default: `0.5`},
		{Path: "timeout", Type: "duration", Default: `"30s"`},
		{Path: "token", Type: "secret", Secret: true, Default: `"REDACTED"`},
		{Path: "apiKey", Type: "string", Secret: true, Default: `"REDACTED"`},
		{Path: "pin", Type: "integer", Secret: true},
		{Path: "network", Type: "string", Default: `"udp"`},
		{Path: "level", Type: "any"},
		{Path: "allow", Type: "array of string", Default: `["10.0.0.0/8"]`},
		{Path: "tags", Type: "array of string", Default: `["a","<b>"]`},
		{Path: "headers", Type: "map of string", Default: `{"X":"1"}`},
		{Path: "limits", Type: "map of integer"},
		{Path: "tls", Type: "object"},
		{Path: "tls.certFile", Type: "string", Required: true},
		{Path: "tls.keyFile", Type: "string", Default: `"key.pem"`},
		{Path: "tls.password", Type: "secret", Secret: true},
		{Path: "routes", Type: "array of object"},
		{Path: "routes[].from", Type: "array of string", Required: true},
		{Path: "routes[].to", Type: "string"},
		{Path: "extra", Type: "any", Default: `{"a":1}`},
		{Path: "any", Type: "any"},
		{Path: "retries", Type: "integer", Default: `3`},
		{Path: "delays", Type: "array of duration", Default: `["1s"]`},
		{Path: "matrix", Type: "array of array of string"},
		{Path: "Untagged", Type: "string"},
	}
	for _, v := range []any{defaults, &defaults} {
		got := Describe(v)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Describe(%T):", v)
			for i := range max(len(got), len(want)) {
				var g, w FieldDoc
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("  field %d: got %+v, want %+v", i, g, w)
				}
			}
		}
	}
}

type (
	recursive struct {
		Name     string                `json:"name"`
		Children []recursive           `json:"children"`
		Next     *recursive            `json:"next"`
		ByName   map[string]*recursive `json:"byName"`
		Opts     struct {
			Key Secret `json:"key"`
			Sub struct {
				Deep string `json:"deep" sluice:"required"`
			} `json:"sub" sluice:"secret"`
		} `json:"opts"`
	}
)

func TestDescribeNested(t *testing.T) {
	got := Describe((*recursive)(nil))
	want := []FieldDoc{
		{Path: "name", Type: "string"},
		{Path: "children", Type: "array of object"},
		{Path: "next", Type: "object"},
		{Path: "byName", Type: "map of object"},
		{Path: "opts", Type: "object"},
		{Path: "opts.key", Type: "secret", Secret: true},
		{Path: "opts.sub", Type: "object", Secret: true},
		{Path: "opts.sub.deep", Type: "string", Required: true, Secret: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	got = Describe(embOuter{})
	var paths []string
	for _, f := range got {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, " "), "a b win Win p shadow"; got != want {
		t.Errorf("got paths %q, want %q", got, want)
	}

	var mapOfStructs struct {
		Sources map[string]tlsConfig `json:"sources"`
	}
	got = Describe(mapOfStructs)
	if len(got) != 4 || got[1].Path != "sources.*.certFile" {
		t.Errorf("got %+v", got)
	}
}

func TestDescribeNotStruct(t *testing.T) {
	for _, v := range []any{nil, 1, "x", []webConfig{}, time.Time{}, (*int)(nil)} {
		if got := Describe(v); got != nil {
			t.Errorf("Describe(%#v) = %v, want nil", v, got)
		}
	}
}

// TestDescribeAllSupported checks that Describe and Decode agree on what
// is supported, for the types used in the tests.
func TestDescribeAllSupported(t *testing.T) {
	for _, v := range []any{webConfig{}, envConfig{}, recursive{}} {
		for _, f := range Describe(v) {
			if strings.HasPrefix(f.Type, "unsupported") {
				t.Errorf("%T: %s: %s", v, f.Path, f.Type)
			}
		}
	}
	var bad struct {
		Ch chan int `json:"ch"`
	}
	if got := Describe(bad); len(got) != 1 || got[0].Type != "unsupported (chan int)" {
		t.Errorf("got %+v", got)
	}
}
