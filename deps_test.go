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

// TestInternalIsLow keeps internal/ the lowest layer of the module: its
// packages, and their tests, import nothing above the core's building
// blocks (no daemon, connector, handler or command), so the package graph
// reads bottom-up. Test helpers that need the daemon live above it, in
// daemon/daemontest.
func TestInternalIsLow(t *testing.T) {
	const mod = "github.com/sluicehq/sluice/"
	out, err := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./internal/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list found %d packages under internal/, want them all:\n%s", len(lines), out)
	}
	for _, line := range lines {
		pkg, deps, _ := strings.Cut(line, " ")
		for _, dep := range strings.Fields(deps) {
			for _, high := range []string{"daemon", "connector", "handler", "cmd", "e2e", "bench"} {
				if dep == mod+high || strings.HasPrefix(dep, mod+high+"/") {
					t.Errorf("%s depends on %s: internal/ must stay below the daemon and the connectors", pkg, dep)
				}
			}
		}
	}
}
