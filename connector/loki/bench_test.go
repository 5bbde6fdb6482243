package loki_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/loki"
	"github.com/sluicehq/sluice/connector/loki/lokitest"
	"github.com/sluicehq/sluice/event"
)

// TestMain lets the test binary serve as the server apart of the
// benchmark's -apart case (see storetest.Apart).
func TestMain(m *testing.M) { storetest.Main(m) }

// benchEvents returns the storetest events timed from now on (Loki
// refuses old entries), of 9 apps: 9 streams.
func benchEvents() []sluice.Message[event.Event] {
	return storetest.Events(storetest.Pool, time.Now())
}

// BenchmarkPerEvent compares the cost per event of the loki destination
// (labels with a template, 1 MiB pushes) with the file destination's,
// for the storetest events (realistic syslog lines by default, see
// storetest.Events): against a server that discards the
// body, in this process (its reads counted) and in a process of its own
// (loki-apart: the sender alone, but for loopback's receive path; see
// storetest.Apart), and against lokitest, whose decoding and storing run
// in the same process and are counted. Run with -benchtime=200000x.
func BenchmarkPerEvent(b *testing.B) {
	storetest.File(b)
	labels := map[string]string{"job": "bench", "app": "{syslog.appName}"}
	b.Run("loki-discard", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		d, err := loki.New(loki.Config{URL: srv.URL, Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, benchEvents())
	})
	b.Run("loki-apart", func(b *testing.B) {
		d, err := loki.New(loki.Config{URL: storetest.Apart(b), Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, benchEvents())
	})
	b.Run("lokitest", func(b *testing.B) {
		srv := lokitest.Start(b)
		d, err := loki.New(loki.Config{URL: srv.URL, Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, benchEvents())
	})
}
