package clickhouse_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/clickhouse"
	"github.com/sluicehq/sluice/connector/clickhouse/clickhousetest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
)

// TestMain lets the test binary serve as the server apart of the
// benchmark's -apart case (see storetest.Apart).
func TestMain(m *testing.M) { storetest.Main(m) }

// BenchmarkPerEvent compares the cost per event of the clickhouse
// destination (its default LZ4 blocks, batches of 10,000) with the file
// destination's (fsync per batch), for the storetest events (realistic
// syslog lines by default, see storetest.Events): against a server that
// discards the body, in this process (its reads counted) and in a process
// of its own (clickhouse-apart: the sender alone, but for loopback's
// receive path; see storetest.Apart), and against a real
// clickhouse-server (its own CPU is not counted either); the last two
// with each compression, reporting the bytes sent per event
// (wire-B/event). Run with -benchtime=200000x.
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
		storetest.PerEvent(b, d, storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
	// The events' syslog fields (and structured data, in a fifth of them)
	// sent as objects rather than flattened (the default): the cost of
	// flattening.
	for _, nested := range []string{"objects"} {
		b.Run("clickhouse-discard/nested="+nested, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs", Nested: nested})
			if err != nil {
				b.Fatal(err)
			}
			storetest.PerEvent(b, d, storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
		})
	}
	storetest.Compressions(b, "clickhouse-apart", []string{"lz4", "gzip", "none"}, func(b *testing.B, compression string) {
		perEvent(b, clickhouse.Config{URL: storetest.Apart(b), Table: "logs", Compression: compression})
	})
	storetest.Compressions(b, "clickhouse-server", []string{"lz4", "gzip"}, func(b *testing.B, compression string) {
		srv := clickhousetest.Start(b)
		srv.MustQuery(b, "CREATE TABLE IF NOT EXISTS logs (ts DateTime, receivedAt DateTime, source String, host String, raw String) ENGINE = MergeTree ORDER BY ts")
		perEvent(b, clickhouse.Config{URL: srv.URL, Table: "logs", Compression: compression, Batch: batch.Config{Count: 10000, Bytes: 8 << 20, Age: time.Second}})
	})
}

// perEvent runs storetest.PerEvent on a destination configured by c, and
// reports the bytes it sent per event.
func perEvent(b *testing.B, c clickhouse.Config) {
	var sent atomic.Int64
	d, err := clickhouse.New(c, clickhouse.WithHooks(clickhouse.Hooks{Written: func(_, bytes int, _ time.Duration) { sent.Add(int64(bytes)) }}))
	if err != nil {
		b.Fatal(err)
	}
	storetest.PerEvent(b, d, storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	b.ReportMetric(float64(sent.Load())/float64(b.N), "wire-B/event")
}
