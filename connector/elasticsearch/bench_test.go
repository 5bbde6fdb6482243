package elasticsearch_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/connector/internal/storetest"
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
// in-process server together; the server unzips the body and answers
// every item 201 without parsing the documents, as Elasticsearch lists
// one result per item);
// the -apart cases measure the sender alone, the server in a process of
// its own (but for loopback's receive path; see storetest.Apart), with
// gzip (the default) and, for what gzip costs, without, and with
// jsonRaw "unparsed" (the raw line left out of parsed events' documents).
func BenchmarkPerEvent(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		n := storetest.CountLines(body) / 2 // an action line and a document per item
		var out bytes.Buffer
		out.WriteString(`{"errors":false,"items":[`)
		for i := range n {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"index":{"status":201}}`)
		}
		out.WriteString("]}")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out.Bytes())
	}))
	defer srv.Close()
	storetest.File(b)
	msgs := storetest.Events(storetest.Pool, time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC))
	for _, id := range []string{"auto", "content"} {
		b.Run("elasticsearch/id="+id, func(b *testing.B) {
			d, err := elasticsearch.New(elasticsearch.Config{URL: config.Secret(srv.URL), ID: id})
			if err != nil {
				b.Fatal(err)
			}
			storetest.PerEvent(b, d, msgs)
		})
	}
	apart := storetest.Apart(b)
	for _, tc := range []struct{ name, id, compression, jsonRaw string }{
		{"id=auto", "auto", "", ""}, {"id=content", "content", "", ""}, {"id=content,compression=none", "content", "none", ""},
		{"id=content,jsonRaw=unparsed", "content", "", "unparsed"},
	} {
		b.Run("elasticsearch-apart/"+tc.name, func(b *testing.B) {
			d, err := elasticsearch.New(elasticsearch.Config{URL: config.Secret(apart), ID: tc.id, Compression: tc.compression, JSONRaw: tc.jsonRaw})
			if err != nil {
				b.Fatal(err)
			}
			storetest.PerEvent(b, d, msgs)
		})
	}
}
