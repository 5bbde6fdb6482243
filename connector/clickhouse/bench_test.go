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
	"github.com/sluicehq/sluice/event"
)

// TestMain lets the test binary serve as the server apart of the
// benchmark's -apart case (see storetest.Apart).
func TestMain(m *testing.M) { storetest.Main(m) }

// BenchmarkPerEvent compares the cost per event of the clickhouse
// destination (gzip on, batches of 10,000) with the file destination's
// (fsync per batch), for 250-byte events: against a server
// that discards the body, in this process (its reads counted) and in a
// process of its own (clickhouse-apart: the sender alone, but for
// loopback's receive path; see storetest.Apart), and against a real
// clickhouse-server (its own CPU is not counted either). Run with
// -benchtime=200000x.
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
	// Syslog events with structured data, their nested objects flattened
	// (the default) or sent as objects: the cost of flattening.
	for _, nested := range []string{"flatten", "objects"} {
		b.Run("clickhouse-discard/syslog-"+nested, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			d, err := clickhouse.New(clickhouse.Config{URL: srv.URL, Table: "logs", Nested: nested})
			if err != nil {
				b.Fatal(err)
			}
			msgs := storetest.Events(100, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
			for i := range msgs {
				msgs[i].Value.Syslog = event.Syslog{Present: true, Facility: 4, Severity: 2, Version: 1, Hostname: "host", AppName: "app",
					ProcID: "1234", MsgID: "ID47", StructuredData: `[exampleSDID@32473 iut="3" eventSource="App"]`, Message: "user login failed"}
			}
			storetest.PerEvent(b, d, msgs)
		})
	}
	b.Run("clickhouse-apart", func(b *testing.B) {
		d, err := clickhouse.New(clickhouse.Config{URL: storetest.Apart(b), Table: "logs"})
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
