package file_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
)

// TestSourceStopWithBatchWaiting stops the source at the moment its queue
// is full and the reader holds a whole batch it waits to queue: those
// lines were tracked but never handed out. Run must not wait the ack wait
// (a minute) for them, must not commit past them, and a restart must read
// them: every line arrives, in order, and none before the last acked one
// twice.
func TestSourceStopWithBatchWaiting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	want := writeLines(t, path, "q", 20_000, nil)
	cfg := file.SourceConfig{Paths: []string{path}, StartAt: "beginning", StateDir: filepath.Join(dir, "state")}
	r1 := startSource(t, cfg, true, true, file.WithAckWait(time.Minute))
	queued := 16*sluice.RecvBatchSize + sluice.RecvBatchSize // the queue, and the batch waiting
	waitCond(t, fmt.Sprintf("%d lines queued", queued), func() bool { return file.Queued(r1.src) == int64(queued) })
	r1.cancel()
	close(r1.receive) // the Processor drains the queue, acking all
	r1.stop(t)        // fails if Run waits the ack wait
	first := r1.raws()
	if len(first) != queued-sluice.RecvBatchSize {
		t.Fatalf("first run handed out %d lines, want the %d queued", len(first), queued-sluice.RecvBatchSize)
	}

	r2 := run(t, cfg, true)
	r2.waitN(t, len(want)-len(first))
	r2.stop(t)
	if got := append(first, r2.raws()...); !slices.Equal(got, want) {
		t.Fatalf("got %d lines over two runs, want the %d written, in order, once", len(got), len(want))
	}
}
