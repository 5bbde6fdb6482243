package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/grpc"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/connlimit"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/internal/httpin"
	"github.com/sluicehq/sluice/internal/listening"
	"github.com/sluicehq/sluice/internal/lograte"
	"github.com/sluicehq/sluice/internal/tlsconfig"
)

// Counters receives the source's counts; the daemon's metrics implement
// it. Methods must be safe for concurrent use.
type Counters interface {
	ParseFailed(n int)
	Error(cause string)
}

type nopCounters struct{}

func (nopCounters) ParseFailed(int) {}
func (nopCounters) Error(string)    {}

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithLogger sets the source's logger. Default: discard.
func WithLogger(l *slog.Logger) SourceOption { return func(s *Source) { s.log = l } }

// WithCounters sets where counts go: ParseFailed for requests that do
// not decode, Error("record_rejected") per record rejected, and
// Error(cause) for every other refused request ("grpc_unavailable",
// "http_503", "http_413", ...). Default: nowhere.
func WithCounters(c Counters) SourceOption { return func(s *Source) { s.count = c } }

// enqueueWait is the longest a request waits for room in the queue.
const enqueueWait = time.Second

// Source receives OTLP logs over gRPC and HTTP; see the package doc. It is
// a [sluice.Runner]: Run listens until its ctx is done, and Recv returns
// what was received, then io.EOF once Run has returned. Recv and RecvBatch
// are safe for concurrent use.
type Source struct {
	cfg   SourceConfig
	name  string
	log   *slog.Logger
	count Counters
	q     *httpin.Queue[event.Event]
	slots httpin.Slots           // one per request being handled
	logs  *lograte.Limiter       // for the lines a client can cause
	conns [2]*connlimit.Listener // grpc, http; set by Run before ready

	mu        sync.Mutex
	running   bool
	addrs     [2]net.Addr     // grpc, http; nil when not listening
	ready     chan struct{}   // closed once Run has bound or failed
	listening listening.Gate  // opened once Run has bound
	stopping  <-chan struct{} // Run's ctx.Done(), once Run has started
}

// NewSource returns a Source named name (the name its events carry). Zero
// fields of c take the defaults of [DefaultSourceConfig]. It does no I/O.
func NewSource(c SourceConfig, name string, opts ...SourceOption) (*Source, error) {
	defaults.Fill(&c, DefaultSourceConfig())
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("otlp source: %w", err)
	}
	s := &Source{cfg: c, name: name, log: slog.New(slog.DiscardHandler), count: nopCounters{},
		ready: make(chan struct{}), listening: listening.New(), slots: httpin.NewSlots(c.MaxConcurrentRequests), logs: lograte.New(lograte.Every)}
	for _, o := range opts {
		o(s)
	}
	s.q = httpin.NewQueue[event.Event]("otlp source", c.QueueSize)
	return s, nil
}

// Addrs returns the gRPC and HTTP addresses the source listens on (nil
// for one that is off), once Run has bound them; it blocks until then or
// until ctx is done. For tests that listen on port 0.
func (s *Source) Addrs(ctx context.Context) (grpcAddr, httpAddr net.Addr, err error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addrs == [2]net.Addr{} {
		return nil, nil, errors.New("otlp source: not listening")
	}
	return s.addrs[0], s.addrs[1], nil
}

// Recv returns the next received record. Its ack counts toward the reply
// to the request that carried it. After Run has returned, Recv returns
// what is left, then io.EOF.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	return s.q.Recv(ctx)
}

// RecvBatch is Recv for up to len(msgs) records at once (a
// [sluice.BatchSource]); each keeps its own ack.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	return s.q.RecvBatch(ctx, msgs, acks)
}

// Run listens on the configured addresses (one that cannot be bound is an
// error, returned at once) and serves until ctx is done. Then it stops
// taking requests; those waiting for acks are answered UNAVAILABLE / 503.
// A second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("otlp source: %w", sluice.ErrAlreadyRunning)
	}
	s.running = true
	s.stopping = ctx.Done()
	s.mu.Unlock()
	defer s.q.Close()

	var tc *tls.Config
	if t := s.cfg.TLS; t != nil {
		var err error
		if tc, err = tlsconfig.Server(t.CertFile, t.KeyFile, t.ClientCAFile, "h2", "http/1.1"); err != nil {
			close(s.ready)
			return fmt.Errorf("otlp source: %w", &config.FieldError{Path: "tls", Msg: err.Error(), Err: err})
		}
	}
	var lns [2]net.Listener
	for i, a := range []struct{ field, addr string }{{"grpcAddr", s.cfg.GRPCAddr}, {"httpAddr", s.cfg.HTTPAddr}} {
		if a.addr == "" {
			continue
		}
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.addr)
		if err != nil {
			for _, l := range lns {
				if l != nil {
					l.Close()
				}
			}
			close(s.ready)
			// The field at fault, and the address in the message of the
			// net.OpError ("listen tcp 127.0.0.1:4317: bind: address
			// already in use").
			return fmt.Errorf("otlp source: %w", &config.FieldError{Path: a.field, Msg: err.Error(), Err: err})
		}
		s.conns[i] = httpin.Limit(ln, s.cfg.MaxConnections, s.log, s.logs, s.count.Error)
		lns[i] = s.conns[i]
		s.mu.Lock()
		s.addrs[i] = ln.Addr()
		s.mu.Unlock()
	}

	var wg sync.WaitGroup
	served := make(chan error, 2)
	var gs *grpc.Server
	if lns[0] != nil {
		gs = s.grpcServer(tc)
		s.log.Info("listening", "protocol", "grpc", "addr", lns[0].Addr().String(), "tls", tc != nil)
		wg.Go(func() {
			if err := gs.Serve(lns[0]); err != nil {
				served <- fmt.Errorf("grpc: %w", err)
			}
		})
	}
	var hs *httpServer
	if lns[1] != nil {
		hs = s.httpServer(ctx, tc)
		s.log.Info("listening", "protocol", "http", "addr", lns[1].Addr().String(), "tls", tc != nil)
		ln := lns[1]
		if tc != nil {
			ln = tls.NewListener(ln, tc)
		}
		wg.Go(func() {
			if err := hs.srv.Serve(ln); err != nil && !errors.Is(err, errServerClosed) {
				served <- fmt.Errorf("http: %w", err)
			}
		})
	}
	// Bound: connections wait in the backlogs until the servers accept.
	s.listening.Open()
	close(s.ready)
	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("otlp source: %w", err)
	case <-ctx.Done():
	}
	// Requests waiting for acks see ctx done and answer at once; the rest
	// are given a few seconds to be answered.
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if gs != nil {
		graceful := make(chan struct{})
		go func() { gs.GracefulStop(); close(graceful) }()
		select {
		case <-graceful:
		case <-stop.Done():
			gs.Stop()
			<-graceful
		}
	}
	if hs != nil {
		if hs.srv.Shutdown(stop) != nil {
			hs.srv.Close()
		}
	}
	wg.Wait()
	return err
}

// NotReady reports "not listening yet" until Run has bound every
// address, so that the daemon's /readyz answers 200 only once clients
// can connect.
func (s *Source) NotReady() string { return s.listening.NotReady() }

// Bound returns a channel that Run closes once it has bound every
// address, when clients can connect; it is never closed if binding
// fails (Run returns why). The daemon logs "running" only then (see
// daemon.Binder).
func (s *Source) Bound() <-chan struct{} { return s.listening.Bound() }

// errUnavailable is a refusal the client should retry: overload,
// shutdown, or acks that did not come within AckTimeout. tooFast marks
// the client's overload (every slot taken, the queue full) apart from
// the source's (HTTP 429, not 503).
type errUnavailable struct {
	why     string
	tooFast bool
}

func (e errUnavailable) Error() string { return e.why }

// errGone is the result of a request whose client hung up while waiting.
var errGone = errors.New("client gone")

// result is what a request's records came to.
type result struct {
	rejected int
	reason   string // of the first rejection
}

// acquire takes a request slot or refuses.
func (s *Source) acquire() error {
	if !s.slots.TryTake() {
		return errUnavailable{fmt.Sprintf("%d requests are being handled (maxConcurrentRequests)", cap(s.slots)), true}
	}
	return nil
}

// deliver queues one event per valid record of logs, whose encoding took
// about wire bytes, and waits until all are acked, ctx is done (the client
// gave up), the source stops, or AckTimeout passes. peer is the client's
// address, the events' host when the resource has no host.name.
func (s *Source) deliver(ctx context.Context, logs plog.Logs, wire int, peer string) (result, error) {
	pooled := msgPool.Get().(*[]sluice.Message[event.Event])
	msgs, res := s.events((*pooled)[:0], logs, wire, peer)
	defer func() {
		clear(msgs) // for the garbage collector: the queue holds its own copies
		*pooled = msgs[:0]
		msgPool.Put(pooled)
	}()
	if res.rejected > 0 {
		for range res.rejected {
			s.count.Error("record_rejected")
		}
		s.log.Debug("records rejected", "count", res.rejected, "reason", res.reason)
	}
	if len(msgs) == 0 {
		return res, nil
	}
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	select {
	case <-stopping:
		return res, errUnavailable{why: "shutting down"}
	default:
	}
	done := make(chan struct{})
	enq, cancel := context.WithTimeout(ctx, min(enqueueWait, s.cfg.AckTimeout))
	// The queue calls this once, when all len(msgs) are acked.
	err := s.q.Send(enq, func() { close(done) }, msgs...)
	cancel()
	if err != nil {
		// What was queued is still delivered; the client resends it all.
		if ctx.Err() != nil {
			return res, s.gone(len(msgs))
		}
		return res, errUnavailable{"queue full", true}
	}
	timer := time.NewTimer(s.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return res, nil
	case <-timer.C:
		return res, errUnavailable{why: "records not acknowledged within ackTimeout"}
	case <-stopping:
		return res, errUnavailable{why: "shutting down"}
	case <-ctx.Done():
		return res, s.gone(len(msgs))
	}
}

func (s *Source) gone(n int) error {
	s.count.Error("client_hangup")
	s.log.Info("client gave up before its records were acknowledged; they stay in flight and are delivered as usual (a retry sends them twice)",
		"records", n)
	return errGone
}

// events appends to msgs one event per record of logs, whose encoding
// took about wire bytes; records over MaxRecordBytes are counted in the
// result instead. The events' Raw share one buffer.
func (s *Source) events(msgs []sluice.Message[event.Event], logs plog.Logs, wire int, peer string) ([]sluice.Message[event.Event], result) {
	n := logs.LogRecordCount()
	if n == 0 {
		return msgs, result{}
	}
	now := time.Now()
	ends := make([]int, 0, n)
	buf := make([]byte, 0, 2*wire) // JSON takes about twice the protobuf
	var resBuf, scopeBuf []byte    // the JSON of the current resource and scope
	var res result
	rls := logs.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		host := peer
		if v, ok := rl.Resource().Attributes().Get("host.name"); ok && v.Type() == pcommon.ValueTypeStr && v.Str() != "" {
			host = v.Str()
		}
		resBuf = appendResource(resBuf[:0], rl.Resource())
		resJSON := resBuf
		if len(resJSON) == 0 {
			resJSON = nil
		}
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			sl := sls.At(j)
			scopeBuf = appendScope(scopeBuf[:0], sl.Scope())
			scopeJSON := scopeBuf
			if len(scopeJSON) == 0 {
				scopeJSON = nil
			}
			lrs := sl.LogRecords()
			for k := range lrs.Len() {
				lr := lrs.At(k)
				start := len(buf)
				buf = appendRecord(buf, resJSON, scopeJSON, lr)
				if size := len(buf) - start; size > s.cfg.MaxRecordBytes {
					buf = buf[:start]
					if res.rejected == 0 {
						res.reason = fmt.Sprintf("a record of %d bytes is over maxRecordBytes (%d)", size, s.cfg.MaxRecordBytes)
					}
					res.rejected++
					continue
				}
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				var t time.Time
				if ts != 0 {
					t = ts.AsTime()
				}
				msgs = append(msgs, sluice.Message[event.Event]{Value: event.Event{Time: t, ReceivedAt: now,
					Source: s.name, SourceType: "otlp", Host: host}})
				ends = append(ends, len(buf))
			}
		}
	}
	start, first := 0, len(msgs)-len(ends)
	for i, end := range ends {
		msgs[first+i].Value.Raw = buf[start:end:end]
		start = end
	}
	return msgs, res
}

// msgPool holds the slices requests' events are made in. The queue copies
// what it is sent, so a slice is free again once Send returns.
var msgPool = sync.Pool{New: func() any { return new([]sluice.Message[event.Event]) }}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
