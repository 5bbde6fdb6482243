package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/event"
)

// runState is what the admin listener reports.
type runState struct {
	// busy, if set, says why the daemon cannot take events now, or "".
	busy     func() string
	mu       sync.Mutex
	ready    bool
	stopping bool // once set, never ready again
	err      error
}

func (s *runState) set(ready bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = s.stopping || !ready
	s.ready = ready && !s.stopping
	if err != nil && s.err == nil {
		s.err = err
	}
}

// restart makes s able to be ready again, for the graph that replaces
// the one that stopped.
func (s *runState) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = false
}

func (s *runState) get() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready, s.err
}

// run starts g and runs it until ctx is done or a component fails, then
// drains: sources stop taking input, the processors deliver what is in
// flight, and destinations flush. The drain is bounded by timeout; past it,
// what is still in flight is abandoned unacked. run returns the first
// failure, or nil after a clean stop; after a stop that left events
// undelivered (and unacknowledged), errors wrapping [sluice.ErrUndelivered].
func (g *graph) run(ctx context.Context, log *slog.Logger, timeout time.Duration, state *runState) error {
	failed := newFailure()
	fail := func(err error) {
		failed.set(err)
		state.set(false, err)
	}

	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	procCtx, stopProcs := context.WithCancel(context.WithoutCancel(ctx))
	dstCtx, stopDests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	defer stopProcs()
	defer stopDests()

	// Destinations stop by level: routes' disk buffers first (level 0),
	// then destinations, dead-letter targets after the destinations that
	// may still hand them batches while they flush.
	maxLevel := 1
	for _, l := range g.level {
		maxLevel = max(maxLevel, l+1)
	}
	dstCtxs := make([]context.Context, maxLevel+1)
	stopLevel := make([]context.CancelFunc, maxLevel+1)
	levelDone := make([]*sync.WaitGroup, maxLevel+1)
	for l := range dstCtxs {
		dstCtxs[l], stopLevel[l] = context.WithCancel(dstCtx)
		levelDone[l] = &sync.WaitGroup{}
		defer stopLevel[l]()
	}
	var dests sync.WaitGroup
	var undelivered reports
	// runAt runs r at level l. A stop that leaves events undelivered is
	// not a failure, but no clean drain either: it is reported at the
	// end, unless a spool (spooled) keeps the events for the next start.
	runAt := func(l int, what string, spooled bool, r sluice.Runner) {
		levelDone[l].Add(1)
		dests.Go(func() {
			defer levelDone[l].Done()
			err := r.Run(dstCtxs[l])
			switch {
			case err == nil || errors.Is(err, context.Canceled):
			case errors.Is(err, sluice.ErrUndelivered) && spooled:
				log.Warn(what+": stopped with events not delivered; they stay in the route's disk buffer for the next start", "err", err)
			case errors.Is(err, sluice.ErrUndelivered):
				undelivered.add(fmt.Errorf("%s: %w", what, err))
			default:
				fail(fmt.Errorf("%s: %w", what, err))
			}
		})
	}
	for _, b := range g.routeBuffers {
		runAt(0, "route "+b.name+": buffer", false, b)
	}
	for _, name := range g.order {
		if r, ok := g.dests[name].(sluice.Runner); ok {
			runAt(g.level[name]+1, "destination "+name, g.spooled[name], r)
		}
	}
	var procs sync.WaitGroup
	for _, s := range g.sources {
		var src source = counted{s.src, s.m, s.received}
		if b, ok := s.src.(sluice.BatchSource[event.Event]); ok {
			src = countedBatch{counted{s.src, s.m, s.received}, b}
		}
		if r, ok := s.src.(sluice.Runner); ok {
			procs.Go(func() {
				if err := r.Run(srcCtx); err != nil && !errors.Is(err, context.Canceled) {
					fail(fmt.Errorf("source %s: %w", s.name, err))
				}
			})
		} else {
			src = newUntilStopped(src, srcCtx)
		}
		p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: src, Destination: s.router, Handler: sluice.Pipe[event.Event]()},
			sluice.WithLogger(log.With("source", s.name)))
		if err != nil {
			fail(fmt.Errorf("source %s: %w", s.name, err))
			continue
		}
		procs.Go(func() {
			if err := p.Run(procCtx); err != nil {
				fail(fmt.Errorf("source %s: %w", s.name, err))
			}
		})
	}
	// Ready once every disk buffer has recovered its spool: until then,
	// sources wait.
	go func() {
		for _, b := range g.buffers() {
			select {
			case <-b.sp.Ready():
			case <-ctx.Done():
				return
			case <-failed.Done():
				return
			}
		}
		if failed.Err() != nil {
			return // a start-up failure, such as an address in use: not running
		}
		state.set(true, nil)
		log.Info("running", "sources", len(g.sources), "destinations", len(g.dests), "diskBuffers", len(g.buffers()))
	}()

	allDone := make(chan struct{})
	go func() { procs.Wait(); close(allDone) }()
	select {
	case <-ctx.Done():
		log.Info("stopping: draining in-flight events", "timeout", timeout)
	case <-failed.Done():
		log.Error("stopping after a failure", "err", failed.Err())
	case <-allDone:
		log.Info("every source has ended")
	}
	state.set(false, nil)
	stopSources()
	deadline := time.Now().Add(timeout)
	// wait waits for done until the deadline plus grace.
	wait := func(done <-chan struct{}, grace time.Duration) bool {
		t := time.NewTimer(max(time.Until(deadline), 0) + grace)
		defer t.Stop()
		select {
		case <-done:
			return true
		case <-t.C:
			return false
		}
	}
	if !wait(allDone, 0) {
		log.Warn("drain timed out: abandoning events still in flight (they were not acknowledged)")
		undelivered.add(fmt.Errorf("drain timed out: events in flight abandoned: %w", sluice.ErrUndelivered))
		stopProcs()
		<-allDone // processors return promptly once their context is done
	}
	destsDone := make(chan struct{})
	go func() {
		for l := range stopLevel {
			stopLevel[l]()
			levelDone[l].Wait()
		}
		dests.Wait()
		close(destsDone)
	}()
	// Destinations flush within their own stop timeouts, one level after
	// another (dead letters last); one that does not return at all (a write
	// blocked in the kernel) must not hold the daemon forever. The grace is
	// longer than a level's default stopTimeout, so a destination still
	// retrying when its own timeout ends reports what it left undelivered
	// (exit 3) instead of being cut off here.
	grace := time.Duration(len(stopLevel)) * (batch.DefaultStopTimeout + time.Second)
	if !wait(destsDone, grace) {
		err := errors.New("shutdown: destinations did not stop within shutdownTimeout; exiting with what they hold unacknowledged")
		log.Error(err.Error())
		return errors.Join(failed.Err(), err, undelivered.err())
	}
	for _, s := range g.sources {
		log.Info("source stopped", "source", s.name, "received", s.received.Load())
	}
	return errors.Join(failed.Err(), undelivered.err())
}

// reports collects errors; its methods are safe for concurrent use.
type reports struct {
	mu   sync.Mutex
	errs []error
}

func (r *reports) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// err joins the errors added, or is nil.
func (r *reports) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// onlyUndelivered reports whether err is nothing but reports of events
// left undelivered at a stop ([sluice.ErrUndelivered]): no failure.
func onlyUndelivered(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyUndelivered(e) {
				return false
			}
		}
		return len(j.Unwrap()) > 0
	}
	return errors.Is(err, sluice.ErrUndelivered)
}

// counted counts what a source produces.
type counted struct {
	src source
	m   *Metrics
	n   *atomic.Int64
}

func (c counted) Recv(ctx context.Context) (msg, func(), error) {
	m, ack, err := c.src.Recv(ctx)
	if err == nil {
		c.n.Add(1)
		c.m.In(1, len(m.Value.Raw))
	}
	return m, ack, err
}

// countedBatch is counted for a source that hands over batches.
type countedBatch struct {
	counted
	b sluice.BatchSource[event.Event]
}

func (c countedBatch) RecvBatch(ctx context.Context, msgs []msg, acks []func()) (int, error) {
	n, err := c.b.RecvBatch(ctx, msgs, acks)
	if err == nil {
		bytes := 0
		for i := range msgs[:n] {
			bytes += len(msgs[i].Value.Raw)
		}
		c.n.Add(int64(n))
		c.m.In(n, bytes)
	}
	return n, err
}

// buffers returns the graph's disk buffers.
func (g *graph) buffers() []*diskBuffer {
	bs := append([]*diskBuffer(nil), g.routeBuffers...)
	for _, name := range g.order {
		if b, ok := g.dests[name].(*diskBuffer); ok {
			bs = append(bs, b)
		}
	}
	return bs
}

// busy names the first disk buffer that is full and holds its sources
// back, or the first component that is not healthy, or returns "".
func (g *graph) busy() string {
	for _, b := range g.buffers() {
		switch st := b.sp.Stats(); {
		case st.NoSpace:
			return "buffer " + b.name + ": its file system is full: its sources are held back until space is freed"
		case st.Waiting > 0:
			return "buffer " + b.name + " is full: its sources are held back until the destination takes events"
		}
	}
	for _, s := range g.sources {
		if r, ok := s.src.(NotReadier); ok {
			if why := r.NotReady(); why != "" {
				return "source " + s.name + ": " + why
			}
		}
	}
	for _, name := range g.order {
		d := g.dests[name]
		if b, ok := d.(*diskBuffer); ok {
			d = b.inner
			if c, ok := d.(counting); ok {
				d = c.d
			}
		}
		if r, ok := d.(NotReadier); ok {
			if why := r.NotReady(); why != "" {
				return "destination " + name + ": " + why
			}
		}
	}
	return ""
}
