//go:build unix

// Package fdlimit makes room for many open sockets in tests that open
// thousands of real connections.
package fdlimit

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// Need makes sure the process may open at least n file descriptors: it
// raises RLIMIT_NOFILE (the soft limit up to the hard one, and the hard one
// too where the process may). If it cannot, the test is skipped with the
// reason, or fails under SLUICE_E2E=1.
func Need(t testing.TB, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fail(t, "read RLIMIT_NOFILE: "+err.Error())
		return
	}
	if lim.Cur >= n {
		return
	}
	want := lim
	want.Cur = n
	want.Max = max(lim.Max, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		fail(t, "this test opens "+itoa(n)+" file descriptors, RLIMIT_NOFILE is "+itoa(lim.Cur)+
			" (hard "+itoa(lim.Max)+") and cannot be raised: "+err.Error()+"; run ulimit -n "+itoa(n))
	}
}

func fail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("SLUICE_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
