package spool

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	for _, sync := range []string{SyncBatch, SyncInterval} {
		t.Run(sync, func(t *testing.T) {
			dir := t.TempDir()
			sluicetest.Run(t, sluicetest.Features{
				Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true,
			}, func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
				s, err := New(Config{Dir: filepath.Join(dir, name), Sync: sync, SegmentBytes: 4 << 10, MaxBytes: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				return s, s
			})
		})
	}
}
