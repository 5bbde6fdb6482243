package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
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
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/tlsconfig"
	"github.com/sluicehq/sluice/retry"
)

// Destination posts batches of events to an HTTP endpoint. It is a
// [sluice.Runner]: batches are posted while Run runs. Send is safe for
// concurrent use. The package doc says when an event is acked.
type Destination struct {
	*batch.Destination[event.Event]
	p       *poster
	running atomic.Bool
}

// Option configures a Destination with what cannot be serialised.
type Option func(*options)

type options struct {
	log        *slog.Logger
	deadLetter sluice.Destination[event.Event]
	hooks      Hooks
	transport  *http.Transport
}

// Hooks are called as batches are posted, for metrics. Nil fields are
// skipped. They are called from the flush goroutines and must be safe for
// concurrent use.
type Hooks struct {
	// Posted is called after a 2xx, with the batch's events, the bytes
	// sent (after compression) and how long encoding and the POST took.
	Posted func(events, bytes int, d time.Duration)
	// Failed is called after each failed POST with its cause:
	// "http_<status>" (such as "http_503"), "timeout", "network" or
	// "encode".
	Failed func(cause string)
}

// WithLogger sets the logger for retries, dead-lettered batches and fatal
// failures. It never receives a secret. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithDeadLetter sends batches that fail permanently (a 4xx other than 408
// and 429, or retries exhausted) to d, instead of failing Run. The events'
// acks are called when d acks. Default, or a nil d: no dead letter.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return func(o *options) { o.deadLetter = d }
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return func(o *options) { o.hooks = h } }

// WithTransport sets the transport to clone for the client; its TLS
// settings are replaced by Config.TLS when that is set. Default: a clone
// of [http.DefaultTransport].
func WithTransport(t *http.Transport) Option { return func(o *options) { o.transport = t } }

// New returns a Destination posting to c.URL. Zero fields of c take the
// defaults of [DefaultConfig]. It checks c and does no I/O: the TLS files
// are read and the client is built by Run.
func New(c Config, opts ...Option) (*Destination, error) {
	return newDestination(c, nil, opts)
}

// NewRunReveal returns a Destination posting to a RunReveal webhook: a
// JSON array of {"ts", "sourceType", "contentType", "rawLog"} objects per
// batch, where ts is the event time (RFC 3339 with nanoseconds) and rawLog
// the event's raw bytes as a string. Zero fields of c take the defaults of
// [DefaultRunRevealConfig]. Retries, dead letter and acks are those of
// [New].
func NewRunReveal(c RunRevealConfig, opts ...Option) (*Destination, error) {
	def := DefaultRunRevealConfig()
	if c.BatchSize == 0 {
		c.BatchSize = def.BatchSize
	}
	if c.FlushFreq == 0 {
		c.FlushFreq = def.FlushFreq
	}
	if err := config.Required("runreveal", config.Field{Path: "webhookURL", Empty: c.WebhookURL == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("runreveal: %w", err)
	}
	return newDestination(c.httpConfig(), appendRunReveal, opts)
}

func newDestination(c Config, enc encoder, opts []Option) (*Destination, error) {
	name := "webhook"
	if enc != nil {
		name = "runreveal"
	}
	def := DefaultConfig()
	if c.Format == "" {
		c.Format = def.Format
	}
	if c.Compression == "" {
		c.Compression = def.Compression
	}
	if c.JSONRaw == "" {
		c.JSONRaw = def.JSONRaw
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.Batch == (batch.Config{}) {
		c.Batch = def.Batch
	}
	if err := config.Required(name, config.Field{Path: "url", Empty: c.URL == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if enc == nil {
		jo, _ := event.JSONRaw(c.JSONRaw)
		enc = map[string]func(event.JSONOptions) encoder{"ndjson": ndjson, "array": array, "raw": rawLines}[c.Format](jo)
	}
	p := &poster{
		cfg:      c,
		name:     name,
		url:      c.URL.Reveal(),
		endpoint: endpoint(c.URL),
		enc:      enc,
		gzip:     c.Compression == "gzip",
		hooks:    o.hooks,
		secrets:  secrets(c),
	}
	p.ctype = map[string]string{"ndjson": "application/x-ndjson", "raw": "text/plain; charset=utf-8"}[c.Format]
	if p.ctype == "" {
		p.ctype = "application/json"
	}
	bo := []batch.Option[event.Event]{
		batch.WithLogger[event.Event](o.log),
		batch.WithSize(func(m *sluice.Message[event.Event]) int { return len(m.Value.Raw) + 256 }),
	}
	if o.deadLetter != nil {
		bo = append(bo, batch.WithDeadLetter(o.deadLetter))
	}
	p.transport = o.transport
	d, err := batch.New(c.Batch, batch.FlushFunc[event.Event](p.flush), bo...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Destination{Destination: d, p: p}, nil
}

// Run builds the HTTP client, posts batches until ctx is done and what is
// held is flushed (see [batch.Destination.Run]), then closes the client's
// idle connections. If the client cannot be built (a TLS file that does not
// load), the events sent so far are neither posted nor acked, and Run's
// error says how many (see [batch.Destination.RunAfter]). A second call
// returns [sluice.ErrAlreadyRunning].
func (d *Destination) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%s: %w", d.p.name, sluice.ErrAlreadyRunning)
	}
	var t *http.Transport
	defer func() {
		if t != nil {
			t.CloseIdleConnections()
		}
	}()
	return d.Destination.RunAfter(ctx, func(context.Context) (err error) {
		t, err = d.p.start()
		return err
	})
}

// start builds the client; the caller closes the transport's idle
// connections when done.
func (p *poster) start() (*http.Transport, error) {
	t, err := p.newTransport()
	if err != nil {
		return nil, err
	}
	p.client = &http.Client{
		Transport: t,
		Timeout:   p.cfg.Timeout,
		// Never follow a redirect: the credentials would go with it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return t, nil
}

// poster posts one batch per flush.
type poster struct {
	cfg       Config
	name      string // "webhook" or "runreveal", for errors
	url       string
	endpoint  string // scheme://host, safe to show
	ctype     string
	enc       encoder
	gzip      bool
	hooks     Hooks
	secrets   []string // values to redact from response bodies
	transport *http.Transport
	client    *http.Client // set by Run before any flush

	pool sync.Pool // *scratch
}

func (p *poster) newTransport() (*http.Transport, error) {
	var t *http.Transport
	if p.transport != nil {
		t = p.transport.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	tc := p.cfg.TLS
	if tc == (TLSConfig{}) {
		return t, nil
	}
	cfg, err := tlsconfig.Client(tc.CAFile, tc.CertFile, tc.KeyFile, tc.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// flush posts msgs as one request.
func (p *poster) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	s, _ := p.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer p.pool.Put(s)
	body, err := s.encode(msgs, p.enc, p.gzip)
	if err != nil {
		p.failed("encode")
		return fmt.Errorf("%s: encode: %w", p.name, err)
	}
	s.r.Reset(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &s.r)
	if err != nil {
		// Only a bad method or URL fails here, and Validate checked the URL.
		return fmt.Errorf("%s: POST %s: invalid request", p.name, p.endpoint)
	}
	req.ContentLength = int64(len(body))
	p.setHeaders(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return p.transportError(ctx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		s.discard(resp.Body)
		resp.Body.Close()
		if p.hooks.Posted != nil {
			p.hooks.Posted(len(msgs), len(body), time.Since(start))
		}
		return nil
	}
	body, whole := s.readBody(resp.Body)
	resp.Body.Close()
	p.failed("http_" + strconv.Itoa(resp.StatusCode))
	serr := &StatusError{Endpoint: p.endpoint, StatusCode: resp.StatusCode, Body: p.snippet(body, whole)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode >= 500:
		err := fmt.Errorf("%s: %w", p.name, serr)
		if d, ok := store.RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return retry.After(sluice.Retryable(err), d)
		}
		return sluice.Retryable(err)
	default:
		return fmt.Errorf("%s: %w", p.name, serr)
	}
}

func (p *poster) setHeaders(req *http.Request) {
	h := req.Header
	h["Content-Type"] = []string{p.ctype}
	if p.gzip {
		h["Content-Encoding"] = []string{"gzip"}
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v.Reveal())
	}
	if p.cfg.BearerToken != "" {
		h.Set("Authorization", "Bearer "+p.cfg.BearerToken.Reveal())
	}
	if b := p.cfg.BasicAuth; b != nil {
		req.SetBasicAuth(b.Username, b.Password.Reveal())
	}
}

// transportError turns a failed client.Do into an error that names the
// endpoint but not the URL, retryable unless ctx is done.
func (p *poster) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text holds the URL
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: POST %s: %w", p.name, p.endpoint, ctx.Err())
	}
	cause := "network"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		cause = "timeout"
	}
	p.failed(cause)
	return sluice.Retryable(fmt.Errorf("%s: POST %s: %w", p.name, p.endpoint, &redacted{err: err, secrets: p.secrets}))
}

func (p *poster) failed(cause string) {
	if p.hooks.Failed != nil {
		p.hooks.Failed(cause)
	}
}

func (p *poster) redact(s string) string {
	for _, v := range p.secrets {
		s = strings.ReplaceAll(s, v, config.Redacted)
	}
	return s
}

// snippet returns the start of an error response body, body, for an
// error's text: at most maxBody bytes of valid UTF-8, with the secrets
// masked before it is cut, so that a secret the server echoed across the
// cut cannot show its first part. whole is false when body is only the
// start of the response: its last bytes, which may begin a secret whose
// end was not read, are left out first.
func (p *poster) snippet(body []byte, whole bool) string {
	if !whole && len(p.secrets) > 0 {
		body = body[:max(len(body)-(len(p.secrets[0])-1), 0)] // secrets[0] is the longest
	}
	s := p.redact(strings.ToValidUTF8(string(body), "\uFFFD"))
	if len(s) <= maxBody {
		return s
	}
	cut := maxBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// secrets lists the secret values of c, longest first so that a secret
// holding another is replaced whole: the parts of the URL after its host,
// the credentials, the header values, and each of them as a server may
// echo it (URL-escaped; the basic credentials base64-encoded, as sent).
func secrets(c Config) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 { // shorter values would redact ordinary text
			out = append(out, s)
			for _, e := range []string{url.QueryEscape(s), url.PathEscape(s)} {
				if e != s {
					out = append(out, e)
				}
			}
		}
	}
	add(c.URL.Reveal())
	if u, err := url.Parse(c.URL.Reveal()); err == nil {
		add(u.RequestURI())
		add(u.Path)
		for seg := range strings.SplitSeq(u.Path, "/") {
			if len(seg) >= 8 { // a token, more likely than a word
				add(seg)
			}
		}
		add(u.RawQuery)
		add(u.User.String())
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	add(c.BearerToken.Reveal())
	if b := c.BasicAuth; b != nil {
		add(b.Password.Reveal())
		add(base64.StdEncoding.EncodeToString([]byte(b.Username + ":" + b.Password.Reveal())))
	}
	for _, v := range c.Headers {
		add(v.Reveal())
	}
	// Longest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// redacted is an error whose text has the secrets replaced; a transport
// error may quote a URL or a header.
type redacted struct {
	err     error
	secrets []string
}

func (e *redacted) Error() string {
	s := e.err.Error()
	for _, v := range e.secrets {
		s = strings.ReplaceAll(s, v, config.Redacted)
	}
	return s
}

func (e *redacted) Unwrap() error { return e.err }

// StatusError is a POST answered with a status other than 2xx.
type StatusError struct {
	// Endpoint is the URL's scheme://host; the rest may hold a token.
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body (at most 256 bytes, then
	// "…"), with secrets replaced by REDACTED before it was cut.
	Body string
}

func (e *StatusError) Error() string {
	s := "POST " + e.Endpoint + ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Body != "" {
		s += ": " + strconv.Quote(e.Body)
	}
	return s
}

// maxBody is how much of an error response is quoted, and readLimit is
// how much of it is read to be masked and cut (the rest is discarded).
const (
	maxBody   = 256
	readLimit = 16 << 10
)

// encoder appends msgs to dst as one request body.
type encoder func(dst []byte, msgs []sluice.Message[event.Event]) []byte

// ndjson returns the encoder of format ndjson, with the JSON options of
// Config.JSONRaw.
func ndjson(jo event.JSONOptions) encoder {
	return func(dst []byte, msgs []sluice.Message[event.Event]) []byte {
		for i := range msgs {
			dst = msgs[i].Value.AppendJSONWith(dst, jo)
			dst = append(dst, '\n')
		}
		return dst
	}
}

// rawLines returns the encoder of format raw, which has no JSON options.
func rawLines(event.JSONOptions) encoder { return appendRaw }

func appendRaw(dst []byte, msgs []sluice.Message[event.Event]) []byte {
	for i := range msgs {
		dst = append(dst, msgs[i].Value.Raw...)
		dst = append(dst, '\n')
	}
	return dst
}

// array returns the encoder of format array, with the JSON options of
// Config.JSONRaw.
func array(jo event.JSONOptions) encoder {
	return func(dst []byte, msgs []sluice.Message[event.Event]) []byte {
		dst = append(dst, '[')
		for i := range msgs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = msgs[i].Value.AppendJSONWith(dst, jo)
		}
		return append(dst, ']')
	}
}

// appendRunReveal writes RunReveal's webhook format.
func appendRunReveal(dst []byte, msgs []sluice.Message[event.Event]) []byte {
	dst = append(dst, '[')
	for i := range msgs {
		e := &msgs[i].Value
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"ts":"`...)
		dst = e.Timestamp().UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","sourceType":`...)
		dst = event.AppendString(dst, e.SourceType)
		dst = append(dst, `,"contentType":`...)
		dst = event.AppendString(dst, e.ContentType)
		dst = append(dst, `,"rawLog":`...)
		dst = event.AppendString(dst, e.Raw)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// scratch holds the buffers of one flush, reused across flushes.
type scratch struct {
	body []byte
	gz   bytes.Buffer
	zw   *gzip.Writer
	r    bytes.Reader
	resp []byte // an error response's body, up to readLimit bytes
}

// encode returns the body for msgs, valid until the next call.
func (s *scratch) encode(msgs []sluice.Message[event.Event], enc encoder, gz bool) ([]byte, error) {
	s.body = enc(s.body[:0], msgs)
	if !gz {
		return s.body, nil
	}
	s.gz.Reset()
	if s.zw == nil {
		s.zw = gzip.NewWriter(&s.gz)
	} else {
		s.zw.Reset(&s.gz)
	}
	if _, err := s.zw.Write(s.body); err != nil {
		return nil, err
	}
	if err := s.zw.Close(); err != nil {
		return nil, err
	}
	return s.gz.Bytes(), nil
}

// readBody returns the start of an error response's body, up to
// readLimit bytes (valid until the next call), and whether that is all of
// it; it discards the rest, as discard does.
func (s *scratch) readBody(r io.Reader) ([]byte, bool) {
	if s.resp == nil {
		s.resp = make([]byte, readLimit)
	}
	n, err := io.ReadFull(r, s.resp)
	whole := err != nil // EOF before readLimit bytes (or a read error: no more to read)
	if !whole {
		whole = s.discard(r) == 0
	}
	return s.resp[:n], whole
}

// discard reads and drops up to 64 KiB of r, so that the connection can
// be reused, and returns how many bytes it read.
func (s *scratch) discard(r io.Reader) int64 {
	n, _ := io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	return n
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
