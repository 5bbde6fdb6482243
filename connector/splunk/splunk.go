package splunk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/retry"
)

// Destination sends batches of events to a Splunk HTTP Event Collector.
// It is a [sluice.Runner]: batches are sent while Run runs (Run builds
// the HTTP client, reading the TLS files, and a second call returns
// [sluice.ErrAlreadyRunning]). Send is safe for concurrent use. The
// package doc says when an event is acked.
type Destination struct {
	*store.Destination
	h *hec
}

// Option configures a Destination with what cannot be serialised.
type Option = store.Option

// Hooks are called as requests complete, for metrics (see [store.Hooks]):
// Written once a request's events are confirmed (HTTP 200, and with
// ackEnabled the ack), with the events, bytes and duration from the
// first try to the confirmation; Failed for each failure: "hec_<code>"
// (HEC's code), "http_<status>", "ack_timeout", "timeout", "network" or
// "bad_response" (a 200 whose body is not HEC's JSON answer).
type Hooks = store.Hooks

// WithLogger sets the logger for retries and dead-lettered events. It
// never receives the token or an event. Default: discard.
func WithLogger(l *slog.Logger) Option { return store.WithLogger(l) }

// WithDeadLetter sends the events HEC refused for good (the event its
// "invalid-event-number" names), or that ran out of retries, to d, each
// with an "error" attribute; they are acked when d acks them. Default, or
// a nil d: such a refusal stops Run.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return store.WithDeadLetter(d)
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return store.WithHooks(h) }

// New returns a Destination sending to the HEC at c.URL. Zero fields of c
// take the defaults of [DefaultConfig]. It checks c and does no I/O.
func New(c Config, opts ...Option) (*Destination, error) {
	defaults.Fill(&c, DefaultConfig())
	if err := config.Required("splunk_hec", config.Field{Path: "url", Empty: c.URL == ""},
		config.Field{Path: "token", Empty: c.Token == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("splunk_hec: %w", err)
	}
	if c.AckEnabled && c.Channel == "" {
		c.Channel = newGUID()
	}
	base := strings.TrimSuffix(c.URL.Reveal(), "/")
	h := &hec{cfg: c, o: store.Apply(opts), endpoint: store.Endpoint(c.URL.Reveal()),
		secrets:  store.NewSecrets(c.URL.Reveal(), c.Token.Reveal()),
		eventURL: base + "/services/collector/event", ackURL: base + "/services/collector/ack"}
	if c.AckEnabled {
		q := "?channel=" + url.QueryEscape(c.Channel)
		h.eventURL += q
		h.ackURL += q
	}
	// Without a dead letter, which takes events, batches hold the HEC
	// event objects already encoded (by Send), sent as they are.
	var d *store.Destination
	var err error
	if h.o.DeadLetter == nil {
		d, err = store.NewEncoded("splunk_hec", c.Batch, h.appendEvent, batch.FlushBytesFunc(h.flushBytes), h.o, h.start)
	} else {
		d, err = store.New("splunk_hec", c.Batch, h.flush, h.o, store.RawSize, h.start)
	}
	if err != nil {
		return nil, err
	}
	return &Destination{Destination: d, h: h}, nil
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
	o                store.Options
	endpoint         string
	secrets          store.Secrets // the URL and the token
	eventURL, ackURL string
	client           *http.Client
	pool             sync.Pool // *scratch
	secs             seconds   // of the last event encoded
}

func (h *hec) start(context.Context) (func(), error) {
	tc, err := h.cfg.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("splunk_hec: %w", err)
	}
	var t *http.Transport
	h.client, t = store.HTTPClient(h.cfg.Timeout, tc, max(h.cfg.Batch.Parallelism, 2), 0)
	return t.CloseIdleConnections, nil
}

// scratch holds what one flush needs, reused across flushes.
type scratch struct {
	buf      []byte // the event objects, each with its newline
	ends     []int  // where each ends in buf
	pending  []int  // the events not yet confirmed nor refused
	body     []byte
	gz       store.Gzip
	dead     []store.Rejected
	attempts int    // of the last send
	own      []byte // buf, when encode wrote it
	ownEnds  []int
}

func (h *hec) scratch() *scratch {
	s, _ := h.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	return s
}

// appendEvent appends m's HEC event object and a newline to b: the
// batch's Encoder, safe for concurrent use.
func (h *hec) appendEvent(b []byte, m *sluice.Message[event.Event]) []byte {
	return append(appendEvent(b, &h.secs, &h.cfg, &m.Value), '\n')
}

// flush sends msgs, retrying with back-off (batch.retry) until HEC has
// taken (and, with ackEnabled, indexed) every event but those it refused
// for good, which go to the dead letter; it returns once that acked them.
func (h *hec) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	s := h.scratch()
	defer h.pool.Put(s)
	s.encode(h, msgs)
	if err := h.send(ctx, s); err != nil || len(s.dead) == 0 {
		return err
	}
	return store.DeadLetterRejected(ctx, "splunk_hec", "events refused", &h.o, msgs, s.dead, s.attempts)
}

// flushBytes sends b, the event objects of len(ends) events (each ending
// at ends[i]), as flush sends its messages', without a dead letter: an
// event refused for good fails the flush. It keeps neither.
func (h *hec) flushBytes(ctx context.Context, b []byte, ends []int) error {
	s := h.scratch()
	defer h.pool.Put(s)
	s.buf, s.ends, s.pending = b, ends, s.pending[:0]
	for i := range ends {
		s.pending = append(s.pending, i)
	}
	err := h.send(ctx, s)
	s.buf, s.ends = nil, nil
	if err != nil || len(s.dead) == 0 {
		return err
	}
	return store.Refused("splunk_hec", "events refused", s.dead, len(ends))
}

// send sends the pending events of s, as flush says; those refused for
// good are left in s.dead.
func (h *hec) send(ctx context.Context, s *scratch) error {
	s.dead = s.dead[:0]
	n := len(s.pending)
	start := time.Now()
	attempts, retryable := 0, false
	err := retry.DoNotify(ctx, h.cfg.Batch.Retry, nil, func(ctx context.Context) error {
		attempts++
		err := h.post(ctx, s)
		retryable = sluice.IsRetryable(err)
		return err
	}, func(attempt int, delay time.Duration, err error) {
		h.o.Log.Warn("splunk_hec: request failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	})
	s.attempts = attempts
	switch {
	case err == nil:
		if h.o.Hooks.Written != nil {
			h.o.Hooks.Written(n-len(s.dead), len(s.buf), time.Since(start))
		}
	case ctx.Err() != nil:
		return err
	case retryable:
		for _, i := range s.pending {
			s.dead = append(s.dead, store.Rejected{I: i, Reason: err.Error()})
		}
	default:
		return err
	}
	return nil
}

// hecResponse is HEC's answer to an event or ack request.
type hecResponse struct {
	Text    string          `json:"text"`
	Code    *int            `json:"code"` // nil: the body had none, so it is not HEC's
	AckID   *int64          `json:"ackId"`
	Invalid *int            `json:"invalid-event-number"`
	Acks    map[string]bool `json:"acks"`
}

// code is HEC's code, 0 if the body had none.
func (r *hecResponse) code() int {
	if r.Code == nil {
		return 0
	}
	return *r.Code
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
	gzipped := h.cfg.Compression == "gzip"
	if gzipped {
		var err error
		if body, err = s.gz.Compress(body); err != nil {
			return fmt.Errorf("splunk_hec: gzip: %w", err)
		}
	}
	status, r, hdr, err := h.do(ctx, h.eventURL, body, gzipped)
	if err != nil {
		return err
	}
	if status == http.StatusOK && r.code() == 0 {
		if r.Code == nil {
			// A proxy's page, a body cut off, another service: nothing
			// says HEC took the events.
			h.failed("bad_response")
			return sluice.Retryable(fmt.Errorf("splunk_hec: POST %s: 200 without HEC's answer (a JSON object with \"code\")", h.endpoint))
		}
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
	serr := &StatusError{Endpoint: h.endpoint, StatusCode: status, Code: r.code(), Text: r.Text}
	h.failed(serr.cause())
	switch {
	case status == http.StatusBadRequest && r.Invalid != nil && *r.Invalid >= 0 && *r.Invalid < len(s.pending):
		// One event refused: it goes to the dead letter, the others are
		// sent again (HEC may have indexed those before it; without an
		// ack id that cannot be confirmed).
		k := *r.Invalid
		s.dead = append(s.dead, store.Rejected{I: s.pending[k], Reason: serr.Error()})
		s.pending = append(s.pending[:k], s.pending[k+1:]...)
		if len(s.pending) == 0 {
			return nil
		}
		return retry.After(sluice.Retryable(fmt.Errorf("splunk_hec: %w", serr)), 0)
	case store.Retryable(status):
		return store.RetryLater(fmt.Errorf("splunk_hec: %w", serr), hdr)
	case status == http.StatusRequestEntityTooLarge && len(s.pending) == 1:
		s.dead = append(s.dead, store.Rejected{I: s.pending[0], Reason: serr.Error()})
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
		status, r, _, err := h.do(ctx, h.ackURL, body, false)
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil:
			h.o.Log.Warn("splunk_hec: ack poll failed", "ackId", id, "err", err)
		case status == http.StatusOK && r.Acks[key]:
			return nil
		case status == http.StatusOK:
		case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
			serr := &StatusError{Endpoint: h.endpoint, StatusCode: status, Code: r.code(), Text: r.Text}
			h.failed(serr.cause())
			return fmt.Errorf("splunk_hec: ack: %w", serr)
		default:
			h.o.Log.Warn("splunk_hec: ack poll failed", "ackId", id, "status", status, "code", r.code())
		}
		if time.Now().After(deadline) {
			h.failed("ack_timeout")
			return sluice.Retryable(fmt.Errorf("splunk_hec: ack %d not confirmed within %v: sending the batch again", id, h.cfg.AckTimeout))
		}
		t.Reset(h.cfg.AckPollInterval)
	}
}

// do POSTs body (gzipped if gz) to u and decodes HEC's JSON answer (an
// empty one if the body is not JSON).
func (h *hec) do(ctx context.Context, u string, body []byte, gz bool) (int, hecResponse, http.Header, error) {
	var r hecResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, r, nil, fmt.Errorf("splunk_hec: POST %s: invalid request", h.endpoint)
	}
	req.Header.Set("Authorization", "Splunk "+h.cfg.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if h.cfg.AckEnabled {
		req.Header.Set("X-Splunk-Request-Channel", h.cfg.Channel)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, r, nil, h.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && json.Unmarshal(b, &r) != nil {
		r = hecResponse{} // not JSON: not HEC's answer
	}
	r.Text = h.secrets.Snippet(r.Text, 256)
	return resp.StatusCode, r, resp.Header, nil
}

func (h *hec) transportError(ctx context.Context, err error) error {
	cause, err := h.secrets.TransportError(ctx, "splunk_hec: POST "+h.endpoint, err)
	if cause != "" {
		h.failed(cause)
	}
	return err
}

func (h *hec) failed(cause string) {
	if h.o.Hooks.Failed != nil {
		h.o.Hooks.Failed(cause)
	}
}

// encode writes each message's HEC event object to s.buf and sets every
// message pending.
func (s *scratch) encode(h *hec, msgs []sluice.Message[event.Event]) {
	s.buf, s.ends, s.pending = s.own[:0], s.ownEnds[:0], s.pending[:0]
	for i := range msgs {
		s.buf = h.appendEvent(s.buf, &msgs[i])
		s.ends = append(s.ends, len(s.buf))
		s.pending = append(s.pending, i)
	}
	s.own, s.ownEnds = s.buf, s.ends
}

func (s *scratch) from(i int) int {
	if i == 0 {
		return 0
	}
	return s.ends[i-1]
}

// appendEvent appends e as a HEC event object:
// {"time":<epoch seconds>,"host":..,"source":..,"sourcetype":..,"index":..,"event":..}.
// secs holds the digits of the last seconds written.
func appendEvent(dst []byte, secs *seconds, c *Config, e *event.Event) []byte {
	t := e.Timestamp()
	dst = append(dst, `{"time":`...)
	dst = secs.append(dst, t.Unix())
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

// seconds caches the decimal digits of the Unix seconds last appended:
// a batch's events mostly share their second, and formatting them anew
// took about 220 of the 7,700 instructions an event costs (gzip
// included). It is safe for concurrent use (Send encodes in the caller's
// goroutine): a new second replaces the cache, never changes it. The
// zero value is ready.
type seconds struct {
	last atomic.Pointer[secondsDigits]
}

// secondsDigits is unix in decimal.
type secondsDigits struct {
	unix   int64
	digits []byte
}

// append appends u in decimal, as strconv.AppendInt(dst, u, 10) does.
func (s *seconds) append(dst []byte, u int64) []byte {
	d := s.last.Load()
	if d == nil || d.unix != u {
		d = &secondsDigits{unix: u, digits: strconv.AppendInt(nil, u, 10)}
		s.last.Store(d)
	}
	return append(dst, d.digits...)
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

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
