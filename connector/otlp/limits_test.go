package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// logsOf returns a request of one record per body.
func logsOf(bodies ...string) plog.Logs {
	logs := plog.NewLogs()
	lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, b := range bodies {
		lrs.AppendEmpty().Body().SetStr(b)
	}
	return logs
}

func grpcClient(t *testing.T, addr string) plogotlp.GRPCClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return plogotlp.NewGRPCClient(cc)
}

// retryDelay returns the RetryInfo delay of a gRPC error, or -1.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.RetryDelay.AsDuration()
		}
	}
	return -1
}

type httpReply struct {
	status     int
	retryAfter string
	ctype      string
	body       []byte
}

func postLogs(t *testing.T, addr, ctype string, body []byte, headers ...string) httpReply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/v1/logs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), b}
}

func protoBody(t *testing.T, logs plog.Logs) []byte {
	b, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAckTimeout: nobody acks, so after ackTimeout the client is told to
// retry (UNAVAILABLE with RetryInfo; 503 with Retry-After), never OK.
func TestAckTimeout(t *testing.T) {
	_, gaddr, haddr := startSource(t, SourceConfig{AckTimeout: 200 * time.Millisecond, RetryAfter: 2 * time.Second})
	_, err := grpcClient(t, gaddr).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf("a")))
	if status.Code(err) != codes.Unavailable || retryDelay(err) != 2*time.Second {
		t.Errorf("gRPC: %v (retry delay %v), want UNAVAILABLE with a 2s RetryInfo", err, retryDelay(err))
	}
	r := postLogs(t, haddr, ctProto, protoBody(t, logsOf("b")))
	var st spb.Status
	if r.status != 503 || r.retryAfter != "2" || proto.Unmarshal(r.body, &st) != nil || st.Code != int32(codes.Unavailable) {
		t.Errorf("HTTP: %d Retry-After %q body %q, want 503, 2 and a Status", r.status, r.retryAfter, r.body)
	}
}

// TestConcurrencyLimit: with one request waiting for acks and
// maxConcurrentRequests 1, the next is refused at once, retryably (over
// HTTP with 429: the client sends too fast).
func TestConcurrencyLimit(t *testing.T) {
	src, gaddr, haddr := startSource(t, SourceConfig{MaxConcurrentRequests: 1, AckTimeout: 10 * time.Second})
	first := make(chan error, 1)
	go func() {
		_, err := grpcClient(t, gaddr).Export(context.Background(), plogotlp.NewExportRequestFromLogs(logsOf("held")))
		first <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	m, ack, err := src.Recv(ctx) // the first request is now waiting for this ack
	if err != nil {
		t.Fatal(err)
	}
	_, err = grpcClient(t, gaddr).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf("over")))
	if status.Code(err) != codes.Unavailable || retryDelay(err) < 0 {
		t.Errorf("gRPC over the limit: %v, want UNAVAILABLE with RetryInfo", err)
	}
	if r := postLogs(t, haddr, ctProto, protoBody(t, logsOf("over"))); r.status != 429 || r.retryAfter == "" {
		t.Errorf("HTTP over the limit: %d Retry-After %q, want 429 with Retry-After", r.status, r.retryAfter)
	}
	ack()
	if err := <-first; err != nil {
		t.Errorf("first request, acked: %v", err)
	}
	if !strings.Contains(string(m.Value.Raw), `"body":"held"`) {
		t.Errorf("got %s", m.Value.Raw)
	}
}

// TestSizeLimit: a request over maxRequestBytes is refused on both
// listeners, also when it is small until decompressed.
func TestSizeLimit(t *testing.T) {
	_, gaddr, haddr := startSource(t, SourceConfig{MaxRequestBytes: 64 << 10})
	big := strings.Repeat("x", 100<<10)
	_, err := grpcClient(t, gaddr).Export(t.Context(), plogotlp.NewExportRequestFromLogs(logsOf(big)))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC: %v, want RESOURCE_EXHAUSTED", err)
	}
	body := protoBody(t, logsOf(big))
	if r := postLogs(t, haddr, ctProto, body); r.status != 413 {
		t.Errorf("HTTP: %d, want 413", r.status)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(body)
	zw.Close()
	if zb.Len() > 64<<10 {
		t.Fatal("compressed body is not small")
	}
	if r := postLogs(t, haddr, ctProto, zb.Bytes(), "Content-Encoding", "gzip"); r.status != 413 {
		t.Errorf("HTTP gzip: %d, want 413", r.status)
	}
}

// TestPartialSuccess: a record over maxRecordBytes is rejected and
// counted in the reply; the others are delivered and answered for.
func TestPartialSuccess(t *testing.T) {
	src, gaddr, haddr := startSource(t, SourceConfig{MaxRecordBytes: 1024})
	big := strings.Repeat("y", 2048)
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			done := make(chan plogotlp.ExportResponse, 1)
			go func() {
				logs := logsOf("ok-1", big, "ok-2")
				if proto == "grpc" {
					resp, err := grpcClient(t, gaddr).Export(context.Background(), plogotlp.NewExportRequestFromLogs(logs))
					if err != nil {
						t.Error(err)
					}
					done <- resp
					return
				}
				b, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalJSON()
				r := postLogs(t, haddr, ctJSON, b)
				resp := plogotlp.NewExportResponse()
				if r.status != 200 || resp.UnmarshalJSON(r.body) != nil {
					t.Errorf("HTTP %d %s", r.status, r.body)
				}
				done <- resp
			}()
			evs := recvN(t, src, 2)
			resp := <-done
			if resp == (plogotlp.ExportResponse{}) {
				return
			}
			if n := resp.PartialSuccess().RejectedLogRecords(); n != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "maxRecordBytes") {
				t.Errorf("partial success %d %q, want 1 rejected over maxRecordBytes", n, resp.PartialSuccess().ErrorMessage())
			}
			for i, want := range []string{"ok-1", "ok-2"} {
				if !strings.Contains(string(evs[i].Raw), `"body":"`+want+`"`) {
					t.Errorf("event %d: %s", i, evs[i].Raw)
				}
			}
		})
	}
}

// TestHTTPRefusals: what the HTTP listener answers to requests it
// cannot take, each with a message.
func TestHTTPRefusals(t *testing.T) {
	_, _, haddr := startSource(t, SourceConfig{})
	for _, c := range []struct {
		name, ctype string
		body        []byte
		headers     []string
		status      int
	}{
		{"bad protobuf", ctProto, []byte{0xff, 0xff, 0xff}, nil, 400},
		{"bad json", ctJSON, []byte(`{"resourceLogs":[{`), nil, 400},
		{"bad gzip", ctProto, []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
		{"other encoding", ctProto, nil, []string{"Content-Encoding", "br"}, 415},
		{"other type", "text/plain", []byte("hi"), nil, 415},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := postLogs(t, haddr, c.ctype, c.body, c.headers...)
			if r.status != c.status || len(r.body) == 0 {
				t.Errorf("%d %q, want %d with a message", r.status, r.body, c.status)
			}
		})
	}
	resp, err := http.Get("http://" + haddr + "/v1/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

// TestShutdownAnswersRetryable: a request waiting for acks when the
// source stops is answered UNAVAILABLE, not OK; its record is still
// delivered.
func TestShutdownAnswersRetryable(t *testing.T) {
	s, err := NewSource(SourceConfig{GRPCAddr: "127.0.0.1:0", AckTimeout: time.Minute}, "otel")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	gaddr, _, err := s.Addrs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := grpcClient(t, gaddr.String()).Export(context.Background(), plogotlp.NewExportRequestFromLogs(logsOf("late")))
		answered <- err
	}()
	rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer rcancel()
	m, _, err := s.Recv(rctx) // queued, not acked
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-answered; status.Code(err) != codes.Unavailable {
		t.Errorf("answer at shutdown: %v, want UNAVAILABLE", err)
	}
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(string(m.Value.Raw), `"late"`) {
		t.Errorf("got %s", m.Value.Raw)
	}
	if _, _, err := s.Recv(rctx); err != io.EOF {
		t.Errorf("Recv after Run: %v, want io.EOF", err)
	}
}

// TestGRPCMalformed: a request body that is not an
// ExportLogsServiceRequest gets INVALID_ARGUMENT with the reason.
func TestGRPCMalformed(t *testing.T) {
	_, gaddr, _ := startSource(t, SourceConfig{})
	cc, err := grpc.NewClient(gaddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var out rawMessage
	err = cc.Invoke(t.Context(), "/opentelemetry.proto.collector.logs.v1.LogsService/Export", rawMessage{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f},
		&out, grpc.ForceCodec(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "decode") {
		t.Errorf("got %v, want INVALID_ARGUMENT with the reason", err)
	}
}

func reqOf(bodies ...string) plogotlp.ExportRequest {
	return plogotlp.NewExportRequestFromLogs(logsOf(bodies...))
}
