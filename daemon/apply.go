package daemon

import (
	"errors"
	"reflect"
	"slices"
	"time"
)

// change is what a reload changes: the sources to restart (changed or
// removed), whether the sinks (destinations, routes and their buffers)
// are rebuilt, or whether everything restarts.
type change struct {
	sources []string
	sinks   bool
	all     bool // a setting every component uses, such as dataDir
}

// diff compares the running plan with the next one. The sinks are
// rebuilt as a whole when any destination or route changed, or the set
// of source names did (routers are built with the routes).
func diff(cur, next *Plan) change {
	var c change
	// Sources, destinations and routes are compared as decoded below;
	// admin and log take effect at a restart; shutdownTimeout bounds
	// the disk buffers' stop, so they are rebuilt.
	c.all = cur.File.DataDir != next.File.DataDir
	c.sinks = cur.File.ShutdownTimeout != next.File.ShutdownTimeout
	names := func(p *Plan) []string {
		var ns []string
		for _, s := range p.Sources {
			ns = append(ns, s.Name)
		}
		return ns
	}
	c.sinks = c.sinks || !reflect.DeepEqual(cur.Destinations, next.Destinations) || !reflect.DeepEqual(cur.Routes, next.Routes) ||
		!slices.Equal(names(cur), names(next))
	for _, s := range cur.Sources {
		i := slices.IndexFunc(next.Sources, func(n Component) bool { return n.Name == s.Name })
		if i < 0 || !reflect.DeepEqual(s, next.Sources[i]) {
			c.sources = append(c.sources, s.Name)
		}
	}
	return c
}

// apply replaces the running graph with next in place, changing only
// what c says, and reports false, having changed no sink, if it could
// not: the caller then stops everything and starts next.
//
// In order: the sources to restart stop taking input and hand on what
// they have in flight (abandoned, unacknowledged, past timeout: a
// replayable source's next instance reads it again). If the sinks
// change, the routers' Sends are paused (once those in progress have
// returned: if they do not within timeout, apply gives up), the old
// sinks drain as at a stop (flush, ack, close their spools), the routers
// of the sources that stay get the new routes, the new sinks start, and
// Sends resume. A source that stays but has events the old sinks never
// acked (a destination down at the drain, or one that never acks)
// restarts too, so that a replayable one reads them again. Last, the new
// sources start.
func (l *live) apply(next *graph, c change, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	if !l.stopSources(c.sources, deadline) {
		l.log.Warn("reload: a replaced source's events in flight were abandoned at shutdownTimeout (not acknowledged: a replayable source reads them again)")
	}
	nextSrc := map[string]builtSource{}
	for _, s := range next.sources {
		nextSrc[s.name] = s
	}
	merged := *next
	merged.sources = slices.Clone(next.sources)
	var unacked []string // kept sources with events the old sinks never acked
	if c.sinks {
		if !l.gate.pause(deadline) {
			l.log.Warn("reload: sends in progress did not return within shutdownTimeout: restarting everything")
			return false
		}
		l.state.set(false, nil)
		n := l.undelivered.since()
		if !l.sinks.stop(deadline) {
			next.handlers.close(l.log)
			l.gate.resume()
			l.fail(errors.New("reload: destinations did not stop within shutdownTimeout; stopping with what they hold unacknowledged"))
			return true
		}
		if err := l.undelivered.take(n); err != nil {
			l.log.Error("reload: destinations stopped with events not delivered (not acknowledged)", "err", err)
		}
		// Events the old sinks took and did not ack never will be: their
		// sources restart, so that replayable ones read them again.
		for name, s := range l.sources {
			if p := s.s.router.pending.Load(); p > 0 {
				l.log.Warn("reload: the replaced destinations left events of this source unacknowledged: restarting it, a replayable source reads them again", "source", name, "events", p)
				unacked = append(unacked, name)
			}
		}
		for name, s := range l.sources {
			s.s.router.routes = nextSrc[name].router.routes
			s.s.router.targets = nextSrc[name].router.targets
		}
		l.g.handlers.close(l.log) // Sends are paused, and will use the new routes
		l.sinks = l.startSinks(next)
		l.gate.resume()
		l.state.restart()
		l.whenReady(&merged)
	} else {
		// The sinks stay: so do the routers, which send to them.
		merged.dests, merged.order, merged.level = l.g.dests, l.g.order, l.g.level
		merged.routeBuffers, merged.buffered, merged.spooled = l.g.routeBuffers, l.g.buffered, l.g.spooled
		next.handlers.close(l.log) // the running routes keep theirs
		merged.handlers = l.g.handlers
		for i, s := range merged.sources {
			if j := slices.IndexFunc(l.g.sources, func(o builtSource) bool { return o.name == s.name }); j >= 0 {
				merged.sources[i].router = l.g.sources[j].router
			}
		}
	}
	if len(unacked) > 0 && !l.stopSources(unacked, time.Now().Add(timeout)) {
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
	return true
}
