// Package tmpfstest mounts a small tmpfs for tests that fill a file
// system on purpose (ENOSPC). Mounting needs root (or CAP_SYS_ADMIN) on
// Linux: without it the test skips, unless SLUICE_E2E=1, where it fails.
package tmpfstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory and
// returns the directory; it is unmounted when the test ends.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	why := ""
	if runtime.GOOS != "linux" {
		why = "tmpfs is Linux only"
	} else if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		why = fmt.Sprintf("mount -t tmpfs: %v: %s (needs root)", err, out)
	}
	if why != "" {
		if os.Getenv("SLUICE_E2E") == "1" {
			t.Fatalf("cannot mount a tmpfs (SLUICE_E2E=1 requires it): %s", why)
		}
		t.Skipf("cannot mount a tmpfs: %s; set SLUICE_E2E=1 to make this a failure", why)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file of zeros at path until the file system is full, and
// returns its size.
func Fill(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if err != nil {
			return n
		}
	}
}
