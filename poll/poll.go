// Package poll turns an API that is easiest to query periodically into a
// [sluice.Source].
//
// A [Poller] fetches a batch of up to max messages and one ack for the
// whole batch. A [Source] hands the messages out one by one from Recv and
// calls the batch's ack once every one of them was acked, so a poller can
// delete the messages, move a cursor or commit an offset only when the
// whole batch is delivered.
//
// Recv polls when it has nothing buffered. A poll that returns nothing is
// followed by a wait of [Config.Interval]; a poll that fails with a
// retryable error (see [sluice.IsRetryable]) is tried again after a
// back-off ([Config.Retry], with package [retry]); any other error is
// returned to the caller. A poll that returns io.EOF ends the source.
package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/retry"
)

// Poller fetches messages.
//
// Poll returns up to max messages (more are delivered too) and an ack for
// the whole batch, which the [Source] calls once, when every message of
// the batch was acked, and never if one is not. An empty batch is acked
// at once. ack may be nil.
//
// An error is either retryable (marked with [sluice.Retryable]), fatal, or
// io.EOF: the poller is exhausted, and the messages returned with io.EOF,
// if any, are its last ones. With any other error the messages and ack
// are ignored. Poll should return promptly when ctx is done.
//
// A Source never calls Poll concurrently, and Poll may reuse the slice it
// returned in its next call.
type Poller[T any] interface {
	Poll(ctx context.Context, max int) ([]sluice.Message[T], func(), error)
}

// PollFunc adapts an ordinary function to a [Poller], the way
// http.HandlerFunc adapts a function to an http.Handler.
type PollFunc[T any] func(ctx context.Context, max int) ([]sluice.Message[T], func(), error)

// Poll calls f(ctx, max).
func (f PollFunc[T]) Poll(ctx context.Context, max int) ([]sluice.Message[T], func(), error) {
	return f(ctx, max)
}

// Source is a [sluice.Source] over a [Poller]. Create one with [New].
//
// Recv is safe for concurrent use. One caller at a time polls, the others
// wait for its batch, and each message is returned by exactly one Recv.
// Within one goroutine messages come in the order the poller returned
// them. A Source is durable if its Poller is: a message that is not acked
// holds back its batch's ack.
type Source[T any] struct {
	p   Poller[T]
	cfg Config // with defaults
	log *slog.Logger

	turn chan struct{} // capacity 1: held by the Recv that polls

	mu   sync.Mutex
	buf  []pending[T] // polled messages not yet returned: buf[next:]
	next int
	eof  bool // the poller is exhausted
}

type pending[T any] struct {
	msg sluice.Message[T]
	ack func()
}

// New returns a Source that polls p with c. It checks c and does no I/O,
// and starts no goroutine. A nil p or an invalid c is an error.
func New[T any](c Config, p Poller[T], opts ...Option) (*Source[T], error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	err := c.Validate()
	if f, ok := p.(PollFunc[T]); p == nil || ok && f == nil {
		err = errors.Join(errors.New("poller is nil"), err)
	}
	if err != nil {
		return nil, fmt.Errorf("poll: new: %w", err)
	}
	return &Source[T]{p: p, cfg: c.withDefaults(), log: o.logger, turn: make(chan struct{}, 1)}, nil
}

// Recv returns the next polled message and its ack, polling when nothing
// is buffered; it blocks while polls come back empty or fail with a
// retryable error, which it logs at Warn. The ack may be called more than
// once, from any goroutine; the batch's ack fires once every message of
// the batch was acked.
//
// When ctx is done, Recv returns promptly (as promptly as Poll, if it is
// polling) with an error wrapping ctx.Err(), and the messages it has
// polled stay buffered for the next call. Once the poller returned io.EOF and every message before it was
// returned, Recv returns io.EOF. A poll that fails with any other error,
// or with a retryable one [retry.Policy.MaxAttempts] times in a row, makes
// Recv return that error; a later call polls again.
func (s *Source[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	if err := ctx.Err(); err != nil {
		return sluice.Message[T]{}, nil, fmt.Errorf("poll: recv: %w", err)
	}
	p, ok, eof := s.take()
	if !ok && !eof {
		var err error
		if p, eof, err = s.takePolled(ctx); err != nil {
			return sluice.Message[T]{}, nil, err
		}
	}
	if eof {
		return sluice.Message[T]{}, nil, io.EOF
	}
	return p.msg, p.ack, nil
}

// takePolled waits for the turn to poll, then takes a message, polling
// while the buffer is empty; eof reports the end instead.
func (s *Source[T]) takePolled(ctx context.Context) (p pending[T], eof bool, err error) {
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return p, false, fmt.Errorf("poll: recv: %w", ctx.Err())
	}
	for {
		// The first time round, whoever had the turn before may have
		// filled the buffer.
		if p, ok, eof := s.take(); ok || eof {
			return p, eof, nil
		}
		if err := s.poll(ctx); err != nil {
			return p, false, err
		}
	}
}

// take returns the next buffered message, with ok, or reports that the
// poller is exhausted and everything was taken, with eof.
func (s *Source[T]) take() (p pending[T], ok, eof bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == len(s.buf) {
		return p, false, s.eof
	}
	p = s.buf[s.next]
	s.buf[s.next] = pending[T]{} // let go of the message
	if s.next++; s.next == len(s.buf) {
		s.buf, s.next = s.buf[:0], 0
	}
	return p, true, false
}

// poll polls until it has buffered a batch or reached the end, waiting
// Interval after empty polls and retrying retryable errors. The caller
// holds the turn.
func (s *Source[T]) poll(ctx context.Context) error {
	for {
		var (
			msgs []sluice.Message[T]
			ack  func()
		)
		err := retry.DoNotify(ctx, s.cfg.Retry, sluice.IsRetryable, func(ctx context.Context) error {
			var err error
			msgs, ack, err = s.p.Poll(ctx, s.cfg.Max)
			return err
		}, func(attempt int, delay time.Duration, err error) {
			s.log.WarnContext(ctx, "poll failed, retrying", "err", err, "attempt", attempt, "backoff", delay)
		})
		switch {
		case err == nil && len(msgs) == 0:
			sluice.Ack(ack)
			if err := wait(ctx, s.cfg.Interval); err != nil {
				return fmt.Errorf("poll: recv: %w", err)
			}
		case err == nil || errors.Is(err, io.EOF):
			s.put(msgs, ack, err != nil)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("poll: recv: %w", err) // the batch stays buffered
			}
			return nil
		case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
			return fmt.Errorf("poll: recv: %w (last error: %w)", ctx.Err(), err)
		default:
			return fmt.Errorf("poll: recv: %w", err)
		}
	}
}

// put buffers a batch; each message's ack counts towards the batch's.
func (s *Source[T]) put(msgs []sluice.Message[T], ack func(), eof bool) {
	batch := sluice.AckAfter(len(msgs), ack)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		one := batch
		if len(msgs) > 1 {
			one = sluice.AckOnce(batch) // a message acked twice counts once
		}
		s.buf = append(s.buf, pending[T]{m, one})
	}
	s.eof = s.eof || eof
}

// wait returns after d, or ctx's error if it is done first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ sluice.Source[[]byte] = (*Source[[]byte])(nil)
