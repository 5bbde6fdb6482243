package sluicetest_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sluicetest"
)

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	var names []string
	for _, name := range []string{"a", "Upper Case/with spaces & symbols", strings.Repeat("a long name ", 20)} {
		t.Run(name, func(t *testing.T) {
			got := sluicetest.UniqueName(t)
			if !valid.MatchString(got) {
				t.Errorf("UniqueName = %q, want it to match %v", got, valid)
			}
			if again := sluicetest.UniqueName(t); again != got {
				t.Errorf("UniqueName again = %q, want %q as for the same t", again, got)
			}
			names = append(names, got)
		})
	}
	seen := make(map[string]bool)
	for _, n := range names {
		if seen[n] {
			t.Errorf("UniqueName returned %q twice, for two tests", n)
		}
		seen[n] = true
	}
}
