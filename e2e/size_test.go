package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The linker keeps every exported method of every type that reaches an
// interface once one reachable function looks a method up by a name known
// only at run time (a "<ReflectMethod>" in -ldflags=-dumpdep): 8.9 MB of
// the linux/arm64 binary. expr-lang did (third_party/expr/SLUICE.md: our
// copy has no method lookups), and text/template, reached through
// golang.org/x/net/trace unless scripts/build's grpcnotrace tag is set,
// did. This test links sluiced with scripts/build's tags (reusing what
// TestMain compiled) and fails naming any function that sets the flag
// (docs/packaging.md, "Size").
func TestReflectMethodNowhere(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sluiced")
	cmd := exec.Command("go", "build", "-tags", buildTags, "-ldflags", "-dumpdep", "-o", bin, "../cmd/sluiced")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go build -ldflags=-dumpdep: %v\n%s", err, stderr.Bytes())
	}
	// Lines are "FROM [<flags>] -> TO [<flags>]", on stdout or stderr
	// depending on the Go version.
	out = append(out, stderr.Bytes()...)
	flagged := map[string]bool{}
	edges := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		sides := strings.Split(sc.Text(), " -> ")
		if len(sides) == 2 {
			edges++
		}
		for _, side := range sides {
			name, ok := strings.CutSuffix(side, " <ReflectMethod>")
			if !ok || flagged[name] {
				continue
			}
			flagged[name] = true
			t.Errorf("%s looks methods up by name at run time: find what links it in (go build -ldflags=-dumpdep) and leave it out", name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if edges < 1000 {
		// The check itself would be broken: nothing to look at.
		t.Errorf("-dumpdep printed %d dependency lines; has its format changed?", edges)
	}
}
