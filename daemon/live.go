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
	"github.com/sluicehq/sluice/internal/textpages"
)

// startupPages releases, once the first graph runs, the program pages that
// only start-up used (see textpages): about 17 MiB of sluiced's idle RSS.
var startupPages sync.Once

// live is a graph running: its sinks (destinations, disk buffers, the
// routes' buffers) and each of its sources with its processor. A reload
// replaces parts of it in place (see apply); fail records the first
// failure of any part.
type live struct {
	g           *graph
	log         *slog.Logger
	state       *runState
	failed      *failure
	undelivered *reports
	gate        *gate // holds the routers' Sends while sinks are replaced
	sinks       *liveSinks
	sources     map[string]*liveSource
}

func (l *live) fail(err error) {
	l.failed.set(err)
	l.state.set(false, err)
}

// start runs g's sinks, then its sources.
func start(g *graph, log *slog.Logger, state *runState) *live {
	l := &live{g: g, log: log, state: state, failed: newFailure(), undelivered: &reports{}, gate: newGate(),
		sources: map[string]*liveSource{}}
	l.sinks = l.startSinks(g)
	for _, s := range g.sources {
		l.startSource(s)
	}
	l.whenReady(g)
	return l
}

// whenReady marks the daemon ready once every disk buffer of g has
// recovered its spool: until then, sources wait.
func (l *live) whenReady(g *graph) {
	go func() {
		for _, b := range g.buffers() {
			select {
			case <-b.sp.Ready():
			case <-l.failed.Done():
				return
			}
		}
		if l.failed.Err() != nil {
			return // a start-up failure, such as an address in use: not running
		}
		l.state.set(true, nil)
		l.log.Info("running", "sources", len(g.sources), "destinations", len(g.dests), "diskBuffers", len(g.buffers()))
		startupPages.Do(func() {
			n, err := textpages.Release()
			l.log.Debug("start-up program pages taken out of the resident set", "bytes", n, "err", err)
		})
	}()
}

// sourcesDone is closed once every source running now has ended.
func (l *live) sourcesDone() <-chan struct{} {
	done := make(chan struct{})
	var dones []chan struct{}
	for _, s := range l.sources {
		dones = append(dones, s.done)
	}
	go func() {
		for _, d := range dones {
			<-d
		}
		close(done)
	}()
	return done
}

// liveSinks are the destinations and route buffers of a graph, running
// by level: routes' disk buffers first (level 0), then destinations,
// dead-letter targets after the destinations that may still hand them
// batches while they flush.
type liveSinks struct {
	stopLevel []context.CancelFunc
	levelDone []*sync.WaitGroup
	all       sync.WaitGroup
}

func (l *live) startSinks(g *graph) *liveSinks {
	maxLevel := 1
	for _, lv := range g.level {
		maxLevel = max(maxLevel, lv+1)
	}
	s := &liveSinks{stopLevel: make([]context.CancelFunc, maxLevel+1), levelDone: make([]*sync.WaitGroup, maxLevel+1)}
	ctxs := make([]context.Context, maxLevel+1)
	for lv := range ctxs {
		ctxs[lv], s.stopLevel[lv] = context.WithCancel(context.Background())
		s.levelDone[lv] = &sync.WaitGroup{}
	}
	// runAt runs r at level lv. A stop that leaves events undelivered is
	// not a failure, but no clean drain either: it is reported at the
	// end, unless a spool (spooled) keeps the events for the next start.
	runAt := func(lv int, what string, spooled bool, r sluice.Runner) {
		s.levelDone[lv].Add(1)
		s.all.Go(func() {
			defer s.levelDone[lv].Done()
			err := r.Run(ctxs[lv])
			switch {
			case err == nil || errors.Is(err, context.Canceled):
			case errors.Is(err, sluice.ErrUndelivered) && spooled:
				l.log.Warn(what+": stopped with events not delivered; they stay in the route's disk buffer for the next start", "err", err)
			case errors.Is(err, sluice.ErrUndelivered):
				l.undelivered.add(fmt.Errorf("%s: %w", what, err))
			default:
				l.fail(fmt.Errorf("%s: %w", what, err))
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
	return s
}

// stop stops the sinks level after level, each within its own stop
// timeout (dead letters last); it reports false if they did not all
// return by deadline plus a grace longer than a level's default
// stopTimeout, so that a destination still retrying when its own timeout
// ends reports what it left undelivered instead of being cut off here.
// One that does not return at all (a write blocked in the kernel) must
// not hold the daemon forever.
func (s *liveSinks) stop(deadline time.Time) bool {
	done := make(chan struct{})
	go func() {
		for lv := range s.stopLevel {
			s.stopLevel[lv]()
			s.levelDone[lv].Wait()
		}
		s.all.Wait()
		close(done)
	}()
	grace := time.Duration(len(s.stopLevel)) * (batch.DefaultStopTimeout + time.Second)
	return waitUntil(done, deadline.Add(grace))
}

// liveSource is a source running with its processor, which sends to the
// source's router.
type liveSource struct {
	s        builtSource
	stopSrc  context.CancelFunc // stop taking input
	stopProc context.CancelFunc // abandon what is in flight
	done     chan struct{}      // the processor (and the source's Run) ended
}

func (l *live) startSource(s builtSource) {
	srcCtx, stopSrc := context.WithCancel(context.Background())
	procCtx, stopProc := context.WithCancel(context.Background())
	ls := &liveSource{s: s, stopSrc: stopSrc, stopProc: stopProc, done: make(chan struct{})}
	l.sources[s.name] = ls
	s.router.gate = l.gate
	var wg sync.WaitGroup
	defer func() { go func() { wg.Wait(); close(ls.done) }() }()
	var src source = counted{s.src, s.m, s.received}
	if b, ok := s.src.(sluice.BatchSource[event.Event]); ok {
		src = countedBatch{counted{s.src, s.m, s.received}, b}
	}
	if r, ok := s.src.(sluice.Runner); ok {
		wg.Go(func() {
			if err := r.Run(srcCtx); err != nil && !errors.Is(err, context.Canceled) {
				l.fail(fmt.Errorf("source %s: %w", s.name, err))
			}
		})
	} else {
		src = newUntilStopped(src, srcCtx)
	}
	p, err := sluice.New(sluice.Config[event.Event, event.Event]{Source: src, Destination: s.router, Handler: sluice.Pipe[event.Event]()},
		sluice.WithLogger(l.log.With("source", s.name)))
	if err != nil {
		l.fail(fmt.Errorf("source %s: %w", s.name, err))
		return
	}
	wg.Go(func() {
		if err := p.Run(procCtx); err != nil {
			l.fail(fmt.Errorf("source %s: %w", s.name, err))
		}
	})
}

// stopSources stops the sources named from taking input and waits until their processors have handed on what is
// in flight, or until deadline: then what is still in flight is
// abandoned, unacknowledged, and stopSources reports false.
func (l *live) stopSources(names []string, deadline time.Time) bool {
	var stopped []*liveSource
	for _, name := range names {
		if s, ok := l.sources[name]; ok {
			s.stopSrc()
			stopped = append(stopped, s)
			delete(l.sources, name)
		}
	}
	clean := true
	for _, s := range stopped {
		if !waitUntil(s.done, deadline) {
			clean = false
			s.stopProc()
			<-s.done // processors return promptly once their context is done
		}
		l.log.Info("source stopped", "source", s.s.name, "received", s.s.received.Load())
	}
	return clean
}

func (l *live) sourceNames() []string {
	var names []string
	for name := range l.sources {
		names = append(names, name)
	}
	return names
}

// stop stops every source, then the sinks, within timeout, and returns
// the first failure and what was left undelivered.
func (l *live) stop(timeout time.Duration) error {
	l.state.set(false, nil)
	deadline := time.Now().Add(timeout)
	if !l.stopSources(l.sourceNames(), deadline) {
		l.log.Warn("drain timed out: abandoning events still in flight (they were not acknowledged)")
		l.undelivered.add(fmt.Errorf("drain timed out: events in flight abandoned: %w", sluice.ErrUndelivered))
	}
	l.g.handlers.close(l.log) // the sources have stopped: nothing calls them
	if !l.sinks.stop(deadline) {
		err := errors.New("shutdown: destinations did not stop within shutdownTimeout; exiting with what they hold unacknowledged")
		l.log.Error(err.Error())
		return errors.Join(l.failed.Err(), err, l.undelivered.err())
	}
	return errors.Join(l.failed.Err(), l.undelivered.err())
}

// waitUntil waits for done until deadline, and reports whether it came.
func waitUntil(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(max(time.Until(deadline), 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// gate lets the routers' Sends through, except while a reload replaces
// the sinks: pause waits until no Send is in progress and holds new ones
// back until resume. A Send through an open gate costs two atomic adds.
// Its methods are safe for concurrent use.
type gate struct {
	active atomic.Int64
	paused atomic.Bool
	mu     sync.Mutex // guards the waits on cond
	cond   *sync.Cond
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) enter() {
	for {
		g.active.Add(1)
		if !g.paused.Load() {
			return
		}
		g.leave()
		g.mu.Lock()
		for g.paused.Load() {
			g.cond.Wait()
		}
		g.mu.Unlock()
	}
}

func (g *gate) leave() {
	if g.active.Add(-1) == 0 && g.paused.Load() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}

// pause holds new Sends back and waits until those in progress have
// returned, until deadline; if they have not, it lets Sends through again
// and reports false.
func (g *gate) pause(deadline time.Time) bool {
	t := time.AfterFunc(max(time.Until(deadline), 0), func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer t.Stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused.Store(true)
	for g.active.Load() > 0 {
		if !time.Now().Before(deadline) {
			g.paused.Store(false)
			g.cond.Broadcast()
			return false
		}
		g.cond.Wait()
	}
	return true
}

func (g *gate) resume() {
	g.mu.Lock()
	g.paused.Store(false)
	g.cond.Broadcast()
	g.mu.Unlock()
}
