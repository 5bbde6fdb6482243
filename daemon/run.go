package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice"
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

// since returns the number of errors added, for take.
func (r *reports) since() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// take removes and returns the errors added after since returned n.
func (r *reports) take(n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs[n:]
	r.errs = r.errs[:n:n]
	return errors.Join(errs...)
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
