// Package daemon is sluiced: it loads a config file, builds the sources,
// handlers and destinations it names from a [Registry], and runs them until
// it is told to stop, then drains.
//
// The package is importable so that a program can embed the daemon with its
// own connectors: build a Registry with the Register functions it wants and
// call [Main].
package daemon

import (
	"context"
	_ "embed"
	"fmt"
	"github.com/sluicehq/sluice/daemon/config"
	"io"
	"log/slog"
	"os"
	"sync"
)

//go:embed default.hujson
var defaultConfig []byte

// DefaultConfig returns the config that "sluiced run" uses without
// --config: syslog on 127.0.0.1:5514 (UDP and TCP) to NDJSON files under
// ./sluice-data/.
func DefaultConfig() []byte { return defaultConfig }

// Daemon is a loaded config, ready to run.
type Daemon struct {
	log *slog.Logger
	ms  *metricSet
	reg *Registry

	mu   sync.Mutex // guards what follows, which a reload replaces
	plan *Plan
	g    *graph
	data []byte // the config running

	reloadMu sync.Mutex      // one reload at a time
	reloads  chan *reloadReq // to Run
	stopped  chan struct{}   // closed when Run returns
}

// New loads config data against r and builds every component; it does no
// I/O beyond what the builders do, which is none.
func New(data []byte, r *Registry, log *slog.Logger) (*Daemon, error) {
	p, err := loadPartial(data, r)
	if err != nil {
		if p != nil { // also what the builders of what did load find
			err = sortErrors(append(config.Nest("", err), p.buildEach()...))
		}
		return nil, err
	}
	if log == nil {
		log = newLogger(os.Stderr, p.File.Log)
	}
	ms := newMetricSet()
	g, err := p.build(log, ms, nil)
	if err != nil {
		return nil, sortErrors(config.Nest("", err))
	}
	return &Daemon{plan: p, log: log, ms: ms, reg: r, g: g, data: data,
		reloads: make(chan *reloadReq), stopped: make(chan struct{})}, nil
}

// running returns the plan and graph running, or to run.
func (d *Daemon) running() (*Plan, *graph) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.plan, d.g
}

// Run runs the daemon until ctx is done, then drains within the config's
// shutdownTimeout and returns nil; or until a component fails, then drains
// and returns the failure. A drain that left events undelivered (a
// destination down, or stopped before it could start) is not clean: Run
// returns errors wrapping [sluice.ErrUndelivered] that count them.
//
// A [Daemon.Reload] replaces what changed, draining each part it
// replaces the same way; the admin listener goes on serving throughout.
// Run may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	defer close(d.stopped)
	defer func() { _, g := d.running(); g.handlers.close(d.log) }() // if Run returns before it starts g
	plan, g := d.running()
	if err := writableDir(plan.File.DataDir); err != nil {
		d.log.Error("cannot start", "component", "dataDir", "path", plan.File.DataDir, "err", err)
		return fmt.Errorf("data directory: %w", err)
	}
	state := &runState{busy: func() string { _, g := d.running(); return g.busy() }}
	if c := plan.File.Admin; c != nil {
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		wait, err := serveAdmin(actx, c, d.ms, state, d.serveTap(c.Tap), d.log)
		if err != nil {
			cancel()
			d.log.Error("cannot start", "component", "admin", "addr", c.Addr, "err", err)
			return err
		}
		defer wait()
		defer cancel()
	}
	leftSpools(d.log, plan.File.DataDir, g)
	l := start(g, d.log, state)
	d.ms.spools.set(g.buffers())
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping: draining in-flight events", "timeout", plan.File.ShutdownTimeout)
		case <-l.failed.Done():
			d.log.Error("stopping after a failure", "err", l.failed.Err())
		case <-l.sourcesDone():
			d.log.Info("every source has ended")
		case next := <-d.reloads:
			var err error
			if l, err = d.apply(l, plan, next); err != nil {
				next.done <- err
				return d.end(err)
			}
			l.awaitBound(l.binders()) // the sources it started listen, or one failed
			if err := l.failed.Err(); err != nil {
				d.ms.reloads.WithLabelValues("failed").Inc()
				next.done <- fmt.Errorf("a component failed during the reload: %w", err)
				continue // and stop
			}
			plan, g = next.plan, l.g
			d.mu.Lock()
			d.plan, d.g, d.data = plan, g, next.data
			d.mu.Unlock()
			d.ms.spools.set(g.buffers())
			d.ms.reloads.WithLabelValues("ok").Inc()
			d.log.Info("reloaded: running the new config", "sources", len(plan.Sources), "destinations", len(plan.Destinations), "routes", len(plan.Routes))
			next.done <- nil
			continue
		}
		return d.end(l.stop(plan.File.ShutdownTimeout))
	}
}

// apply runs next in place of l, the graph of plan cur: in place when
// it can, otherwise by stopping l and starting next built again, whole.
// A failure of l while it drains is returned, counted as a failed reload.
func (d *Daemon) apply(l *live, cur *Plan, next *reloadReq) (*live, error) {
	timeout := cur.File.ShutdownTimeout
	c := next.change
	d.log.Info("reload: applying the new config", "restartSources", c.sources, "replaceDestinations", c.dests, "replaceRoutes", routeLabels(c.routes),
		"keepDestinations", sortedKeys(c.keepDests))
	if l.apply(cur, next.g, c, timeout) {
		return l, nil
	}
	next.g.handlers.close(d.log) // never ran: the new config is built again, whole
	d.log.Info("reload: draining the running config", "timeout", timeout)
	err := l.stop(timeout)
	if err != nil && !onlyUndelivered(err) {
		d.ms.reloads.WithLabelValues("failed").Inc()
		return nil, fmt.Errorf("the running config failed while it drained for the reload: %w", err)
	}
	if err != nil {
		d.log.Error("reload: the old config stopped with events not delivered (not acknowledged: replayable sources, such as files, read them again now)", "err", err)
	}
	if next.g, err = next.plan.build(d.log, d.ms, nil); err != nil {
		d.ms.reloads.WithLabelValues("failed").Inc()
		return nil, fmt.Errorf("reload: building the new config again after the drain: %w", err)
	}
	leftInSpools(d.log, l.g.buffers(), next.g)
	l.state.restart()
	return start(next.g, d.log, l.state), nil
}

// routeLabels returns names for a log line: the route of a config
// without routes, which has no name, is "default".
func routeLabels(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = cmpOr(n, "default")
	}
	return out
}

// end logs how Run ends and returns err.
func (d *Daemon) end(err error) error {
	switch {
	case onlyUndelivered(err):
		d.log.Error("stopped with events not delivered (not acknowledged: replayable sources send them again after a restart)", "err", err)
		return err
	case err != nil:
		d.log.Error("stopped", "err", err)
		return err
	}
	d.log.Info("stopped")
	return nil
}

// writableDir makes dir if need be and checks that a file can be made in
// it, so that a data directory the daemon cannot write fails the start
// rather than the first checkpoint or spool write.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".sluiced-probe-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

var discard = slog.New(slog.DiscardHandler)
