package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The linker keeps every exported method of every type that reaches an
// interface once one reachable function looks a method up by a name known
// only at run time (a "<ReflectMethod>" in -ldflags=-dumpdep). expr-lang,
// which the route conditions and the filter handlers use, does so and
// cannot be left out; nothing else may: text/template, reached through
// golang.org/x/net/trace unless scripts/build's grpcnotrace tag is set,
// did. This test links sluiced with scripts/build's tags (reusing what
// TestMain compiled) and fails naming any other function that sets the
// flag, as it would cost megabytes of every release binary
// (docs/packaging.md, "Size").
func TestReflectMethodOnlyFromExpr(t *testing.T) {
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
	fromExpr := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		for _, side := range strings.Split(sc.Text(), " -> ") {
			name, ok := strings.CutSuffix(side, " <ReflectMethod>")
			if !ok || flagged[name] {
				continue
			}
			flagged[name] = true
			switch {
			case strings.HasPrefix(name, "github.com/expr-lang/expr/"):
				fromExpr++
			// reflect.Value.Methods (Go 1.26) sets the flag too, and is
			// only linked in because the flag is already set: it is an
			// exported method of reflect.Value.
			case strings.HasPrefix(name, "reflect."):
			default:
				t.Errorf("%s looks methods up by name at run time: find what links it in (go build -ldflags=-dumpdep) and leave it out", name)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if fromExpr == 0 {
		// The check itself would be broken: expr is known to set it.
		names := make([]string, 0, len(flagged))
		for n := range flagged {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("no expr-lang function has <ReflectMethod> in the -dumpdep output (flagged: %v); has the output's format changed?", names)
	}
}
