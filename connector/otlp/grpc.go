package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // gzip-compressed requests
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// grpcServer builds the gRPC server of LogsService/Export.
func (s *Source) grpcServer(tc *tls.Config) *grpc.Server {
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(s.cfg.MaxRequestBytes)}
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	gs := grpc.NewServer(opts...)
	plogotlp.RegisterGRPCServer(gs, &logsService{s: s})
	return gs
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	s *Source
}

// Export answers OK once every valid record of req is acked; see the
// package doc for the other answers.
func (g *logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	s := g.s
	if err := s.acquire(); err != nil {
		return plogotlp.ExportResponse{}, s.grpcError(err)
	}
	defer s.release()
	host := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host = p.Addr.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	res, err := s.deliver(ctx, req.Logs(), host)
	if err != nil {
		return plogotlp.ExportResponse{}, s.grpcError(err)
	}
	resp := plogotlp.NewExportResponse()
	if res.rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(res.rejected))
		resp.PartialSuccess().SetErrorMessage(res.reason)
	}
	return resp, nil
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
