package elasticsearch_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/daemon/config"
)

// TestUnexpectedResponses puts a proxy in front of the cluster that
// answers the first _bulk request with something Elasticsearch does not
// send (a proxy's page, a cut-off or foreign JSON body) and passes the
// next ones on: the batch is not acked on the strange answer but sent
// again, stored once, and acked.
func TestUnexpectedResponses(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"502 page from a proxy", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", 502},
		{"200 page from a proxy", "text/html", "<html><body>Please log in</body></html>", 200},
		{"200 cut off", "application/json", `{"errors":true,"items":[{"index":{"status":201}}`, 200},
		{"200 cut before its last brace", "application/json", `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":201}},{"index":{"status":201}}]`, 200},
		{"200 without errors", "application/json", `{"acknowledged":true}`, 200},
		{"200 empty object", "application/json", `{}`, 200},
		{"200 empty", "application/json", ``, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := estest.New(t.Cleanup)
			target, _ := url.Parse(es.URL)
			proxy := httputil.NewSingleHostReverseProxy(target)
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", tc.contentType)
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			dl := &storetest.DeadLetter{}
			d, err := elasticsearch.New(elasticsearch.Config{URL: config.Secret(srv.URL), Index: "odd", ID: "content", Timeout: 5 * time.Second,
				Batch: batch.Config{Count: 3, Age: time.Hour, Parallelism: 1, Retry: storetest.FastRetry}}, elasticsearch.WithDeadLetter(dl))
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			a := newAcks()
			if err := d.Send(context.Background(), a.ack, ev("a"), ev("b"), ev("c")); err != nil {
				t.Fatal(err)
			}
			a.wait(t, 1)
			docs, _ := es.Docs("odd")
			if got := n.Load(); got != 2 || len(docs) != 3 || len(dl.Got()) != 0 {
				t.Errorf("%d requests, %d documents stored, %d dead-lettered: want the batch sent again and its 3 documents stored", got, len(docs), len(dl.Got()))
			}
		})
	}
}
