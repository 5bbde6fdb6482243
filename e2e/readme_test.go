package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeQuickStart runs the README's quick start block in bash, as a
// user pastes it, in an empty directory (with the repository's examples/)
// against the embedded default: every command must succeed, the readiness
// wait must come before logger's line (or it would be lost over UDP), and
// tail must print it. "go build" is replaced by a copy of the binary
// under test.
func TestReadmeQuickStart(t *testing.T) {
	for _, p := range []string{"bash", "curl", "logger"} {
		need(t, p)
	}
	for _, addr := range []string{"127.0.0.1:5514", "127.0.0.1:9595"} {
		if l, err := net.Listen("tcp", addr); err != nil {
			t.Skipf("%s is taken (%v); the default config needs it", addr, err)
		} else {
			l.Close()
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Quick start\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no quick start sh block")
	}
	script := string(m[1])
	const build = "go build -o sluiced ./cmd/sluiced\n"
	if !strings.HasPrefix(script, build) {
		t.Fatalf("the quick start does not begin with %q:\n%s", build, script)
	}
	script = "set -e\ncp " + sluiced + " ./sluiced\n" + strings.TrimPrefix(script, build) + "wait\n"
	dir := t.TempDir()
	abs, _ := filepath.Abs("../examples")
	if err := os.Symlink(abs, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the quick start did not finish in 60s:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the quick start failed: %v\n%s", err, out)
	}
	for _, want := range []string{"ready", `"message":"hello"`, "source/syslog", "destination/file", ": ok ("} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quick start's output has no %q:\n%s", want, out)
		}
	}
}
