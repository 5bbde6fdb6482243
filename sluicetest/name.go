package sluicetest

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// process sets this process's names apart from another's.
var process = strconv.FormatUint(rand.Uint64N(36*36*36*36*36*36), 36)

var names = struct {
	sync.Mutex
	n      uint64
	byTest map[tb]string
}{byTest: make(map[tb]string)}

// UniqueName returns a name unique to t and this process (for topics, files, queues).
// The same t gets the same name until it ends. The name is t's name,
// shortened, and two counters: at most 63 bytes of lower-case letters,
// digits and '-', beginning with a letter or digit.
func UniqueName(t *testing.T) string { return uniqueName(testingT{t}) }

func uniqueName(t tb) string {
	names.Lock()
	name, ok := names.byTest[t]
	if !ok {
		names.n++
		name = slug(t.Name(), 40) + "-" + process + "-" + strconv.FormatUint(names.n, 36)
		names.byTest[t] = name
	}
	names.Unlock()
	if !ok {
		t.Cleanup(func() {
			names.Lock()
			delete(names.byTest, t)
			names.Unlock()
		})
	}
	return name
}

// slug returns the last n bytes of s in lower case, with each run of
// other bytes than letters and digits turned into one '-'.
func slug(s string, n int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	out := b.String()
	if len(out) > n {
		out = strings.TrimLeft(out[len(out)-n:], "-")
	}
	if out == "" {
		out = "test"
	}
	return out
}
