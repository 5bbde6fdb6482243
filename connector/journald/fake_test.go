package journald

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/event"
)

// The test binary, run under the name "journalctl", is a fake journalctl:
// it follows the entries in <directory>/export (export format, without
// cursors), giving entry k (from 1) the cursor "i=k". It honours
// --after-cursor, --lines=0, --lines=1 and --lines=all, and without
// --follow writes what there is and exits. It appends its arguments to
// <directory>/args, and if <directory>/crash exists, removes it and exits
// with status 1 once it has written every entry there is. If
// <directory>/failend holds a number n, a run with --lines=1 and without
// --follow fails (status 1, a message on stderr) and, if n > 0, writes
// n-1 there: n < 0 fails every such run.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "journalctl" {
		os.Exit(fakeJournalctl(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeJournalctl(args []string) int {
	var dir string
	next := 0 // index of the first entry to write
	atEnd, last, follow := false, false, false
	for _, a := range args {
		switch {
		case a == "--follow":
			follow = true
		case a == "--lines=1":
			last = true
		case strings.HasPrefix(a, "--directory="):
			dir = strings.TrimPrefix(a, "--directory=")
		case strings.HasPrefix(a, "--after-cursor="):
			k, err := strconv.Atoi(strings.TrimPrefix(a, "--after-cursor=i="))
			if err != nil {
				fmt.Fprintf(os.Stderr, "Failed to seek to cursor: %v\n", err)
				return 1
			}
			next = k
		case a == "--lines=0":
			atEnd = true
		}
	}
	if dir == "" {
		fmt.Fprintln(os.Stderr, "fake journalctl needs --directory")
		return 1
	}
	if f, err := os.OpenFile(filepath.Join(dir, "args"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	if last && !follow && failEnd(dir) {
		fmt.Fprintln(os.Stderr, "fake journalctl: failing as asked")
		return 1
	}
	if n := len(fakeEntries(dir)); atEnd && next == 0 {
		next = n
	} else if last && next == 0 {
		next = max(n-1, 0)
	}
	w := bufio.NewWriter(os.Stdout)
	parent := os.Getppid()
	for {
		if os.Getppid() != parent {
			return 0 // orphaned: the test binary that started us died
		}
		entries := fakeEntries(dir)
		for ; next < len(entries); next++ {
			fields := append([]event.Field{{Name: "__CURSOR", Value: fmt.Sprintf("i=%d", next+1)}}, entries[next]...)
			if _, err := w.Write(AppendExport(nil, fields)); err != nil {
				return 0
			}
		}
		if err := w.Flush(); err != nil || !follow {
			return 0
		}
		if err := os.Remove(filepath.Join(dir, "crash")); err == nil {
			fmt.Fprintln(os.Stderr, "fake journalctl: crashing as asked")
			return 1
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failEnd reports whether <dir>/failend asks this run to fail, counting
// it down.
func failEnd(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "failend"))
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n == 0 {
		return false
	}
	if n > 0 {
		_ = os.WriteFile(filepath.Join(dir, "failend"), []byte(strconv.Itoa(n-1)), 0o644)
	}
	return true
}

// fakeEntries reads the complete entries in <dir>/export.
func fakeEntries(dir string) [][]event.Field {
	b, _ := os.ReadFile(filepath.Join(dir, "export"))
	r := NewReader(bytes.NewReader(b))
	var entries [][]event.Field
	for {
		e, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				fmt.Fprintf(os.Stderr, "fake journalctl: %v\n", err)
			}
			return entries
		}
		entries = append(entries, e)
	}
}

// fakeJournal returns the path of the fake journalctl and a directory for
// its journal.
func fakeJournal(t *testing.T) (journalctl, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	journalctl = filepath.Join(bin, "journalctl")
	if err := os.Symlink(exe, journalctl); err != nil {
		t.Fatal(err)
	}
	return journalctl, t.TempDir()
}

// appendEntries appends entries to the fake journal in dir.
func appendEntries(t *testing.T, dir string, entries ...[]event.Field) {
	t.Helper()
	var b []byte
	for _, e := range entries {
		b = AppendExport(b, e)
	}
	f, err := os.OpenFile(filepath.Join(dir, "export"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// fakeArgs returns the argument lists the fake journalctl was started with.
// following reports whether a journalctl --follow was started in dir.
func following(dir string) bool {
	return slices.ContainsFunc(fakeArgs(dir), func(a string) bool { return strings.Contains(a, "--follow") })
}

func fakeArgs(dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "args"))
	return strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' })
}
