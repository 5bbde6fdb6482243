package journald

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

// exportDest appends each message's Raw as the MESSAGE of an entry to a
// fake journal: the write side of the pair the conformance suite needs.
type exportDest struct {
	mu   sync.Mutex
	path string
}

func (d *exportDest) Send(ctx context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var b []byte
	for _, m := range msgs {
		b = AppendExport(b, fs("__REALTIME_TIMESTAMP", fmt.Sprint(time.Now().UnixMicro()), "MESSAGE", string(m.Value.Raw)))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	sluice.Ack(ack)
	return nil
}

func TestConformance(t *testing.T) {
	journalctl, _ := fakeJournal(t)
	root := t.TempDir()
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			dir := filepath.Join(root, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			c := testConfig(journalctl, dir, filepath.Join(dir, "state"))
			src, err := New(c, name)
			if err != nil {
				t.Fatal(err)
			}
			return src, &exportDest{path: filepath.Join(dir, "export")}
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}
