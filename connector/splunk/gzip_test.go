package splunk_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/event"
)

// TestGzipBodies sends the same 50 events with each compression, with
// and without indexer acknowledgement: the in-process HEC decompresses
// as Splunk does, counts the gzipped bodies, and indexes every event
// either way.
func TestGzipBodies(t *testing.T) {
	for _, tc := range []struct {
		compression string
		ack         bool
		gzipped     bool
	}{{"", false, true}, {"gzip", true, true}, {"none", false, false}, {"none", true, false}} {
		t.Run(fmt.Sprintf("compression=%s/ack=%v", tc.compression, tc.ack), func(t *testing.T) {
			hec, c := newHEC(t, tc.ack)
			c.Compression = tc.compression
			c.Batch = batch.Config{Count: 10, Age: time.Hour, Retry: storetest.FastRetry}
			d, err := splunk.New(c)
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			acked := make(chan struct{})
			var msgs []sluice.Message[event.Event]
			for i := range 50 {
				msgs = append(msgs, ev(fmt.Sprintf("line %d %s", i, strings.Repeat("x", 200))))
			}
			if err := d.Send(context.Background(), func() { close(acked) }, msgs...); err != nil {
				t.Fatal(err)
			}
			waitAck(t, acked)
			got := map[string]bool{}
			for _, e := range hec.Events() {
				got[e.Raw()] = true
			}
			for _, m := range msgs {
				if !got[string(m.Value.Raw)] {
					t.Fatalf("%q not indexed (%d events are)", m.Value.Raw, len(hec.Events()))
				}
			}
			if got := hec.Gzipped(); (got == 5) != tc.gzipped || (got == 0) == tc.gzipped {
				t.Errorf("%d of 5 event bodies gzipped, want gzip %v", got, tc.gzipped)
			}
		})
	}
}

// TestServerDecompresses checks the in-process HEC against Splunk: a
// body that says gzip but is not is refused with 400 code 6, so an event
// indexed from a gzipped request was decompressed.
func TestServerDecompresses(t *testing.T) {
	hec, _ := newHEC(t, false)
	req, _ := http.NewRequest(http.MethodPost, hec.URL+"/services/collector/event", strings.NewReader(`{"event":"x"}`))
	req.Header.Set("Authorization", "Splunk "+token)
	req.Header.Set("Content-Encoding", "gzip")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(hec.Events()) != 0 {
		t.Errorf("plain body marked gzip: %s and %d events, want 400 and none", resp.Status, len(hec.Events()))
	}
}
