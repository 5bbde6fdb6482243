package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Destination inserts batches of events into a ClickHouse table over the
// HTTP interface. It is a [sluice.Runner]: batches are inserted while Run
// runs (Run builds the HTTP client, closes its idle connections when it
// returns, and a second call returns [sluice.ErrAlreadyRunning]). Send is
// safe for concurrent use. The package doc says when an event is acked,
// retried or dead-lettered.
type Destination struct {
	*store.Destination
	ins *inserter
}

// Option configures a Destination with what cannot be serialised.
type Option = store.Option

// Hooks are called as batches are inserted, for metrics (see
// [store.Hooks]): Written after an INSERT succeeded, with its rows, the
// bytes sent (after compression) and how long it took; Rejected with the
// number of events sent to the dead letter; Failed after each failed
// INSERT with its cause: "code_<n>" (ClickHouse's error code),
// "http_<status>", "timeout" or "network".
type Hooks = store.Hooks

// WithLogger sets the logger for retries, rejected rows and fatal
// failures. It never receives the password. Default: discard.
func WithLogger(l *slog.Logger) Option { return store.WithLogger(l) }

// WithDeadLetter sends the events ClickHouse rejects for good (a row it
// cannot parse, a table or column that does not exist, a refused login)
// to d, each with an "error" attribute holding the server's message,
// instead of failing Run. Default, or a nil d: no dead letter.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return store.WithDeadLetter(d)
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return store.WithHooks(h) }

// New returns a Destination inserting into c.Table. Zero fields of c take
// the defaults of [DefaultConfig]. It checks c and does no I/O.
func New(c Config, opts ...Option) (*Destination, error) {
	c = c.withDefaults()
	if err := config.Required("clickhouse", config.Field{Path: "url", Empty: c.URL == ""},
		config.Field{Path: "table", Empty: c.Table == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	o := store.Apply(opts)
	ins := &inserter{cfg: c, flat: c.Nested == "flatten", url: c.insertURL(), endpoint: store.Endpoint(c.URL),
		hooks: o.Hooks, log: o.Log, dl: o.DeadLetter}
	if pw := c.Password.Reveal(); pw != "" {
		ins.secrets = store.NewSecrets(pw, store.BasicAuth(c.Username, pw))
	}
	// Without a dead letter, which takes events, batches hold the rows
	// already encoded (by Send), compressed and sent as they are.
	var d *store.Destination
	var err error
	if o.DeadLetter == nil {
		d, err = store.NewEncoded("clickhouse", c.Batch, ins.appendRow, batch.FlushBytesFunc(ins.flushBytes), o, ins.start)
	} else {
		d, err = store.New("clickhouse", c.Batch, ins.flush, o, store.RawSize, ins.start)
	}
	if err != nil {
		return nil, err
	}
	return &Destination{Destination: d, ins: ins}, nil
}

// start builds the client, then checks that the table exists (see
// checkTable).
func (in *inserter) start(ctx context.Context) (func(), error) {
	var t *http.Transport
	in.client, t = store.HTTPClient(in.cfg.Timeout, nil, in.cfg.Batch.Parallelism+1, in.cfg.IdleTimeout)
	in.checkTable(ctx)
	return t.CloseIdleConnections, nil
}

// inserter sends one INSERT per flush.
type inserter struct {
	cfg      Config
	flat     bool // nested objects flattened
	url      string
	endpoint string // scheme://host, for errors
	hooks    Hooks
	log      *slog.Logger
	dl       sluice.Destination[event.Event] // nil: none
	secrets  store.Secrets                   // the password, and it in basic auth
	client   *http.Client                    // set by Run before any flush

	pool sync.Pool // *scratch
}

// maxRowRejects is how many bad rows a flush sets aside, one INSERT
// each, before it gives up on the batch: a table whose column types do
// not fit the events makes every row bad, and the whole batch then goes
// to the dead letter with the last error.
const maxRowRejects = 16

// flush inserts msgs. A row ClickHouse cannot parse goes to the dead
// letter alone and the others are inserted again (up to maxRowRejects
// rows); any other error is returned, retryable or not (see
// [ServerError.Retryable]).
func (in *inserter) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	var rejected []sluice.Message[event.Event]
	rest := msgs
	for len(rest) > 0 {
		err := in.insert(ctx, rest)
		var se *ServerError
		if err == nil || !errors.As(err, &se) || se.Row < 1 || se.Row > len(rest) || in.dl == nil || len(rejected) == maxRowRejects {
			if err != nil {
				return err
			}
			break
		}
		// One row is bad: set it aside and insert the others again. An
		// INSERT that fails to parse stores nothing, so none of them is
		// stored twice.
		bad := rest[se.Row-1]
		bad.Attributes = bad.Attributes.With("error", se.Error())
		rejected = append(rejected, bad)
		rest = append(append(make([]sluice.Message[event.Event], 0, len(rest)-1), rest[:se.Row-1]...), rest[se.Row:]...)
		in.log.Warn("clickhouse: row rejected, sending it to the dead letter", "code", se.Code, "err", se.Message)
	}
	if len(rejected) == 0 {
		return nil
	}
	if err := store.DeadLetter(ctx, "clickhouse", in.dl, rejected); err != nil {
		return err // the whole batch is tried again; what was inserted may be stored twice
	}
	if in.hooks.Rejected != nil {
		in.hooks.Rejected(len(rejected))
	}
	return nil
}

// appendRow appends m's row and a newline to b: the batch's Encoder,
// safe for concurrent use.
func (in *inserter) appendRow(b []byte, m *sluice.Message[event.Event]) []byte {
	return append(appendEvent(b, &m.Value, in.flat), '\n')
}

// flushBytes inserts rows, the encodings of len(ends) events (each
// ending at ends[i]), as one INSERT, compressed part by part as encode
// compresses them. It keeps neither.
func (in *inserter) flushBytes(ctx context.Context, rows []byte, ends []int) error {
	start := time.Now()
	s := in.scratch()
	defer in.pool.Put(s)
	body, err := s.compress(rows, ends, in.cfg.Compression)
	if err != nil {
		return fmt.Errorf("clickhouse: encode: %w", err)
	}
	return in.post(ctx, s, body, len(ends), start)
}

func (in *inserter) scratch() *scratch {
	s, _ := in.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	return s
}

// insert sends msgs as one INSERT.
func (in *inserter) insert(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	start := time.Now()
	s := in.scratch()
	defer in.pool.Put(s)
	body, err := s.encode(msgs, in.flat, in.cfg.Compression)
	if err != nil {
		return fmt.Errorf("clickhouse: encode: %w", err)
	}
	return in.post(ctx, s, body, len(msgs), start)
}

// post sends body, the INSERT of n rows begun at start.
func (in *inserter) post(ctx context.Context, s *scratch, body []byte, n int, start time.Time) error {
	s.r.Reset(body)
	defer s.r.Reset(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, &s.r)
	if err != nil {
		return fmt.Errorf("clickhouse: POST %s: invalid request", in.endpoint)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if in.cfg.Compression == "gzip" {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if in.cfg.Username != "" {
		req.SetBasicAuth(in.cfg.Username, in.cfg.Password.Reveal())
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return in.transportError(ctx, err)
	}
	defer resp.Body.Close()
	var se *ServerError
	if resp.StatusCode == http.StatusOK {
		// A server that sent its 200 early (progress headers) tells of a
		// later failure only at the end of the body, so the body is read
		// to its end before anything is acked.
		text, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return in.transportError(ctx, fmt.Errorf("reading the 200 response: %w", err))
		}
		if se = exceptionAfterOK(in.endpoint, resp.Header.Get("X-ClickHouse-Exception-Code"), in.secrets.Redact(string(text))); se == nil {
			if in.hooks.Written != nil {
				in.hooks.Written(n, len(body), time.Since(start))
			}
			return nil
		}
	} else {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		se = parseError(in.endpoint, resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), in.secrets.Redact(string(text)))
	}
	if se.Code != 0 {
		in.failed("code_" + strconv.Itoa(se.Code))
	} else {
		in.failed("http_" + strconv.Itoa(resp.StatusCode))
	}
	err = fmt.Errorf("clickhouse: %w", se)
	if !se.Retryable() {
		return err
	}
	return store.RetryLater(err, resp.Header)
}

func (in *inserter) transportError(ctx context.Context, err error) error {
	cause, err := store.Secrets(nil).TransportError(ctx, "clickhouse: POST "+in.endpoint, err)
	if cause != "" {
		in.failed(cause)
	}
	return err
}

func (in *inserter) failed(cause string) {
	if in.hooks.Failed != nil {
		in.hooks.Failed(cause)
	}
}

// scratch holds the buffers of one INSERT, reused across flushes.
type scratch struct {
	body []byte
	gz   store.Gzip
	lz4  nativeLZ4
	r    bytes.Reader
}

// compressor compresses a body written in parts: store.Gzip or nativeLZ4.
type compressor interface {
	Start()
	Write(part []byte) error
	Finish() ([]byte, error)
}

// compressor returns the compressor of compression ("lz4", "gzip" or
// "none": nil), started, and the size of its parts.
func (s *scratch) compressor(compression string) (compressor, int) {
	var c compressor
	part := 0
	switch compression {
	case "lz4":
		c, part = &s.lz4, nativePart
	case "gzip":
		c, part = &s.gz, store.GzipPart
	default:
		return nil, 0
	}
	c.Start()
	return c, part
}

// appendEvent appends e as one JSONEachRow row (without its newline),
// its nested objects flattened if flat.
func appendEvent(b []byte, e *event.Event, flat bool) []byte {
	if flat && (e.File.Path != "" || e.Syslog.Present || e.HTTP != nil || len(e.Fields) > 0) {
		return appendRow(b, e)
	}
	return e.AppendJSON(b)
}

// encode returns msgs as JSONEachRow, their nested objects flattened if
// flat, compressed as compression says ("lz4", "gzip" or "none"), part
// by part as they are encoded, valid until the next call.
func (s *scratch) encode(msgs []sluice.Message[event.Event], flat bool, compression string) ([]byte, error) {
	c, part := s.compressor(compression)
	b := s.body[:0]
	for i := range msgs {
		b = append(appendEvent(b, &msgs[i].Value, flat), '\n')
		if c != nil && len(b) >= part {
			if err := c.Write(b); err != nil {
				return nil, err
			}
			b = b[:0]
		}
	}
	s.body = b
	if c == nil {
		return b, nil
	}
	if err := c.Write(b); err != nil {
		return nil, err
	}
	return c.Finish()
}

// compress returns rows (ending at ends) compressed as compression says,
// in the parts encode would compress them in, so the same bytes as
// encode's for the same rows; rows themselves for "none". The result is
// valid until the next call.
func (s *scratch) compress(rows []byte, ends []int, compression string) ([]byte, error) {
	c, part := s.compressor(compression)
	if c == nil {
		return rows, nil
	}
	from := 0
	for _, end := range ends {
		if end-from >= part {
			if err := c.Write(rows[from:end]); err != nil {
				return nil, err
			}
			from = end
		}
	}
	if err := c.Write(rows[from:]); err != nil {
		return nil, err
	}
	return c.Finish()
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
