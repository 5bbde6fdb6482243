package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// slowEndpoint is an HTTP endpoint that answers each request after a
// random delay of up to 20ms, so that the acks of a disk buffer's loops
// come back out of order, and that can call kill while holding a request
// it has stored and not yet answered.
type slowEndpoint struct {
	mu    sync.Mutex
	got   map[int]int
	kill  func()
	after int // requests to store before the one that kills
}

func (e *slowEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
	e.mu.Lock()
	for _, m := range seqRE.FindAllSubmatch(body, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		e.got[n]++
	}
	var kill func()
	if e.kill != nil {
		if e.after--; e.after < 0 {
			kill, e.kill = e.kill, nil
		}
	}
	e.mu.Unlock()
	if kill != nil {
		kill() // stored, never answered
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (e *slowEndpoint) seqs() map[int]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[int]int, len(e.got))
	for k, v := range e.got {
		out[k] = v
	}
	return out
}

// TestSpoolLoopsKill: a disk buffer with eight loops forwards to a slow
// endpoint (four flushes at once, answers in random order) and sluiced
// is SIGKILLed while the endpoint holds a request, a few times; the
// spool's saved position must never pass a record whose request was not
// answered, so every line reaches the endpoint in the end.
func TestSpoolLoopsKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	e := &slowEndpoint{got: map[int]int{}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	runStoreCrash(t, crashStore{
		dest: fmt.Sprintf(`{"type": "http", "url": %q,
			"buffer": {"type": "disk", "parallelism": 8, "checkpointInterval": "5ms", "segmentBytes": 2097152, "maxBytes": 16777216},
			"batch": {"count": 40, "age": "5ms", "parallelism": 4, "retry": {"initial": "20ms", "max": "200ms"}}}`, srv.URL),
		seqs: e.seqs,
		// The file source saves its position often, so that what it
		// spooled is not read from the file again, which would hide a
		// record the spool lost.
		sourceCheckpoint: "5ms",
		armKill: func(kill func()) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.kill, e.after = kill, 40
		},
	})
}
