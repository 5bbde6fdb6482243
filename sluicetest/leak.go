package sluicetest

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goroutines returns the stack of every goroutine, by id.
func goroutines() map[uint64]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := make(map[uint64]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		rest, ok := strings.CutPrefix(g, "goroutine ")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			stacks[n] = g
		}
	}
	return stacks
}

// leaked returns the stacks of the goroutines that are not in before,
// leaving out those of the testing package, oldest first.
func leaked(before map[uint64]string) []string {
	now := goroutines()
	var ids []uint64
	for id, stack := range now {
		if _, ok := before[id]; !ok && !testingOnly(stack) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	stacks := make([]string, len(ids))
	for i, id := range ids {
		stacks[i] = now[id]
	}
	return stacks
}

// testingOnly reports whether every function in stack, and the one that
// created it, belongs to the testing package or the runtime.
func testingOnly(stack string) bool {
	_, frames, _ := strings.Cut(stack, "\n")
	for line := range strings.SplitSeq(frames, "\n") {
		if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "...") {
			continue // a file:line, or frames elided
		}
		fn := strings.TrimPrefix(line, "created by ")
		if !strings.HasPrefix(fn, "testing.") && !strings.HasPrefix(fn, "runtime.") {
			return false
		}
	}
	return true
}

// checkLeaks reports, under run-stop, the goroutines started since before
// was taken that are still running after timeout.
func checkLeaks(t tb, before map[uint64]string, timeout time.Duration) {
	t.Helper()
	var left []string
	if poll(timeout, func() bool { left = leaked(before); return len(left) == 0 }) {
		return
	}
	const most = 5
	t.Errorf("run-stop: %s started during the subtest still running %v after it ended (left by the connector, or in a call that never returned); the first %d:\n\n%s",
		count(len(left), "goroutine"), timeout, min(most, len(left)), strings.Join(left[:min(most, len(left))], "\n\n"))
}
