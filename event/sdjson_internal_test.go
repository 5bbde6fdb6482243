package event

import (
	"bytes"
	"testing"
)

// sdCases are structured data the one-pass encoding takes (ok) or leaves
// to Elements (not ok).
var sdCases = []struct {
	sd string
	ok bool
}{
	{`[timeQuality ip="6481" iut="64109" language="19678"]`, true},
	{`[exampleSDID@32473 eventSource="97762"][meta]`, true},
	{`[a b=""][c d="x y ] z"]`, true},
	{`[ex@1 a="1\"2\]" b="\\" c="\x"][ex@1 c="3"]`, true},
	{"[a b=\"é \xff \u2028 \x00 tab\t\"]", true},
	{`[a b="x\"]`, false},     // unterminated: the escaped quote is not the end
	{`[a b="x"`, false},       // unterminated element
	{`[a  b="x"]`, false},     // two spaces
	{`[a b=x]`, false},        // unquoted value
	{`[a\b c="1"]`, false},    // a backslash in a name needs escaping
	{`[a b="1"] [c]`, false},  // a space between elements
	{`x[a]`, false},           // not an element
	{`[a b="1"]tail`, false},  // bytes after the last element
	{`[]`, false},             // no SD-ID
	{`[a b c="1"]`, false},    // a name without a value
	{"[\xff b=\"1\"]", false}, // a byte that is not PRINTUSASCII
	{`[a b="1"c="2"]`, false}, // no space between params
	{`[a =""]`, false},        // no PARAM-NAME
	{`[a b="1" ]`, false},     // a space before ']'
	{`[a b=`, false},          // cut short
	{`[a b="`, false},         // cut short
	{`[a b="\`, false},        // cut short in an escape
	{`[a b="\"`, false},       // cut short after an escape
}

// TestAppendSDFast checks which structured data the one-pass encoding
// takes, and that it writes the same bytes as the walk with Elements.
func TestAppendSDFast(t *testing.T) {
	for _, c := range sdCases {
		got, ok := appendSDFast([]byte("{"), c.sd)
		if ok != c.ok {
			t.Errorf("appendSDFast(%q): ok %v, want %v", c.sd, ok, c.ok)
		}
		want := appendSDElements([]byte("{"), c.sd)
		if ok && !bytes.Equal(got, want) {
			t.Errorf("appendSDFast(%q) = %s, Elements give %s", c.sd, got, want)
		}
		if got := appendSD([]byte("{"), c.sd); !bytes.Equal(got, want) {
			t.Errorf("appendSD(%q) = %s, Elements give %s", c.sd, got, want)
		}
	}
}

// FuzzAppendSD checks that appendSD writes, byte for byte, what the walk
// with Elements writes, for any structured data; FuzzAppendJSON checks
// the latter against encoding/json.
func FuzzAppendSD(f *testing.F) {
	for _, c := range sdCases {
		f.Add(c.sd)
	}
	f.Fuzz(func(t *testing.T, sd string) {
		want := appendSDElements([]byte("x"), sd)
		if got := appendSD([]byte("x"), sd); !bytes.Equal(got, want) {
			t.Fatalf("appendSD(%q) = %s, Elements give %s", sd, got, want)
		}
		roomy := bytes.Repeat([]byte{0xfe}, 2*len(want)+64)[:1]
		if got := appendSD(roomy, sd); !bytes.Equal(got[1:], want[1:]) {
			t.Fatalf("appendSD(%q) into spare capacity = %s, Elements give %s", sd, got[1:], want[1:])
		}
	})
}
