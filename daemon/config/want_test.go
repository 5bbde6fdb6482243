package config_test

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/daemon/config"
)

// Each empty required field is its own error, placed by Nest at its own
// path; a direct caller reads "WHAT: PATH: required".
func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fields    []config.Field
		msg, nest string
	}{
		{"none empty", []config.Field{{Path: "url"}, {Path: "topic"}}, "", ""},
		{"one", []config.Field{{Path: "url", Empty: true}, {Path: "topic"}}, "x source: url: required", "[sources.s.url: required]"},
		{"two", []config.Field{{Path: "url", Empty: true}, {Path: "sasl.user", Empty: true}},
			"x source: url: required\nx source: sasl.user: required", "[sources.s.url: required sources.s.sasl.user: required]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := config.Required("x source", tc.fields...)
			if tc.msg == "" {
				if err != nil {
					t.Errorf("Required = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.msg {
				t.Errorf("Required = %v, want %q", err, tc.msg)
			}
			if got := fmt.Sprint(config.Nest("sources.s", err)); got != tc.nest {
				t.Errorf("Nest = %s, want %s", got, tc.nest)
			}
		})
	}
}

func TestPair(t *testing.T) {
	for _, tc := range []struct {
		a, b bool
		want string
	}{
		{false, false, ""}, {true, true, ""},
		{true, false, "tls.keyFile: required with tls.certFile"},
		{false, true, "tls.certFile: required with tls.keyFile"},
	} {
		err := config.Pair("tls.certFile", "tls.keyFile", tc.a, tc.b)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("Pair(%v, %v) = %v, want %q", tc.a, tc.b, err, tc.want)
		}
	}
}
