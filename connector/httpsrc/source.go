// Package httpsrc receives events over HTTP: the "http" source, a webhook
// receiver.
//
// Clients POST a body of events (NDJSON, a JSON array or object, or plain
// lines; optionally gzipped). The source answers 2xx only once every event
// of the request has been acknowledged downstream, so a client that
// retries every request without a 2xx loses nothing; it may send some
// events twice (at-least-once delivery):
//
//	200 {"accepted": n}   every event was acked
//	400                   the body does not parse (the reason is the body of the reply); nothing was queued
//	401 / 403             credentials missing / wrong
//	404 / 405             another path / another method than POST
//	408                   the body did not arrive within readTimeout
//	413                   body or event count over the limit
//	415                   a Content-Type or Content-Encoding it cannot read
//	503 + Retry-After     maxConcurrentRequests are being handled, the queue
//	                      is full, the acks did not come within
//	                      requestTimeout, or the source is shutting down
//
// A client that hangs up while its request waits for acks gets no answer;
// its events stay in flight and are delivered as usual (a retry sends
// them twice). It is logged and counted as errors{cause="client_hangup"}.
//
// Slow and idle clients are bounded by readHeaderTimeout, readTimeout and
// idleTimeout, connections by maxConnections, headers by maxHeaderBytes
// (431), and a body takes memory as its bytes arrive, never from the
// Content-Length it declares. The log lines a client can cause (a refused
// or evicted connection, a failed TLS handshake) are written at most once
// per 10 seconds each; the counters count them all.
package httpsrc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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
	"sync"
	"time"

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

// Option configures a Source.
type Option func(*Source)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(s *Source) { s.log = l } }

// WithCounters sets where counts go: ParseFailed for bodies that do not
// parse, Error("http_<status>") for every other rejected request.
// Default: nowhere.
func WithCounters(c Counters) Option { return func(s *Source) { s.count = c } }

// WithQueueSize sets how many events the source holds between the HTTP
// handlers and Recv. A request whose events do not all fit within a second
// (or requestTimeout, if shorter) gets 503. Default 4096.
func WithQueueSize(n int) Option { return func(s *Source) { s.queueSize = n } }

// enqueueWait is the longest a request waits for room in the queue.
const enqueueWait = time.Second

// retryAfter is the Retry-After of a 503.
const retryAfter = time.Second

// slotAfter is how much of a body arrives before its request takes one of
// maxConcurrentRequests slots: a slow client trickling a body holds none.
const slotAfter = httpin.SlotAfter

// Source receives events over HTTP. It is a [sluice.Runner]: Run listens
// until its ctx is done, then shuts the server down, and Recv returns what
// was received, then io.EOF. Recv is safe for concurrent use.
type Source struct {
	cfg       Config
	name      string
	log       *slog.Logger
	count     Counters
	queueSize int
	q         *httpin.Queue[event.Event]
	token     [sha256.Size]byte // of the expected credentials: the bearer token, or "user:password"
	auth      bool
	slots     httpin.Slots        // one per request being handled: see MaxConcurrentRequests
	logs      *lograte.Limiter    // for the lines a client can cause
	conns     *connlimit.Listener // set by Run before ready: see MaxConnections

	mu        sync.Mutex
	running   bool
	addr      net.Addr
	ready     chan struct{}   // closed once Run has bound or failed
	listening listening.Gate  // opened once Run has bound
	stopping  <-chan struct{} // Run's ctx.Done(), once Run has started
}

// New returns a Source named name (the name events carry). Zero fields of
// c take the defaults of [DefaultConfig]. It does no I/O.
func New(c Config, name string, opts ...Option) (*Source, error) {
	defaults.Fill(&c, DefaultConfig())
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("http source: %w", err)
	}
	if c.BasicAuth != nil {
		ba := *c.BasicAuth
		c.BasicAuth = &ba
	}
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
	}
	s := &Source{cfg: c, name: name, log: slog.New(slog.DiscardHandler), count: nopCounters{},
		queueSize: 4096, ready: make(chan struct{}), listening: listening.New(), slots: httpin.NewSlots(c.MaxConcurrentRequests),
		logs: lograte.New(lograte.Every)}
	for _, o := range opts {
		o(s)
	}
	s.q = httpin.NewQueue[event.Event]("http source", s.queueSize)
	switch {
	case c.BearerToken != "":
		s.auth, s.token = true, sha256.Sum256([]byte(c.BearerToken.Reveal()))
	case c.BasicAuth != nil:
		s.auth, s.token = true, sha256.Sum256([]byte(c.BasicAuth.Username+":"+c.BasicAuth.Password.Reveal()))
	}
	return s, nil
}

// Addr returns the address the source listens on, once Run has bound it
// (it blocks until then or until ctx is done). For tests that listen on
// port 0.
func (s *Source) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return nil, errors.New("http source: not listening")
	}
	return s.addr, nil
}

// Recv returns the next received event. Its ack counts toward the
// response of the request that carried it. After Run has returned, Recv
// returns what is left, then io.EOF.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	return s.q.Recv(ctx)
}

// RecvBatch is Recv for up to len(msgs) events at once (a
// [sluice.BatchSource]); each event keeps its own ack.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	return s.q.RecvBatch(ctx, msgs, acks)
}

// Run listens (an address in use is an error, returned at once) and
// serves until ctx is done. Then it stops taking requests; those waiting
// for acks get 503. A second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("http source: %w", sluice.ErrAlreadyRunning)
	}
	s.running = true
	s.stopping = ctx.Done()
	s.mu.Unlock()
	defer s.q.Close()
	ln, err := s.listen(ctx)
	if err != nil {
		close(s.ready)
		return fmt.Errorf("http source: %w", err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	s.log.Info("listening", "addr", ln.Addr().String(), "path", s.cfg.Path, "tls", s.cfg.TLS != nil)
	s.listening.Open()
	close(s.ready)

	// Requests' contexts derive from ctx: when it is done, every request
	// waiting for acks answers 503 at once.
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ConnState:         s.conns.EvictWaiting(),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          httpin.ErrorLog(s.log, s.logs, s.count.Error),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served: // Serve failed on its own
		srv.Close()
		return fmt.Errorf("http source: serve: %w", err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		srv.Close()
	}
	<-served
	return nil
}

// NotReady reports "not listening yet" until Run has bound its address,
// so that the daemon's /readyz answers 200 only once clients can
// connect.
func (s *Source) NotReady() string { return s.listening.NotReady() }

// Bound returns a channel that Run closes once it has bound its address,
// when clients can connect; it is never closed if binding fails (Run
// returns why). The daemon logs "running" only then (see
// daemon.Binder).
func (s *Source) Bound() <-chan struct{} { return s.listening.Bound() }

// listen binds the address, bounded to MaxConnections (s.conns), with
// TLS over it if configured. An error names the config field at fault: a
// [config.FieldError] at "addr" (in use, a port below 1024 without the
// right; its message, the [net.OpError]'s, names the address) or "tls".
func (s *Source) listen(ctx context.Context) (net.Listener, error) {
	raw, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, &config.FieldError{Path: "addr", Msg: err.Error(), Err: err}
	}
	s.conns = httpin.Limit(raw, s.cfg.MaxConnections, s.log, s.logs, s.count.Error)
	var ln net.Listener = s.conns
	if s.cfg.TLS == nil {
		return ln, nil
	}
	tc, err := tlsconfig.Server(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile, s.cfg.TLS.ClientCAFile, "http/1.1")
	if err != nil {
		ln.Close()
		return nil, &config.FieldError{Path: "tls", Msg: err.Error(), Err: err}
	}
	return tls.NewListener(ln, tc), nil
}

// ServeHTTP handles one request: see the package doc for the replies.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.cfg.Path {
		s.reject(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reject(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if s.auth {
		got := r.Header.Get("Authorization")
		if got == "" {
			if s.cfg.BasicAuth != nil {
				w.Header().Set("WWW-Authenticate", `Basic realm="sluice"`)
			} else {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			s.reject(w, http.StatusUnauthorized, "credentials required")
			return
		}
		if !s.authorized(r, got) {
			s.reject(w, http.StatusForbidden, "wrong credentials")
			return
		}
	}
	format := s.cfg.Format
	if format == "auto" {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/x-ndjson", "text/plain":
			format = "lines"
		case "application/json":
			format = "json"
		default:
			s.reject(w, http.StatusUnsupportedMediaType, "Content-Type: want application/x-ndjson, text/plain or application/json")
			return
		}
	}
	body, err := httpin.ReadBody(w, r, s.cfg.MaxBodyBytes, "maxBodyBytes", s.slots)
	if err != nil {
		if status := err.(*httpin.Error).Status; status == http.StatusServiceUnavailable {
			s.unavailable(w, err.Error())
		} else {
			s.reject(w, status, err.Error())
		}
		return
	}
	defer s.slots.Release()
	raws, err := parseBody(body, format, s.cfg.MaxEvents)
	switch {
	case errors.Is(err, errTooMany):
		s.reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d events", s.cfg.MaxEvents))
		return
	case err != nil:
		s.count.ParseFailed(1)
		s.replyError(w, http.StatusBadRequest, format+": "+err.Error())
		return
	}
	s.deliver(w, r, raws)
}

// authorized reports whether the Authorization header value h holds the
// configured credentials. It compares hashes in constant time, so that
// neither the content nor the length of the secret leaks.
func (s *Source) authorized(r *http.Request, h string) bool {
	var cred string
	if s.cfg.BasicAuth != nil {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return false
		}
		cred = user + ":" + pass
	} else {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		cred = strings.TrimSpace(token)
	}
	sum := sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

// deliver queues the events and answers once they are all acked.
func (s *Source) deliver(w http.ResponseWriter, r *http.Request, raws [][]byte) {
	ctx := r.Context()
	if len(raws) > 0 {
		now := time.Now()
		host := r.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		msgs := make([]sluice.Message[event.Event], len(raws))
		for i, raw := range raws {
			msgs[i].Value = event.Event{ReceivedAt: now, Source: s.name, SourceType: "http", Host: host,
				ContentType: s.cfg.ContentType, Raw: raw}
		}
		done := make(chan struct{})
		enq, cancel := context.WithTimeout(ctx, min(enqueueWait, s.cfg.RequestTimeout))
		// The queue calls this once, when all len(msgs) are acked.
		err := s.q.Send(enq, func() { close(done) }, msgs...)
		cancel()
		if err != nil {
			// What was queued is still delivered; the client retries it all.
			if ctx.Err() != nil {
				s.gone(w, r, len(raws))
			} else {
				s.unavailable(w, "queue full")
			}
			return
		}
		timer := time.NewTimer(s.cfg.RequestTimeout)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			s.unavailable(w, "events not acknowledged in time")
			return
		case <-ctx.Done():
			s.gone(w, r, len(raws))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"accepted":`+strconv.Itoa(len(raws))+"}\n")
}

// gone answers a request whose context ended while its n events were
// queued or waited for acks: 503 if the source is shutting down, nothing
// if the client hung up. Either way the events stay in flight.
func (s *Source) gone(w http.ResponseWriter, r *http.Request, n int) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	select {
	case <-stopping:
		s.unavailable(w, "shutting down")
		return
	default:
	}
	s.count.Error("client_hangup")
	s.log.Info("client hung up before its events were acknowledged; they stay in flight and are delivered as usual (a retry sends them twice)",
		"remote", r.RemoteAddr, "events", n)
}

func (s *Source) unavailable(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", httpin.RetryAfter(retryAfter))
	s.reject(w, http.StatusServiceUnavailable, why)
}

// reject counts and sends an error reply.
func (s *Source) reject(w http.ResponseWriter, status int, msg string) {
	s.count.Error("http_" + strconv.Itoa(status))
	s.replyError(w, status, msg)
}

func (s *Source) replyError(w http.ResponseWriter, status int, msg string) {
	s.log.Debug("request rejected", "status", status, "reason", msg)
	http.Error(w, msg, status)
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
	_ http.Handler                    = (*Source)(nil)
)
