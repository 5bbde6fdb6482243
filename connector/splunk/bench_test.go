package splunk_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/daemon/config"
)

// TestMain lets the test binary serve as the server apart of the
// benchmark's -apart case (see storetest.Apart).
func TestMain(m *testing.M) { storetest.Main(m) }

// BenchmarkPerEvent sends the storetest events (realistic syslog lines by
// default, see storetest.Events), 100 per Send, through the
// destination's Run until every Send is acked, beside the file
// destination (fsync per batch, its default) doing the same: one op is
// one event. It reports the process's CPU time per event (client and the
// in-process server together; the server reads the body and answers
// Success, so that the figure is the destination's cost), and for
// splunk_hec-apart of the sender alone, the server in a process of its
// own (but for loopback's receive path; see storetest.Apart).
func BenchmarkPerEvent(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storetest.CountLines(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	storetest.File(b)
	b.Run("splunk_hec", func(b *testing.B) {
		d, err := splunk.New(splunk.Config{URL: config.Secret(srv.URL), Token: token})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
	storetest.Compressions(b, "splunk_hec-apart", []string{"gzip", "none"}, func(b *testing.B, compression string) {
		d, err := splunk.New(splunk.Config{URL: config.Secret(storetest.Apart(b)), Token: token, Compression: compression})
		if err != nil {
			b.Fatal(err)
		}
		storetest.PerEvent(b, d, storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)))
	})
}
