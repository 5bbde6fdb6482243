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
	"io"
	"log/slog"
	"os"
)

//go:embed default.hujson
var defaultConfig []byte

// DefaultConfig returns the config that "sluiced run" uses without
// --config: syslog on 127.0.0.1:5514 (UDP and TCP) to NDJSON files under
// ./sluice-data/.
func DefaultConfig() []byte { return defaultConfig }

// Daemon is a loaded config, ready to run.
type Daemon struct {
	plan *Plan
	log  *slog.Logger
	ms   *metricSet
	g    *graph
}

// New loads config data against r and builds every component; it does no
// I/O beyond what the builders do, which is none.
func New(data []byte, r *Registry, log *slog.Logger) (*Daemon, error) {
	p, err := Load(data, r)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = newLogger(os.Stderr, p.File.Log)
	}
	ms := newMetricSet()
	g, err := p.build(log, ms)
	if err != nil {
		return nil, err
	}
	return &Daemon{plan: p, log: log, ms: ms, g: g}, nil
}

// Run runs the daemon until ctx is done, then drains within the config's
// shutdownTimeout and returns nil; or until a component fails, then drains
// and returns the failure. A drain that left events undelivered (a
// destination down, or stopped before it could start) is not clean: Run
// returns errors wrapping [sluice.ErrUndelivered] that count them.
func (d *Daemon) Run(ctx context.Context) error {
	if err := writableDir(d.plan.File.DataDir); err != nil {
		d.log.Error("cannot start", "component", "dataDir", "path", d.plan.File.DataDir, "err", err)
		return fmt.Errorf("data directory: %w", err)
	}
	state := &runState{busy: d.g.busy}
	if c := d.plan.File.Admin; c != nil {
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		wait, err := serveAdmin(actx, c, d.ms, state, d.log)
		if err != nil {
			cancel()
			d.log.Error("cannot start", "component", "admin", "addr", c.Addr, "err", err)
			return err
		}
		defer wait()
		defer cancel()
	}
	err := d.g.run(ctx, d.log, d.plan.File.ShutdownTimeout, state)
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
