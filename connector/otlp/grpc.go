package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"unicode"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // gzip-compressed requests
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// grpcServer builds the gRPC server of LogsService/Export. Its codec
// hands the handler the request's bytes, so that the handler decodes them
// with pdata and answers a malformed request INVALID_ARGUMENT with the
// reason (grpc-go's own decoding answers INTERNAL).
func (s *Source) grpcServer(tc *tls.Config) *grpc.Server {
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(s.cfg.MaxRequestBytes), grpc.ForceServerCodec(rawCodec{}),
		// A client that connects and stalls its TLS handshake or HTTP/2
		// preface is closed at readHeaderTimeout (grpc-go's default:
		// 120s); one that makes no call for idleTimeout gets a GOAWAY
		// (default: never).
		grpc.ConnectionTimeout(s.cfg.ReadHeaderTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: s.cfg.IdleTimeout}),
		grpc.MaxHeaderListSize(uint32(min(int64(s.cfg.MaxHeaderBytes), math.MaxUint32))),
	}
	if tc != nil {
		opts = append(opts, grpc.Creds(countedCreds{credentials.NewTLS(tc), s}))
	}
	gs := grpc.NewServer(opts...)
	gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Export", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var call exportCall
			if err := dec(&call); err != nil {
				// Refused by grpc-go before the codec: over maxRequestBytes
				// (also once decompressed), or an unreadable compression.
				s.count.Error(grpcCause(status.Code(err)))
				s.log.Debug("request refused", "err", err)
				return nil, err
			}
			return s.export(ctx, &call)
		}}},
		Metadata: "opentelemetry/proto/collector/logs/v1/logs_service.proto",
	}, s)
	return gs
}

// grpcCause is the errors cause of a refusal with code c, such as
// "grpc_resource_exhausted".
func grpcCause(c codes.Code) string {
	var b strings.Builder
	b.WriteString("grpc")
	for _, r := range c.String() {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// countedCreds counts and logs (rate-limited) the TLS handshakes that
// fail, as the HTTP listener's do; grpc-go logs them only to its own
// logger.
type countedCreds struct {
	credentials.TransportCredentials
	s *Source
}

func (c countedCreds) ServerHandshake(nc net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(nc)
	if err != nil {
		c.s.count.Error("tls_handshake")
		c.s.logs.Log(c.s.log, slog.LevelWarn, "TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
	}
	return conn, info, err
}

func (c countedCreds) Clone() credentials.TransportCredentials {
	return countedCreds{c.TransportCredentials.Clone(), c.s}
}

// rawMessage is a message's wire bytes.
type rawMessage []byte

// exportCall is an Export request as the codec decodes it: the request,
// or why it does not decode, and its size on the wire.
type exportCall struct {
	req  plogotlp.ExportRequest
	err  error
	wire int
}

// rawCodec decodes an exportCall with pdata, keeping a failure for the
// handler to answer, and passes rawMessages through as they are.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(rawMessage); ok {
		return m, nil
	}
	return nil, fmt.Errorf("otlp: cannot marshal %T", v)
}

// Unmarshal decodes b, the transport's buffer, reused once this returns:
// pdata copies what it keeps.
func (rawCodec) Unmarshal(b []byte, v any) error {
	switch m := v.(type) {
	case *exportCall:
		m.req = plogotlp.NewExportRequest()
		m.err, m.wire = m.req.UnmarshalProto(b), len(b)
		return nil
	case *rawMessage:
		*m = append((*m)[:0], b...)
		return nil
	}
	return fmt.Errorf("otlp: cannot unmarshal into %T", v)
}

// export answers one Export call: OK once every valid record of it is
// acked; see the package doc for the other answers.
func (s *Source) export(ctx context.Context, call *exportCall) (rawMessage, error) {
	if err := s.acquire(); err != nil {
		return nil, s.grpcError(err)
	}
	defer s.slots.Release()
	if call.err != nil {
		s.count.ParseFailed(1)
		s.count.Error("grpc_invalid_argument")
		return nil, status.Error(codes.InvalidArgument, "decode ExportLogsServiceRequest: "+call.err.Error())
	}
	host := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host = p.Addr.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	res, err := s.deliver(ctx, call.req.Logs(), call.wire, host)
	if err != nil {
		return nil, s.grpcError(err)
	}
	resp := plogotlp.NewExportResponse()
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.reason)
	}
	b, err := resp.MarshalProto()
	if err != nil {
		return nil, status.Error(codes.Internal, "encode reply: "+err.Error())
	}
	return b, nil
}

// grpcError maps a delivery error to a status: UNAVAILABLE with
// RetryInfo for a retryable refusal, CANCELED for a client gone.
func (s *Source) grpcError(err error) error {
	if _, ok := errors.AsType[errUnavailable](err); ok {
		s.count.Error("grpc_unavailable")
		st := status.New(codes.Unavailable, err.Error())
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(s.cfg.RetryAfter)}); derr == nil {
			st = d
		}
		return st.Err()
	}
	return status.Error(codes.Canceled, err.Error())
}
