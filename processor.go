package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
)

// Config names the three parts of a pipeline.
type Config[T1, T2 any] struct {
	Source      Source[T1]
	Destination Destination[T2]
	Handler     Handler[T1, T2]
}

// Processor moves messages from a Source through a Handler to a
// Destination. Create one with [New] and start it with [Processor.Run].
type Processor[T1, T2 any] struct {
	src Source[T1]
	dst Destination[T2]
	h   Handler[T1, T2]
	// pass is the destination seen as a Destination[T1] when the handler is
	// [Pipe]: messages go to it as they are.
	pass Destination[T1]
	// batch is the source as a BatchSource when pass is set and no Recv
	// hook is: the loops then move messages in batches.
	batch BatchSource[T1]
	// batchDst is the destination as a BatchDestination when batch is
	// set: the batches then keep their acks as they are.
	batchDst BatchDestination[T1]
	o        options
	ran      atomic.Bool
}

// New checks c and the options and returns a Processor. It does no I/O and
// starts no goroutine. A nil Source, Destination or Handler, or an invalid
// option, is an error.
func New[T1, T2 any](c Config[T1, T2], opts ...Option) (*Processor[T1, T2], error) {
	o := options{parallelism: 1, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	errs := o.errs
	if isNil(c.Source) {
		errs = append(errs, errors.New("source is nil"))
	}
	if isNil(c.Destination) {
		errs = append(errs, errors.New("destination is nil"))
	}
	if isNil(c.Handler) {
		errs = append(errs, errors.New("handler is nil (use sluice.Pipe to pass messages through)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sluice: new processor: %w", err)
	}
	p := &Processor[T1, T2]{src: c.Source, dst: c.Destination, h: c.Handler, o: o}
	if _, ok := any(c.Handler).(pipe[T1]); ok {
		p.pass, _ = any(c.Destination).(Destination[T1])
	}
	if bs, ok := c.Source.(BatchSource[T1]); ok && p.pass != nil && o.hooks.Recv == nil {
		p.batch = bs
		p.batchDst, _ = any(c.Destination).(BatchDestination[T1])
	}
	return p, nil
}

// isNil reports whether v is nil or holds a nil pointer, func, map, chan or
// slice, which would panic when called.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// Run moves messages until ctx is done, the source is exhausted, or a stage
// fails, and returns only after every goroutine it started has stopped.
//
// Run runs [Parallelism] loops of Recv → Handle → Send, and the Run method
// of the Source and of the Destination if they are a [Runner]. When ctx is
// done Run returns nil. When every loop has seen io.EOF from the source, Run
// stops the source and destination runners (a batching destination flushes
// what it holds) and returns nil. A runner that stops holding messages it
// did not deliver reports it with [ErrUndelivered], which Run returns as
// "destination: …" (or "source: …"). Otherwise it returns the first failure as
// a [*StageError]: "source: …", "handler: …" or "destination: …"; errors.Is
// and errors.As see through it. Which error is first never depends on the
// order in which a select picks ready channels: it is the first one
// recorded while ctx was still live.
//
// A message received but not acked when Run returns is never acked by the
// Processor. A second call returns [ErrAlreadyRunning].
func (p *Processor[T1, T2]) Run(ctx context.Context) error {
	if !p.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	loopCtx, stopLoops := context.WithCancel(ctx)
	srcCtx, stopSrc := context.WithCancel(ctx)
	dstCtx, stopDst := context.WithCancel(ctx)
	defer stopLoops()
	defer stopSrc()
	defer stopDst()

	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		stopLoops()
		stopSrc()
		stopDst()
	}
	var runners sync.WaitGroup
	startRunner := func(stage string, c any, ctx context.Context) {
		r, ok := c.(Runner)
		if !ok {
			return
		}
		runners.Go(func() {
			err := r.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				fail(stageErr(stage, fmt.Errorf("run: %w", err)))
			}
		})
	}
	startRunner("source", p.src, srcCtx)
	startRunner("destination", p.dst, dstCtx)

	p.o.logger.Debug("processor started", "parallelism", p.o.parallelism)
	var loops sync.WaitGroup
	for range p.o.parallelism {
		loops.Go(func() {
			if err := p.loop(loopCtx); err != nil && loopCtx.Err() == nil {
				fail(err)
			}
		})
	}
	loops.Wait()
	// Every loop stopped: the source has nothing more for us, and the
	// destination may flush what it holds and stop.
	stopSrc()
	stopDst()
	runners.Wait()

	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		p.o.logger.Error("processor stopped", "err", first)
		return first
	}
	p.o.logger.Debug("processor stopped")
	return nil
}

// loop runs Recv → Handle → Send until ctx is done, the source returns
// io.EOF (then it returns nil) or a stage fails.
func (p *Processor[T1, T2]) loop(ctx context.Context) error {
	switch {
	case p.batch != nil:
		return p.batchLoop(ctx)
	case p.pass != nil:
		return p.passLoop(ctx)
	}
	for {
		msg, ack, err := p.recv(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return stageErr(StageSource, err)
		}
		out, err := p.handle(ctx, msg)
		if err != nil {
			return stageErr(StageHandler, err)
		}
		if len(out) == 0 {
			Ack(ack)
			continue
		}
		if err := sendHooked(ctx, p.o.hooks.Send, p.dst, ack, out); err != nil {
			return stageErr(StageDestination, err)
		}
	}
}

// passLoop is loop for the [Pipe] handler: each message goes to the
// destination as it is, in a Send of its own. It is the loop a program
// would write by hand; without hooks it adds nothing to it.
func (p *Processor[T1, T2]) passLoop(ctx context.Context) error {
	src, dst := p.src, p.pass
	hooked := p.o.hooks.Recv != nil || p.o.hooks.Send != nil
	one := make([]Message[T1], 1) // reused: Send must not keep the slice
	for {
		var (
			msg Message[T1]
			ack func()
			err error
		)
		if hooked {
			msg, ack, err = p.recv(ctx)
		} else {
			msg, ack, err = src.Recv(ctx)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return stageErr(StageSource, err)
		}
		one[0] = msg
		if hooked {
			err = sendHooked(ctx, p.o.hooks.Send, dst, ack, one)
		} else {
			err = dst.Send(ctx, ack, one...)
		}
		one[0] = Message[T1]{}
		if err != nil {
			return stageErr(StageDestination, err)
		}
	}
}

// batchLoop is loop for a [BatchSource] and the [Pipe] handler: up to
// RecvBatchSize messages per RecvBatch, sent on in one SendBatch with
// their acks if the destination is a [BatchDestination], or else in one
// Send whose ack calls each message's ack.
func (p *Processor[T1, T2]) batchLoop(ctx context.Context) error {
	msgs := make([]Message[T1], RecvBatchSize) // reused: Send must not keep the slice
	acks := make([]func(), RecvBatchSize)
	used := 0 // msgs[:used] may hold references from an earlier call
	for {
		n, err := p.batch.RecvBatch(ctx, msgs, acks)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return stageErr(StageSource, err)
		}
		// RecvBatch overwrote msgs[:n]; drop what is left of a larger
		// earlier batch, for the garbage collector.
		if n < used {
			clear(msgs[n:used])
			clear(acks[n:used])
		}
		used = n
		if p.batchDst != nil {
			err = sendBatchHooked(ctx, p.o.hooks.Send, p.batchDst, msgs[:n], acks[:n])
		} else {
			err = sendHooked(ctx, p.o.hooks.Send, p.pass, ackAll(acks[:n]), msgs[:n])
		}
		if err != nil {
			return stageErr(StageDestination, err)
		}
	}
}

// ackAll returns one ack for acks: [NoopAck] when none does anything, the
// only one that does (neither allocates), or a function that calls each (a
// copy: the caller reuses acks).
func ackAll(acks []func()) func() {
	var first func()
	n := 0
	for _, a := range acks {
		if a != nil && !isNoop(a) {
			if n == 0 {
				first = a
			}
			n++
		}
	}
	switch n {
	case 0:
		return NoopAck
	case 1:
		return first
	}
	live := make([]func(), 0, n)
	for _, a := range acks {
		if a != nil && !isNoop(a) {
			live = append(live, a)
		}
	}
	return func() {
		for _, a := range live {
			a()
		}
	}
}

func (p *Processor[T1, T2]) recv(ctx context.Context) (Message[T1], func(), error) {
	if p.o.hooks.Recv == nil {
		return p.src.Recv(ctx)
	}
	hctx, done := p.o.hooks.Recv(ctx)
	msg, ack, err := p.src.Recv(hctx)
	done(err)
	return msg, ack, err
}

func (p *Processor[T1, T2]) handle(ctx context.Context, msg Message[T1]) ([]Message[T2], error) {
	if p.o.hooks.Handle == nil {
		return p.h.Handle(ctx, msg)
	}
	hctx, done := p.o.hooks.Handle(ctx)
	out, err := p.h.Handle(hctx, msg)
	done(len(out), err)
	return out, err
}

func sendHooked[T any](ctx context.Context, hook func(context.Context, int) (context.Context, func(error)), d Destination[T], ack func(), msgs []Message[T]) error {
	if hook == nil {
		return d.Send(ctx, ack, msgs...)
	}
	hctx, done := hook(ctx, len(msgs))
	err := d.Send(hctx, ack, msgs...)
	done(err)
	return err
}

func sendBatchHooked[T any](ctx context.Context, hook func(context.Context, int) (context.Context, func(error)), d BatchDestination[T], msgs []Message[T], acks []func()) error {
	if hook == nil {
		return d.SendBatch(ctx, msgs, acks)
	}
	hctx, done := hook(ctx, len(msgs))
	err := d.SendBatch(hctx, msgs, acks)
	done(err)
	return err
}
