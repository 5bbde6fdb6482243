package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

type (
	msg     = sluice.Message[event.Event]
	source  = sluice.Source[event.Event]
	dest    = sluice.Destination[event.Event]
	handler = sluice.Handler[event.Event, event.Event]
)

// graph is a built Plan: connectors made, nothing started.
type graph struct {
	sources []builtSource
	dests   map[string]dest // a destination, or its disk buffer (which runs it)
	order   []string        // destination names, dead-letter targets before their users
	level   map[string]int  // stop order: 0 first; a dead-letter target after its users
	// routeBuffers are the disk buffers of routes. They stop before every
	// destination, which they feed.
	routeBuffers []*diskBuffer
	buffered     map[string]bool // destinations behind their own disk buffer
	// spooled are the destinations fed only by routes' disk buffers:
	// what they hold unacked at a stop stays in a spool.
	spooled map[string]bool
}

type builtSource struct {
	name     string
	src      source
	router   *router
	m        *Metrics
	received *atomic.Int64 // events Recv returned, reported at stop
}

// build makes every component of p. Builders do no I/O, so build is also
// what "validate" runs.
func (p *Plan) build(log *slog.Logger, ms *metricSet) (*graph, error) {
	g := &graph{dests: map[string]dest{}, buffered: map[string]bool{}, spooled: map[string]bool{}}
	buffers := map[string]bufferSpec{}
	for _, b := range p.buffers() {
		buffers[b.path] = b
	}
	var errs []error
	env := func(kind Kind, name string) Env {
		return Env{Name: name, Logger: log.With(kind.String(), name), DataDir: p.File.DataDir, Metrics: ms.component(kind, name)}
	}
	// Build dead-letter targets before the destinations that use them.
	byName := map[string]Component{}
	for _, c := range p.Destinations {
		byName[c.Name] = c
	}
	var buildDest func(c Component) dest
	failed := map[string]bool{}
	buildDest = func(c Component) dest {
		if d, ok := g.dests[c.Name]; ok || failed[c.Name] {
			return d
		}
		e := env(KindDestination, c.Name)
		if c.DeadLetter != "" {
			if dl := buildDest(byName[c.DeadLetter]); dl != nil {
				e.DeadLetter = deadLetter{dl, c.Name}
			}
		}
		d, err := c.entry.build(e, c.Config)
		if err != nil {
			failed[c.Name] = true
			errs = append(errs, fmt.Errorf("destinations.%s: %w", c.Name, err))
			return nil
		}
		out := d.(dest)
		if spec, ok := buffers["destinations."+c.Name+".buffer"]; ok {
			var runners []sluice.Runner
			if r, ok := d.(sluice.Runner); ok {
				runners = append(runners, r)
			}
			b, err := p.newBuffer(spec, counting{out, e.Metrics}, runners, e.Logger, ms)
			if err != nil {
				failed[c.Name] = true
				errs = append(errs, fmt.Errorf("%s: %w", spec.path, err))
				return nil
			}
			out = b
			g.buffered[c.Name] = true
		}
		g.dests[c.Name] = out
		g.order = append(g.order, c.Name)
		return out
	}
	for _, c := range p.Destinations {
		buildDest(c)
	}
	g.level = map[string]int{}
	for _, c := range p.Destinations { // a chain is at most len(Destinations) long
		lvl := 0
		for next := c.DeadLetter; next != ""; next = byName[next].DeadLetter {
			lvl++
			g.level[next] = max(g.level[next], lvl)
		}
	}
	direct := map[string]bool{} // fed by a route without a buffer, or as a dead letter
	for _, c := range p.Destinations {
		direct[c.DeadLetter] = true
	}
	routers := map[string]*router{}
	for _, c := range p.Sources {
		s, err := c.entry.build(env(KindSource, c.Name), c.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("sources.%s: %w", c.Name, err))
			continue
		}
		rt := &router{m: ms.component(KindSource, c.Name)}
		routers[c.Name] = rt
		g.sources = append(g.sources, builtSource{name: c.Name, src: s.(source), router: rt, m: ms.component(KindSource, c.Name), received: new(atomic.Int64)})
	}
	for i, r := range p.Routes {
		var hs []namedHandler
		for _, c := range r.Handlers {
			h, err := c.entry.build(env(KindHandler, c.Name), c.Config)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
				continue
			}
			hs = append(hs, namedHandler{name: c.Name, h: h.(handler), m: ms.component(KindHandler, c.Name)})
		}
		var ds fanout
		for _, name := range r.To {
			switch d, ok := g.dests[name]; {
			case g.buffered[name]:
				ds = append(ds, d) // the buffer's reader counts
			case ok:
				ds = append(ds, counting{d, ms.component(KindDestination, name)})
			}
		}
		var to dest = ds
		spec, spooled := buffers[fmt.Sprintf("routes[%d].buffer", i)]
		for _, name := range r.To {
			if spooled && !direct[name] {
				g.spooled[name] = true
			} else {
				direct[name], g.spooled[name] = true, false
			}
		}
		if spooled {
			b, err := p.newBuffer(spec, ds, nil, log.With("route", r.Name), ms)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", spec.path, err))
				continue
			}
			g.routeBuffers = append(g.routeBuffers, b)
			to = b
		}
		for _, from := range r.From {
			if rt, ok := routers[from]; ok {
				rt.routes = append(rt.routes, route{handlers: hs, to: to})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

// newBuffer builds the disk buffer of spec in front of inner, which it
// runs with runners.
func (p *Plan) newBuffer(spec bufferSpec, inner dest, runners []sluice.Runner, log *slog.Logger, ms *metricSet) (*diskBuffer, error) {
	fsync := ms.spoolFsync.WithLabelValues(spec.name)
	b, err := newDiskBuffer(spec.name, spec.c.spoolConfig(spec.dir), spec.c, inner, runners, p.File.ShutdownTimeout,
		log, ms.named("buffer", spec.name), func(d time.Duration) { fsync.Observe(d.Seconds()) })
	if err != nil {
		return nil, err
	}
	return b, nil
}

type namedHandler struct {
	name string
	h    handler
	m    *Metrics
}

// router is the destination of one source's processor: it sends each
// event down every route that takes the source, through the route's
// handlers, to each of the route's destinations, and acks when every one
// of those sends has acked. Filtered events count as delivered.
type router struct {
	routes  []route      // replaced only while gate is paused
	gate    *gate        // set before the source starts
	m       *Metrics     // the source's: counts what is acked
	pending atomic.Int64 // events sent and not yet acked
}

type route struct {
	handlers []namedHandler
	to       dest // the route's destinations, or its buffer in front of them
}

// Send is safe for concurrent use if the handlers and destinations are.
func (r *router) Send(ctx context.Context, ack func(), msgs ...msg) error {
	r.gate.enter()
	defer r.gate.leave()
	ack = r.acked(len(msgs), ack)
	// The common case, one route and no handlers: no copy.
	if len(r.routes) == 1 && len(r.routes[0].handlers) == 0 {
		return r.routes[0].to.Send(ctx, ack, msgs...)
	}
	outs := make([][]msg, len(r.routes))
	sends := 0
	for i, rt := range r.routes {
		out, err := rt.apply(ctx, msgs)
		if err != nil {
			return err
		}
		outs[i] = out
		if len(out) > 0 {
			sends++
		}
	}
	if sends == 0 {
		sluice.Ack(ack) // filtered out everywhere: done
		return nil
	}
	ack = sluice.AckAfter(sends, ack)
	for i, rt := range r.routes {
		if len(outs[i]) > 0 {
			if err := rt.to.Send(ctx, ack, outs[i]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// acked returns an ack, called at most once, that counts n events acked
// and no longer pending, then calls ack.
func (r *router) acked(n int, ack func()) func() {
	r.pending.Add(int64(n))
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			r.pending.Add(-int64(n))
			r.m.Acked(n)
			sluice.Ack(ack)
		}
	}
}

// countAcks returns an ack that counts n events acked in m, then calls
// ack: one function per Send, not per event.
func countAcks(m *Metrics, n int, ack func()) func() {
	return func() {
		m.Acked(n)
		sluice.Ack(ack)
	}
}

// apply runs msgs through the route's handlers in order.
func (rt route) apply(ctx context.Context, msgs []msg) ([]msg, error) {
	cur := msgs
	for _, nh := range rt.handlers {
		var next []msg
		for _, m := range cur {
			out, err := nh.h.Handle(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", nh.name, err)
			}
			next = append(next, out...)
		}
		nh.m.In(len(cur), 0)
		nh.m.Out(len(next), 0)
		cur = next
	}
	return cur, nil
}

// untilStopped makes a source that is not a Runner end with io.EOF once
// stop is closed, so that the daemon can stop taking input and still
// deliver what is in flight. Recv derives a context from the first
// caller's and stop once, and reuses it for calls with the same context
// (a processor's loops pass one), so that a Recv costs no context.
type untilStopped struct {
	src  source
	stop context.Context
	last *atomic.Pointer[mergedCtx]
}

// mergedCtx is done when parent or stop is.
type mergedCtx struct {
	parent context.Context
	ctx    context.Context
}

func newUntilStopped(src source, stop context.Context) untilStopped {
	return untilStopped{src: src, stop: stop, last: new(atomic.Pointer[mergedCtx])}
}

func (u untilStopped) Recv(ctx context.Context) (msg, func(), error) {
	if u.stop.Err() != nil {
		return msg{}, nil, io.EOF
	}
	m := u.last.Load()
	if m == nil {
		merged, cancel := context.WithCancel(ctx)
		context.AfterFunc(u.stop, cancel)
		m = &mergedCtx{parent: ctx, ctx: merged}
		if !u.last.CompareAndSwap(nil, m) {
			cancel()
			m = u.last.Load()
		}
	}
	rctx := m.ctx
	if m.parent != ctx { // another caller's context: one of its own
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(u.stop, cancel)()
		rctx = c
	}
	v, ack, err := u.src.Recv(rctx)
	if err != nil && u.stop.Err() != nil {
		return msg{}, nil, io.EOF
	}
	return v, ack, err
}

// counting counts the events handed to a destination; the destination
// counts what it acks.
type counting struct {
	d dest
	m *Metrics
}

// Send counts before it sends, so that an ack can never be counted
// before its events. A failed Send is fatal: the daemon stops.
func (c counting) Send(ctx context.Context, ack func(), msgs ...msg) error {
	bytes := 0
	for i := range msgs {
		bytes += len(msgs[i].Value.Raw)
	}
	c.m.In(len(msgs), bytes)
	return c.d.Send(ctx, ack, msgs...)
}

// deadLetter hands a destination's rejected batches to its dead-letter
// destination, with the reason written into each event's fields (most
// destinations write the event, not the message's attributes):
// deadLetter.from, deadLetter.error and deadLetter.attempts.
type deadLetter struct {
	d    dest
	from string
}

func (dl deadLetter) Send(ctx context.Context, ack func(), msgs ...msg) error {
	out := make([]msg, len(msgs))
	for i, m := range msgs {
		fields := make([]event.Field, 0, len(m.Value.Fields)+3)
		fields = append(fields, m.Value.Fields...)
		fields = append(fields, event.Field{Name: "deadLetter.from", Value: dl.from})
		if v, ok := m.Attributes.Get("error"); ok {
			fields = append(fields, event.Field{Name: "deadLetter.error", Value: v})
		}
		if v, ok := m.Attributes.Get("batch.attempts"); ok {
			fields = append(fields, event.Field{Name: "deadLetter.attempts", Value: v})
		}
		m.Value.Fields = fields
		out[i] = m
	}
	return dl.d.Send(ctx, ack, out...)
}
