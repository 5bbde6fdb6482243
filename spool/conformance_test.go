package spool

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	for _, sync := range []string{SyncBatch, SyncInterval} {
		t.Run(sync, func(t *testing.T) {
			dir := t.TempDir()
			sluicetest.Suite[[]byte]{
				Features: sluicetest.Features{
					Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true,
				},
				NewPair: func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
					s, err := New(Config{Dir: filepath.Join(dir, name), Sync: sync, SegmentBytes: 4 << 10, MaxBytes: 1 << 20})
					if err != nil {
						t.Fatal(err)
					}
					return s, s
				},
				// Read reads the segment files with Inspect, beside the
				// running Spool: the records not acked yet; the suite knows
				// those acked, which it received.
				Storage: sluicetest.Storage[[]byte]{Read: func(name string) ([]sluice.Message[[]byte], error) {
					var msgs []sluice.Message[[]byte]
					_, err := Inspect(filepath.Join(dir, name), func(_ uint64, _ time.Time, p []byte) {
						msgs = append(msgs, sluice.Message[[]byte]{Value: slices.Clone(p)})
					})
					return msgs, err
				}},
			}.Run(t)
		})
	}
}
