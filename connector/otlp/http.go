package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sluicehq/sluice/internal/httpin"
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
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ConnState:         s.conns[1].EvictWaiting(),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          httpin.ErrorLog(s.log, s.logs, s.count.Error),
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
	body, err := httpin.ReadBody(w, r, int64(s.cfg.MaxRequestBytes), "maxRequestBytes", s.slots)
	if err != nil {
		code := err.(*httpin.Error).Status
		if errors.Is(err, httpin.ErrBusy) {
			code = http.StatusTooManyRequests // the client sends too fast
		}
		s.httpReply(w, ct, code, err.Error())
		return
	}
	defer s.slots.Release()
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
	res, err := s.deliver(r.Context(), req.Logs(), len(body), host)
	switch {
	case errors.Is(err, errGone):
		return // nobody to answer
	case err != nil:
		s.httpReply(w, ct, refusalStatus(err), err.Error())
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

// refusalStatus is the status of a retryable refusal: 429 Too Many
// Requests when the client sends faster than the source takes (every
// slot taken, the queue full), 503 Service Unavailable when the source
// cannot take it now (shutting down, records not acked in time: a
// destination is slow or down). OTLP clients retry both, honouring
// Retry-After.
func refusalStatus(err error) int {
	if u, ok := errors.AsType[errUnavailable](err); ok && u.tooFast {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

// httpReply counts and writes an error reply: a google.rpc.Status in ct,
// with Retry-After on 429 and 503.
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
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", httpin.RetryAfter(s.cfg.RetryAfter))
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
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return codes.Unavailable
	case http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}
