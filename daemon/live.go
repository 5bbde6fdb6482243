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
	"github.com/sluicehq/sluice/daemon/config"
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
	// The sinks running: destinations that are Runners (or their disk
	// buffers) by name, and the routes' disk buffers.
	dests   map[string]*liveSink
	buffers map[*diskBuffer]*liveSink
	sources map[string]*liveSource
}

func (l *live) fail(err error) {
	l.failed.set(err)
	l.state.set(false, err)
}

// start runs g's sinks, then its sources.
func start(g *graph, log *slog.Logger, state *runState) *live {
	l := &live{g: g, log: log, state: state, failed: newFailure(), undelivered: &reports{}, gate: newGate(),
		dests: map[string]*liveSink{}, buffers: map[*diskBuffer]*liveSink{}, sources: map[string]*liveSource{}}
	l.startSinks(g)
	for _, s := range g.sources {
		l.startSource(s)
	}
	l.whenReady(g)
	return l
}

// whenReady marks the daemon ready, and logs "running", once every
// source running that listens has bound its addresses (see [Binder]) and
// every disk buffer of g has recovered its spool: until then, sources
// wait. A source that has not bound within bindTimeout fails l.
func (l *live) whenReady(g *graph) {
	bs := l.binders()
	go func() {
		if !l.awaitBound(bs) {
			return
		}
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
			l.log.Debug("start-up program pages taken out of the resident set", "bytes", n, "err", err, "faultAroundOff", textpages.FaultAroundOff())
		})
	}()
}

// binding is a source that listens, as it was started.
type binding struct {
	name     string
	bound    <-chan struct{} // see Binder
	done     <-chan struct{} // the source has ended
	deadline time.Time       // bindTimeout after its start
	timeout  time.Duration   // bindTimeout, for the error
}

// binders returns the sources running now that listen: Binders whose
// Run binds (a Binder that is no Runner would never be bound).
func (l *live) binders() []binding {
	var bs []binding
	for _, s := range l.sources {
		if _, runs := s.s.src.(sluice.Runner); !runs {
			continue
		}
		if b, ok := s.s.src.(Binder); ok {
			bs = append(bs, binding{s.s.name, b.Bound(), s.done, s.started.Add(bindTimeout), bindTimeout})
		}
	}
	return bs
}

// awaitBound waits until every source of bs has bound its addresses,
// or has ended (a reload stopped it), and reports true; or until l
// fails (such as a source that could not bind: its Run fails l before
// the source ends), or a source has not bound within bindTimeout of its
// start, which fails l, and reports false.
func (l *live) awaitBound(bs []binding) bool {
	for _, b := range bs {
		t := time.NewTimer(time.Until(b.deadline))
		select {
		case <-b.bound:
		case <-b.done:
		case <-l.failed.Done():
		case <-t.C:
			l.fail(fmt.Errorf("sources.%s: not listening %s after it started: binding its addresses is stuck", b.name, b.timeout))
		}
		t.Stop()
		if l.failed.Err() != nil {
			return false
		}
	}
	return true
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

// liveSink is a sink running: a route's disk buffer, or a destination
// that is a Runner (or its disk buffer).
type liveSink struct {
	stop context.CancelFunc
	done chan struct{}
	// undelivered is set before done is closed if the sink stopped
	// holding events it had not delivered, so not acked to their sources
	// (not those that stay in a route's disk buffer).
	undelivered bool
}

// startSinks starts the sinks of g that do not run yet: the routes' disk
// buffers, then destinations, dead-letter targets first.
func (l *live) startSinks(g *graph) {
	// run runs r. A stop that leaves events undelivered is not a failure,
	// but no clean drain either: it is reported at the end, unless a
	// spool (spooled) keeps the events for the next start.
	run := func(what string, spooled bool, r sluice.Runner) *liveSink {
		ctx, stop := context.WithCancel(context.Background())
		s := &liveSink{stop: stop, done: make(chan struct{})}
		go func() {
			defer close(s.done)
			err := r.Run(ctx)
			switch {
			case err == nil || errors.Is(err, context.Canceled):
			case errors.Is(err, sluice.ErrUndelivered) && spooled:
				l.log.Warn(what+": stopped with events not delivered; they stay in the route's disk buffer for the next start", "err", err)
			case errors.Is(err, sluice.ErrUndelivered):
				s.undelivered = true
				l.undelivered.add(fmt.Errorf("%s: %w", what, err))
			default:
				l.fail(fmt.Errorf("%s: %w", what, err))
			}
		}()
		return s
	}
	for _, b := range g.routeBuffers {
		if _, ok := l.buffers[b]; !ok {
			l.buffers[b] = run("route "+b.name+": buffer", false, b)
		}
	}
	for _, name := range g.order {
		if r, ok := g.dests[name].(sluice.Runner); ok && l.dests[name] == nil {
			l.dests[name] = run("destination "+name, g.spooled[name], r)
		}
	}
}

// stopSinks stops the running destinations dests and the disk buffers
// of the running routes routes, level after level, each within its own
// stop timeout: the routes' buffers first, which feed destinations, then
// destinations, dead letters after their users. It returns those that
// left events undelivered, and reports false if they did not all return
// by deadline plus a grace longer than a level's default stopTimeout, so
// that a destination still retrying when its own timeout ends reports
// what it left undelivered instead of being cut off here. One that does
// not return at all (a write blocked in the kernel) must not hold the
// daemon forever.
func (l *live) stopSinks(dests, routes []string, deadline time.Time) (stopped, bool) {
	levels := [][]*liveSink{nil, nil} // 0: routes' buffers; 1+n: destinations at level n
	byRoute := map[*liveSink]string{}
	for _, name := range routes {
		for _, p := range l.g.routes[name] {
			if s, ok := l.buffers[p.buffer]; ok && p.buffer != nil {
				levels[0] = append(levels[0], s)
				byRoute[s] = name
				delete(l.buffers, p.buffer)
			}
		}
	}
	byDest := map[*liveSink]string{}
	for _, name := range dests {
		if s, ok := l.dests[name]; ok {
			lv := l.g.level[name] + 1
			for len(levels) <= lv {
				levels = append(levels, nil)
			}
			levels[lv] = append(levels[lv], s)
			byDest[s] = name
			delete(l.dests, name)
		}
	}
	done := make(chan struct{})
	go func() {
		for _, ss := range levels {
			for _, s := range ss {
				s.stop()
			}
			for _, s := range ss {
				<-s.done
			}
		}
		close(done)
	}()
	grace := time.Duration(len(levels)) * (batch.DefaultStopTimeout + time.Second)
	if !waitUntil(done, deadline.Add(grace)) {
		return stopped{}, false
	}
	left := stopped{dests: map[string]bool{}, routes: map[string]bool{}}
	for s, name := range byRoute {
		if s.undelivered {
			left.routes[name] = true
		}
	}
	for s, name := range byDest {
		if s.undelivered {
			left.dests[name] = true
		}
	}
	return left, true
}

// liveSource is a source running with its processor, which sends to the
// source's router.
type liveSource struct {
	s        builtSource
	stopSrc  context.CancelFunc // stop taking input
	stopProc context.CancelFunc // abandon what is in flight
	done     chan struct{}      // the processor (and the source's Run) ended
	started  time.Time
}

func (l *live) startSource(s builtSource) {
	srcCtx, stopSrc := context.WithCancel(context.Background())
	procCtx, stopProc := context.WithCancel(context.Background())
	ls := &liveSource{s: s, stopSrc: stopSrc, stopProc: stopProc, done: make(chan struct{}), started: time.Now()}
	l.sources[s.name] = ls
	s.router.gate = l.gate
	var wg sync.WaitGroup
	defer func() { go func() { wg.Wait(); close(ls.done) }() }()
	var src source = counted{s.src, s.m, s.received}
	if b, ok := s.src.(sluice.BatchSource[event.Event]); ok {
		src = countedBatch{counted{s.src, s.m, s.received}, b}
	}
	lsrc, lines := s.src.(LineSource)
	r, runner := s.src.(sluice.Runner)
	lines = lines && runner && lsrc.UseLines()
	if runner {
		wg.Go(func() {
			if err := r.Run(srcCtx); err != nil && !errors.Is(err, context.Canceled) {
				l.fail(sourceError(s.name, err))
			}
		})
	} else {
		src = newUntilStopped(src, srcCtx)
	}
	if lines {
		wg.Go(func() {
			if err := runLines(procCtx, lsrc, s.router, s.m, s.received); err != nil {
				l.fail(fmt.Errorf("source %s: %w", s.name, err))
			}
		})
		return
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

// sourceError is the failure err of the source name: at the source's
// path in the config if err is about one of its fields (an address it
// cannot bind: "sources.web.addr: listen tcp ...: address already in
// use"), else after its name.
func sourceError(name string, err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return config.Nest("sources."+name, fe)[0]
	}
	return fmt.Errorf("source %s: %w", name, err)
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
	var dests, routes []string
	for name := range l.dests {
		dests = append(dests, name)
	}
	for name := range l.g.routes {
		routes = append(routes, name)
	}
	if _, ok := l.stopSinks(dests, routes, deadline); !ok {
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
