package otlp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSuccessOnlyOnceEveryRecordIsAcked: a request's success answer (OK,
// 200) says every record it carried is delivered, so it must wait for the
// ack of each, in whatever order they come. With one of three records
// never acked the client is told to retry once ackTimeout passes, over
// either protocol; with all three acked, last the first one, it gets
// success. A source that answered at the first ack, or counted acks
// instead of records, fails here.
func TestSuccessOnlyOnceEveryRecordIsAcked(t *testing.T) {
	src, gaddr, haddr := startSource(t, SourceConfig{AckTimeout: 500 * time.Millisecond})
	export := func(proto string, bodies ...string) error {
		if proto == "grpc" {
			_, err := grpcClient(t, gaddr).Export(context.Background(), reqOf(bodies...))
			return err
		}
		b, err := plogotlp.NewExportRequestFromLogs(logsOf(bodies...)).MarshalProto()
		if err != nil {
			return err
		}
		if r := postLogs(t, haddr, ctProto, b); r.status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", r.status, r.body)
		}
		return nil
	}
	for _, c := range []struct {
		proto string
		acks  []int // the records acked, in this order
		ok    bool
	}{
		{"grpc", []int{2, 0}, false},
		{"grpc", []int{1, 2, 0}, true},
		{"http", []int{0, 2}, false},
		{"http", []int{2, 1, 0}, true},
	} {
		t.Run(fmt.Sprint(c.proto, c.acks), func(t *testing.T) {
			answered := make(chan error, 1)
			go func() { answered <- export(c.proto, "r0", "r1", "r2") }()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var acks []func()
			for range 3 {
				_, ack, err := src.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				acks = append(acks, ack)
			}
			for _, i := range c.acks {
				acks[i]()
			}
			err := <-answered
			switch {
			case c.ok && err != nil:
				t.Errorf("every record acked: %v, want success", err)
			case !c.ok && err == nil:
				t.Error("a record not acked, yet the request was answered success")
			case !c.ok && c.proto == "grpc" && status.Code(err) != codes.Unavailable:
				t.Errorf("a record not acked: %v, want UNAVAILABLE", err)
			case !c.ok && c.proto == "http" && !strings.HasPrefix(err.Error(), "HTTP 503"):
				t.Errorf("a record not acked: %v, want 503", err)
			}
			for _, a := range acks { // late acks of a refused request change nothing
				a()
			}
		})
	}
}
