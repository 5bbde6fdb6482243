package splunk_test

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
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/daemon/config"
)

// TestUnexpectedResponses puts a proxy in front of HEC that answers the
// first event request with something HEC does not send (a proxy's page,
// a body cut off, JSON without HEC's "code") and passes the next ones
// on: the batch is not acked on the strange answer but sent again,
// indexed, and acked; with and without a dead letter (events encoded by
// the flush, or by Send).
func TestUnexpectedResponses(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"502 page from a proxy", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", 502},
		{"200 page from a proxy", "text/html", "<html><body>Please log in</body></html>", 200},
		{"200 empty", "application/json", "", 200},
		{"200 cut off", "application/json", `{"text":"Succ`, 200},
		{"200 without code", "application/json", `{"status":"ok"}`, 200},
	} {
		for _, withDL := range []bool{false, true} {
			name := tc.name
			if withDL {
				name += ", dead letter"
			}
			t.Run(name, func(t *testing.T) {
				hec, c := newHEC(t, false)
				target, _ := url.Parse(hec.URL)
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
				c.URL = config.Secret(srv.URL)
				c.Batch = batch.Config{Count: 3, Age: time.Hour, Parallelism: 1, Retry: storetest.FastRetry}
				var opts []splunk.Option
				dl := &storetest.DeadLetter{}
				if withDL {
					opts = append(opts, splunk.WithDeadLetter(dl))
				}
				d, err := splunk.New(c, opts...)
				if err != nil {
					t.Fatal(err)
				}
				storetest.Run(t, d)
				acked := make(chan struct{})
				if err := d.Send(context.Background(), func() { close(acked) }, ev("a"), ev("b"), ev("c")); err != nil {
					t.Fatal(err)
				}
				waitAck(t, acked)
				if got := n.Load(); got != 2 || len(hec.Events()) != 3 || len(dl.Got()) != 0 {
					t.Errorf("%d requests, %d events indexed, %d dead-lettered: want the batch sent again and its 3 events indexed", got, len(hec.Events()), len(dl.Got()))
				}
			})
		}
	}
}
