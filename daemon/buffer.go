package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/spool"
)

// Defaults of a disk buffer's writing and forwarding.
const (
	defaultBufferBatchCount  = 1024
	defaultBufferBatchAge    = time.Millisecond
	defaultBufferParallelism = 1
	defaultBufferCheckpoint  = 100 * time.Millisecond
	// bufferWriters is the number of batches written to the spool at
	// once; their fsyncs are shared.
	bufferWriters = 4
	// maxSendBytes bounds the records of one spool Send; so does half the
	// room of a small spool.
	maxSendBytes = 4 << 20
)

// diskBuffer is a destination that writes events to a spool, acking them
// once they are durable there, and forwards the spool's records in order
// to the destination behind it, whose acks let the spool delete them.
//
// Send is safe for concurrent use. Run runs the spool, the writer, the
// forwarding loops and the inner destination's Runners, and stops them in
// that order reversed: no more writes, no more reads, the inner
// destination flushes, and the spool persists what was acked.
type diskBuffer struct {
	name    string
	dir     string // the spool's
	sp      *spool.Spool
	front   *batch.Destination[event.Event]
	inner   dest            // where the records go
	runners []sluice.Runner // the inner destination's Runners, run here
	loops   int
	stop    time.Duration // bound on the stop
	log     *slog.Logger
	m       *Metrics
	maxRec  int   // largest record the spool takes
	seg     int64 // the spool's segmentBytes, for messages
	maxSend int   // most bytes of records, with their headers, in one spool Send

	recs     sync.Pool // *[]sluice.Message[[]byte], the records of one write
	tooLarge every     // spaces the log lines about events too large for the spool
}

func newDiskBuffer(name string, c spool.Config, bc *BufferConfig, inner dest, runners []sluice.Runner,
	stop time.Duration, log *slog.Logger, m *Metrics, observe func(time.Duration)) (*diskBuffer, error) {
	sp, err := spool.New(c, spool.WithLogger(log), spool.WithSyncObserver(observe))
	if err != nil {
		return nil, err
	}
	b := &diskBuffer{name: name, dir: filepath.Clean(c.Dir), sp: sp, inner: inner, runners: runners, stop: stop, log: log, m: m,
		loops: cmpOr(bc.Parallelism, defaultBufferParallelism)}
	b.maxRec, b.seg = int(maxRecord(c)), c.SegmentBytes
	b.maxSend = int(min(maxSendBytes, (c.MaxBytes-c.SegmentBytes)/2))

	b.recs.New = func() any { return new([]sluice.Message[[]byte]) }
	b.front, err = batch.NewEncoded(batch.Config{
		Count: cmpOr(bc.BatchCount, defaultBufferBatchCount), Age: cmpOr(bc.BatchAge, defaultBufferBatchAge),
		Parallelism: bufferWriters, StopTimeout: stop,
	}, b.encode, batch.FlushBytesFunc(b.write), batch.WithLogger[event.Event](log))
	if err != nil {
		return nil, err
	}
	return b, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Send queues msgs to be written to the spool; ack is called once they
// are durable there. The buffer's metrics count them in, and acked.
//
// An event whose record is larger than the spool takes (grown by a
// handler, or past a source's bound that validate checked; a route with a
// dead letter sends it there instead, see refuse) is not spooled and
// never dropped: it goes straight to the destination behind the buffer,
// as with a memory buffer, and is acked once the destination has written
// it. It is counted (sluice_errors_total, cause "tooLarge") and logged.
// Dropping it would lose an event its source is then told is delivered;
// not acking it would hold a replayable source (file, kafka, journald) at
// it for good, as a source cannot be told "refused"; around the spool it
// is only unprotected by the spool while the destination writes it.
func (b *diskBuffer) Send(ctx context.Context, ack func(), msgs ...msg) error {
	bytes, big := 0, 0
	for i := range msgs {
		bytes += len(msgs[i].Value.Raw)
		if recordSize(&msgs[i].Value, b.maxRec) > b.maxRec {
			big++
		}
	}
	b.m.In(len(msgs), bytes)
	ack = countAcks(b.m, len(msgs), ack)
	if big == 0 {
		return b.front.Send(ctx, ack, msgs...)
	}
	fit, around := make([]msg, 0, len(msgs)-big), make([]msg, 0, big)
	for _, m := range msgs {
		if n := recordSize(&m.Value, b.maxRec); n > b.maxRec {
			around = append(around, m)
			b.m.Error("tooLarge")
			b.tooLarge.Do(func() {
				b.log.Warn("buffer: an event too large for the spool goes straight to the destination, acknowledged once written there (logged at most every 10s); raise segmentBytes",
					"bytes", n, "max", b.maxRec, "source", m.Value.Source)
			})
		} else {
			fit = append(fit, m)
		}
	}
	ack = sluice.AckAfter(min(len(fit), 1)+1, ack)
	if len(fit) > 0 {
		if err := b.front.Send(ctx, ack, fit...); err != nil {
			return err
		}
	}
	return b.inner.Send(ctx, ack, around...)
}

// encode appends m's record to buf. Send sends the events too large for
// the spool around it, so this check never fails; should it, the event is
// counted, logged and left out (an empty record) rather than corrupt the
// spool.
func (b *diskBuffer) encode(buf []byte, m *msg) []byte {
	start := len(buf)
	buf = m.Value.AppendRecord(buf)
	if n := len(buf) - start; n > b.maxRec {
		b.m.Dropped("tooLarge", 1)
		b.log.Error("buffer: dropping an event too large for the spool (a bug: Send should have sent it around the spool)",
			"bytes", n, "max", b.maxRec, "source", m.Value.Source)
		return buf[:start]
	}
	return buf
}

// write appends the records in data, which end at ends, to the spool, in
// Sends of at most maxSend bytes.
func (b *diskBuffer) write(ctx context.Context, data []byte, ends []int) error {
	p := b.recs.Get().(*[]sluice.Message[[]byte])
	defer b.recs.Put(p)
	recs := (*p)[:0]
	defer func() {
		clear(recs) // drop references to data, which the batch reuses
		*p = recs[:0]
	}()
	start, size := 0, 0
	for _, end := range ends {
		if end == start {
			continue // left out by encode
		}
		n := end - start + spool.HeaderSize
		if size+n > b.maxSend && len(recs) > 0 {
			if err := b.sp.Send(ctx, nil, recs...); err != nil {
				return err
			}
			recs, size = recs[:0], 0
		}
		recs = append(recs, sluice.Message[[]byte]{Value: data[start:end:end]})
		size += n
		start = end
	}
	if len(recs) == 0 {
		return nil
	}
	return b.sp.Send(ctx, nil, recs...)
}

// Recv reads the next record from the spool and decodes it. A record that
// does not decode (written by a newer sluiced, or damaged in a way the
// checksum missed) is counted, logged and acked: retrying cannot fix it.
func (b *diskBuffer) Recv(ctx context.Context) (msg, func(), error) {
	for {
		rec, ack, err := b.sp.Recv(ctx)
		if err != nil {
			return msg{}, nil, err
		}
		var m msg
		if err := event.DecodeRecord(rec.Value, &m.Value); err != nil {
			b.m.Dropped("undecodable", 1)
			b.log.Error("buffer: skipping a spool record that does not decode", "err", err, "bytes", len(rec.Value))
			ack()
			continue
		}
		b.m.Out(1, len(m.Value.Raw))
		return m, ack, nil
	}
}

// Run runs the buffer until ctx is done, then stops it within the stop
// bound given to newDiskBuffer.
func (b *diskBuffer) Run(ctx context.Context) error {
	failed := newFailure()
	run := func(wg *sync.WaitGroup, what string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				failed.set(fmt.Errorf("%s: %w", what, err))
			}
		})
	}
	bg := context.WithoutCancel(ctx)
	spCtx, stopSpool := context.WithCancel(bg)
	frontCtx, stopFront := context.WithCancel(bg)
	readCtx, stopReading := context.WithCancel(bg)
	fwdCtx, stopFwd := context.WithCancel(bg)
	innerCtx, stopInner := context.WithCancel(bg)
	defer func() { stopSpool(); stopFront(); stopReading(); stopFwd(); stopInner() }()

	var spWG, frontWG, fwdWG, innerWG sync.WaitGroup
	run(&spWG, "spool", func() error { return b.sp.Run(spCtx) })
	run(&frontWG, "spool writer", func() error { return b.front.Run(frontCtx) })
	for _, r := range b.runners {
		run(&innerWG, "destination", func() error {
			err := r.Run(innerCtx)
			if errors.Is(err, sluice.ErrUndelivered) {
				// Its events are records the spool holds, unacked.
				b.log.Warn("buffer: the destination stopped with events not delivered; they stay in the spool for the next start", "err", err)
				return nil
			}
			return err
		})
	}
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{
		Source: newUntilStopped(b, readCtx), Destination: b.inner, Handler: sluice.Pipe[event.Event](),
	}, sluice.Parallelism(b.loops), sluice.WithLogger(b.log))
	if err != nil {
		return err
	}
	run(&fwdWG, "forward", func() error { return p.Run(fwdCtx) })

	select {
	case <-ctx.Done():
	case <-failed.Done():
	}
	deadline := time.Now().Add(b.stop)
	waitUntil := func(wg *sync.WaitGroup, cancel context.CancelFunc) {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		t := time.NewTimer(max(time.Until(deadline), 0))
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			cancel()
			<-done
		}
	}
	stopFront() // the sources have stopped: write what the writer holds
	frontWG.Wait()
	// Forward what the spool holds while there is time, keeping half of
	// it for the destination to flush; the rest is delivered after the
	// next start.
	drainBy := time.Now().Add(time.Until(deadline) / 2)
	for b.unread() > 0 && time.Now().Before(drainBy) && failed.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	stopReading() // forward what was read
	waitUntil(&fwdWG, stopFwd)
	stopInner() // the inner destination flushes and acks
	innerWG.Wait()
	if len(b.runners) == 0 {
		// The destinations behind a route's buffer are run, and stopped,
		// after it: wait for their acks while they still run.
		for b.sp.Stats().InFlight > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	stopSpool() // persist the position of what was acked
	spWG.Wait()
	return failed.Err()
}

// unread returns the number of records in the spool not yet forwarded.
func (b *diskBuffer) unread() int64 {
	st := b.sp.Stats()
	return st.Records - st.InFlight
}

// fanout sends to every destination and acks once all of them have.
type fanout []dest

func (f fanout) Send(ctx context.Context, ack func(), msgs ...msg) error {
	if len(f) == 1 {
		return f[0].Send(ctx, ack, msgs...)
	}
	ack = sluice.AckAfter(len(f), ack)
	for _, d := range f {
		if err := d.Send(ctx, ack, msgs...); err != nil {
			return err
		}
	}
	return nil
}
