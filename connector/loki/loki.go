package loki

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// Destination pushes batches of events to Loki. It is a [sluice.Runner]:
// batches are pushed while Run runs (Run builds the HTTP client, closes
// its idle connections when it returns, and a second call returns
// [sluice.ErrAlreadyRunning]). Send is safe for concurrent use. The
// package doc says when an event is acked, retried or dead-lettered.
type Destination struct {
	*store.Destination
	p *pusher
}

// Option configures a Destination with what cannot be serialised.
type Option = store.Option

// Hooks are called as batches are pushed, for metrics (see
// [store.Hooks]): Written after a push Loki accepted (2xx), with its
// entries, the bytes sent and how long it took; Rejected with the number
// of entries sent to the dead letter because Loki refused them; Failed
// after each failed push with its cause: "http_<status>", "timeout" or
// "network".
type Hooks = store.Hooks

// WithLogger sets the logger for retries, refused entries and fatal
// failures. It never receives the password. Default: discard.
func WithLogger(l *slog.Logger) Option { return store.WithLogger(l) }

// WithDeadLetter sends the entries Loki refuses (too old, too far behind
// the stream, too long, bad labels) to d, each with an "error" attribute
// holding Loki's message, instead of failing Run. Default, or a nil d: no
// dead letter.
func WithDeadLetter(d sluice.Destination[event.Event]) Option {
	return store.WithDeadLetter(d)
}

// WithHooks sets the metrics hooks. Default: none.
func WithHooks(h Hooks) Option { return store.WithHooks(h) }

// New returns a Destination pushing to c.URL. Zero fields of c take the
// defaults of [DefaultConfig]. It checks c and does no I/O.
func New(c Config, opts ...Option) (*Destination, error) {
	c = c.withDefaults()
	if err := config.Required("loki", config.Field{Path: "url", Empty: c.URL == ""}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	lab, err := newLabeler(c.Labels)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	o := store.Apply(opts)
	p := &pusher{cfg: c, url: c.pushURL(), endpoint: store.Endpoint(c.URL), lab: lab, gzip: c.Compression == "gzip",
		json: c.Line == "json", hooks: o.Hooks, log: o.Log, dl: o.DeadLetter}
	if pw := c.Password.Reveal(); pw != "" {
		p.secrets = store.NewSecrets(pw, store.BasicAuth(c.Username, pw))
	}
	size := func(m *sluice.Message[event.Event]) int {
		if p.json { // the event's JSON holds its raw line and its fields
			return 2*len(m.Value.Raw) + 256
		}
		return len(m.Value.Raw) + 64
	}
	d, err := store.New("loki", c.Batch, p.flush, o, size, p.start)
	if err != nil {
		return nil, err
	}
	return &Destination{Destination: d, p: p}, nil
}

func (p *pusher) start(context.Context) (func(), error) {
	var t *http.Transport
	p.client, t = store.HTTPClient(p.cfg.Timeout, nil, 0, 0)
	return t.CloseIdleConnections, nil
}

// pusher sends one batch per flush.
type pusher struct {
	cfg      Config
	url      string
	endpoint string // scheme://host, for errors
	lab      *labeler
	gzip     bool
	json     bool // lines are the events' JSON, not their raw bytes
	hooks    Hooks
	log      *slog.Logger
	dl       sluice.Destination[event.Event]
	secrets  store.Secrets // the password, and it in basic auth
	client   *http.Client  // set by Run before any flush

	pool sync.Pool // *scratch
}

// maxRounds bounds how many times one flush pushes what is left after
// Loki refused some entries; what is left after that is dead-lettered
// with Loki's last message.
const maxRounds = 8

// flush pushes msgs. When Loki answers 400 naming refused entries, those
// are set aside for the dead letter and the others pushed again (Loki
// stored them, or stores them now; it drops an entry it already has).
func (p *pusher) flush(ctx context.Context, msgs []sluice.Message[event.Event]) error {
	s, _ := p.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{index: map[string]int{}, byValues: map[string]int{}}
	}
	defer p.pool.Put(s) // holding the batch's raw lines until the next flush or GC
	s.group(p, msgs)
	pending := s.all()
	var rejected []sluice.Message[event.Event]
	for round := 1; len(pending) > 0; round++ {
		status, text, tooBig, err := p.pushSplit(ctx, s, pending)
		if err != nil {
			return err
		}
		if len(tooBig) > 0 {
			msg := fmt.Sprintf("loki: an entry whose push alone is over Loki's %d-byte limit", maxPushBytes)
			for _, i := range tooBig {
				m := msgs[s.entries[i].msg]
				m.Attributes = m.Attributes.With("error", msg)
				rejected = append(rejected, m)
			}
			pending = slices.DeleteFunc(pending, func(i int) bool { return slices.Contains(tooBig, i) })
			p.log.Warn("loki: entries too large for a push", "entries", len(tooBig))
			if status != http.StatusBadRequest {
				continue // what was pushed is stored; push nothing twice
			}
		}
		if status != http.StatusBadRequest {
			break
		}
		var refused []int
		rs := rules(text)
		if round < maxRounds {
			pending, refused = s.split(pending, rs)
		}
		if len(refused) == 0 { // nothing named, or out of rounds: the rest goes
			refused, pending = pending, nil
		}
		msg := fmt.Sprintf("loki: push %s: 400 Bad Request: %q", p.endpoint, shorten(text))
		for _, i := range refused {
			m := msgs[s.entries[i].msg]
			m.Attributes = m.Attributes.With("error", msg)
			rejected = append(rejected, m)
		}
		p.log.Warn("loki: entries refused", "entries", len(refused), "left", len(pending), "err", shorten(text))
	}
	if len(rejected) == 0 {
		return nil
	}
	if p.dl == nil {
		return fmt.Errorf("loki: %d entries refused and no dead letter: %s", len(rejected), rejected[0].Attributes.Value("error"))
	}
	if err := store.DeadLetter(ctx, "loki", p.dl, rejected); err != nil {
		return err
	}
	if p.hooks.Rejected != nil {
		p.hooks.Rejected(len(rejected))
	}
	return nil
}

// maxPushBytes is Loki's default grpc_server_max_recv_msg_size: a
// bigger push is refused with a 5xx, which would be retried forever.
const maxPushBytes = 4 << 20

// pushSplit pushes the entries pending, in halves when their body would
// be over maxPushBytes (JSON escaping can make a batch's lines several
// times their raw size). It returns 2xx, or 400 with every 400 body of
// the halves, and the entries that are too big for a push of their own.
// When tooBig is not empty, the others have been pushed.
func (p *pusher) pushSplit(ctx context.Context, s *scratch, pending []int) (status int, text string, tooBig []int, err error) {
	body, _ := s.encodeJSON(pending)
	if len(body) > maxPushBytes {
		if len(pending) == 1 {
			return http.StatusNoContent, "", pending, nil
		}
		h := len(pending) / 2
		st1, t1, big1, err := p.pushSplit(ctx, s, pending[:h])
		if err != nil {
			return 0, "", nil, err
		}
		st2, t2, big2, err := p.pushSplit(ctx, s, pending[h:])
		if err != nil {
			return 0, "", nil, err
		}
		if st1 == http.StatusBadRequest || st2 == http.StatusBadRequest {
			return http.StatusBadRequest, strings.TrimSpace(t1 + "\n" + t2), append(big1, big2...), nil
		}
		return http.StatusNoContent, "", append(big1, big2...), nil
	}
	status, text, err = p.push(ctx, s, body, len(pending))
	return status, text, nil, err
}

// push sends body, the JSON of n entries, as one request. It returns 2xx or 400
// with the body's start, or an error: retryable for 429, 5xx, 408 and
// the network, permanent for other statuses.
func (p *pusher) push(ctx context.Context, s *scratch, body []byte, n int) (int, string, error) {
	start := time.Now()
	body, err := s.compress(p, body)
	if err != nil {
		return 0, "", fmt.Errorf("loki: encode: %w", err)
	}
	s.r.Reset(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &s.r)
	if err != nil {
		return 0, "", fmt.Errorf("loki: POST %s: invalid request", p.endpoint)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	if p.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if p.cfg.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", p.cfg.TenantID)
	}
	if p.cfg.Username != "" {
		req.SetBasicAuth(p.cfg.Username, p.cfg.Password.Reveal())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if p.hooks.Written != nil {
			p.hooks.Written(n, len(body), time.Since(start))
		}
		return resp.StatusCode, "", nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	text := p.secrets.Redact(string(b))
	p.failed("http_" + strconv.Itoa(resp.StatusCode))
	if resp.StatusCode == http.StatusBadRequest {
		return resp.StatusCode, text, nil
	}
	err = fmt.Errorf("loki: POST %s: %d %s: %q", p.endpoint, resp.StatusCode, http.StatusText(resp.StatusCode), shorten(text))
	if !store.Retryable(resp.StatusCode) {
		return 0, "", err
	}
	return 0, "", store.RetryLater(err, resp.Header)
}

func (p *pusher) transportError(ctx context.Context, err error) error {
	cause, err := store.Secrets(nil).TransportError(ctx, "loki: POST "+p.endpoint, err)
	if cause != "" {
		p.failed(cause)
	}
	return err
}

func (p *pusher) failed(cause string) {
	if p.hooks.Failed != nil {
		p.hooks.Failed(cause)
	}
}

// scratch holds one flush's streams and buffers, reused across flushes.
type scratch struct {
	index    map[string]int // stream key -> streams index
	byValues map[string]int // labeler.values -> streams index
	streams  []stream
	entries  []entry // one per message, grouped by stream and sorted by time within it
	sorted   []entry // order's other buffer
	starts   []int   // order's stream bounds
	key      []byte
	vals     []byte
	tmp      []byte
	line     []byte
	body     []byte
	gz       store.Gzip
	r        bytes.Reader
}

// stream is one label set of a flush.
type stream struct {
	labels map[string]string
	json   []byte // {"a":"x",...}
}

// entry is one message of a flush.
type entry struct {
	msg    int // index in the flush's msgs
	stream int
	ts     int64 // Unix nanoseconds
	line   []byte
}

// group sorts msgs into streams, each in time order (stable: lines of
// one instant keep their order). Streams come in the order of their
// first event.
func (s *scratch) group(p *pusher, msgs []sluice.Message[event.Event]) {
	clear(s.index)
	clear(s.byValues)
	s.streams = s.streams[:0]
	s.entries = s.entries[:0]
	s.line = s.line[:0]
	static := p.lab.static()
	for i := range msgs {
		e := &msgs[i].Value
		st := 0
		if !static || i == 0 {
			st = s.stream(p.lab, e, static)
		}
		var line []byte
		if p.json {
			start := len(s.line)
			s.line = e.AppendJSON(s.line)
			line = s.line[start:len(s.line):len(s.line)]
		} else { // the raw line as it is: msgs outlive the flush
			line = e.Raw[:len(e.Raw):len(e.Raw)]
		}
		s.entries = append(s.entries, entry{msg: i, stream: st, ts: e.Timestamp().UnixNano(), line: line})
	}
	if p.json {
		// s.line may have moved while growing: point the entries at its
		// final array.
		off := 0
		for i := range s.entries {
			n := len(s.entries[i].line)
			s.entries[i].line = s.line[off : off+n : off+n]
			off += n
		}
	}
	s.order()
}

// stream returns the index of e's stream, adding it if it is new.
// Unless static, it looks e up by its label values first, and makes and
// parses its key only for values not seen in this flush.
func (s *scratch) stream(l *labeler, e *event.Event, static bool) int {
	if !static {
		s.vals = l.values(s.vals[:0], e)
		if st, ok := s.byValues[string(s.vals)]; ok {
			return st
		}
	}
	s.key = l.key(s.key[:0], &s.tmp, e)
	st, ok := s.index[string(s.key)]
	if !ok { // values cut to the same key share the stream
		st = len(s.streams)
		k := string(s.key)
		s.index[k] = st
		labels, _ := parseSelector(k)
		s.streams = append(s.streams, stream{labels: labels, json: labelsJSON(labels)})
	}
	if !static {
		s.byValues[string(s.vals)] = st
	}
	return st
}

// order sorts s.entries by stream, stably (a counting sort: streams are
// few and numbered from 0), then each stream's entries by time, stably,
// merging the runs already in time order (most entries arrive in order).
func (s *scratch) order() {
	n := len(s.streams)
	s.starts = slices.Grow(s.starts[:0], n+1)[:n+1]
	clear(s.starts)
	s.sorted = slices.Grow(s.sorted[:0], len(s.entries))[:len(s.entries)]
	if n > 1 {
		for i := range s.entries {
			s.starts[s.entries[i].stream+1]++
		}
		for k := 1; k <= n; k++ {
			s.starts[k] += s.starts[k-1]
		}
		for _, e := range s.entries { // s.starts[k] ends at stream k's end
			s.sorted[s.starts[e.stream]] = e
			s.starts[e.stream]++
		}
		s.entries, s.sorted = s.sorted, s.entries
		copy(s.starts[1:], s.starts[:n]) // back to the starts
		s.starts[0] = 0
	} else {
		s.starts[n] = len(s.entries)
	}
	for k := range n {
		a, b := s.starts[k], s.starts[k+1]
		mergeRuns(s.entries[a:b], s.sorted[a:b])
	}
}

// mergeRuns sorts es by time, stably: it merges es's runs in time
// order pairwise, to and fro between es and buf (as long as es), until
// one is left. No work but a check when es is in order, as entries mostly
// arrive; log2(runs) passes otherwise.
func mergeRuns(es, buf []entry) {
	if runEnd(es, 0) == len(es) {
		return
	}
	src, dst := es, buf
	for {
		runs := 0
		for i := 0; i < len(src); runs++ {
			j, k := runEnd(src, i), len(src)
			if j < k {
				k = runEnd(src, j)
			}
			merge(dst[i:k], src[i:j], src[j:k])
			i = k
		}
		src, dst = dst, src
		if runs == 1 {
			break
		}
	}
	if &src[0] != &es[0] {
		copy(es, src)
	}
}

// runEnd returns the end of the run in time order that starts at es[i].
func runEnd(es []entry, i int) int {
	for i++; i < len(es) && es[i].ts >= es[i-1].ts; i++ {
	}
	return i
}

// merge merges a and b, each in time order, into dst, a's entries first
// among equal times.
func merge(dst, a, b []entry) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if b[j].ts < a[i].ts {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}

func labelsJSON(labels map[string]string) []byte {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	b := []byte{'{'}
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, k)
		b = append(b, ':')
		b = event.AppendString(b, labels[k])
	}
	return append(b, '}')
}

// all returns the indexes of every entry.
func (s *scratch) all() []int {
	out := make([]int, len(s.entries))
	for i := range out {
		out[i] = i
	}
	return out
}

// split divides pending into the entries no rule names and those one
// does.
func (s *scratch) split(pending []int, rs []rule) (kept, refused []int) {
	for _, i := range pending {
		e := &s.entries[i]
		named := false
		for _, r := range rs {
			if r.matches(s.streams[e.stream].labels, time.Unix(0, e.ts), string(e.line)) {
				named = true
				break
			}
		}
		if named {
			refused = append(refused, i)
		} else {
			kept = append(kept, i)
		}
	}
	return kept, refused
}

// compress returns b gzipped if p says so, valid until the next call.
func (s *scratch) compress(p *pusher, b []byte) ([]byte, error) {
	if !p.gzip {
		return b, nil
	}
	return s.gz.Compress(b)
}

// encodeJSON returns the JSON push body for the entries pending (indexes
// into s.entries, in order), valid until the next call.
func (s *scratch) encodeJSON(pending []int) ([]byte, error) {
	b := append(s.body[:0], `{"streams":[`...)
	cur := -1
	for _, i := range pending {
		e := &s.entries[i]
		if e.stream != cur {
			if cur >= 0 {
				b = append(b, "]},"...)
			}
			cur = e.stream
			b = append(b, `{"stream":`...)
			b = append(b, s.streams[cur].json...)
			b = append(b, `,"values":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, `["`...)
		b = strconv.AppendInt(b, e.ts, 10)
		b = append(b, `",`...)
		b = event.AppendString(b, e.line)
		b = append(b, ']')
	}
	if cur >= 0 {
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	s.body = b
	return b, nil
}

// Interface guards.
var (
	_ sluice.Destination[event.Event] = (*Destination)(nil)
	_ sluice.Runner                   = (*Destination)(nil)
)
