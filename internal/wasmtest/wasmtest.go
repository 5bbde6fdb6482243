// Package wasmtest builds WebAssembly guests for tests with the go
// command, the way their READMEs say: GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared. The Go build cache makes a rebuild cheap.
package wasmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds the guest in dir (relative to the caller's package, such as
// "../../examples/wasm/redact") as a reactor and returns its bytes. It
// skips the test if the go command is missing, or fails it under
// SLUICE_E2E=1.
func Build(tb testing.TB, dir string) []byte {
	tb.Helper()
	return build(tb, dir, "-buildmode=c-shared")
}

// BuildCommand builds the guest in dir as a command (no -buildmode).
func BuildCommand(tb testing.TB, dir string) []byte {
	tb.Helper()
	return build(tb, dir)
}

func build(tb testing.TB, dir string, flags ...string) []byte {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("SLUICE_E2E") == "1" {
			tb.Fatalf("no go command to build %s (SLUICE_E2E=1 requires it)", dir)
		}
		tb.Skipf("no go command to build %s; set SLUICE_E2E=1 to make this a failure", dir)
	}
	out := filepath.Join(tb.TempDir(), filepath.Base(dir)+".wasm")
	cmd := exec.Command(goTool, append(append([]string{"build"}, flags...), "-o", out, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("GOOS=wasip1 GOARCH=wasm go build %v in %s: %v\n%s", flags, dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
