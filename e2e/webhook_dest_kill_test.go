package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWebhookDestinationKill creates the two dangerous moments of the
// http (webhook) destination, holding the receiver's answer to one POST
// of a sluiced run (file source -> sluiced -> a receiver in this test)
// and SIGKILLing sluiced while it is held:
//
//   - run 1: the receiver stored the held batch; its 200 never reaches
//     sluiced;
//   - run 2: the held batch is never stored.
//
// Every later POST is held too, and never stored. The batch is checked
// in the receiver before the restart. After a third start, every line of
// the file must have been received: none missing, duplicates counted.
func TestWebhookDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const (
		n      = 20_000
		holdAt = 5 // the POST of each run whose answer is held
	)
	var mu sync.Mutex
	got := map[int64]int{}
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seqs := bodySeqs(t, r.Body)
		mu.Lock()
		for _, s := range seqs {
			got[s]++
		}
		mu.Unlock()
	})
	received := func() map[int64]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(got)
	}
	dir := t.TempDir()
	logPath := seqLog(t, dir, n, "webhook destination kill")
	config := func(url string) string {
		return holdKillConfig(logPath, fmt.Sprintf(`{"type": "http", "url": %q, "format": "raw"}`, url))
	}
	for r, stored := range []bool{true, false} {
		before := received() // run 2 sends again lines run 1 stored
		var posts atomic.Int64
		h := newHTTPHold(store, func(*http.Request) bool { return posts.Add(1) == holdAt }, stored)
		if !h.kill(t, dir, config, fmt.Sprintf("run %d: POST %d", r+1, holdAt)) {
			break
		}
		seqs := bodySeqs(t, bytes.NewReader(h.body))
		in, gained := received(), 0
		for _, s := range seqs {
			if in[s] > before[s] {
				gained++
			}
		}
		again := 0
		for _, c := range in {
			again += c - 1
		}
		t.Logf("run %d: SIGKILL with the answer to POST %d (%d lines, stored: %v) held; %d of them received, %d distinct lines in all, %d received again",
			r+1, holdAt, len(seqs), stored, gained, len(in), again)
		if want := map[bool]int{true: len(seqs), false: 0}[stored]; gained != want || len(seqs) == 0 {
			t.Fatalf("run %d: %d of the held POST's %d lines received, want %d: the test did not create its moment", r+1, gained, len(seqs), want)
		}
	}
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	d := start(t, dir, config(srv.URL))
	waitAll(n, func() int { return len(received()) })
	d.stop(t)
	checkAllSent(t, received(), n, "2 SIGKILLs with a webhook answer held")
}

// bodySeqs returns the seqs of a body of raw lines.
func bodySeqs(t *testing.T, body io.Reader) []int64 {
	var seqs []int64
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		seqs = append(seqs, lineSeq(t, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Errorf("body: %v", err)
	}
	return seqs
}
