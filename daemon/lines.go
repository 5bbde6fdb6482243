package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// A LineSource is a source that can hand its events over as runs of
// lines ([event.Lines]), each run what one read from a stream brought:
// no event is built per line while the runs go to destinations that take
// them as they are (see [LineDestination]). It is an optional ability of
// a source that is also a [sluice.Runner].
//
// The daemon calls UseLines once, before Run. If it returns true, the
// daemon takes the source's events only with RecvLines, never Recv or
// RecvBatch; if it returns false (the source as configured cannot, say
// because it parses its lines), the source is used as any other.
//
// RecvLines is Recv for a whole run: it blocks until one is available,
// sets *l to it and returns its ack, which, as Recv's, reports that every
// event of the run was delivered durably. Errors, io.EOF after Run has
// returned, and cancellation are as for Recv. The run is lent, unlike a
// message: its memory is valid until the next call of RecvLines, which
// may reuse it (so a busy source reads into the same few buffers).
// RecvLines need not be safe for concurrent use: the daemon calls it
// from one goroutine.
//
// Metrics count the events of a run one by one, as if they had been
// received one by one.
type LineSource interface {
	UseLines() bool
	RecvLines(ctx context.Context, l *event.Lines) (ack func(), err error)
}

// A LineDestination is a destination that can take a run of lines
// ([event.Lines]) as it is. SendLines writes the run's events as Send
// would (each event is Template with its Raw from the run), with Send's
// contract for ack, errors, cancellation and concurrency; it must not
// change l or its memory, nor keep either after it returns (the run is
// lent: copy what is needed later). A destination whose format writes
// each event's Raw and a newline writes l.Bytes as they are; one that
// cannot may build the events ([event.Lines.Event]) and Send them, if
// its Send keeps nothing of theirs (a batch.NewEncoded destination's
// does not).
//
// A route hands a run on as it is when it takes every event as it is (no
// condition, no handler) to destinations that are all LineDestinations,
// and no one taps it; otherwise it builds the events and sends them.
type LineDestination interface {
	SendLines(ctx context.Context, ack func(), l *event.Lines) error
}

// runLines moves runs of lines from src to r until ctx is done (then it
// returns nil), src returns io.EOF (nil too) or a stage fails: the loop a
// [sluice.Processor] runs, for a LineSource.
func runLines(ctx context.Context, src LineSource, r *router, m *Metrics, received *atomic.Int64) error {
	var l event.Lines
	for {
		ack, err := src.RecvLines(ctx, &l)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", sluice.StageSource, err)
		}
		received.Add(int64(l.Len()))
		m.In(l.Len(), l.RawBytes())
		if err := r.SendLines(ctx, ack, &l); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", sluice.StageDestination, err)
		}
	}
}

// SendLines is Send for a run of lines. When its one route takes every
// event as it is to destinations that take lines, and no one taps the
// source or the route, the run goes on whole; otherwise its events are
// built and sent as Send sends them.
func (r *router) SendLines(ctx context.Context, ack func(), l *event.Lines) error {
	r.gate.enter()
	if len(r.routes) == 1 && r.routes[0].plain() && !r.tap.active() && !r.routes[0].tap.active() {
		if to, ok := lineTargets(r.routes[0].to); ok {
			defer r.gate.leave()
			n := l.Len()
			ack = r.acked(n, ack)
			rt := &r.routes[0]
			rt.m.In(n, 0)
			rt.m.Out(n, 0)
			if len(to) > 1 {
				ack = sluice.AckCountdown(len(to), ack)
			}
			for _, c := range to {
				c.m.In(n, l.RawBytes())
				if err := c.d.(LineDestination).SendLines(ctx, ack, l); err != nil {
					return err
				}
			}
			return nil
		}
	}
	r.gate.leave()
	return r.Send(ctx, ack, lineEvents(l)...)
}

// lineEvents returns the events of l as messages, which own their
// memory (l is lent, and destinations may keep messages).
func lineEvents(l *event.Lines) []msg {
	l = &event.Lines{Template: l.Template, Bytes: bytes.Clone(l.Bytes), Ends: l.Ends}
	msgs := make([]msg, l.Len())
	for i := range msgs {
		msgs[i].Value = l.Template
		msgs[i].Value.Raw = l.Raw(i)
	}
	return msgs
}

// active reports whether anyone taps p.
func (p *tapPoint) active() bool { return p != nil && p.subs.Load() != nil }

// lineTargets returns the destinations d stands for, if every one of
// them is a [LineDestination], each with the counting that counts what
// it is sent.
func lineTargets(d dest) ([]counting, bool) {
	ds := fanout{d}
	if f, ok := d.(fanout); ok {
		ds = f
	}
	var to []counting
	for _, d := range ds {
		c, ok := d.(counting)
		if !ok {
			return nil, false
		}
		if _, ok := c.d.(LineDestination); !ok {
			return nil, false
		}
		to = append(to, c)
	}
	return to, len(to) > 0
}
