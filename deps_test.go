package sluice_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsOnlyStd fails if the core package gains a dependency
// outside the standard library: a program that imports sluice must
// compile no SDK.
func TestCoreImportsOnlyStd(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/sluicehq/sluice" {
			t.Errorf("the core package imports %s; it may import only the standard library", dep)
		}
	}
}
