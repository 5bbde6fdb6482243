// Package syslog receives syslog messages: the "syslog" source.
//
// It listens on UDP, TCP (optionally TLS) and unix sockets, reads RFC 5424
// and RFC 3164 messages (detected per message unless a format is forced),
// and frames TCP streams by newline or by octet count (RFC 6587), detected
// per frame. A message that does not parse is not dropped: it becomes an
// event with its raw bytes, its receipt time and the "parseError" flag, and
// is counted. A message over the size limit is truncated, flagged and
// counted. A stream that ends inside a frame (a sender that closed, idled
// out or was evicted mid-message) has that partial message counted as
// dropped (cause "incomplete_frame") and logged. UDP is read in batches
// (recvmmsg), and the datagrams the kernel dropped because the socket
// buffer was full are counted too. An octet-counted frame over
// maxMessageBytes is truncated like a long line, the rest of it read and
// discarded, never held; a count over 64 MiB (and over maxMessageBytes),
// or with a leading zero, means the framing is lost: the connection is
// closed, counted as errors{cause="read"}. A TLS client has 10 seconds (or idleTimeout, if
// shorter) to finish its handshake; a failed or stalled one is counted as
// "tls_handshake". The log lines a client can cause (refused, evicted,
// idle or broken connections, failed handshakes) are written at most once
// per 10 seconds each, with how many were left out; the counters count
// them all.
//
// Syslog cannot be replayed: acks do nothing, and what the source has
// received but not delivered is lost if the process dies. Put a disk
// buffer behind it where that matters.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/defaults"
	"github.com/sluicehq/sluice/internal/handoff"
	"github.com/sluicehq/sluice/internal/listening"
	"github.com/sluicehq/sluice/internal/lograte"
	"github.com/sluicehq/sluice/internal/tlsconfig"
)

// Counters receives the source's counts; the daemon's metrics implement
// it. Methods must be safe for concurrent use.
type Counters interface {
	ParseFailed(n int)
	Dropped(cause string, n int)
	Error(cause string)
}

type nopCounters struct{}

func (nopCounters) ParseFailed(int)     {}
func (nopCounters) Dropped(string, int) {}
func (nopCounters) Error(string)        {}

// Option configures a Source.
type Option func(*Source)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(s *Source) { s.log = l } }

// WithCounters sets where counts go. Default: nowhere.
func WithCounters(c Counters) Option { return func(s *Source) { s.count = c } }

// Source receives syslog messages. It is a [sluice.Runner]: Run listens
// until its ctx is done, then closes every socket, and Recv returns what was
// received, then io.EOF. Recv is safe for concurrent use.
type Source struct {
	cfg      Config
	name     string
	format   parse.Format
	loc      *time.Location
	log      *slog.Logger
	logs     *lograte.Limiter // for the lines a client can cause
	count    Counters
	q        *handoff.Queue[frame]
	runs     chan run // in lines mode (see UseLines); else nil
	lent     *block   // of the run RecvLines returned last
	lentEnds []int    // the line ends of that run, to reuse
	free     *blocks  // in lines mode: framing buffers to reuse

	mu        sync.Mutex
	addrs     []net.Addr     // bound addresses, once Run has started
	ready     chan struct{}  // closed once Run has bound every address or failed
	listening listening.Gate // opened once Run has bound every address
}

// New returns a Source named name (the name events carry). Zero fields of c
// take the defaults of [DefaultConfig]. It does no I/O.
func New(c Config, name string, opts ...Option) (*Source, error) {
	defaults.Fill(&c, DefaultConfig())
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	loc, _ := time.LoadLocation(c.Timezone)
	s := &Source{cfg: c, name: name, loc: loc, log: slog.New(slog.DiscardHandler), count: nopCounters{},
		q: handoff.New[frame](c.QueueSize), ready: make(chan struct{}), listening: listening.New(), logs: lograte.New(lograte.Every),
		format: map[string]parse.Format{"auto": parse.Auto, "rfc5424": parse.RFC5424, "rfc3164": parse.RFC3164}[c.Format]}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Addrs returns the addresses the source listens on, once Run has bound
// them (it blocks until then or until ctx is done). For tests that listen
// on port 0.
func (s *Source) Addrs(ctx context.Context) ([]net.Addr, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs, nil
}

// Recv returns the next received message as an event. After Run has
// returned, it returns what is left, then io.EOF. The ack does nothing.
func (s *Source) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	var m [1]sluice.Message[event.Event]
	var acks [1]func()
	if _, err := s.RecvBatch(ctx, m[:], acks[:]); err != nil {
		return m[0], nil, err
	}
	return m[0], acks[0], nil
}

// RecvBatch is Recv for up to len(msgs) events at once (a
// [sluice.BatchSource]); the acks do nothing.
func (s *Source) RecvBatch(ctx context.Context, msgs []sluice.Message[event.Event], acks []func()) (int, error) {
	n := 0
	_, err := s.q.Take(ctx, len(msgs), func(fs []frame) {
		for i := range fs {
			s.event(&msgs[n], &fs[i])
			acks[n] = sluice.Noop
			n++
		}
	})
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("syslog: %w", err)
	}
	return n, err
}

// Run binds every socket (an address in use is an error, returned at once),
// then receives until ctx is done.
func (s *Source) Run(ctx context.Context) error {
	defer s.q.Close()
	defer s.closeRuns()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closers []io.Closer
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	}()
	bind := func(network string) error {
		switch network {
		case "udp", "unixgram":
			pc, err := s.listenPacket(ctx, network)
			if err != nil {
				return err
			}
			closers = append(closers, pc)
			s.addAddr(pc.LocalAddr())
			wg.Go(func() { s.readPackets(ctx, pc) })
		default:
			ln, err := s.listenStream(ctx, network)
			if err != nil {
				return err
			}
			closers = append(closers, ln)
			s.addAddr(ln.Addr())
			wg.Go(func() { s.accept(ctx, ln) })
		}
		return nil
	}
	for network := range strings.SplitSeq(s.cfg.Network, "+") {
		if err := bind(network); err != nil {
			close(s.ready)
			return fmt.Errorf("syslog: %w", err)
		}
	}
	s.log.Info("listening", "network", s.cfg.Network, "addr", s.addrs)
	s.listening.Open()
	close(s.ready)
	<-ctx.Done()
	return nil
}

// NotReady reports "not listening yet" until Run has bound every
// address, so that the daemon's /readyz answers 200 only once senders
// can reach it.
func (s *Source) NotReady() string { return s.listening.NotReady() }

// Bound returns a channel that Run closes once it has bound every
// address, when senders can connect; it is never closed if binding
// fails (Run returns why). The daemon logs "running" only then (see
// daemon.Binder).
func (s *Source) Bound() <-chan struct{} { return s.listening.Bound() }

func (s *Source) addAddr(a net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = append(s.addrs, a)
}

func (s *Source) listenPacket(ctx context.Context, network string) (net.PacketConn, error) {
	addr := s.cfg.Addr
	if network == "unixgram" {
		_ = os.Remove(addr) // a socket file left by an earlier run
	}
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, network, addr)
	if err != nil {
		return nil, addrError(err)
	}
	if n := s.cfg.ReadBufferBytes; n > 0 {
		s.reportReadBuffer(n, setReadBuffer(pc, n), readRmemMax())
	}
	return pc, nil
}

func (s *Source) listenStream(ctx context.Context, network string) (net.Listener, error) {
	if network == "unix" {
		_ = os.Remove(s.cfg.Addr)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, network, s.cfg.Addr)
	if err != nil {
		return nil, addrError(err)
	}
	if s.cfg.TLS == nil || network != "tcp" {
		return ln, nil
	}
	tc, err := tlsconfig.Server(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile, s.cfg.TLS.ClientCAFile)
	if err != nil {
		ln.Close()
		return nil, &config.FieldError{Path: "tls", Msg: err.Error(), Err: err}
	}
	return tls.NewListener(ln, tc), nil
}

// addrError is the error of an address that cannot be bound (in use, a
// port below 1024 without the right, a socket path in a directory not
// writable): a [config.FieldError] at "addr", whose message, that of
// the [net.OpError], names the network and the address, so that the
// daemon names the field's path ("sources.in.addr: listen tcp
// 127.0.0.1:514: bind: address already in use").
func addrError(err error) error {
	return &config.FieldError{Path: "addr", Msg: err.Error(), Err: err}
}

// maxPending is how many frames a reading goroutine collects before it
// queues them in one call: as many as a RecvBatch takes, so that a
// stream's read of 64 KiB (some 250 lines) wakes the receiver once, not
// four times. A batch is queued before every read that may block anyway.
const maxPending = sluice.RecvBatchSize

// frame is what a reading goroutine queues for one message: what the
// event is built from, parsed, but not the event itself. An event is 360
// bytes with its message, mostly fields a syslog event never sets; a
// frame is about half that, and what it lacks is set by Recv. So the
// queue holds half the memory, and Recv copies half as much into the
// caller's slice.
type frame struct {
	raw    []byte // the message: arena memory, or a frame the reader keeps
	host   string
	at     time.Time // receipt
	time   time.Time // parsed timestamp
	syslog fields
	flags  event.Flags
}

// fields are the parsed parts of a message as spans of its raw bytes,
// which Recv makes the strings of [event.Syslog]: without pointers, a
// queued frame costs the garbage collector's write barrier nothing for
// them while it marks, and nothing to scan.
type fields struct {
	present                                   bool
	facility, severity, version               uint8
	hostname, appName, procID, msgID, sd, msg part
}

// part is raw[off:off+n].
type part struct{ off, n int }

// partOf returns the span of b, a part of raw or empty, in raw.
func partOf(raw, b []byte) part {
	if len(b) == 0 {
		return part{}
	}
	return part{int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))), len(b)}
}

// in returns p's text in raw, which is never written again (an empty
// part is "", which points into raw: no branch).
func (p part) in(raw []byte) string {
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(raw)), p.off)), p.n)
}

// setSyslog sets *sl to the fields of f.
func (f *frame) setSyslog(sl *event.Syslog) {
	p := &f.syslog
	sl.Present, sl.Facility, sl.Severity, sl.Version = p.present, p.facility, p.severity, p.version
	sl.Hostname, sl.AppName, sl.ProcID, sl.MsgID = p.hostname.in(f.raw), p.appName.in(f.raw), p.procID.in(f.raw), p.msgID.in(f.raw)
	sl.StructuredData, sl.Message = p.sd.in(f.raw), p.msg.in(f.raw)
}

// pending collects the frames of one read, to queue them in one batch.
// Each reading goroutine has its own.
type pending struct {
	s  *Source
	b  *handoff.Batch[frame]
	pp parse.Parser // the goroutine's: its messages mostly share their second
}

// add adds the frame for msg, copied into a; a nil a means that msg is
// never written again, and the event keeps it. It queues the batch when
// it is full, and returns false when ctx is done.
func (p *pending) add(ctx context.Context, a *arena, msg []byte, host string, truncated bool, now time.Time) bool {
	if p.b == nil {
		p.b = p.s.q.Get()
	}
	// Built in place: a frame is not copied. The slots past len are zero
	// (recycled batches are cleared, grown ones are zeroed), so taking
	// one writes nothing: zeroing a slot of a struct with pointers costs
	// a bulk write barrier while the garbage collector marks.
	if len(p.b.Items) < cap(p.b.Items) {
		p.b.Items = p.b.Items[:len(p.b.Items)+1]
	} else {
		p.b.Items = append(p.b.Items, frame{})
	}
	p.s.parse(&p.b.Items[len(p.b.Items)-1], &p.pp, a, msg, host, truncated, now)
	if len(p.b.Items) >= maxPending {
		return p.flush(ctx)
	}
	return true
}

// flush queues what was collected; it returns false when ctx is done.
func (p *pending) flush(ctx context.Context) bool {
	if p.b == nil {
		return true
	}
	b := p.b
	p.b = nil
	return p.s.q.Put(ctx, b) == nil
}

// parse parses msg into f, a zero frame, with pp, keeping a copy of msg
// in arena memory that the event owns from now on (or msg itself if a is
// nil). It runs in the reading goroutine, so that parsing is done beside
// the processor's work rather than in it.
func (s *Source) parse(f *frame, pp *parse.Parser, a *arena, msg []byte, host string, truncated bool, now time.Time) {
	raw := msg
	if a != nil {
		raw = a.copy(msg)
	}
	f.raw, f.host, f.at = raw, host, now
	if truncated {
		f.flags |= event.Truncated
		s.count.Error("oversized")
	}
	if s.cfg.Format == "none" {
		return
	}
	var m parse.Message
	if err := pp.ParseTo(&m, raw, s.format, now, s.loc); err != nil {
		f.flags |= event.ParseError
		s.count.ParseFailed(1)
		return
	}
	f.time = m.Timestamp
	if f.time.IsZero() {
		f.flags |= event.NoTime
	}
	// On success every part of m lies in raw (parse.Parse says so).
	sl := &f.syslog
	sl.present, sl.facility, sl.severity, sl.version = true, m.Facility, m.Severity, m.Version
	sl.hostname, sl.appName, sl.procID, sl.msgID = partOf(raw, m.Hostname), partOf(raw, m.AppName), partOf(raw, m.ProcID), partOf(raw, m.MsgID)
	sl.sd, sl.msg = partOf(raw, m.StructuredData), partOf(raw, m.Msg)
}

// event sets *m, in the caller's slice, to the message of f, field by
// field: assigning a whole Message would build it apart and copy it, and
// clearing it first would write it twice (TestRecvBatchSetsEveryField
// fails if a field added to Message or Event is not set here). The
// fields that hold the same pointer from event to event (the empty ones,
// the source's name, the sender's host) are written only if they
// differ: the slot is reused, so they mostly hold it already, and while
// the collector marks, each pointer written to the heap costs its write
// barrier.
func (s *Source) event(m *sluice.Message[event.Event], f *frame) {
	setString(&m.Key, "")
	setString(&m.Topic, "")
	if m.Attributes.Len() != 0 {
		m.Attributes = sluice.Attributes{}
	}
	ev := &m.Value
	ev.Time, ev.ReceivedAt = f.time, f.at
	setString(&ev.Source, s.name)
	setString(&ev.SourceType, "syslog")
	setString(&ev.Host, f.host)
	setString(&ev.ContentType, s.cfg.ContentType)
	ev.Raw, ev.Flags = f.raw, f.flags
	f.setSyslog(&ev.Syslog)
	if ev.File.Path != "" || ev.File.Offset != 0 {
		ev.File = event.File{}
	}
	if ev.HTTP != nil {
		ev.HTTP = nil
	}
	if ev.Fields != nil {
		ev.Fields = nil
	}
}

// setString sets *p to v unless it holds v's very bytes already: then
// no pointer is written.
func setString(p *string, v string) {
	if len(*p) != len(v) || unsafe.StringData(*p) != unsafe.StringData(v) {
		*p = v
	}
}

var (
	_ sluice.BatchSource[event.Event] = (*Source)(nil)
	_ sluice.Runner                   = (*Source)(nil)
)

// reportReadBuffer logs at INFO, when the kernel gave less than asked
// (got is what it reports, twice what it grants; 0 if unknown), the
// receive buffer the UDP socket has and how to raise it: the kernel caps
// SO_RCVBUF at net.core.rmem_max (rmemMax, 0 if unknown) for a process
// without CAP_NET_ADMIN. Datagrams arriving while the buffer is full are
// dropped by the kernel, and counted.
func (s *Source) reportReadBuffer(asked, got, rmemMax int) {
	if got <= 0 || got >= 2*asked {
		return
	}
	args := []any{"readBufferBytes", asked, "effectiveBytes", got / 2}
	if rmemMax > 0 {
		args = append(args, "net.core.rmem_max", rmemMax)
	}
	s.log.Info(fmt.Sprintf("UDP receive buffer is %d bytes, less than readBufferBytes (%d): the kernel caps it at net.core.rmem_max; "+
		"to raise it, run: sysctl -w net.core.rmem_max=%d (or give sluiced CAP_NET_ADMIN)", got/2, asked, asked), args...)
}
