package multi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// Source merges several sources into one. Create it with [NewSource] and
// start it with [Source.Run]; [Source.Recv] hands out what the sources
// produce, in the order it arrives.
//
// Run receives from each source in a goroutine of its own, so a source's
// Recv is never called concurrently by a Source and need not be safe for
// concurrent use. Each message keeps the ack of the source it came from,
// and the messages of one source are handed out in the order it produced
// them; there is no order between sources.
type Source[T any] struct {
	srcs []sluice.Source[T]
	ran  atomic.Bool

	// ch hands messages from the receiving goroutines to Recv. It is
	// unbuffered: a message leaves its goroutine only when a Recv takes it.
	ch chan delivery[T]

	stopOnce sync.Once
	done     chan struct{} // closed by stop, after err is set
	err      error         // what Recv returns once done is closed
}

type delivery[T any] struct {
	msg sluice.Message[T]
	ack func()
}

// NewSource returns a Source that merges srcs. It starts no goroutine and
// does no I/O. No sources, or a nil one, is an error.
//
// Errors name a source by its index in srcs, from 0.
func NewSource[T any](srcs ...sluice.Source[T]) (*Source[T], error) {
	if err := checkAll("source", srcs); err != nil {
		return nil, fmt.Errorf("multi: new source: %w", err)
	}
	return &Source[T]{
		srcs: append([]sluice.Source[T](nil), srcs...),
		ch:   make(chan delivery[T]),
		done: make(chan struct{}),
	}, nil
}

// Recv returns the next message of any source, with that source's ack. It
// is safe for concurrent use.
//
// Recv blocks until a message is available, the Source stops, or ctx is
// done. Before [Source.Run] has started it blocks until Run starts or ctx
// is done. It returns:
//
//   - an error for which errors.Is(err, ctx.Err()) holds once ctx is done,
//     and at once, without taking a message, if ctx is already done;
//   - io.EOF once every source returned io.EOF and every message they
//     produced was handed out, and on every later call;
//   - the error Run returns, "multi: source N: …", once a source failed;
//   - an error wrapping [sluice.ErrClosed] once Run stopped for another
//     reason, such as its ctx being done.
func (s *Source[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[T]{}, nil, fmt.Errorf("multi: recv: %w", err)
	}
	select {
	case d := <-s.ch:
		return d.msg, d.ack, nil
	case <-s.done:
		return sluice.Message[T]{}, nil, s.err
	case <-ctx.Done():
		return sluice.Message[T]{}, nil, fmt.Errorf("multi: recv: %w", ctx.Err())
	}
}

// Run receives from every source, and runs the Run method of every source
// that is a [sluice.Runner], all with a child of ctx, until ctx is done or
// one of them fails. It returns only after every goroutine it started has stopped.
//
// A source that returns io.EOF is done. When every source is done, Recv
// returns io.EOF; Run keeps running the sources' runners, which may still
// be processing acks, and returns nil when they have all returned (at once
// if there are none).
//
// When ctx is done Run returns nil, unless a source fails while stopping
// with an error other than ctx's. When a source's Recv or Run fails, Run
// stops everything and returns the first error, wrapped as
// "multi: source N: …" or "multi: source N: run: …", joined with any
// later failure that is not just the effect of stopping. A message received
// from a source but not yet handed to Recv when Run stops is dropped
// without being acked.
//
// A second call returns [sluice.ErrAlreadyRunning].
func (s *Source[T]) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	g := newGroup(ctx, s.stop)
	var left atomic.Int64 // sources that have not returned io.EOF
	left.Store(int64(len(s.srcs)))
	for i, src := range s.srcs {
		if r, ok := src.(sluice.Runner); ok {
			g.run(func() error {
				if err := r.Run(g.ctx); err != nil {
					return fmt.Errorf("multi: source %d: run: %w", i, err)
				}
				return nil
			})
		}
		g.run(func() error {
			err := s.pump(g.ctx, src)
			if errors.Is(err, io.EOF) {
				// Every message of this source was handed out; the
				// last source to end tells Recv.
				if left.Add(-1) == 0 {
					s.stop(io.EOF)
				}
				return nil
			}
			return fmt.Errorf("multi: source %d: %w", i, err)
		})
	}
	err := g.wait()
	s.stop(fmt.Errorf("multi: recv: %w", sluice.ErrClosed))
	return err
}

// pump hands the messages of src to Recv until src or the hand-off fails.
func (s *Source[T]) pump(ctx context.Context, src sluice.Source[T]) error {
	for {
		msg, ack, err := src.Recv(ctx)
		if err != nil {
			return err
		}
		if ack == nil {
			ack = sluice.Noop // Recv never returns a nil ack
		}
		select {
		case s.ch <- delivery[T]{msg, ack}:
		case <-ctx.Done():
			return ctx.Err() // msg is not acked: a durable source redelivers it
		}
	}
}

// stop makes every current and later Recv return err; only the first call
// counts.
func (s *Source[T]) stop(err error) {
	s.stopOnce.Do(func() {
		s.err = err
		close(s.done)
	})
}

var (
	_ sluice.Source[[]byte] = (*Source[[]byte])(nil)
	_ sluice.Runner         = (*Source[[]byte])(nil)
)
