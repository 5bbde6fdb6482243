package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

// grpcTransport sends requests with LogsService/Export.
type grpcTransport struct {
	cfg  DestinationConfig
	conn *grpc.ClientConn
	md   metadata.MD
	opts []grpc.CallOption
}

func newGRPCTransport(c DestinationConfig) (*grpcTransport, error) {
	creds := insecure.NewCredentials()
	if t := c.TLS; t != nil {
		tc, err := tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(c.Endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("grpc %s: %w", c.Endpoint, err)
	}
	t := &grpcTransport{cfg: c, conn: conn, md: metadata.MD{}}
	for k, v := range c.Headers {
		t.md.Set(k, v.Reveal())
	}
	if c.Compression == "gzip" {
		t.opts = append(t.opts, grpc.UseCompressor(grpcgzip.Name))
	}
	return t, nil
}

func (t *grpcTransport) close() { t.conn.Close() }

func (t *grpcTransport) export(ctx context.Context, logs plog.Logs) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	if len(t.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, t.md)
	}
	resp, err := plogotlp.NewGRPCClient(t.conn).Export(ctx, plogotlp.NewExportRequestFromLogs(logs), t.opts...)
	if err != nil {
		return 0, "", grpcSendError(t.cfg.Endpoint, err)
	}
	ps := resp.PartialSuccess()
	return ps.RejectedLogRecords(), ps.ErrorMessage(), nil
}

// grpcSendError marks err retryable (with RetryInfo's delay) for the
// codes OTLP says to retry.
func grpcSendError(endpoint string, err error) error {
	st := status.Convert(err)
	werr := &sendError{cause: "grpc_" + strings.ToLower(st.Code().String()),
		err: fmt.Errorf("otlp destination: grpc %s: %s: %s", endpoint, st.Code(), st.Message())}
	var delay time.Duration
	hasDelay := false
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay != nil {
			delay, hasDelay = ri.RetryDelay.AsDuration(), true
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
	case codes.ResourceExhausted:
		if !hasDelay {
			return werr // the receiver cannot ever take it
		}
	default:
		return werr
	}
	if hasDelay {
		return retry.After(sluice.Retryable(werr), delay)
	}
	return sluice.Retryable(werr)
}

// httpTransport POSTs protobuf requests to endpoint/v1/logs.
type httpTransport struct {
	cfg    DestinationConfig
	url    string
	client *http.Client
}

func newHTTPTransport(c DestinationConfig) (*httpTransport, error) {
	u, err := httpURL(c.Endpoint)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t := c.TLS; t != nil {
		tc, err := tlsconfig.Client(t.CAFile, t.CertFile, t.KeyFile, t.InsecureSkipVerify)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	return &httpTransport{cfg: c, url: u, client: &http.Client{Transport: tr, Timeout: c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

func (t *httpTransport) close() { t.client.CloseIdleConnections() }

func (t *httpTransport) export(ctx context.Context, logs plog.Logs) (int64, string, error) {
	req, err := protoSizer.MarshalLogs(logs)
	if err != nil {
		return 0, "", fmt.Errorf("otlp destination: encode: %w", err)
	}
	body := req
	if t.cfg.Compression == "gzip" {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(req)
		_ = zw.Close()
		body = buf.Bytes()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("otlp destination: POST %s: invalid request", t.cfg.Endpoint)
	}
	hr.Header.Set("Content-Type", ctProto)
	if t.cfg.Compression == "gzip" {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range t.cfg.Headers {
		hr.Header.Set(k, v.Reveal())
	}
	resp, err := t.client.Do(hr)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // a url.Error's text holds the URL
		}
		return 0, "", sluice.Retryable(&sendError{cause: "network", err: fmt.Errorf("otlp destination: POST %s: %w", t.cfg.Endpoint, err)})
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		r := plogotlp.NewExportResponse()
		if len(rb) > 0 && r.UnmarshalProto(rb) != nil {
			return 0, "", nil // OK with a body that is not a response: the records were taken
		}
		ps := r.PartialSuccess()
		return ps.RejectedLogRecords(), ps.ErrorMessage(), nil
	}
	msg := strings.TrimSpace(string(rb))
	var st spb.Status
	if proto.Unmarshal(rb, &st) == nil && st.Message != "" {
		msg = st.Message
	}
	if len(msg) > 256 {
		msg = msg[:256] + "..."
	}
	err = &sendError{cause: "http_" + strconv.Itoa(resp.StatusCode),
		err: fmt.Errorf("otlp destination: POST %s: %s: %s", t.cfg.Endpoint, resp.Status, msg)}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if s, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil {
			return 0, "", retry.After(sluice.Retryable(err), time.Duration(s)*time.Second)
		}
		if at, perr := http.ParseTime(resp.Header.Get("Retry-After")); perr == nil {
			return 0, "", retry.After(sluice.Retryable(err), time.Until(at))
		}
		return 0, "", sluice.Retryable(err)
	}
	return 0, "", err
}

// sendError is a failed request and its cause for [Hooks.Failed].
type sendError struct {
	cause string
	err   error
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }
