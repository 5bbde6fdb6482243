package daemon

import (
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// change is what a reload changes, by name: the parts of the running
// graph that stop (their config changed, or they are gone), and those
// the next graph keeps as they run.
type change struct {
	sources []string // running sources to stop
	dests   []string // running destinations to drain and stop
	routes  []string // running routes to replace: handlers closed, disk buffer drained
	// rewire is set when the routers get the next graph's routes: a
	// destination or a route differs in any way.
	rewire     bool
	keepDests  map[string]bool
	keepRoutes map[string]bool
}

// diff compares the running plan with the next one, whose dataDir is the
// same (a reload refuses to change it).
//
// A destination is kept when its config, buffer included, is equal, and
// so is its dead-letter target's (which it holds). A route is kept when
// its config is equal but for "from" (which only says which routers take
// it), every destination it sends to is kept, and, if it has handlers,
// the list of route names is the same (handlers are given it). A changed
// shutdownTimeout replaces every disk buffer: they stop within it.
// A route name used twice is never kept.
func diff(cur, next *Plan) change {
	c := change{keepDests: map[string]bool{}, keepRoutes: map[string]bool{}}
	timeout := cur.File.ShutdownTimeout != next.File.ShutdownTimeout
	curDests, nextDests := byName(cur.Destinations), byName(next.Destinations)
	memo := map[string]bool{}
	var kept func(name string) bool
	kept = func(name string) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		memo[name] = false // a cycle, which Load refuses, keeps nothing
		o, ok := curDests[name]
		n, ok2 := nextDests[name]
		v := ok && ok2 && reflect.DeepEqual(o, n) && !(timeout && n.Buffer.disk()) && (n.DeadLetter == "" || kept(n.DeadLetter))
		memo[name] = v
		return v
	}
	for _, d := range cur.Destinations {
		if kept(d.Name) {
			c.keepDests[d.Name] = true
		} else {
			c.dests = append(c.dests, d.Name)
		}
	}
	curRoutes, nextRoutes := routesByName(cur.Routes), routesByName(next.Routes)
	sameNames := slices.Equal(routeNames(cur.Routes), routeNames(next.Routes))
	for name, rs := range nextRoutes {
		old := curRoutes[name]
		if len(rs) != 1 || len(old) != 1 {
			continue
		}
		o, n := old[0], rs[0]
		o.From, n.From, o.cond, n.cond = nil, nil, nil, nil
		keep := reflect.DeepEqual(o, n) && !(timeout && n.Buffer.disk()) && (len(n.Handlers) == 0 || sameNames) &&
			(n.DeadLetter == "" || kept(n.DeadLetter))
		for _, to := range n.To {
			keep = keep && kept(to)
		}
		if keep {
			c.keepRoutes[name] = true
		}
	}
	for _, r := range cur.Routes {
		if !c.keepRoutes[r.Name] && !slices.Contains(c.routes, r.Name) {
			c.routes = append(c.routes, r.Name)
		}
	}
	c.rewire = len(c.dests) > 0 || len(c.routes) > 0 || !reflect.DeepEqual(cur.Destinations, next.Destinations) ||
		!reflect.DeepEqual(plainRoutes(cur.Routes), plainRoutes(next.Routes))
	nextSources := byName(next.Sources)
	for _, s := range cur.Sources {
		if n, ok := nextSources[s.Name]; !ok || !reflect.DeepEqual(s, n) {
			c.sources = append(c.sources, s.Name)
		}
	}
	return c
}

func byName(cs []Component) map[string]Component {
	m := map[string]Component{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

func routesByName(rs []Route) map[string][]Route {
	m := map[string][]Route{}
	for _, r := range rs {
		m[r.Name] = append(m[r.Name], r)
	}
	return m
}

func routeNames(rs []Route) []string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	return names
}

// plainRoutes returns rs without their compiled conditions, which
// compare unequal though compiled from the same "if".
func plainRoutes(rs []Route) []Route {
	rs = slices.Clone(rs)
	for i := range rs {
		rs[i].cond = nil
	}
	return rs
}

// reuse names the parts of a running graph that a build takes as they
// run instead of building them again: what a reload keeps.
type reuse struct {
	g      *graph
	dests  map[string]bool
	routes map[string]bool
}

// routeParts are what a route holds that lives longer than a Send: its
// handlers (to close once it is replaced) and its disk buffer.
type routeParts struct {
	handlers []namedHandler
	closers  closers
	buffer   *diskBuffer // nil if none
}

// dest returns the running destination name, if r keeps it.
func (r *reuse) dest(name string) (dest, bool) {
	if r == nil || !r.dests[name] {
		return nil, false
	}
	d, ok := r.g.dests[name]
	return d, ok
}

// route returns a copy of the running parts of the route name and true
// if r keeps it, else empty parts to fill.
func (r *reuse) route(name string) (*routeParts, bool) {
	if r == nil || !r.routes[name] || len(r.g.routes[name]) != 1 {
		return &routeParts{}, false
	}
	p := *r.g.routes[name][0]
	return &p, true
}

// allHandlers returns the handlers of every route of g.
func (g *graph) allHandlers() closers {
	var cs closers
	for _, ps := range g.routes {
		for _, p := range ps {
			cs = append(cs, p.closers...)
		}
	}
	return cs
}

// apply replaces the running graph, of plan cur, with next in place,
// changing only what c says, and reports false, having changed no sink,
// if it could not: the caller then stops everything and starts the new
// config. next was built keeping what c keeps: those parts go on
// running, untouched.
//
// In order: the sources to restart stop taking input and hand on what
// they have in flight (abandoned, unacknowledged, past timeout: a
// replayable source's next instance reads it again). If destinations or
// routes change, the routers' Sends are paused (once those in progress
// have returned: if they do not within timeout, apply gives up), the
// replaced routes' disk buffers and the replaced destinations drain as
// at a stop (flush, ack, close their spools; dead letters after their
// users), the routers get the new routes, the replaced routes' handlers
// close, the new sinks start, and Sends resume. A source that stays but
// may have events a replaced destination took and never acked (one down
// at the drain reports what it left; one that is not a Runner cannot
// say) restarts too, so that a replayable one reads them again. Last,
// the new sources start.
func (l *live) apply(cur *Plan, next *graph, c change, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	if !l.stopSources(c.sources, deadline) {
		l.log.Warn("reload: a replaced source's events in flight were abandoned at shutdownTimeout (not acknowledged: a replayable source reads them again)")
	}
	merged := *next
	merged.sources = slices.Clone(next.sources)
	var stranded []string // kept sources with events the replaced sinks never acked
	if c.rewire {
		if !l.gate.pause(deadline) {
			l.log.Warn("reload: sends in progress did not return within shutdownTimeout: restarting everything")
			return false
		}
		l.state.set(false, nil)
		n := l.undelivered.since()
		left, ok := l.stopSinks(c.dests, c.routes, deadline)
		if !ok {
			next.handlers.close(l.log)
			l.gate.resume()
			l.fail(errors.New("reload: destinations did not stop within shutdownTimeout; stopping with what they hold unacknowledged"))
			return true
		}
		if err := l.undelivered.take(n); err != nil {
			l.log.Error("reload: replaced destinations stopped with events not delivered (not acknowledged)", "err", err)
		}
		leftInSpools(l.log, l.stoppedBuffers(c.dests, c.routes), next)
		for _, name := range c.dests {
			if _, ok := l.g.dests[name].(sluice.Runner); !ok {
				left.dests[name] = true // it cannot say
			}
		}
		for name, s := range l.sources {
			if p := s.s.router.pending.Load(); p > 0 && feeds(cur, l.g, name, left) {
				l.log.Warn("reload: a replaced destination may have left events of this source unacknowledged: restarting it, a replayable source reads them again",
					"source", name, "events", p)
				stranded = append(stranded, name)
			}
		}
		nextSrc := map[string]builtSource{}
		for _, s := range next.sources {
			nextSrc[s.name] = s
		}
		for name, s := range l.sources {
			s.s.router.routes = nextSrc[name].router.routes
			s.s.router.targets = nextSrc[name].router.targets
		}
		for _, name := range c.routes { // Sends are paused, and will use the new routes
			for _, p := range l.g.routes[name] {
				p.closers.close(l.log)
			}
		}
		l.startSinks(next)
		l.gate.resume()
		l.state.restart()
	}
	merged.handlers = merged.allHandlers()
	if len(stranded) > 0 && !l.stopSources(stranded, time.Now().Add(timeout)) {
		l.log.Warn("reload: events in flight were abandoned at shutdownTimeout (not acknowledged: a replayable source reads them again)")
	}
	for i, s := range merged.sources {
		if running, ok := l.sources[s.name]; ok {
			merged.sources[i] = running.s
			continue
		}
		l.startSource(merged.sources[i])
	}
	l.g = &merged
	if c.rewire {
		l.whenReady(&merged) // once the new sources run, for their listeners
	}
	return true
}

// stopped names the sinks that stopped holding events they did not
// deliver, so not acknowledged.
type stopped struct {
	dests, routes map[string]bool
}

// feeds reports whether the source name of plan p, whose graph is g, may
// have events pending at one of left: it has a route that is in left, or
// that sends to one of left (its destinations, dead letters, and their
// dead letters), or that has a handler that diverts (anywhere).
func feeds(p *Plan, g *graph, name string, left stopped) bool {
	if len(left.dests)+len(left.routes) == 0 {
		return false
	}
	dests := byName(p.Destinations)
	reaches := func(d string) bool {
		for seen := 0; d != "" && seen <= len(dests); seen++ {
			if left.dests[d] {
				return true
			}
			d = dests[d].DeadLetter
		}
		return false
	}
	for _, r := range p.Routes {
		if !slices.Contains(r.From, name) {
			continue
		}
		if left.routes[r.Name] || reaches(r.DeadLetter) {
			return true
		}
		for _, to := range r.To {
			if reaches(to) {
				return true
			}
		}
		for _, h := range r.Handlers {
			if reaches(h.DeadLetter) {
				return true
			}
		}
		for _, parts := range g.routes[r.Name] {
			for _, h := range parts.handlers {
				if h.diverts {
					return true
				}
			}
		}
	}
	return false
}
