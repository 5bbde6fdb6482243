package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var errServerClosed = http.ErrServerClosed

const (
	ctProto = "application/x-protobuf"
	ctJSON  = "application/json"
)

type httpServer struct{ srv *http.Server }

// httpServer builds the server of POST /v1/logs. Requests' contexts
// derive from ctx.
func (s *Source) httpServer(ctx context.Context, tc *tls.Config) *httpServer {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/logs", s.serveHTTP)
	return &httpServer{srv: &http.Server{
		Handler:           mux,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}}
}

// serveHTTP handles one OTLP/HTTP request. The reply is in the request's
// content type: an ExportLogsServiceResponse with 200, a google.rpc.Status
// otherwise.
func (s *Source) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.httpReply(w, ctJSON, http.StatusMethodNotAllowed, "use POST")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != ctProto && ct != ctJSON {
		s.httpReply(w, ctJSON, http.StatusUnsupportedMediaType, "Content-Type: want application/x-protobuf or application/json")
		return
	}
	if err := s.acquire(); err != nil {
		s.httpReply(w, ct, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer s.release()
	body, code, err := s.readBody(w, r)
	if err != nil {
		s.httpReply(w, ct, code, err.Error())
		return
	}
	req := plogotlp.NewExportRequest()
	if ct == ctJSON {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		s.count.ParseFailed(1)
		s.httpReply(w, ct, http.StatusBadRequest, "decode "+ct+": "+err.Error())
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	res, err := s.deliver(r.Context(), req.Logs(), host)
	switch {
	case errors.Is(err, errGone):
		return // nobody to answer
	case err != nil:
		s.httpReply(w, ct, http.StatusServiceUnavailable, err.Error())
		return
	}
	resp := plogotlp.NewExportResponse()
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.reason)
	}
	var b []byte
	if ct == ctJSON {
		b, err = resp.MarshalJSON()
	} else {
		b, err = resp.MarshalProto()
	}
	if err != nil { // cannot happen with a message this small; answer retryable all the same
		s.httpReply(w, ct, http.StatusServiceUnavailable, "encode reply: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// readBody reads the whole body, gunzipped, within MaxRequestBytes, or
// returns the status to refuse it with.
func (s *Source) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	max := int64(s.cfg.MaxRequestBytes)
	if r.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes (maxRequestBytes)", max)
	}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, max)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, readStatus(err), fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q: want gzip or none", enc)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(rd, max+1)); err != nil {
		return nil, readStatus(err), fmt.Errorf("read body: %w", err)
	}
	if int64(buf.Len()) > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes after decompression (maxRequestBytes)", max)
	}
	return buf.Bytes(), 0, nil
}

// readStatus returns 413 for a body over the limit, 408 for a read that
// timed out, 400 otherwise.
func readStatus(err error) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// httpReply counts and writes an error reply: a google.rpc.Status in ct,
// with Retry-After on 503.
func (s *Source) httpReply(w http.ResponseWriter, ct string, code int, msg string) {
	s.count.Error("http_" + strconv.Itoa(code))
	s.log.Debug("request refused", "status", code, "reason", msg)
	st := &spb.Status{Code: int32(grpcCode(code)), Message: msg}
	var b []byte
	if ct == ctProto {
		b, _ = proto.Marshal(st)
	} else {
		ct = ctJSON
		b, _ = protojson.Marshal(st)
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", s.retryAfterSeconds())
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func grpcCode(httpCode int) codes.Code {
	switch httpCode {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}
