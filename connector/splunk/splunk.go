package splunk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

// Destination sends batches of events to a Splunk HTTP Event Collector.
// It is a [sluice.Runner]: batches are sent while Run runs. Send is safe
// for concurrent use. The package doc says when an event is acked.
type Destination struct {
	*batch.Destination[event.Event]
	h       *hec
	running atomic.Bool
}

// Option configures a Destination with what cannot be serialised.
type Option func(*options)

type options struct {
	log        *slog.Logger
	deadLetter sluice.Destination[event.Event]
	hooks      Hooks
}

// Hooks are called as requests complete, for metrics. Nil fields are
// skipped; they must be safe for concurrent use.
type Hooks struct {
	// Sent is called once a request's events are confirmed (HTTP 200, and
	// with ackEnabled the ack), with the events, bytes and duration from
	// the first try to the confirmation.
	Sent func(events, bytes int, d time.Duration)
	// Failed is called for each failure: "hec_<code>" (HEC's code),
	// "http_<status>", "ack_timeout", "timeout" or "network".
	Failed func(cause string)
}

// WithLogger sets the logger for retries and dead-lettered events. It
// never receives the token or an event. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithDeadLetter sends the events HEC refused for good (the event its
// "invalid-event-number" names), or that ran out of retries, to d, each
// with an "error" attribute; they are acked when d acks them. Default, or
// a nil d: such a refusal stops Run.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *options) { o.deadLetter = d }
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return func(o *options) { o.hooks = h } }

// New returns a Destination sending to the HEC at c.URL. Zero fields of c
// take the defaults of [DefaultConfig]. It checks c and does no I/O.
func New(c Config, opts ...Option) (*Destination, error) {
	def := DefaultConfig()
	if c.Event == "" {
		c.Event = def.Event
	}
	if c.AckPollInterval == 0 {
		c.AckPollInterval = def.AckPollInterval
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = def.AckTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.Batch == (batch.Config{}) {
		c.Batch = def.Batch
	}
	if c.URL == "" || c.Token == "" {
		return nil, errors.New("splunk_hec: url and token are required")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("splunk_hec: %w", err)
	}
	if c.AckEnabled && c.Channel == "" {
		c.Channel = newGUID()
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimSuffix(c.URL.Reveal(), "/")
	h := &hec{cfg: c, o: o, endpoint: endpoint(c.URL),
		eventURL: base + "/services/collector/event", ackURL: base + "/services/collector/ack"}
	if c.AckEnabled {
		q := "?channel=" + url.QueryEscape(c.Channel)
		h.eventURL += q
		h.ackURL += q
	}
	d, err := batch.New(c.Batch, batch.FlushFunc[event.Event](h.flush),
		batch.WithLogger[event.Event](o.log),
		batch.WithDeadLetter(o.deadLetter),
		batch.WithSize(func(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + 256 }))
	if err != nil {
		return nil, fmt.Errorf("splunk_hec: %w", err)
	}
	return &Destination{Destination: d, h: h}, nil
}

// Run builds the HTTP client (reading the TLS files), then sends batches
// until ctx is done, as [batch.Destination.RunAfter] does. A second call
// returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("splunk_hec: %w", sluice.ErrAlreadyRunning)
	}
	var t *http.Transport
	defer func() {
		if t != nil {
			t.CloseIdleConnections()
		}
	}()
	return d.Destination.RunAfter(ctx, func(context.Context) (err error) {
		t, err = d.h.start()
		return err
	})
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// hec sends one batch per flush.
type hec struct {
	cfg              Config
	o                options
	endpoint         string
	eventURL, ackURL string
	client           *http.Client
	pool             sync.Pool // *scratch
}

func (h *hec) start() (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(h.cfg.Batch.Parallelism, 2)
	if tc := h.cfg.TLS; tc != (TLSConfig{}) {
		cfg, err := tlsconfig.Client(tc.CAFile, tc.CertFile, tc.KeyFile, tc.InsecureSkipVerify)
		if err != nil {
			return nil, fmt.Errorf("splunk_hec: %w", err)
		}
		t.TLSClientConfig = cfg
	}
	h.client = &http.Client{Transport: t, Timeout: h.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return t, nil
}

type scratch struct {
	buf     []byte
	ends    []int
	pending []int
	body    []byte
	dead    []rejected
}

type rejected struct {
	i      int
	reason string
}

// flush sends msgs, retrying with back-off (batch.retry) until HEC has
// taken (and, with ackEnabled, indexed) every event but those it refused
// for good, which go to the dead letter; it returns once that acked them.
func (h *hec) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	s, _ := h.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer h.pool.Put(s)
	s.encode(h, msgs)
	s.dead = s.dead[:0]
	start := time.Now()
	attempts, retryable := 0, false
	err := retry.DoNotify(ctx, h.cfg.Batch.Retry, nil, func(ctx context.Context) error {
		attempts++
		err := h.post(ctx, s)
		retryable = sluice.IsRetryable(err)
		return err
	}, func(attempt int, delay time.Duration, err error) {
		h.o.log.Warn("splunk_hec: request failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	})
	switch {
	case err == nil:
		if h.o.hooks.Sent != nil {
			h.o.hooks.Sent(len(msgs)-len(s.dead), len(s.buf), time.Since(start))
		}
	case ctx.Err() != nil:
		return err
	case retryable:
		for _, i := range s.pending {
			s.dead = append(s.dead, rejected{i, err.Error()})
		}
	default:
		return err
	}
	if len(s.dead) == 0 {
		return nil
	}
	return h.deadLetter(ctx, msgs, s.dead, attempts)
}

// hecResponse is HEC's answer to an event or ack request.
type hecResponse struct {
	Text    string          `json:"text"`
	Code    int             `json:"code"`
	AckID   *int64          `json:"ackId"`
	Invalid *int            `json:"invalid-event-number"`
	Acks    map[string]bool `json:"acks"`
}

// post sends the pending events as one request and, with ackEnabled,
// waits for their ack. nil means every pending event is confirmed.
func (h *hec) post(ctx context.Context, s *scratch) error {
	body := s.buf
	if len(s.pending) != len(s.ends) {
		s.body = s.body[:0]
		for _, i := range s.pending {
			s.body = append(s.body, s.buf[s.from(i):s.ends[i]]...)
		}
		body = s.body
	}
	status, r, hdr, err := h.do(ctx, h.eventURL, body)
	if err != nil {
		return err
	}
	if status == http.StatusOK && r.Code == 0 {
		if !h.cfg.AckEnabled {
			s.pending = s.pending[:0]
			return nil
		}
		if r.AckID == nil {
			return fmt.Errorf("splunk_hec: POST %s: ackEnabled is set but HEC returned no ackId: is indexer acknowledgement on for the token?", h.endpoint)
		}
		if err := h.waitAck(ctx, *r.AckID); err != nil {
			return err
		}
		s.pending = s.pending[:0]
		return nil
	}
	serr := &StatusError{Endpoint: h.endpoint, StatusCode: status, Code: r.Code, Text: r.Text}
	h.failed(serr.cause())
	switch {
	case status == http.StatusBadRequest && r.Invalid != nil && *r.Invalid >= 0 && *r.Invalid < len(s.pending):
		// One event refused: it goes to the dead letter, the others are
		// sent again (HEC may have indexed those before it; without an
		// ack id that cannot be confirmed).
		k := *r.Invalid
		s.dead = append(s.dead, rejected{s.pending[k], serr.Error()})
		s.pending = append(s.pending[:k], s.pending[k+1:]...)
		if len(s.pending) == 0 {
			return nil
		}
		return retry.After(sluice.Retryable(fmt.Errorf("splunk_hec: %w", serr)), 0)
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		err := sluice.Retryable(fmt.Errorf("splunk_hec: %w", serr))
		if d, ok := retryAfter(hdr.Get("Retry-After"), time.Now()); ok {
			return retry.After(err, d)
		}
		return err
	case status == http.StatusRequestEntityTooLarge && len(s.pending) == 1:
		s.dead = append(s.dead, rejected{s.pending[0], serr.Error()})
		s.pending = s.pending[:0]
		return nil
	default:
		return fmt.Errorf("splunk_hec: %w", serr)
	}
}

// waitAck polls the ack endpoint until id is confirmed, AckTimeout
// passes (a retryable error: the batch is sent again), or ctx is done.
func (h *hec) waitAck(ctx context.Context, id int64) error {
	deadline := time.Now().Add(h.cfg.AckTimeout)
	body := []byte(`{"acks":[` + strconv.FormatInt(id, 10) + `]}`)
	key := strconv.FormatInt(id, 10)
	t := time.NewTimer(h.cfg.AckPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("splunk_hec: waiting for ack %d: %w", id, ctx.Err())
		case <-t.C:
		}
		status, r, _, err := h.do(ctx, h.ackURL, body)
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil:
			h.o.log.Warn("splunk_hec: ack poll failed", "ackId", id, "err", err)
		case status == http.StatusOK && r.Acks[key]:
			return nil
		case status == http.StatusOK:
		case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
			serr := &StatusError{Endpoint: h.endpoint, StatusCode: status, Code: r.Code, Text: r.Text}
			h.failed(serr.cause())
			return fmt.Errorf("splunk_hec: ack: %w", serr)
		default:
			h.o.log.Warn("splunk_hec: ack poll failed", "ackId", id, "status", status, "code", r.Code)
		}
		if time.Now().After(deadline) {
			h.failed("ack_timeout")
			return sluice.Retryable(fmt.Errorf("splunk_hec: ack %d not confirmed within %v: sending the batch again", id, h.cfg.AckTimeout))
		}
		t.Reset(h.cfg.AckPollInterval)
	}
}

// do POSTs body to u and decodes HEC's JSON answer (an empty one if the
// body is not JSON).
func (h *hec) do(ctx context.Context, u string, body []byte) (int, hecResponse, http.Header, error) {
	var r hecResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, r, nil, fmt.Errorf("splunk_hec: POST %s: invalid request", h.endpoint)
	}
	req.Header.Set("Authorization", "Splunk "+h.cfg.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	if h.cfg.AckEnabled {
		req.Header.Set("X-Splunk-Request-Channel", h.cfg.Channel)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, r, nil, h.transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &r)
	r.Text = h.redact(strings.ToValidUTF8(r.Text, "\uFFFD"))
	if len(r.Text) > 256 {
		r.Text = strings.ToValidUTF8(r.Text[:256], "") + "…"
	}
	return resp.StatusCode, r, resp.Header, nil
}

func (h *hec) deadLetter(ctx context.Context, msgs []sluice.Message[event.Event], dead []rejected, attempts int) error {
	if h.o.deadLetter == nil {
		return fmt.Errorf("splunk_hec: %d of %d events refused, first: %s", len(dead), len(msgs), dead[0].reason)
	}
	out := make([]sluice.Message[event.Event], len(dead))
	n := strconv.Itoa(attempts)
	for k, r := range dead {
		m := msgs[r.i]
		m.Attributes = m.Attributes.With("error", r.reason).With("batch.attempts", n)
		out[k] = m
	}
	acked := make(chan struct{})
	if err := h.o.deadLetter.Send(ctx, sluice.AckOnce(func() { close(acked) }), out...); err != nil {
		return fmt.Errorf("splunk_hec: dead letter: %w", err)
	}
	h.o.log.Warn("splunk_hec: events sent to dead letter", "events", len(dead), "of", len(msgs), "first", dead[0].reason)
	select {
	case <-acked:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("splunk_hec: waiting for the dead letter: %w", ctx.Err())
	}
}

func (h *hec) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("splunk_hec: POST %s: %w", h.endpoint, ctx.Err())
	}
	cause := "network"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		cause = "timeout"
	}
	h.failed(cause)
	return sluice.Retryable(fmt.Errorf("splunk_hec: POST %s: %s", h.endpoint, h.redact(err.Error())))
}

func (h *hec) failed(cause string) {
	if h.o.hooks.Failed != nil {
		h.o.hooks.Failed(cause)
	}
}

// redact masks the token and the URL in s.
func (h *hec) redact(s string) string {
	for _, v := range []string{h.cfg.URL.Reveal(), h.cfg.Token.Reveal()} {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, config.Redacted)
		}
	}
	return s
}

// encode writes each message's HEC event object to s.buf and sets every
// message pending.
func (s *scratch) encode(h *hec, msgs []sluice.Message[event.Event]) {
	s.buf, s.ends, s.pending = s.buf[:0], s.ends[:0], s.pending[:0]
	for i := range msgs {
		s.buf = appendEvent(s.buf, &h.cfg, &msgs[i].Value)
		s.buf = append(s.buf, '\n')
		s.ends = append(s.ends, len(s.buf))
		s.pending = append(s.pending, i)
	}
}

func (s *scratch) from(i int) int {
	if i == 0 {
		return 0
	}
	return s.ends[i-1]
}

// appendEvent appends e as a HEC event object:
// {"time":<epoch seconds>,"host":..,"source":..,"sourcetype":..,"index":..,"event":..}.
func appendEvent(dst []byte, c *Config, e *event.Event) []byte {
	t := e.Timestamp()
	dst = append(dst, `{"time":`...)
	dst = strconv.AppendInt(dst, t.Unix(), 10)
	dst = append(dst, '.')
	ms := t.Nanosecond() / 1e6
	dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	if e.Host != "" {
		dst = append(dst, `,"host":`...)
		dst = event.AppendString(dst, e.Host)
	}
	if src := orElse(c.Source, e.Source); src != "" {
		dst = append(dst, `,"source":`...)
		dst = event.AppendString(dst, src)
	}
	if st := orElse(c.Sourcetype, e.SourceType); st != "" {
		dst = append(dst, `,"sourcetype":`...)
		dst = event.AppendString(dst, st)
	}
	if c.Index != "" {
		dst = append(dst, `,"index":`...)
		dst = event.AppendString(dst, c.Index)
	}
	dst = append(dst, `,"event":`...)
	if c.Event == "raw" && len(e.Raw) > 0 {
		dst = event.AppendString(dst, e.Raw)
	} else {
		dst = e.AppendJSON(dst)
	}
	return append(dst, '}')
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// StatusError is a HEC request answered with an error.
type StatusError struct {
	// Endpoint is the URL's scheme://host.
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Text are HEC's "code" and "text" (such as 9, "Server is
	// busy"), when the answer had them.
	Code int
	Text string
}

func (e *StatusError) Error() string {
	s := "POST " + e.Endpoint + ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Text != "" {
		s += ": code " + strconv.Itoa(e.Code) + " " + strconv.Quote(e.Text)
	}
	return s
}

func (e *StatusError) cause() string {
	if e.Text != "" {
		return "hec_" + strconv.Itoa(e.Code)
	}
	return "http_" + strconv.Itoa(e.StatusCode)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
