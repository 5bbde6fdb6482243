package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/event"
)

// startSource runs a Source on free ports until the test ends and returns
// it with its gRPC and HTTP addresses. The cleanup checks Run's error.
func startSource(t *testing.T, c SourceConfig) (*Source, string, string) {
	t.Helper()
	if c.GRPCAddr == "" && c.HTTPAddr == "" {
		c.GRPCAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	}
	s, err := NewSource(c, "otel")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	g, h, err := s.Addrs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ga, ha string
	if g != nil {
		ga = g.String()
	}
	if h != nil {
		ha = h.String()
	}
	return s, ga, ha
}

// bodies returns the string bodies of an OTLP request's records.
func bodies(req *collogs.ExportLogsServiceRequest) []string {
	var out []string
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				out = append(out, lr.GetBody().GetStringValue())
			}
		}
	}
	return out
}

// missingOnDisk returns the bodies of want that are not in the file at
// path (read as it is at this moment).
func missingOnDisk(path string, want []string) []string {
	b, _ := os.ReadFile(path)
	have := map[string]bool{}
	marker := []byte(`\"body\":\"`)
	for {
		i := bytes.Index(b, marker)
		if i < 0 {
			break
		}
		b = b[i+len(marker):]
		end := bytes.Index(b, []byte(`\"`))
		if end < 0 {
			break
		}
		have[string(b[:end])] = true
		b = b[end:]
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	return missing
}

// checkingTransport checks, as each OTLP/HTTP request is answered 200,
// that its records are in the file.
type checkingTransport struct {
	t       *testing.T
	path    string
	next    http.RoundTripper
	checked atomic.Int64 // requests answered 200 and checked
	resent  *resent
}

// resent holds the records of requests not answered OK: the exporter
// sends them again, and those that were delivered all the same (the
// client gave up waiting, or the acks came after ackTimeout) are then in
// the file twice, as at-least-once allows. No other record may be.
type resent struct {
	mu   sync.Mutex
	recs map[string]bool
}

func (r *resent) add(bodies []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = map[string]bool{}
	}
	for _, b := range bodies {
		r.recs[b] = true
	}
}

func (r *resent) has(body string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[body]
}

func (c *checkingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := c.next.RoundTrip(r)
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		c.t.Errorf("request body: %v", err)
		return resp, err
	}
	var want []string
	for _, rl := range req.Logs().ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				want = append(want, lr.Body().Str())
			}
		}
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		c.resent.add(want)
	}
	if err == nil && resp.StatusCode == http.StatusOK {
		c.checked.Add(int64(len(want)))
		if m := missingOnDisk(c.path, want); len(m) > 0 {
			c.t.Errorf("HTTP 200 for %d records, %d of them not in the file, such as %q", len(want), len(m), m[0])
		}
	}
	return resp, err
}

// TestSDKClientsToFile sends 20,000 records with the OTel SDK's gRPC
// exporter and 20,000 with its HTTP exporter at once, into a file
// destination. At the moment each request is answered OK, its records
// must already be in the file; at the end all 40,000 are there, once
// each but for those of a request refused (under load: acks later than
// ackTimeout), which the exporter sends again.
func TestSDKClientsToFile(t *testing.T) {
	const n = 20000
	src, err := NewSource(SourceConfig{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}, "otel")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.ndjson")
	dst, err := file.New(file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: src, Destination: dst, Handler: sluice.Pipe[event.Event]()})
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		err := p.Run(pctx)
		if err != nil && pctx.Err() == nil {
			t.Errorf("processor stopped: %v", err)
		}
		ran <- err
	}()
	defer func() {
		pcancel()
		<-ran
	}()
	ga, ha, err := src.Addrs(t.Context()) // the processor runs src
	if err != nil {
		t.Fatal(err)
	}
	gaddr, haddr := ga.String(), ha.String()

	ctx := t.Context()
	var grpcChecked atomic.Int64
	var again resent
	check := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err != nil {
			again.add(bodies(req.(*collogs.ExportLogsServiceRequest)))
		}
		if err == nil {
			want := bodies(req.(*collogs.ExportLogsServiceRequest))
			grpcChecked.Add(int64(len(want)))
			if m := missingOnDisk(path, want); len(m) > 0 {
				t.Errorf("gRPC OK for %d records, %d of them not in the file, such as %q", len(want), len(m), m[0])
			}
		}
		return err
	}
	gexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(gaddr), otlploggrpc.WithInsecure(),
		otlploggrpc.WithDialOption(grpc.WithUnaryInterceptor(check)))
	if err != nil {
		t.Fatal(err)
	}
	ct := &checkingTransport{t: t, path: path, next: http.DefaultTransport, resent: &again}
	hexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(haddr), otlploghttp.WithInsecure(),
		otlploghttp.WithCompression(otlploghttp.NoCompression), otlploghttp.WithHTTPClient(&http.Client{Transport: ct}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for name, exp := range map[string]sdklog.Exporter{"grpc": gexp, "http": hexp} {
		wg.Go(func() {
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
				sdklog.WithMaxQueueSize(n), sdklog.WithExportMaxBatchSize(512))))
			logger := lp.Logger("test")
			for i := range n {
				var r otellog.Record
				r.SetBody(attribute.StringValue(fmt.Sprintf("%s-%d", name, i)))
				r.SetSeverity(otellog.SeverityInfo)
				logger.Emit(ctx, r)
			}
			if err := lp.Shutdown(ctx); err != nil {
				t.Errorf("%s: shutdown: %v", name, err)
			}
		})
	}
	wg.Wait()
	// Every record was answered OK once (the exporters would have retried
	// or dropped the others, and the count would differ) and checked.
	if g, h := grpcChecked.Load(), ct.checked.Load(); g != n || h != n {
		t.Errorf("records answered OK and checked: grpc %d, http %d, want %d each", g, h, n)
	}

	// Every record is in the file exactly once.
	got := map[string]int{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		var ev struct {
			SourceType string `json:"sourceType"`
			Raw        string `json:"raw"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		var sh struct {
			Body string `json:"body"`
		}
		if err := json.Unmarshal([]byte(ev.Raw), &sh); err != nil {
			t.Fatalf("raw %q: %v", ev.Raw, err)
		}
		got[sh.Body]++
	}
	twice := 0
	for _, name := range []string{"grpc", "http"} {
		for i := range n {
			body := fmt.Sprintf("%s-%d", name, i)
			switch c := got[body]; {
			case c == 0:
				t.Fatalf("%s is not in the file", body)
			case c > 1 && !again.has(body):
				t.Fatalf("%s is in the file %d times, and no request holding it was refused", body, c)
			case c > 1:
				twice++
			}
		}
	}
	if twice > 0 {
		t.Logf("%d records in the file more than once, each resent after a request holding it was refused", twice)
	}
	if len(got) != 2*n {
		t.Errorf("%d distinct records in the file, want %d", len(got), 2*n)
	}
}

// recvAll acks and returns the events of n records.
func recvN(t *testing.T, s *Source, n int) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out []event.Event
	for range n {
		m, ack, err := s.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		ack()
		out = append(out, m.Value)
	}
	return out
}

// TestEventShape sends one record with every part set through the SDK's
// gRPC exporter and checks the event's raw JSON.
func TestEventShape(t *testing.T) {
	src, gaddr, _ := startSource(t, SourceConfig{})
	ctx := t.Context()
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(gaddr), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("host.name", "web-1"), attribute.String("service.name", "shop"))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	defer lp.Shutdown(context.Background())
	ts := time.Date(2026, 12, 6, 8, 0, 0, 123456789, time.UTC)
	var r otellog.Record
	r.SetTimestamp(ts)
	r.SetObservedTimestamp(ts.Add(time.Second))
	r.SetSeverity(otellog.SeverityWarn)
	r.SetSeverityText("WARN")
	r.SetBody(attribute.MapValue(attribute.String("msg", "disk low"), attribute.Int64("free", 42)))
	r.AddAttributes(attribute.Bool("ok", false), attribute.Float64("ratio", 0.5), attribute.StringSlice("tags", []string{"a", "b"}))
	done := make(chan []event.Event)
	go func() { done <- recvN(t, src, 1) }()
	lp.Logger("checkout", otellog.WithInstrumentationVersion("1.2")).Emit(ctx, r)
	evs := <-done
	e := evs[0]
	if e.SourceType != "otlp" || e.Source != "otel" || e.Host != "web-1" || !e.Time.Equal(ts) {
		t.Errorf("event = source %q, type %q, host %q, time %v", e.Source, e.SourceType, e.Host, e.Time)
	}
	want := `{"time":"2026-12-06T08:00:00.123456789Z","observedTime":"2026-12-06T08:00:01.123456789Z",` +
		`"severityNumber":13,"severityText":"WARN","body":{"free":42,"msg":"disk low"},` + // the SDK sorts map keys
		`"attributes":{"ok":false,"ratio":0.5,"tags":["a","b"]},` +
		`"resource":{"host.name":"web-1","service.name":"shop"},"scope":{"name":"checkout","version":"1.2"}}`
	if string(e.Raw) != want {
		t.Errorf("raw\n got %s\nwant %s", e.Raw, want)
	}
}

// TestHandWrittenJSON posts an OTLP/JSON body as a non-Go client (curl)
// would write it: hex ids, int64 as strings, enum severity as a number.
func TestHandWrittenJSON(t *testing.T) {
	src, _, haddr := startSource(t, SourceConfig{})
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"curl"}}]},
	 "scopeLogs":[{"scope":{"name":"sh"},"logRecords":[{
	  "timeUnixNano":"1765008000000000000","severityNumber":17,"severityText":"ERROR",
	  "body":{"stringValue":"payment failed"},
	  "attributes":[{"key":"order","value":{"intValue":"9007199254740993"}}],
	  "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}`
	type reply struct {
		status int
		ctype  string
		body   string
	}
	got := make(chan reply, 1)
	go func() {
		resp, err := http.Post("http://"+haddr+"/v1/logs", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			got <- reply{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- reply{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
	}()
	evs := recvN(t, src, 1)
	r := <-got
	resp := plogotlp.NewExportResponse()
	if r.status != 200 || r.ctype != "application/json" || resp.UnmarshalJSON([]byte(r.body)) != nil || resp.PartialSuccess().RejectedLogRecords() != 0 {
		t.Errorf("reply %d %q %q, want 200 application/json with nothing rejected", r.status, r.ctype, r.body)
	}
	want := `{"time":"2025-12-06T08:00:00Z","severityNumber":17,"severityText":"ERROR","body":"payment failed",` +
		`"attributes":{"order":9007199254740993},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",` +
		`"resource":{"service.name":"curl"},"scope":{"name":"sh"}}`
	if string(evs[0].Raw) != want {
		t.Errorf("raw\n got %s\nwant %s", evs[0].Raw, want)
	}
}

// TestEventsShareResourceAndScope: records under several resources and
// scopes (some empty) each carry their own resource and scope, encoded
// once per resource and scope.
func TestEventsShareResourceAndScope(t *testing.T) {
	logs := plog.NewLogs()
	for r, attrs := range []map[string]string{{"service.name": "a", "host.name": "h1"}, nil, {"service.name": "c"}} {
		rl := logs.ResourceLogs().AppendEmpty()
		for k, v := range attrs {
			rl.Resource().Attributes().PutStr(k, v)
		}
		for sc, name := range []string{"lib", ""} {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(name)
			for i := range 2 {
				sl.LogRecords().AppendEmpty().Body().SetStr(fmt.Sprintf("r%d-s%d-%d", r, sc, i))
			}
		}
	}
	s := &Source{cfg: DefaultSourceConfig(), count: nopCounters{}}
	msgs, res := s.events(nil, logs, 0, "peer")
	if len(msgs) != 12 || res.rejected != 0 {
		t.Fatalf("%d events, %d rejected; want 12, 0", len(msgs), res.rejected)
	}
	for _, m := range msgs {
		var got struct {
			Body     string            `json:"body"`
			Resource map[string]string `json:"resource"`
			Scope    *struct {
				Name string `json:"name"`
			} `json:"scope"`
		}
		if err := json.Unmarshal(m.Value.Raw, &got); err != nil {
			t.Fatalf("%s: %v", m.Value.Raw, err)
		}
		var r, sc, i int
		fmt.Sscanf(got.Body, "r%d-s%d-%d", &r, &sc, &i)
		wantRes := map[int]string{0: "a", 1: "", 2: "c"}[r]
		if got.Resource["service.name"] != wantRes || (wantRes == "") != (got.Resource == nil) {
			t.Errorf("%s: resource %v, want service.name %q", got.Body, got.Resource, wantRes)
		}
		if (sc == 0) != (got.Scope != nil && got.Scope.Name == "lib") || (sc == 1 && got.Scope != nil) {
			t.Errorf("%s: scope %+v", got.Body, got.Scope)
		}
		if wantHost := map[int]string{0: "h1"}[r]; (wantHost != "" && m.Value.Host != wantHost) || (wantHost == "" && m.Value.Host != "peer") {
			t.Errorf("%s: host %q", got.Body, m.Value.Host)
		}
	}
}

// BenchmarkDecodeEvents is the source's CPU per request before the queue:
// decoding a 512-record request as bench/otlp sends it, and making its
// events.
func BenchmarkDecodeEvents(b *testing.B) {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "bench")
	rl.Resource().Attributes().PutStr("host.name", "bench-1")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range 512 {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_765_000_000_000_000_000 + int64(i)*1000))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr(fmt.Sprintf("GET /api/v1/orders/%09d 200 1532 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" rt=0.012 upstream=10.0.0.7", i))
		lr.Attributes().PutStr("http.method", "GET")
		lr.Attributes().PutInt("http.status", 200)
	}
	wire, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	s := &Source{cfg: DefaultSourceConfig(), count: nopCounters{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		var call exportCall
		if err := (rawCodec{}).Unmarshal(wire, &call); err != nil || call.err != nil {
			b.Fatal(err, call.err)
		}
		pooled := msgPool.Get().(*[]sluice.Message[event.Event])
		msgs, _ := s.events((*pooled)[:0], call.req.Logs(), call.wire, "peer")
		clear(msgs)
		*pooled = msgs[:0]
		msgPool.Put(pooled)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/record")
}
