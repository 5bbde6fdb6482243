package elasticsearch_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
)

// TestGzipBodies sends the same 50 events with each compression: the
// in-process server, which decompresses as Elasticsearch does, counts
// the gzipped bodies (gzip magic and Content-Encoding both) and stores
// every document either way.
func TestGzipBodies(t *testing.T) {
	for _, tc := range []struct {
		compression string
		gzipped     bool
	}{{"", true}, {"gzip", true}, {"none", false}} {
		t.Run("compression="+tc.compression, func(t *testing.T) {
			tg := newTarget(t)
			c := tg.config("gzip")
			c.Compression = tc.compression
			c.Batch = batch.Config{Count: 10, Age: time.Hour, Retry: storetest.FastRetry}
			d, err := elasticsearch.New(c)
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			a := newAcks()
			var msgs []sluice.Message[event.Event]
			for i := range 50 {
				msgs = append(msgs, ev(fmt.Sprintf("line %d %s", i, strings.Repeat("x", 200))))
			}
			if err := d.Send(context.Background(), a.ack, msgs...); err != nil {
				t.Fatal(err)
			}
			a.wait(t, 1)
			if docs, _ := tg.read("gzip"); len(docs) != 50 {
				t.Errorf("stored %d documents, want 50", len(docs))
			}
			if es := tg.fake; es != nil {
				if got := es.Gzipped(); (got == 5) != tc.gzipped || (got == 0) == tc.gzipped {
					t.Errorf("%d of 5 bulk bodies gzipped, want gzip %v", got, tc.gzipped)
				}
			}
		})
	}
}

// TestServerDecompresses checks the in-process server against what
// Elasticsearch does with Content-Encoding: a body that says gzip but is
// not is refused with 400, so a body stored was decompressed.
func TestServerDecompresses(t *testing.T) {
	tg := newTarget(t)
	tg.needFake(t)
	req, _ := http.NewRequest(http.MethodPost, tg.URL()+"/_bulk", strings.NewReader("{\"index\":{\"_index\":\"x\"}}\n{\"a\":1}\n"))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain body marked gzip: %s, want 400", resp.Status)
	}
}
