package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/checkpoint"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/atomicfile"
	"github.com/sluicehq/sluice/retry"
)

// Source consumes topics as a member of a consumer group. It is a
// [sluice.Runner]: Run joins the group and fetches, Recv and RecvBatch
// hand the records out, and both are safe for concurrent use. After Run
// returns, Recv returns io.EOF. The package doc says when offsets are
// committed.
type Source struct {
	cfg         SourceConfig
	o           sourceOptions
	chunks      chan *chunk   // fetched records, in fetch order per partition
	recvLock    chan struct{} // held by the receiver taking from cur
	cur         *chunk        // the chunk being received, guarded by recvLock
	stopped     chan struct{} // closed when Run stops fetching
	stopOnce    sync.Once
	running     atomic.Bool
	out         atomic.Int64 // records handed out by Recv and not acked
	pending     atomic.Int64 // records fetched and not acked nor dropped
	waiting     atomic.Bool  // the fetch loop waits for pending to fall
	room        chan struct{}
	instanceID  string                  // "" for dynamic membership; set by Run
	abort       context.CancelCauseFunc // ends Run's fetching with an error; set by Run
	background  sync.WaitGroup          // watches of unsaved starts
	readiness                           // why Run is not connected, for NotReady
	mu          sync.Mutex
	parts       map[topicPartition]*part // the assigned partitions
	revocations uint64                   // count of revokes and losses, for commit
}

type topicPartition struct {
	topic     string
	partition int32
}

// part is one assignment of a partition to this member. A revoke ends
// it: its records still queued are dropped, and acks of those handed out
// reach its tracker, which nothing commits any more.
type part struct {
	t         checkpoint.Tracker[kgo.EpochOffset]
	revoked   atomic.Bool
	committed atomic.Int64 // the last offset committed, or -1
	// unsaved: StartAt is "end" and no start is committed for the group
	// yet; none of the partition's records is handed on (see saveStart).
	unsaved  atomic.Bool
	deadline time.Time             // when an unsaved start fails Run
	why      atomic.Pointer[error] // the last reason it is unsaved
}

// failedStart records why p's start is not committed yet, unless ctx
// cut the attempt short.
func (p *part) failedStart(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && p.unsaved.Load() {
		p.why.Store(&err)
	}
}

// chunkSize is the most records of one partition a chunk holds: what a
// Processor's RecvBatch takes at once.
const chunkSize = sluice.BatchSize

// chunk is records of one partition, fetched together, handed over to
// receivers in one channel operation.
type chunk struct {
	items []item
	off   int // the next item to receive
	p     *part
	at    time.Time // when the fetch returned
}

// item is a fetched record waiting in the queue, and then its ack's
// state.
type item struct {
	rec  *kgo.Record
	seq  uint64
	p    *part
	done atomic.Bool // acked
}

// SourceOption configures a Source with what cannot be serialised.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	log     *slog.Logger
	name    string
	idFile  string
	hooks   SourceHooks
	kgoOpts []kgo.Opt
}

// SourceHooks are called for metrics; nil fields are skipped. They must be
// safe for concurrent use.
type SourceHooks struct {
	// Dropped is called with records fetched from a partition that was
	// revoked before they were handed out; the partition's next owner
	// reads them from the committed offset.
	Dropped func(n int)
	// Failed is called with the cause of each failure: "commit" (an
	// offset commit failed, or listing where a partition starts did; the
	// next one retries it), "fetch" (the client reported a fetch error,
	// and retries), "lost" (the member lost its partitions without
	// revoking them, such as after a session timeout).
	Failed func(cause string)
	// Oversize is called with each record over MaxMessageBytes, acked
	// without being handed out.
	Oversize func()
}

// WithSourceLogger sets the logger for connecting, rebalances, commits
// that fail and fetch errors. It never receives record contents.
// Default: discard.
func WithSourceLogger(l *slog.Logger) SourceOption { return func(o *sourceOptions) { o.log = l } }

// WithName sets the events' Source, the source's name in the config.
// Default "kafka".
func WithName(name string) SourceOption { return func(o *sourceOptions) { o.name = name } }

// WithInstanceIDFile keeps the static membership instance id in path,
// made (at random) by the first Run, when SourceConfig.InstanceID is
// empty. Default, or "": dynamic membership unless InstanceID is set.
func WithInstanceIDFile(path string) SourceOption { return func(o *sourceOptions) { o.idFile = path } }

// WithSourceHooks sets the metrics hooks. Default: none.
func WithSourceHooks(h SourceHooks) SourceOption { return func(o *sourceOptions) { o.hooks = h } }

// WithSourceClientOpts adds franz-go client options, after the ones the
// config makes, for what the config does not cover (such as tests
// shortening timeouts). Default: none.
func WithSourceClientOpts(opts ...kgo.Opt) SourceOption {
	return func(o *sourceOptions) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

// NewSource returns a Source for c. Zero fields of c take the defaults of
// [DefaultSourceConfig]. It checks c and does no I/O: Run connects.
func NewSource(c SourceConfig, opts ...SourceOption) (*Source, error) {
	fillSource(&c)
	if err := config.Required("kafka source", append([]config.Field{{Path: "brokers", Empty: len(c.Brokers) == 0},
		{Path: "topics", Empty: len(c.Topics) == 0}}, saslRequired(c.SASL)...)...); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	o := sourceOptions{name: "kafka"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.log = o.log.With("group", c.Group)
	return &Source{cfg: c, o: o, chunks: make(chan *chunk, max(1, c.MaxPending/chunkSize)),
		recvLock: make(chan struct{}, 1), stopped: make(chan struct{}),
		room: make(chan struct{}, 1), parts: map[topicPartition]*part{}}, nil
}

func fillSource(c *SourceConfig) {
	d := DefaultSourceConfig()
	c.Brokers, c.Topics = cloneStrings(c.Brokers), cloneStrings(c.Topics)
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.StartAt == "" {
		c.StartAt = d.StartAt
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = d.SessionTimeout
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = d.CommitInterval
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = d.StopTimeout
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = d.StartTimeout
	}
	if c.ClientID == "" {
		c.ClientID = d.ClientID
	}
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

// Run joins the group and fetches until ctx is done or the source fails:
// a broker that cannot be reached at start is retried with back-off
// (logged, naming the brokers; [Source.NotReady] says so meanwhile), while
// failed authentication or a topic that does not exist is returned at
// once, and with StartAt "end" a partition whose start cannot be
// committed within StartTimeout fails Run (see [SourceConfig.StartTimeout]).
// On stop, Recv returns io.EOF, Run waits up to StopTimeout for the records
// handed out to be acked, commits what is acked, and leaves the group. A
// second call returns [sluice.ErrAlreadyRunning].
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("kafka source: %w", sluice.ErrAlreadyRunning)
	}
	defer s.stop()
	s.set("connecting to brokers " + strings.Join(s.cfg.Brokers, ","))
	id, err := s.loadInstanceID()
	if err != nil {
		return err
	}
	s.instanceID = id
	opts, err := s.clientOpts()
	if err != nil {
		return err
	}
	fctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	s.abort = abort
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka source: %w", err)
	}
	defer cl.Close()
	if err := connect(ctx, "source", cl, s.cfg.Brokers, s.cfg.Topics, s.cfg.SASL, s.o.log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.set("")
	s.o.log.Info("kafka source: connected; consuming", "topics", strings.Join(s.cfg.Topics, ","), "instanceID", id)

	cctx, stopCommits := context.WithCancel(context.WithoutCancel(ctx))
	var commits sync.WaitGroup
	commits.Go(func() { s.commitLoop(cctx, cl) })
	err = s.fetch(fctx, cl)
	if err == nil && ctx.Err() == nil {
		err = context.Cause(fctx) // an unsaved start (abort), or nil
	}
	s.stop()
	s.drain()
	stopCommits()
	commits.Wait()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.commit(lctx, cl)
	cl.Close() // revokes: onRevoked commits again, and drops what is queued
	s.background.Wait()
	s.leave(lctx)
	return err
}

// clientOpts returns the franz-go options for the consumer.
func (s *Source) clientOpts() ([]kgo.Opt, error) {
	opts, err := connOpts("source", s.cfg.Brokers, s.cfg.ClientID, s.cfg.TLS, s.cfg.SASL)
	if err != nil {
		return nil, err
	}
	reset := kgo.NewOffset().AtStart()
	if s.cfg.StartAt == "end" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(max(s.cfg.SessionTimeout/10, 100*time.Millisecond)),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.WithLogger(kgoLogger{s.o.log}),
	)
	if s.instanceID != "" {
		opts = append(opts, kgo.InstanceID(s.instanceID))
	}
	return append(opts, s.o.kgoOpts...), nil
}

// loadInstanceID returns the configured instance id, or the one kept in
// the id file (made on first use), or "" for dynamic membership.
func (s *Source) loadInstanceID() (string, error) {
	if s.cfg.InstanceID != "" || s.o.idFile == "" {
		return s.cfg.InstanceID, nil
	}
	b, err := os.ReadFile(s.o.idFile)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("kafka source: instance id: %w", err)
	}
	host, _ := os.Hostname()
	var r [8]byte
	_, _ = rand.Read(r[:])
	id := "sluiced-" + host + "-" + hex.EncodeToString(r[:])
	if err := os.MkdirAll(filepath.Dir(s.o.idFile), 0o755); err != nil {
		return "", fmt.Errorf("kafka source: instance id: %w", err)
	}
	if err := atomicfile.WriteFile(s.o.idFile, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("kafka source: instance id: %w", err)
	}
	return id, nil
}

// fetch polls records and queues them until ctx is done, or until the
// brokers refuse this user the group or a topic.
func (s *Source) fetch(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollRecords(ctx, 4096)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var fatal error
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.failed("fetch")
			if errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
				errors.Is(err, kerr.SaslAuthenticationFailed) {
				what := fmt.Sprintf("group %q", s.cfg.Group)
				if topic != "" {
					what = fmt.Sprintf("topic %q", topic)
				}
				fatal = fmt.Errorf("kafka source: %s: not authorized for this user (sasl.user): %w", what, err)
				return
			}
			if errors.Is(err, kerr.InvalidSessionTimeout) {
				// Joining again cannot help: franz-go would try for ever,
				// logging at each attempt, and consume nothing.
				fatal = fmt.Errorf("kafka source: group %q: the brokers refuse sessionTimeout %v (it must lie within their group.min.session.timeout.ms and group.max.session.timeout.ms): %w",
					s.cfg.Group, s.cfg.SessionTimeout, err)
				return
			}
			s.o.log.Warn("kafka source: fetch error; the client retries", "topic", topic, "partition", p, "err", err)
		})
		if fatal != nil {
			return fatal
		}
		now := time.Now()
		var err error
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if err != nil || fatal != nil || len(ftp.Records) == 0 {
				return
			}
			tp := topicPartition{ftp.Topic, ftp.Partition}
			s.mu.Lock()
			p := s.parts[tp]
			s.mu.Unlock()
			if p != nil && p.unsaved.Load() && !p.revoked.Load() {
				if fatal = s.saveStart(ctx, cl, tp, p, ftp.Records[0]); fatal != nil {
					return
				}
				if p.unsaved.Load() && !p.revoked.Load() {
					if err = ctx.Err(); err == nil { // stopped while saving: nothing handed on
						fatal = s.startError(tp, p)
					}
					return
				}
			}
			for recs := ftp.Records; len(recs) > 0 && err == nil; {
				if p == nil || p.revoked.Load() {
					s.drop(len(recs))
					return
				}
				k := min(len(recs), chunkSize)
				err = s.queue(ctx, p, recs[:k], now)
				recs = recs[k:]
			}
		})
		if fatal != nil {
			return fatal
		}
		if err != nil {
			return nil // ctx is done
		}
	}
}

// queue tracks recs, of partition p, and queues them as one chunk,
// waiting while MaxPending records are pending.
func (s *Source) queue(ctx context.Context, p *part, recs []*kgo.Record, at time.Time) error {
	if err := s.acquire(ctx, int64(len(recs))); err != nil {
		return err
	}
	c := &chunk{items: make([]item, len(recs)), p: p, at: at}
	for i, r := range recs {
		c.items[i].rec, c.items[i].p = r, p
		c.items[i].seq = p.t.Track(kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1})
	}
	select {
	case s.chunks <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire counts n more pending records, waiting while they do not fit
// in MaxPending (unless none are pending). Only the fetch loop calls it.
func (s *Source) acquire(ctx context.Context, n int64) error {
	fits := func() bool { p := s.pending.Load(); return p == 0 || p+n <= int64(s.cfg.MaxPending) }
	for !fits() {
		s.waiting.Store(true)
		if fits() {
			s.waiting.Store(false)
			break
		}
		select {
		case <-s.room:
		case <-ctx.Done():
			s.waiting.Store(false)
			return ctx.Err()
		}
		s.waiting.Store(false)
	}
	s.pending.Add(n)
	return nil
}

// releaseN uncounts n pending records and wakes the fetch loop if it
// waits.
func (s *Source) releaseN(n int64) {
	if left := s.pending.Add(-n); left > int64(s.cfg.MaxPending)/2 && left > 0 {
		return // the fetch loop is woken once half the bound is free
	}
	if s.waiting.Load() {
		select {
		case s.room <- struct{}{}:
		default:
		}
	}
}

// drop counts n records of a revoked partition that are not handed out.
func (s *Source) drop(n int) {
	if s.o.hooks.Dropped != nil {
		s.o.hooks.Dropped(n)
	}
}

func (s *Source) failed(cause string) {
	if s.o.hooks.Failed != nil {
		s.o.hooks.Failed(cause)
	}
}

// stop makes Recv return io.EOF.
func (s *Source) stop() { s.stopOnce.Do(func() { close(s.stopped) }) }

// drain waits up to StopTimeout for the records handed out to be acked.
func (s *Source) drain() {
	if s.out.Load() == 0 {
		return
	}
	deadline := time.NewTimer(s.cfg.StopTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.out.Load() > 0 {
		select {
		case <-deadline.C:
			s.o.log.Warn("kafka source: stopping with records not acked; they are read again after the restart", "records", s.out.Load())
			return
		case <-tick.C:
		}
	}
}

// Recv returns the next record as an event: Raw is the record's value,
// Time its timestamp, the message's Key and Topic the record's. It blocks
// until one is fetched, ctx is done, or Run has stopped (io.EOF).
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	var m [1]sluice.Message[event.Event]
	var a [1]func()
	if _, err := s.RecvBatch(ctx, m[:], a[:]); err != nil {
		return sluice.Message[event.Event]{}, nil, err
	}
	return m[0], a[0], nil
}

// RecvBatch is Recv for up to len(msgs) records at once (a
// [sluice.BatchSource]): it blocks for the first, then takes what is
// queued without waiting.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case s.recvLock <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.recvLock }()
	n := 0
	defer func() { s.out.Add(int64(n)) }()
	for n < len(msgs) {
		select {
		case <-s.stopped:
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		default:
		}
		if s.cur == nil {
			if n > 0 {
				select {
				case s.cur = <-s.chunks:
				default:
					return n, nil
				}
			} else {
				select {
				case s.cur = <-s.chunks:
				case <-s.stopped:
					return 0, io.EOF
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
		}
		c := s.cur
		if c.p.revoked.Load() { // the partition moved: its next owner reads these
			k := len(c.items) - c.off
			s.cur = nil
			s.releaseN(int64(k))
			s.drop(k)
			continue
		}
		for ; c.off < len(c.items) && n < len(msgs); c.off++ {
			it := &c.items[c.off]
			if len(it.rec.Value) > s.cfg.MaxMessageBytes {
				s.oversize(it)
				continue
			}
			msgs[n], acks[n] = s.message(it.rec, c.at), s.ackFunc(it)
			n++
		}
		if c.off == len(c.items) {
			s.cur = nil
		}
	}
	return n, nil
}

func (s *Source) message(r *kgo.Record, at time.Time) sluice.Message[event.Event] {
	m := sluice.Message[event.Event]{Topic: r.Topic,
		Value: event.Event{Time: r.Timestamp, ReceivedAt: at, Source: s.o.name, SourceType: "kafka", Raw: r.Value}}
	if len(r.Key) > 0 {
		m.Key = string(r.Key)
	}
	return m
}

// ackFunc returns the ack of a record handed out.
func (s *Source) ackFunc(it *item) func() {
	return func() {
		if it.done.CompareAndSwap(false, true) {
			it.p.t.Ack(it.seq)
			s.out.Add(-1)
			s.releaseN(1)
		}
	}
}

// assigned starts a new assignment of each partition. With StartAt
// "end", it first commits the end of each partition that has none.
func (s *Source) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	deadline := time.Now().Add(s.cfg.StartTimeout)
	s.mu.Lock()
	for t, ps := range m {
		for _, p := range ps {
			np := &part{deadline: deadline}
			np.committed.Store(-1)
			np.unsaved.Store(s.cfg.StartAt == "end")
			s.parts[topicPartition{t, p}] = np
		}
	}
	s.mu.Unlock()
	s.o.log.Info("kafka source: partitions assigned", "partitions", describe(m))
	if s.cfg.StartAt != "end" {
		return
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	dctx, cancelWait := context.WithTimeout(dctx, assignWait)
	defer cancelWait()
	err := retry.DoNotify(dctx, startRetry, func(error) bool { return true },
		func(ctx context.Context) error { return s.commitEnds(ctx, cl, m) },
		func(_ int, d time.Duration, err error) {
			s.o.log.Warn("kafka source: could not commit where new partitions start; trying again", "err", err, "in", d)
		})
	if err != nil && ctx.Err() == nil {
		s.o.log.Warn("kafka source: could not commit where new partitions start; none of their records is handed on until the first one fetched is committed",
			"err", err, "startTimeout", s.cfg.StartTimeout)
		parts := s.unsaved(m)
		s.background.Go(func() { s.watchStarts(ctx, cl, parts, deadline) })
	}
}

// startRetry is the back-off of the commits of partitions' starts: in
// OnPartitionsAssigned three tries (waiting under a second between them),
// as franz-go asks the callback to be short; from the fetch loop, without
// a count, until StartTimeout.
var startRetry = retry.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, MaxAttempts: 3}

// assignWait bounds those tries in OnPartitionsAssigned, brokers that do
// not answer included, well within the group's rebalance timeout (60s).
const assignWait = 10 * time.Second

// commitEnds commits the end offset of each partition of m that has no
// committed offset in the group, and marks the partitions that have one
// saved. franz-go fetches the committed offsets only after
// OnPartitionsAssigned returns, so it reads from there, and the end a
// partition is first read from is durable before any of its records is
// handed on: a member stopped or killed before its first commit resumes
// there rather than at a later end, which would skip the records produced
// in between. It returns why some partition is still unsaved.
func (s *Source) commitEnds(ctx context.Context, cl *kgo.Client, m map[string][]int32) error {
	unsaved := s.unsaved(m)
	if len(unsaved) == 0 {
		return nil
	}
	adm := kadm.NewClient(cl) // not closed: that would close cl
	have, err := adm.FetchOffsets(ctx, s.cfg.Group)
	if err == nil {
		err = have.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		var tps []string
		for tp := range unsaved {
			tps = append(tps, tp.topic)
		}
		slices.Sort(tps)
		ends, err = adm.ListEndOffsets(ctx, slices.Compact(tps)...)
	}
	if err != nil {
		s.failed("commit")
		for _, p := range unsaved {
			p.failedStart(ctx, err)
		}
		return err
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	var errs []error
	for tp, p := range unsaved {
		if o, ok := have.Lookup(tp.topic, tp.partition); ok && o.At >= 0 {
			p.unsaved.Store(false) // committed before: franz-go resumes there
			continue
		}
		e, ok := ends.Lookup(tp.topic, tp.partition)
		if !ok || e.Err != nil || e.Offset < 0 {
			err := fmt.Errorf("no end offset listed for %s[%d]", tp.topic, tp.partition)
			if e.Err != nil {
				err = fmt.Errorf("%w: %w", err, e.Err)
			}
			s.failed("commit")
			p.failedStart(ctx, err)
			errs = append(errs, err)
			continue
		}
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: e.LeaderEpoch, Offset: e.Offset}
	}
	if err := s.commitOffsets(ctx, cl, offsets, nil); err != nil {
		for _, p := range unsaved {
			p.failedStart(ctx, err)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// unsaved returns the partitions of m assigned here whose start is not
// committed.
func (s *Source) unsaved(m map[string][]int32) map[topicPartition]*part {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[topicPartition]*part{}
	for t, ps := range m {
		for _, p := range ps {
			tp := topicPartition{t, p}
			if pt := s.parts[tp]; pt != nil && pt.unsaved.Load() && !pt.revoked.Load() {
				out[tp] = pt
			}
		}
	}
	return out
}

// saveStart commits the offset of rec, the first record fetched of p,
// whose start is not committed, before any of p's records is queued:
// franz-go fetches a partition in order from where it started, so that
// offset is where p starts. The fetch loop waits meanwhile. It tries
// again with back-off until the commit succeeds, p is revoked, or ctx is
// done; it returns the error that ends Run once p's StartTimeout has
// passed.
func (s *Source) saveStart(ctx context.Context, cl *kgo.Client, tp topicPartition, p *part, rec *kgo.Record) error {
	dctx, cancel := context.WithDeadline(ctx, p.deadline)
	defer cancel()
	offsets := map[string]map[int32]kgo.EpochOffset{tp.topic: {tp.partition: {Epoch: rec.LeaderEpoch, Offset: rec.Offset}}}
	policy := startRetry
	policy.MaxAttempts = 0
	err := retry.Do(dctx, policy, func(error) bool { return true }, func(ctx context.Context) error {
		if !p.unsaved.Load() || p.revoked.Load() {
			return nil
		}
		err := s.commitOffsets(ctx, cl, offsets, nil)
		p.failedStart(ctx, err)
		return err
	})
	if err == nil || ctx.Err() != nil || !p.unsaved.Load() || p.revoked.Load() {
		return nil
	}
	return s.startError(tp, p)
}

// watchStarts fails Run if one of parts (of one assignment) is still
// unsaved at deadline (its first record fetched would have saved it) and
// the group has no committed offset for it. It returns early if ctx is
// done or Run stops.
func (s *Source) watchStarts(ctx context.Context, cl *kgo.Client, parts map[topicPartition]*part, deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-s.stopped:
		return
	case <-t.C:
	}
	unsaved := map[topicPartition]*part{}
	for tp, p := range parts {
		if p.unsaved.Load() && !p.revoked.Load() {
			unsaved[tp] = p
		}
	}
	if len(unsaved) == 0 {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if have, err := kadm.NewClient(cl).FetchOffsets(fctx, s.cfg.Group); err == nil && have.Error() == nil {
		for tp, p := range unsaved {
			if o, ok := have.Lookup(tp.topic, tp.partition); ok && o.At >= 0 {
				p.unsaved.Store(false)
				delete(unsaved, tp)
			}
		}
	}
	for tp, p := range unsaved {
		s.abort(s.startError(tp, p))
		return
	}
}

// NotReady returns why the source hands on no records now, or ""
// (daemon.NotReadier): the brokers cannot be reached yet, or, with
// StartAt "end", where an assigned partition starts is not committed yet,
// so none of its records is handed on (see [SourceConfig.StartTimeout]).
// It is safe for concurrent use.
func (s *Source) NotReady() string {
	if why := s.readiness.NotReady(); why != "" {
		return why
	}
	s.mu.Lock()
	var first topicPartition
	var fp *part
	n := 0
	for tp, p := range s.parts {
		if !p.unsaved.Load() || p.revoked.Load() {
			continue
		}
		if n++; fp == nil || tp.topic < first.topic || tp.topic == first.topic && tp.partition < first.partition {
			first, fp = tp, p
		}
	}
	s.mu.Unlock()
	if fp == nil {
		return ""
	}
	more := ""
	switch {
	case n == 2:
		more = " (and 1 more partition)"
	case n > 2:
		more = fmt.Sprintf(" (and %d more partitions)", n-1)
	}
	why := ""
	if w := fp.why.Load(); w != nil {
		why = " (last failure: " + (*w).Error() + ")"
	}
	return fmt.Sprintf("startAt \"end\": where partition %s[%d] starts is not committed yet%s, so none of its records is handed on%s",
		first.topic, first.partition, more, why)
}

// startError is the error that ends Run when p's start could not be
// committed within StartTimeout.
func (s *Source) startError(tp topicPartition, p *part) error {
	why := errors.New("no answer")
	if w := p.why.Load(); w != nil {
		why = *w
	}
	return fmt.Errorf("kafka source: startAt \"end\": could not commit where partition %s[%d] starts within %v (startTimeout), so none of its records was handed on: %w",
		tp.topic, tp.partition, s.cfg.StartTimeout, why)
}

// revoked ends the assignments in m and commits what was acked of them.
// Their records still queued are dropped; those handed out are not
// committed by this member when acked.
func (s *Source) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	ended := s.end(m)
	if len(ended) == 0 {
		return
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for tp, p := range ended {
		if o, ok := p.t.Committed(); ok && o.Offset > p.committed.Load() {
			if offsets[tp.topic] == nil {
				offsets[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[tp.topic][tp.partition] = o
		}
	}
	s.o.log.Info("kafka source: partitions revoked; committing what is acked", "partitions", describe(m), "inFlight", s.out.Load())
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s.commitOffsets(cctx, cl, offsets, nil)
}

// lost ends the assignments in m without committing: the group has given
// them to another member already.
func (s *Source) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if len(s.end(m)) == 0 {
		return
	}
	s.failed("lost")
	s.o.log.Warn("kafka source: partitions lost (session expired or fenced); what was not committed is read again by their new owner", "partitions", describe(m))
}

// end marks the assignments of m revoked and removes them.
func (s *Source) end(m map[string][]int32) map[topicPartition]*part {
	s.mu.Lock()
	defer s.mu.Unlock()
	ended := map[topicPartition]*part{}
	for t, ps := range m {
		for _, p := range ps {
			tp := topicPartition{t, p}
			if pt := s.parts[tp]; pt != nil {
				pt.revoked.Store(true)
				ended[tp] = pt
				delete(s.parts, tp)
			}
		}
	}
	s.revocations++
	return ended
}

func describe(m map[string][]int32) string {
	var b strings.Builder
	for t, ps := range m {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s%v", t, ps)
	}
	return b.String()
}

// commitLoop commits every CommitInterval until ctx is done.
func (s *Source) commitLoop(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(s.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.commit(ctx, cl)
		}
	}
}

// commit commits the acked watermark of each assigned partition that
// moved since its last commit.
func (s *Source) commit(ctx context.Context, cl *kgo.Client) {
	s.mu.Lock()
	gen := s.revocations
	offsets := map[string]map[int32]kgo.EpochOffset{}
	parts := map[topicPartition]*part{}
	for tp, p := range s.parts {
		if o, ok := p.t.Committed(); ok && o.Offset > p.committed.Load() {
			if offsets[tp.topic] == nil {
				offsets[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[tp.topic][tp.partition] = o
			parts[tp] = p
		}
	}
	s.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	s.commitOffsets(ctx, cl, offsets, func() bool {
		// A revoke since the snapshot committed the revoked partitions
		// itself, perhaps further: do not commit them again, lower.
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.revocations == gen
	})
}

// commitOffsets commits offsets, if still() (when not nil) holds just
// before, records what was committed, and returns the first failure.
func (s *Source) commitOffsets(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset, still func() bool) error {
	if len(offsets) == 0 || (still != nil && !still()) {
		return nil
	}
	var failed error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			failed = err
			if ctx.Err() == nil {
				s.failed("commit")
				s.o.log.Warn("kafka source: commit failed; the next commit retries", "err", err)
			}
			return
		}
		names := map[[16]byte]string{} // v10+ answers name topics by id only
		for _, t := range req.Topics {
			names[t.TopicID] = t.Topic
		}
		for _, t := range resp.Topics {
			topic := t.Topic
			if topic == "" {
				topic = names[t.TopicID]
			}
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					if failed == nil {
						failed = fmt.Errorf("%s[%d]: %w", topic, p.Partition, err)
					}
					s.failed("commit")
					s.o.log.Warn("kafka source: commit failed; the next commit retries", "topic", topic, "partition", p.Partition, "err", err)
					continue
				}
				s.mu.Lock()
				pt := s.parts[topicPartition{topic, p.Partition}]
				s.mu.Unlock()
				if o, ok := offsets[topic][p.Partition]; ok && pt != nil {
					pt.committed.Store(o.Offset)
					pt.unsaved.Store(false)
				}
			}
		}
	})
	return failed
}

// leave takes a static member out of the group on a clean stop, so that
// its partitions go to the other members at once rather than after the
// session timeout: franz-go does not leave for a static member. A dynamic
// member left when its client closed.
func (s *Source) leave(ctx context.Context) {
	if s.instanceID == "" {
		return
	}
	opts, err := connOpts("source", s.cfg.Brokers, s.cfg.ClientID, s.cfg.TLS, s.cfg.SASL)
	if err != nil {
		return
	}
	cl, err := kgo.NewClient(append(opts, s.o.kgoOpts...)...)
	if err != nil {
		return
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(s.cfg.Group).InstanceIDs(s.instanceID).Reason("sluiced stopping"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		s.o.log.Warn("kafka source: leaving the group failed; the group gives this member's partitions to the others after sessionTimeout", "err", err)
	}
}

// Interface guards.
var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)
