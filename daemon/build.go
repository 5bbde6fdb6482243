package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/eventexpr"
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
	// handlers are the routes' handlers to close once nothing calls them
	// (see RegisterHandler): those this build made, and once the graph
	// runs, those it kept from the graph it replaced too.
	handlers closers
	// routes are the parts of each route, by name, that a reload may keep.
	routes map[string][]*routeParts
}

type builtSource struct {
	name     string
	src      source
	router   *router
	m        *Metrics
	received *atomic.Int64 // events Recv returned, reported at stop
}

// build makes every component of p, but for those keep takes from a
// running graph (keep may be nil). Builders do no I/O, so build is also
// what "validate" runs.
func (p *Plan) build(log *slog.Logger, ms *metricSet, keep *reuse) (*graph, error) {
	g := &graph{dests: map[string]dest{}, buffered: map[string]bool{}, spooled: map[string]bool{}, routes: map[string][]*routeParts{}}
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
		if d, ok := keep.dest(c.Name); ok {
			g.dests[c.Name], g.buffered[c.Name] = d, keep.g.buffered[c.Name]
			g.order = append(g.order, c.Name)
			return d
		}
		d, err := c.entry.build(e, c.Config)
		if err != nil {
			failed[c.Name] = true
			errs = append(errs, config.Nest("destinations."+c.Name, err)...)
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
				errs = append(errs, config.Nest(spec.path, err)...)
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
	tg := &targets{routes: map[string]dest{}, dests: map[string]dest{}}
	var routeNames []string
	for _, r := range p.Routes {
		routeNames = append(routeNames, r.Name)
		for _, c := range r.Handlers {
			direct[c.DeadLetter] = true
		}
	}
	for name, d := range g.dests {
		if g.buffered[name] {
			tg.dests[name] = d
		} else {
			tg.dests[name] = counting{d, ms.component(KindDestination, name)}
		}
	}
	routers := map[string]*router{}
	for _, c := range p.Sources {
		s, err := c.entry.build(env(KindSource, c.Name), c.Config)
		if err != nil {
			errs = append(errs, config.Nest("sources."+c.Name, err)...)
			continue
		}
		rt := &router{m: ms.component(KindSource, c.Name), targets: tg, tap: ms.taps.point(KindSource.String(), c.Name)}
		routers[c.Name] = rt
		g.sources = append(g.sources, builtSource{name: c.Name, src: s.(source), router: rt, m: ms.component(KindSource, c.Name), received: new(atomic.Int64)})
	}
	for i, r := range p.Routes {
		var dl dest // the route's dead letter, for events its handlers reject
		if d, ok := g.dests[r.DeadLetter]; ok {
			if !g.buffered[r.DeadLetter] {
				d = counting{d, ms.component(KindDestination, r.DeadLetter)}
			}
			dl = deadLetter{d, r.Name}
			direct[r.DeadLetter], g.spooled[r.DeadLetter] = true, false
		}
		parts, kept := keep.route(r.Name)
		hs, handlers, built := parts.handlers, r.Handlers, len(g.handlers)
		if kept {
			handlers = nil // they run on
		}
		for _, c := range handlers {
			e := env(KindHandler, c.Name)
			if dl != nil {
				e.DeadLetter = dl
			}
			e.DeadLetterName, e.Routes = c.DeadLetter, routeNames
			h, err := c.entry.build(e, c.Config)
			if err != nil {
				errs = append(errs, config.Nest(c.Name, err)...)
				continue
			}
			g.handlers.add(c.Name, h)
			nh := namedHandler{name: c.Name, h: h.(handler), m: ms.component(KindHandler, c.Name)}
			nh.sel, _ = h.(Selector)
			nh.batch, _ = h.(sluice.BatchHandler[event.Event, event.Event])
			if d, ok := h.(Diverter); ok {
				nh.diverts = d.Diverts()
			}
			if c.DeadLetter != "" && !nh.diverts {
				errs = append(errs, &config.FieldError{Path: c.Name + ".deadLetter", Msg: fmt.Sprintf("the %s handler sends nothing to a dead letter", c.Type)})
			}
			hs = append(hs, nh)
		}
		if !kept {
			parts.handlers, parts.closers = hs, slices.Clip(g.handlers[built:])
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
			b := parts.buffer
			if b == nil {
				var err error
				if b, err = p.newBuffer(spec, ds, nil, log.With("route", r.Name), ms); err != nil {
					errs = append(errs, config.Nest(spec.path, err)...)
					continue
				}
			}
			g.routeBuffers = append(g.routeBuffers, b)
			parts.buffer, to = b, b
		}
		g.routes[r.Name] = append(g.routes[r.Name], parts)
		if _, ok := tg.routes[r.Name]; !ok {
			tg.routes[r.Name] = to
		}
		var small *diskBuffer // of the route's spools, the one that takes the smallest records
		for _, d := range append(fanout{to}, ds...) {
			if b, ok := d.(*diskBuffer); ok && (small == nil || b.maxRec < small.maxRec) {
				small = b
			}
		}
		for _, from := range r.From {
			if rt, ok := routers[from]; ok {
				rt.routes = append(rt.routes, route{cond: r.cond, handlers: hs, to: to, deadLetter: dl, spool: small,
					log: log.With("route", r.Name), m: ms.named("route", r.Name), tap: ms.taps.point("route", r.Name)})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		g.handlers.close(log)
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
	name    string
	h       handler
	sel     Selector                                      // h, if it is one
	batch   sluice.BatchHandler[event.Event, event.Event] // h, if it is one
	diverts bool                                          // h is a Diverter that diverts
	m       *Metrics
}

// A Selector is a handler that only keeps or drops events, never changing
// them, such as sample or throttle. Routes call Select instead of Handle,
// which saves the slice Handle returns: such a handler need cost no
// allocation per event. Select must agree with Handle, and be safe for
// concurrent use.
type Selector interface {
	Select(ctx context.Context, e *event.Event) (bool, error)
}

// RejectAttr is the attribute that marks a message a handler rejected:
// its value is the reason. A route hands such messages to its
// "deadLetter" destination instead of its own ones; see [Reject].
const RejectAttr = "sluice.reject"

// Reject returns m marked for its route's dead-letter destination with
// reason, which ends up in the event's deadLetter.error field. A handler
// returns the result instead of m; it may do so only when its Env had a
// DeadLetter (otherwise the route delivers it as usual).
func Reject(m msg, reason string) msg {
	m.Attributes = m.Attributes.With(RejectAttr, reason)
	return m
}

// router is the destination of one source's processor: it sends each
// event down every route that takes the source (and whose condition
// holds), through the route's handlers, to each of the route's
// destinations, and acks when every one of those sends has acked.
// Filtered events count as delivered.
type router struct {
	routes  []route      // replaced only while gate is paused
	targets *targets     // of events handlers divert; replaced with routes
	gate    *gate        // set before the source starts
	m       *Metrics     // the source's: counts what is acked
	pending atomic.Int64 // events sent and not yet acked
	tap     *tapPoint    // the source's events, for "sluiced tap"
}

type route struct {
	cond       *eventexpr.Program // nil: every event
	log        *slog.Logger
	m          *Metrics  // counts events in and out, and errors of cond, cause "if"
	tap        *tapPoint // what the route sends on, for "sluice tap"
	handlers   []namedHandler
	to         dest // the route's destinations, or its buffer in front of them
	deadLetter dest // takes the events its handlers reject; nil if none
	// spool is the disk buffer on the route that takes the smallest
	// records, nil if none: with a dead letter, an event too large for it
	// goes to the dead letter (see diskBuffer.refuse).
	spool *diskBuffer
}

// Send is safe for concurrent use if the handlers and destinations are.
func (r *router) Send(ctx context.Context, ack func(), msgs ...msg) error {
	r.gate.enter()
	defer r.gate.leave()
	ack = r.acked(len(msgs), ack)
	r.tap.observe(msgs)
	// The common case, one route and no handlers, condition or check of
	// sizes: no copy.
	if len(r.routes) == 1 && r.routes[0].plain() {
		rt := &r.routes[0]
		rt.m.In(len(msgs), 0)
		rt.m.Out(len(msgs), 0)
		rt.tap.observe(msgs)
		return rt.to.Send(ctx, ack, msgs...)
	}
	var buf [8][]msg
	outs := buf[:0] // each route's output, then its rejects
	if n := 2 * len(r.routes); n > len(buf) {
		outs = make([][]msg, 0, n)
	}
	outs = outs[:2*len(r.routes)]
	sends := 0
	var divs []diversion
	for i, rt := range r.routes {
		rt.m.In(len(msgs), 0)
		out, rejected, d, err := rt.apply(ctx, msgs, r.targets, divs)
		if err != nil {
			return err
		}
		rt.m.Out(len(out), 0)
		rt.tap.observe(out)
		divs = d
		outs[2*i], outs[2*i+1] = out, rejected
		sends += min(len(out), 1) + min(len(rejected), 1)
	}
	sends += len(divs)
	if sends == 0 {
		sluice.Ack(ack) // filtered out everywhere: done
		return nil
	}
	ack = sluice.AckCountdown(sends, ack)
	for i, rt := range r.routes {
		if out := outs[2*i]; len(out) > 0 {
			if err := rt.to.Send(ctx, ack, out...); err != nil {
				return err
			}
		}
		if rejected := outs[2*i+1]; len(rejected) > 0 {
			if err := rt.deadLetter.Send(ctx, ack, rejected...); err != nil {
				return err
			}
		}
	}
	for _, d := range divs {
		if err := d.to.Send(ctx, ack, d.msgs...); err != nil {
			return err
		}
	}
	return nil
}

// plain reports whether the route passes every event on as it is.
func (rt *route) plain() bool {
	return len(rt.handlers) == 0 && rt.cond == nil && (rt.deadLetter == nil || rt.spool == nil)
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

// apply takes the msgs for which the route's condition holds through its
// handlers in order, a [sluice.BatchHandler] with one call. It returns
// what comes out, less the messages a handler rejected (see [Reject]) or
// the condition failed on, which it returns apart when the route has a
// dead letter; each handler sees only what the previous one passed. It
// appends to divs the events that a [Diverter] diverts.
func (rt route) apply(ctx context.Context, msgs []msg, t *targets, divs []diversion) (out, rejected []msg, _ []diversion, err error) {
	cur := msgs
	if rt.cond != nil {
		cur = nil
		for i := range msgs {
			ok, err := rt.cond.Cond(&msgs[i].Value)
			if err != nil {
				// Bad data, such as int("x"): never fatal. The event goes
				// to the dead letter if there is one; else it does not
				// take this route. Counted and logged either way.
				rt.m.Error("if")
				rt.log.Warn("route condition failed", "err", err, "deadLetter", rt.deadLetter != nil)
				if rt.deadLetter != nil {
					rejected = append(rejected, Reject(msgs[i], "if: "+err.Error()))
				}
				continue
			}
			if ok {
				cur = append(cur, msgs[i])
			}
		}
	}
	for _, nh := range rt.handlers {
		if nh.sel != nil {
			next, err := sel(ctx, nh.sel, cur)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", nh.name, err)
			}
			nh.m.In(len(cur), 0)
			nh.m.Out(len(next), 0)
			cur = next
			continue
		}
		var next []msg
		var err error
		if nh.batch != nil && len(cur) > 0 {
			next, err = nh.batch.HandleBatch(ctx, cur)
		}
		for i := 0; nh.batch == nil && i < len(cur) && err == nil; i++ {
			var out []msg
			out, err = nh.h.Handle(ctx, cur[i])
			next = append(next, out...)
		}
		if err == nil && nh.diverts {
			next, divs, err = t.split(next, divs)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", nh.name, err)
		}
		if rt.deadLetter != nil {
			next, rejected = splitRejected(next, rejected)
		}
		nh.m.In(len(cur), 0)
		nh.m.Out(len(next), 0)
		cur = next
	}
	if rt.deadLetter != nil && rt.spool != nil {
		cur, rejected = rt.spool.refuse(cur, rejected)
	}
	for i, m := range rejected {
		reason, _ := m.Attributes.Get(RejectAttr)
		rejected[i].Attributes = m.Attributes.With("error", reason)
	}
	return cur, rejected, divs, nil
}

// splitRejected moves the msgs marked by [Reject] to rejected. It
// allocates only when it finds one.
func splitRejected(msgs, rejected []msg) (kept, _ []msg) {
	for i := range msgs {
		if _, ok := msgs[i].Attributes.Get(RejectAttr); !ok {
			if kept != nil {
				kept = append(kept, msgs[i])
			}
			continue
		}
		if kept == nil {
			kept = append(make([]msg, 0, len(msgs)-1), msgs[:i]...)
		}
		rejected = append(rejected, msgs[i])
	}
	if kept == nil {
		return msgs, rejected
	}
	return kept, rejected
}

// sel returns the msgs s keeps. It allocates only when it keeps some and
// drops others: msgs itself is returned when every one is kept (it is
// never modified: it may be the caller's).
func sel(ctx context.Context, s Selector, msgs []msg) ([]msg, error) {
	var next []msg
	for i := range msgs {
		keep, err := s.Select(ctx, &msgs[i].Value)
		if err != nil {
			return nil, err
		}
		switch {
		case keep && next != nil:
			next = append(next, msgs[i])
		case !keep && next == nil:
			next = make([]msg, i, len(msgs)-1)
			copy(next, msgs[:i])
		}
	}
	if next == nil {
		return msgs, nil
	}
	return next, nil
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
