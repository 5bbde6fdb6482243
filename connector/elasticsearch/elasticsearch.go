package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/retry"
	"github.com/zeebo/xxh3"
)

// Destination writes batches of events with the _bulk API. It is a
// [sluice.Runner]: batches are written while Run runs (Run builds the
// HTTP client, reading the TLS files, and a second call returns
// [sluice.ErrAlreadyRunning]). Send is safe for concurrent use. The
// package doc says when an event is acked.
type Destination struct {
	*store.Destination
	b *bulker
}

// Option configures a Destination with what cannot be serialised.
type Option = store.Option

// Hooks are called as bulk requests complete, for metrics (see
// [store.Hooks]): Written after each bulk request with the items stored
// (or found stored already), the request's bytes and its duration;
// Failed once per failed request ("http_<status>", "timeout", "network",
// "bad_response": a 200 whose body is not a whole _bulk response)
// and once per item rejected or to be retried ("item_<status>").
type Hooks = store.Hooks

// WithLogger sets the logger for retries and dead-lettered items. It
// never receives a secret or an event. Default: discard.
func WithLogger(l *slog.Logger) Option { return store.WithLogger(l) }

// WithDeadLetter sends the events that Elasticsearch rejected for good
// (such as a mapping error), or that ran out of retries, to d, each with
// an "error" attribute holding the reason; they are acked when d acks
// them. Default, or a nil d: such a rejection stops Run.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return store.WithDeadLetter(d)
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return store.WithHooks(h) }

// New returns a Destination writing to the cluster at c.URL. Zero fields
// of c take the defaults of [DefaultConfig]. It checks c and does no I/O:
// the TLS files are read and the client is built by Run.
func New(c Config, opts ...Option) (*Destination, error) {
	defaults.Fill(&c, DefaultConfig())
	if err := config.Required("elasticsearch", config.Field{Path: "url", Empty: c.URL == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	idx, _ := parseIndex(c.Index)
	jo, _ := event.JSONRaw(c.JSONRaw)
	b := &bulker{
		cfg:      c,
		index:    idx,
		json:     jo,
		base:     strings.TrimSuffix(c.URL.Reveal(), "/"),
		endpoint: store.Endpoint(c.URL.Reveal()),
		o:        store.Apply(opts),
		secrets:  secrets(c),
	}
	// The retries happen inside flush, item by item; the batch only sees
	// success, a permanent failure of the whole request, or a stop.
	d, err := store.New("elasticsearch", c.Batch, b.flush, b.o, store.RawSize, b.start)
	if err != nil {
		return nil, err
	}
	return &Destination{Destination: d, b: b}, nil
}

// bulker writes one batch per flush with _bulk requests.
type bulker struct {
	cfg      Config
	index    index
	json     event.JSONOptions
	base     string // the URL without a trailing "/"
	endpoint string // scheme://host, safe to show
	o        store.Options
	secrets  store.Secrets
	client   *http.Client // set by Run before any flush
	pool     sync.Pool    // *scratch
}

func (b *bulker) start(context.Context) (func(), error) {
	tc, err := b.cfg.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	var t *http.Transport
	b.client, t = store.HTTPClient(b.cfg.Timeout, tc, max(b.cfg.Batch.Parallelism, 2), 0)
	return t.CloseIdleConnections, nil
}

// scratch is the state of one flush, reused across flushes.
type scratch struct {
	buf []byte // every item's action and document lines, back to back
	// index is the one index of every item, named in the URL and not in
	// the action lines; "" when the items go to more than one.
	index   string
	names   indexNames
	id      []byte // what an item's _id hashes
	ends    []int  // item i is buf[ends[i-1]:ends[i]]
	pending []int  // items still to write
	next    []int
	dead    []store.Rejected
	// retryReason is the first item failure to retry, for the log.
	retryReason string
	body        []byte
	gz          store.Gzip
	r           bytes.Reader
	resp        bulkResponse
}

// flush writes msgs, retrying the items that failed with 429 or 5xx with
// back-off (batch.retry) until every item is stored or rejected for good;
// the rejected ones go to the dead letter, and flush returns once it acked
// them. A request refused whole for good (401, 403, 404...) is returned as
// a permanent error: the batch goes whole to the dead letter, or Run stops.
func (b *bulker) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	s, _ := b.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer b.pool.Put(s)
	s.encode(b, msgs)
	s.dead, s.retryReason = s.dead[:0], ""
	chunk := len(msgs) // items per request; halved on 413
	attempts, retryable := 0, false
	err := retry.DoNotify(ctx, b.cfg.Batch.Retry, nil, func(ctx context.Context) error {
		attempts++
		err := b.attempt(ctx, s, &chunk, len(msgs))
		retryable = sluice.IsRetryable(err)
		return err
	}, func(attempt int, delay time.Duration, err error) {
		b.o.Log.Warn("elasticsearch: bulk request failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return err
	case retryable:
		// Out of retries: what is left goes to the dead letter.
		for _, i := range append(s.pending, s.next...) {
			s.dead = append(s.dead, store.Rejected{I: i, Reason: err.Error()})
		}
	default:
		return err // refused whole: the batch dead-letters it, or Run stops
	}
	if len(s.dead) == 0 {
		return nil
	}
	return store.DeadLetterRejected(ctx, "elasticsearch", "items rejected", &b.o, msgs, s.dead, attempts)
}

// attempt posts the pending items, chunk at a time, then makes the items
// to retry pending again. It returns nil once none is left to retry.
func (b *bulker) attempt(ctx context.Context, s *scratch, chunk *int, total int) error {
	for len(s.pending) > 0 {
		err := b.post(ctx, s, min(*chunk, len(s.pending)))
		var tl *tooLarge
		if errors.As(err, &tl) {
			*chunk = max(min(*chunk, len(s.pending))/2, 1)
			return retry.After(sluice.Retryable(err), 0)
		}
		if err != nil {
			return err
		}
	}
	if len(s.next) == 0 {
		return nil
	}
	s.pending, s.next = append(s.pending[:0], s.next...), s.next[:0]
	return sluice.Retryable(fmt.Errorf("elasticsearch: %d of %d items to retry, first: %s", len(s.pending), total, s.retryReason))
}

// tooLarge is a request answered 413.
type tooLarge struct{ err error }

func (e *tooLarge) Error() string { return e.err.Error() }
func (e *tooLarge) Unwrap() error { return e.err }

// post sends the first n pending items as one request, and moves them out
// of s.pending: to s.next to retry, s.dead if rejected, nowhere if stored.
// An error means the request as a whole failed and nothing was moved.
func (b *bulker) post(ctx context.Context, s *scratch, n int) error {
	start := time.Now()
	body := s.buf // the first try of a whole batch: every item, in order
	if n != len(s.ends) {
		s.body = s.body[:0]
		for _, i := range s.pending[:n] {
			s.body = append(s.body, s.buf[s.from(i):s.ends[i]]...)
		}
		body = s.body
	}
	if b.cfg.Compression == "gzip" {
		var err error
		if body, err = s.gz.Compress(body); err != nil {
			return fmt.Errorf("elasticsearch: gzip: %w", err)
		}
	}
	s.r.Reset(body)
	u := b.base + "/_bulk" + bulkQuery
	if s.index != "" {
		u = b.base + "/" + url.PathEscape(s.index) + "/_bulk" + bulkQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &s.r)
	if err != nil {
		return fmt.Errorf("elasticsearch: POST %s: invalid request", b.endpoint)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if b.cfg.Compression == "gzip" {
		req.Header.Set("Content-Encoding", "gzip")
	}
	switch {
	case b.cfg.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+b.cfg.APIKey.Reveal())
	case b.cfg.Username != "":
		req.SetBasicAuth(b.cfg.Username, b.cfg.Password.Reveal())
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return b.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		b.failed("http_" + strconv.Itoa(resp.StatusCode))
		serr := &StatusError{Endpoint: b.endpoint, StatusCode: resp.StatusCode, Body: b.secrets.Snippet(string(body), 256)}
		switch {
		case resp.StatusCode == http.StatusRequestEntityTooLarge && n > 1:
			return &tooLarge{fmt.Errorf("elasticsearch: %w", serr)}
		case resp.StatusCode == http.StatusRequestEntityTooLarge:
			s.dead = append(s.dead, store.Rejected{I: s.pending[0], Reason: serr.Error()})
			s.pending = s.pending[1:]
			return nil
		case store.Retryable(resp.StatusCode):
			return store.RetryLater(fmt.Errorf("elasticsearch: %w", serr), resp.Header)
		default:
			return fmt.Errorf("elasticsearch: %w", serr)
		}
	}
	r := &s.resp
	if err := r.decode(resp.Body); err != nil {
		b.failed("bad_response")
		return sluice.Retryable(fmt.Errorf("elasticsearch: POST %s: bad _bulk response: %w", b.endpoint, err))
	}
	if r.Errors && len(r.Items) != n {
		return sluice.Retryable(fmt.Errorf("elasticsearch: POST %s: _bulk answered %d items for %d", b.endpoint, len(r.Items), n))
	}
	stored := n
	if r.Errors {
		stored = 0
		for k, it := range r.Items {
			i := s.pending[k]
			switch st := it.status(); {
			case st >= 200 && st < 300:
				stored++
			case st == http.StatusConflict && b.cfg.ID == "content" && b.cfg.OpType == "create":
				stored++ // stored by an earlier try: the same content, the same _id
			case st == http.StatusTooManyRequests || st >= 500:
				b.failed("item_" + strconv.Itoa(st))
				if s.retryReason == "" {
					s.retryReason = it.reason()
				}
				s.next = append(s.next, i)
			default:
				b.failed("item_" + strconv.Itoa(st))
				s.dead = append(s.dead, store.Rejected{I: i, Reason: it.reason()})
			}
		}
	}
	s.pending = s.pending[n:]
	if b.o.Hooks.Written != nil {
		b.o.Hooks.Written(stored, len(body), time.Since(start))
	}
	return nil
}

// bulkQuery asks for the part of a _bulk response that post reads.
const bulkQuery = "?filter_path=errors,items.*.status,items.*.error"

// encode writes each message's action and document lines to s.buf and
// sets every item pending. When every message goes to one index (all of
// one day, for a daily index; any batch, for an index without a date),
// the index is named once, in the URL, and the action lines leave it out.
func (s *scratch) encode(b *bulker, msgs []sluice.Message[event.Event]) {
	s.buf, s.ends, s.pending, s.next = s.buf[:0], s.ends[:0], s.pending[:0], s.next[:0]
	s.index = s.oneIndex(b, msgs)
	for i := range msgs {
		e := &msgs[i].Value
		s.buf = append(s.buf, `{"`...)
		s.buf = append(s.buf, b.cfg.OpType...)
		s.buf = append(s.buf, `":{`...)
		if s.index == "" {
			s.buf = append(s.buf, `"_index":"`...)
			s.buf = append(s.buf, s.names.name(b.index, e.Timestamp())...)
			s.buf = append(s.buf, '"')
			if b.cfg.ID == "content" {
				s.buf = append(s.buf, ',')
			}
		}
		if b.cfg.ID == "content" {
			s.buf = append(s.buf, `"_id":"`...)
			s.buf, s.id = appendID(s.buf, s.id, e)
			s.buf = append(s.buf, '"')
		}
		s.buf = append(s.buf, "}}\n"...)
		s.buf = appendDoc(s.buf, e, b.json)
		s.buf = append(s.buf, '\n')
		s.ends = append(s.ends, len(s.buf))
		s.pending = append(s.pending, i)
	}
}

// oneIndex returns the index every message goes to, or "" if they go to
// more than one.
func (s *scratch) oneIndex(b *bulker, msgs []sluice.Message[event.Event]) string {
	if len(msgs) == 0 {
		return ""
	}
	first := string(s.names.name(b.index, msgs[0].Value.Timestamp()))
	for i := range msgs[1:] {
		if string(s.names.name(b.index, msgs[i+1].Value.Timestamp())) != first {
			return ""
		}
	}
	return first
}

// indexNames caches the index name of the last hour asked for: the name
// depends on the hour alone (%H is the finest directive), and a batch
// seldom spans one.
type indexNames struct {
	hour int64 // hours since the Unix epoch, rounded down
	text []byte
}

// name returns x's name for t, valid until the next call for another hour.
func (c *indexNames) name(x index, t time.Time) []byte {
	sec := t.Unix()
	h := sec / 3600
	if sec%3600 < 0 {
		h--
	}
	if c.text == nil || h != c.hour {
		c.text, c.hour = x.append(c.text[:0], t), h
	}
	return c.text
}

func (s *scratch) from(i int) int {
	if i == 0 {
		return 0
	}
	return s.ends[i-1]
}

// appendDoc appends the event's document: its JSON encoding (with o)
// with "@timestamp" first (the event's time, which data streams require).
// The JSON begins with the same time as "ts" (RFC 3339 in UTC, trailing
// zeros of the fraction cut), so the document is written once, after
// room for "@timestamp" as long as that text, which is then copied in.
func appendDoc(dst []byte, e *event.Event, o event.JSONOptions) []byte {
	const head, ts = `{"@timestamp":"`, `{"ts":"`
	t := e.Timestamp()
	n := timeLen(t)
	at := len(dst)
	room := len(head) + n + len(`",`) - 1 // the JSON's "{" is the last byte
	dst = e.AppendJSONWith(append(slices.Grow(dst, room), head...)[:at+room], o)
	text := dst[at+room+len(ts):]
	if text[n] != '"' {
		// A year outside 0000-9999: the text is longer.
		dst = dst[:at]
		dst = append(dst, head...)
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `",`...)
		k := len(dst)
		dst = e.AppendJSONWith(dst, o)
		return append(dst[:k], dst[k+1:]...) // drop the JSON's "{"
	}
	copy(dst[at+len(head):], text[:n])
	copy(dst[at+len(head)+n:], `",`)
	return dst
}

// timeLen returns the length of t's RFC 3339 text in UTC with trailing
// zeros of the fraction cut (time.RFC3339Nano), for years 0000-9999.
func timeLen(t time.Time) int {
	const secs = len("2006-01-02T15:04:05Z")
	ns := t.Nanosecond()
	if ns == 0 {
		return secs
	}
	n := secs + 1 + 9 // ".999999999"
	for ns%10 == 0 {
		ns /= 10
		n--
	}
	return n
}

// appendID appends the content-derived _id of e: the XXH3-128 hash
// (seed 0) of its source, host and file path (each preceded by its length
// as 8 bytes big-endian), file offset and time in Unix nanoseconds (0 for
// a zero time; 8 bytes big-endian each) and raw bytes, as 16 bytes (the
// high half first) in unpadded base64url: 22 characters. The _id dedupes
// a retry only if it never changes: a test pins it. tmp is scratch space,
// returned grown for the next call.
func appendID(dst, tmp []byte, e *event.Event) (_, _ []byte) {
	tmp = appendIDField(tmp[:0], e.Source)
	tmp = appendIDField(tmp, e.Host)
	tmp = appendIDField(tmp, e.File.Path)
	tmp = binary.BigEndian.AppendUint64(tmp, uint64(e.File.Offset))
	var t int64
	if !e.Time.IsZero() {
		t = e.Time.UnixNano()
	}
	tmp = binary.BigEndian.AppendUint64(tmp, uint64(t))
	tmp = append(tmp, e.Raw...)
	sum := xxh3.Hash128(tmp).Bytes()
	return base64.RawURLEncoding.AppendEncode(dst, sum[:]), tmp
}

func appendIDField(dst []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(len(s))), s...)
}

// bulkResponse is the part of a _bulk response that flush reads.
type bulkResponse struct {
	Errors bool        `json:"errors"`
	Items  []bulkEntry `json:"items"`
}

// bulkEntry is one item of a response: an object with one key, the
// action.
type bulkEntry map[string]bulkItem

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// decode reads a _bulk response. It decodes the items only when
// "errors" is true (or comes after them): a response without errors is
// read to its "errors" key and the rest discarded, for speed. A body
// without "errors" is not a _bulk response (a proxy's, another
// service's) and an error: nothing says the items were stored.
func (r *bulkResponse) decode(body io.Reader) error {
	*r = bulkResponse{Items: r.Items[:0]}
	dec := json.NewDecoder(body)
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := false // "errors"
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case "errors":
			if err := dec.Decode(&r.Errors); err != nil {
				return err
			}
			seen = true
			if !r.Errors {
				_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20)) // let the connection be reused
				return nil
			}
		case "items":
			if err := dec.Decode(&r.Items); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	if !seen {
		return errors.New(`no "errors" key`)
	}
	if _, err := dec.Token(); err != nil {
		return err // cut before its closing "}"
	}
	return nil
}

// status returns the item's status.
func (m bulkEntry) status() int {
	for _, it := range m {
		return it.Status
	}
	return 0
}

func (m bulkEntry) reason() string {
	for _, it := range m {
		if it.Error == nil {
			return strconv.Itoa(it.Status)
		}
		return strconv.Itoa(it.Status) + " " + it.Error.Type + ": " + it.Error.Reason
	}
	return "empty item"
}

func (b *bulker) transportError(ctx context.Context, err error) error {
	cause, err := b.secrets.TransportError(ctx, "elasticsearch: POST "+b.endpoint, err)
	if cause != "" {
		b.failed(cause)
	}
	return err
}

func (b *bulker) failed(cause string) {
	if b.o.Hooks.Failed != nil {
		b.o.Hooks.Failed(cause)
	}
}

// secrets lists the secret values of c.
func secrets(c Config) store.Secrets {
	vals := []string{c.URL.Reveal(), c.Password.Reveal(), c.APIKey.Reveal()}
	if u, err := url.Parse(c.URL.Reveal()); err == nil {
		vals = append(vals, u.User.String())
		if p, ok := u.User.Password(); ok {
			vals = append(vals, p)
		}
	}
	if c.Username != "" {
		vals = append(vals, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password.Reveal())))
	}
	return store.NewSecrets(vals...)
}

// StatusError is a bulk request answered with a status other than 200.
type StatusError struct {
	// Endpoint is the URL's scheme://host.
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body, secrets masked.
	Body string
}

func (e *StatusError) Error() string {
	s := "POST " + e.Endpoint + "/_bulk: " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Body != "" {
		s += ": " + strconv.Quote(e.Body)
	}
	return s
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
