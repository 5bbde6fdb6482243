package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

// receiver is a pdata-based OTLP receiver, over gRPC and HTTP, that
// answers its first `fail` requests with UNAVAILABLE (503) and a retry
// delay, then OK, rejecting `reject` records of each request (partial
// success), or failing every request with `code` when set.
type receiver struct {
	plogotlp.UnimplementedGRPCServer
	fail   int
	delay  time.Duration
	reject int64
	code   codes.Code // permanent failure for every request, if not OK

	mu     sync.Mutex
	n      int            // requests so far
	got    map[string]int // body -> times received in an OK request
	sizes  []int          // encoded size of each request
	times  []time.Time    // arrival of each request
	header []string       // the "x-key" header/metadata of each request
}

func newReceiver() *receiver { return &receiver{got: map[string]int{}} }

// take records a request and returns the error to answer with.
func (r *receiver) take(logs plog.Logs, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.n
	r.n++
	r.times = append(r.times, time.Now())
	r.header = append(r.header, key)
	r.sizes = append(r.sizes, protoSizer.LogsSize(logs))
	if r.code != codes.OK {
		return status.Error(r.code, "refused for the test")
	}
	if i < r.fail {
		st, _ := status.New(codes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.delay)})
		return st.Err()
	}
	for _, rl := range logs.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				r.got[lr.Body().Str()]++
			}
		}
	}
	return nil
}

func (r *receiver) response() plogotlp.ExportResponse {
	resp := plogotlp.NewExportResponse()
	if r.reject > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(r.reject)
		resp.PartialSuccess().SetErrorMessage("bad record")
	}
	return resp
}

func (r *receiver) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	key := ""
	if md, ok := metadataFrom(ctx); ok {
		key = md
	}
	if err := r.take(req.Logs(), key); err != nil {
		return plogotlp.ExportResponse{}, err
	}
	return r.response(), nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	var rd io.Reader = hr.Body
	if hr.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(hr.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd = zr
	}
	b, _ := io.ReadAll(rd)
	req := plogotlp.NewExportRequest()
	if hr.URL.Path != "/v1/logs" || hr.Header.Get("Content-Type") != ctProto || req.UnmarshalProto(b) != nil {
		http.Error(w, "bad request "+hr.URL.Path, http.StatusBadRequest)
		return
	}
	if err := r.take(req.Logs(), hr.Header.Get("X-Key")); err != nil {
		if status.Code(err) == codes.Unavailable {
			w.Header().Set("Retry-After", fmt.Sprint(int(r.delay/time.Second)))
			http.Error(w, "busy", http.StatusServiceUnavailable)
		} else {
			http.Error(w, "refused", http.StatusBadRequest)
		}
		return
	}
	out, _ := r.response().MarshalProto()
	w.Header().Set("Content-Type", ctProto)
	_, _ = w.Write(out)
}

// serve starts r for protocol and returns the endpoint to send to.
func (r *receiver) serve(t *testing.T, protocol string) string {
	if protocol == "http" {
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	plogotlp.RegisterGRPCServer(gs, r)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String()
}

var fastRetry = retry.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// runDest runs d until the test ends.
func runDest(t *testing.T, d *Destination) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// sendAll sends events with bodies prefix-0..n-1, one Send each, and
// waits for every ack.
func sendAll(t *testing.T, d sluice.Destination[event.Event], prefix string, n int) {
	t.Helper()
	var acked sync.WaitGroup
	for i := range n {
		acked.Add(1)
		var once sync.Once
		ev := event.Event{Raw: fmt.Appendf(nil, "%s-%d", prefix, i), ReceivedAt: time.Now()}
		if err := d.Send(t.Context(), func() { once.Do(acked.Done) }, sluice.Message[event.Event]{Value: ev}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { acked.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("not every Send was acked")
	}
}

// TestRetriesUnavailable: the receiver fails its first requests with
// UNAVAILABLE and a retry delay; every event still arrives, acked only
// then, and the retry waited at least the delay.
func TestRetriesUnavailable(t *testing.T) {
	for _, protocol := range []string{"grpc", "http"} {
		t.Run(protocol, func(t *testing.T) {
			r := newReceiver()
			r.fail, r.delay = 2, time.Second
			d, err := NewDestination(DestinationConfig{Endpoint: r.serve(t, protocol), Protocol: protocol,
				Headers: map[string]configSecret{"x-key": "s3cret"},
				Batch:   batch.Config{Count: 100, Age: 10 * time.Millisecond, Parallelism: 1, Retry: fastRetry}})
			if err != nil {
				t.Fatal(err)
			}
			runDest(t, d)
			sendAll(t, d, protocol, 1000)
			r.mu.Lock()
			defer r.mu.Unlock()
			for i := range 1000 {
				if c := r.got[fmt.Sprintf("%s-%d", protocol, i)]; c != 1 {
					t.Fatalf("%s-%d received %d times in OK requests, want 1", protocol, i, c)
				}
			}
			if gap := r.times[1].Sub(r.times[0]); gap < r.delay {
				t.Errorf("retried after %v, before the %v the receiver asked for", gap, r.delay)
			}
			if r.header[0] != "s3cret" {
				t.Errorf("header x-key = %q", r.header[0])
			}
		})
	}
}

// TestSplitsLargeBatches: a batch that would encode over maxRequestBytes
// goes as several requests, each under it.
func TestSplitsLargeBatches(t *testing.T) {
	r := newReceiver()
	const limit = 8 << 10
	d, err := NewDestination(DestinationConfig{Endpoint: r.serve(t, "grpc"), MaxRequestBytes: limit,
		Batch: batch.Config{Count: 500, Age: 50 * time.Millisecond, Parallelism: 1, Retry: fastRetry}})
	if err != nil {
		t.Fatal(err)
	}
	runDest(t, d)
	msgs := make([]sluice.Message[event.Event], 500)
	for i := range msgs {
		msgs[i].Value = event.Event{Raw: fmt.Appendf(nil, "big-%d-%s", i, strings.Repeat("z", 100))}
	}
	acked := make(chan struct{})
	if err := d.Send(t.Context(), func() { close(acked) }, msgs...); err != nil {
		t.Fatal(err)
	}
	<-acked
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 500 || len(r.sizes) < 500*100/limit {
		t.Errorf("%d records in %d requests", len(r.got), len(r.sizes))
	}
	for i, s := range r.sizes {
		if s > limit {
			t.Errorf("request %d: %d bytes, over %d", i, s, limit)
		}
	}
}

// TestRejections: a permanent error and a partial success send the batch
// to the dead letter, with the reason; without a dead letter a partial
// success is acked (OTLP forbids resending it) and a permanent error stops
// Run.
func TestRejections(t *testing.T) {
	for _, c := range []struct {
		name   string
		code   codes.Code
		reject int64
		want   string
	}{
		{"partial success", codes.OK, 1, "rejected 1 of 3 records: bad record"},
		{"invalid argument", codes.InvalidArgument, 0, "InvalidArgument"},
		{"resource exhausted without RetryInfo", codes.ResourceExhausted, 0, "ResourceExhausted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newReceiver()
			r.code, r.reject = c.code, c.reject
			dl := memory.New[event.Event](16)
			d, err := NewDestination(DestinationConfig{Endpoint: r.serve(t, "grpc"),
				Batch: batch.Config{Count: 3, Age: 10 * time.Millisecond, Retry: fastRetry}}, WithDeadLetter(dl))
			if err != nil {
				t.Fatal(err)
			}
			runDest(t, d)
			msgs := []sluice.Message[event.Event]{{Value: event.Event{Raw: []byte("a")}}, {Value: event.Event{Raw: []byte("b")}}, {Value: event.Event{Raw: []byte("c")}}}
			acked := make(chan struct{})
			if err := d.Send(t.Context(), func() { close(acked) }, msgs...); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for range 3 {
				m, ack, err := dl.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if e := m.Attributes.Value("error"); !strings.Contains(e, c.want) {
					t.Errorf("dead letter error %q, want %q in it", e, c.want)
				}
				ack()
			}
			<-acked
		})
	}
	t.Run("partial success without dead letter", func(t *testing.T) {
		r := newReceiver()
		r.reject = 1
		d, err := NewDestination(DestinationConfig{Endpoint: r.serve(t, "http"), Protocol: "http",
			Batch: batch.Config{Count: 3, Age: 10 * time.Millisecond, Retry: fastRetry}})
		if err != nil {
			t.Fatal(err)
		}
		runDest(t, d)
		sendAll(t, d, "p", 3)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.n != 1 {
			t.Errorf("%d requests, want 1: a partial success is not resent", r.n)
		}
	})
}

// TestMapping: a syslog event maps to a record with severity, host and
// attributes; an event from an otlp source goes back out as its record.
func TestMapping(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sys := event.Event{Time: ts, Source: "in", SourceType: "syslog", Host: "10.0.0.1",
		Syslog: event.Syslog{Present: true, Severity: 3, Facility: 4, Hostname: "db-1", AppName: "pg", ProcID: "77", Message: "down"},
		Fields: []event.Field{{Name: "k", Value: "v"}}}
	orig := logsOf("x")
	orig.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "shop")
	sl := orig.ResourceLogs().At(0).ScopeLogs().At(0)
	sl.Scope().SetName("lib")
	lr := sl.LogRecords().At(0)
	lr.Body().SetEmptyMap().PutInt("n", 5)
	lr.Attributes().PutDouble("d", 1)
	lr.Attributes().PutEmptySlice("s").AppendEmpty().SetBool(true)
	lr.SetSeverityNumber(plog.SeverityNumberWarn)
	lr.SetTraceID([16]byte{1, 2, 3})
	lr.SetSpanID([8]byte{4, 5})
	lr.SetTimestamp(1_700_000_000_000_000_001)
	s := &Source{cfg: DefaultSourceConfig(), name: "o"}
	fromOTLP, _ := s.events(nil, orig, 0, "peer")

	logs := toLogs([]sluice.Message[event.Event]{{Value: sys}, fromOTLP[0]})
	if logs.ResourceLogs().Len() != 2 {
		t.Fatalf("%d resources, want 2", logs.ResourceLogs().Len())
	}
	// The syslog event.
	rl := logs.ResourceLogs().At(0)
	got := rl.ScopeLogs().At(0).LogRecords().At(0)
	if h, _ := rl.Resource().Attributes().Get("host.name"); h.Str() != "db-1" {
		t.Errorf("host.name %q", h.Str())
	}
	if got.Body().Str() != "down" || got.SeverityNumber() != plog.SeverityNumberError || got.Timestamp().AsTime() != ts {
		t.Errorf("syslog record: body %q severity %v time %v", got.Body().Str(), got.SeverityNumber(), got.Timestamp().AsTime())
	}
	for k, want := range map[string]string{"syslog.appname": "pg", "syslog.procid": "77", "k": "v", "sluice.source": "in", "syslog.facility": "4"} {
		if v, ok := got.Attributes().Get(k); !ok || v.AsString() != want {
			t.Errorf("attribute %s = %q, want %q", k, v.AsString(), want)
		}
	}
	// The otlp event: the same record as sent, resource and scope included.
	back := plog.NewLogs()
	logs.ResourceLogs().At(1).CopyTo(back.ResourceLogs().AppendEmpty())
	a, _ := (&plog.JSONMarshaler{}).MarshalLogs(orig)
	b, _ := (&plog.JSONMarshaler{}).MarshalLogs(back)
	var av, bv any
	json.Unmarshal(a, &av)
	json.Unmarshal(b, &bv)
	if !bytes.Equal(mustJSON(av), mustJSON(bv)) {
		t.Errorf("otlp record\n sent %s\n back %s", a, b)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestConformance runs sluicetest on an otlp destination sending to an
// otlp source, over each protocol: the destination's ack waits for the
// source's OK, which waits for the suite's receiver to ack.
func TestConformance(t *testing.T) {
	for _, protocol := range []string{"grpc", "http"} {
		t.Run(protocol, func(t *testing.T) {
			sluicetest.Suite[event.Event]{
				// Not Durable: nothing is stored between the two. Not
				// Ordered: batches are sent two at a time.
				Features: sluicetest.Features{ConcurrentRecv: true, ConcurrentSend: true},
				NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
					addr := freeAddr(t)
					sc := SourceConfig{AckTimeout: time.Minute}
					if protocol == "grpc" {
						sc.GRPCAddr = addr
					} else {
						sc.HTTPAddr = addr
					}
					src, err := NewSource(sc, name)
					if err != nil {
						t.Fatal(err)
					}
					// A request's OK waits for the suite's acks, and some
					// rules receive every message before acking any: room
					// for every Send of a rule in flight at once, however
					// the 5ms age cuts them into batches (with 2, a loaded
					// machine's smaller batches left messages unsent).
					d, err := NewDestination(DestinationConfig{Endpoint: addr, Protocol: protocol,
						Batch: batch.Config{Count: 16, Age: 5 * time.Millisecond, Parallelism: 32, StopTimeout: time.Second, Retry: fastRetry}})
					if err != nil {
						t.Fatal(err)
					}
					return src, d
				},
				Wrap: func(p []byte) sluice.Message[event.Event] {
					return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
				},
				Unwrap: func(m sluice.Message[event.Event]) []byte {
					var sh struct {
						Body string `json:"body"`
					}
					if err := json.Unmarshal(m.Value.Raw, &sh); err != nil {
						return m.Value.Raw
					}
					return []byte(sh.Body)
				},
			}.Run(t)
		})
	}
}

// freeAddr returns a loopback address with a port free at this moment.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type configSecret = config.Secret

func metadataFrom(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok || len(md.Get("x-key")) == 0 {
		return "", false
	}
	return md.Get("x-key")[0], true
}
