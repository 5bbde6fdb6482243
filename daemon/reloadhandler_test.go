package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// heldHandler passes events on, each Handle call of the first instance
// waiting until release is closed; it records a Close that comes while a
// call is in progress (a wasm handler's runtime freed under a batch).
type heldHandler struct {
	release  chan struct{} // nil: no wait
	entered  chan struct{}
	inCall   atomic.Int64
	closed   atomic.Bool
	midBatch atomic.Bool
}

func (h *heldHandler) Handle(_ context.Context, m sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	h.inCall.Add(1)
	defer h.inCall.Add(-1)
	if h.release != nil {
		select {
		case h.entered <- struct{}{}:
		default:
		}
		<-h.release
	}
	return []sluice.Message[event.Event]{m}, nil
}

func (h *heldHandler) Close() error {
	if h.inCall.Load() > 0 {
		h.midBatch.Store(true)
	}
	h.closed.Store(true)
	return nil
}

// A reload that replaces a route while its handler is in the middle of a
// batch waits for the batch: the handler is closed only once no call of it
// is in progress, the event it held is delivered once through the old
// route, and the events after the reload go through the new handler.
func TestReloadWaitsForAHandlerMidBatch(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.ndjson")
	if err := os.WriteFile(in, []byte("seq=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var built []*heldHandler
	var lc lifecycle
	r := lc.registry()
	type heldConfig struct {
		Tag string `json:"tag"`
	}
	daemon.RegisterHandler(r, "held", "passes events on, the first instance once released", func() *heldConfig { return &heldConfig{} },
		func(daemon.Env, *heldConfig) (sluice.Handler[event.Event, event.Event], error) {
			mu.Lock()
			defer mu.Unlock()
			h := &heldHandler{entered: make(chan struct{}, 1)}
			if len(built) == 0 {
				h.release = release
			}
			built = append(built, h)
			return h, nil
		})
	config := func(tag string) []byte {
		return fmt.Appendf(nil, `{
			"dataDir": %q, "shutdownTimeout": "1m",
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": "10ms"}},
			"destinations": {"out": {"type": "counted", "path": %q, "maxBytes": 0, "batch": {"age": "5ms"}}},
			"routes": [{"name": "main", "from": ["in"], "to": ["out"], "handlers": [{"type": "held", "tag": %q}]}],
		}`, filepath.Join(dir, "data"), in, out, tag)
	}
	var logs syncBuf
	dm := runDaemon(t, config("1"), r, &logs)
	mu.Lock()
	first := built[0]
	mu.Unlock()
	<-first.entered // seq=0 is in the handler's call
	reloaded := make(chan error, 1)
	go func() { reloaded <- dm.Reload(t.Context(), config("2")) }()
	waitLong(t, "the reload to start", func() bool { return strings.Contains(logs.String(), "reload: applying the new config") })
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if first.midBatch.Load() {
		t.Error("the replaced handler was closed while a call of it was in progress")
	}
	if !first.closed.Load() {
		t.Error("the replaced handler was not closed")
	}
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "seq=1")
	f.Close()
	waitLong(t, "both lines in out", func() bool { return len(seqCounts(t, out)) == 2 })
	if missing, dups := exactlyOnce(seqCounts(t, out), 2); missing > 0 || dups > 0 {
		t.Errorf("out: %d missing, %d duplicates", missing, dups)
	}
	if got, want := lc.counts("out"), [3]int{1, 1, 0}; got != want {
		t.Errorf("out built, ran, stopped %v times, want %v", got, want)
	}
}
