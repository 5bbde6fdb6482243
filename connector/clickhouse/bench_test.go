package clickhouse_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/clickhouse"
	"github.com/sluicehq/sluice/connector/clickhouse/clickhousetest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
)

// BenchmarkPerEvent compares the cost per event of the clickhouse
// destination (gzip on, batches of 10,000) with the file destination's
// (fsync per batch), for 250-byte events: against an in-process server
// that discards the body, and against a real clickhouse-server (its own
// CPU is not counted). Run with -benchtime=200000x.
func BenchmarkPerEvent(b *testing.B) {
	storetest.File(b)
	b.Run("clickhouse-discard", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		defer srv.Close()
		d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs"})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, storetest.Events(100, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
	b.Run("clickhouse-server", func(b *testing.B) {
		srv := clickhousetest.Start(b)
		srv.MustQuery(b, "CREATE TABLE IF NOT EXISTS logs (ts DateTime, receivedAt DateTime, source String, host String, raw String) ENGINE = MergeTree ORDER BY ts")
		d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs", Batch: batch.Config{Count: 10000, Bytes: 8 << 20, Age: time.Second}})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, storetest.Events(100, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
}
