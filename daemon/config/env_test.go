package config

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		in     string
		hidden bool
		want   string
		vars   []string
		errs   []string
	}{
		{in: "plain", want: "plain"},
		{in: "", want: ""},
		{in: "$PORT", want: "8080", vars: []string{"PORT"}},
		{in: "$_x1", errs: []string{"environment variable _x1 is not set"}, vars: []string{"_x1"}},
		{in: "${PORT}", want: "8080", vars: []string{"PORT"}},
		{in: "${HOST}:${PORT}", want: "example.com:8080", vars: []string{"HOST", "PORT"}},
		{in: "${PORT}${PORT}", want: "80808080", vars: []string{"PORT"}},
		{in: "$EMPTY", want: "", vars: []string{"EMPTY"}},
		{in: "$$", want: "$"},
		{in: "$$$$", want: "$$"},
		{in: "$$PORT", want: "$PORT"},
		{in: "$${PORT}", want: "${PORT}"},
		{in: "$$$PORT", want: "$$PORT"}, // "$$" then "$P…", which is not a reference
		{in: "$$${PORT}", want: "$8080", vars: []string{"PORT"}},
		{in: "$", want: "$"},
		{in: "a$", want: "a$"},
		{in: "$5", want: "$5"},
		{in: "$PORT/x", want: "$PORT/x"},
		{in: "cost: $PORT", want: "cost: $PORT"},
		{in: "${NOPE}", vars: []string{"NOPE"}, errs: []string{"environment variable NOPE is not set"}},
		{in: "${NOPE}${NOPE}", vars: []string{"NOPE"}, errs: []string{"environment variable NOPE is not set"}},
		{in: "${A1}-${B1}", vars: []string{"A1", "B1"}, errs: []string{"environment variable A1 is not set", "environment variable B1 is not set"}},
		{in: "${PORT", errs: []string{`missing "}" after "${" (write "$$" for a literal "$")`}},
		{in: "${}", errs: []string{`invalid environment variable name ""`}},
		{in: "${9}", errs: []string{`invalid environment variable name "9"`}},
		{in: "${a-b}", errs: []string{`invalid environment variable name "a-b"`}},
		{in: "${a-b}", hidden: true, errs: []string{`invalid environment variable name`}},
	}
	for _, tc := range tests {
		x := expand(tc.in, lookup, tc.hidden)
		if len(x.errs) == 0 && x.value != tc.want || !slices.Equal(x.vars, tc.vars) || !slices.Equal(x.errs, tc.errs) {
			t.Errorf("expand(%q) = %q, vars %q, errs %q; want %q, %q, %q", tc.in, x.value, x.vars, x.errs, tc.want, tc.vars, tc.errs)
		}
	}
}

func TestFromVars(t *testing.T) {
	for _, tc := range []struct {
		vars []string
		want string
	}{
		{nil, ""},
		{[]string{"A"}, " (from $A)"},
		{[]string{"A", "B"}, " (from $A, $B)"},
	} {
		if got := fromVars(tc.vars); got != tc.want {
			t.Errorf("fromVars(%q) = %q, want %q", tc.vars, got, tc.want)
		}
	}
}
