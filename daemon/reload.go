package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/sluicehq/sluice/daemon/config"
)

// reloadReq hands a validated and built config to Run, which answers on
// done once it runs it (nil) or has refused it.
type reloadReq struct {
	plan   *Plan
	g      *graph // built keeping what change keeps
	change change
	data   []byte
	done   chan error
}

// Reload replaces the running config with data, the way SIGHUP does. It
// validates data first, as "sluiced validate" does, and checks its data
// directory, which must be the one running (a reload cannot move the
// sources' checkpoints and the disk buffers' spools: changing dataDir
// needs a restart). If that fails, Reload logs why (with field paths),
// counts a failed reload and returns the error; the running config runs
// on, untouched. A config equal to the running one, byte for byte,
// changes nothing. Otherwise Run applies it and Reload returns once it
// runs, having replaced only what changed (see diff):
//
//   - A source whose config changed, or that is gone, stops taking input
//     and hands on what it has in flight, which is acked through the
//     normal path; then its new instance starts (a replayable source
//     resumes at its last acknowledged position). Other sources go on
//     running: their listeners stay open.
//   - If a destination or a route changed, the routers' Sends are held
//     back while each replaced destination and route disk buffer drains
//     as at a stop (flush, ack, close its spool, so that no spool is ever
//     open twice) and its successor starts; then Sends go on. A
//     destination or route that did not change runs on untouched: the
//     same instance, its batches, connections and spool. A source that
//     keeps running but may have events a replaced destination never
//     acked restarts, so that a replayable one reads them again.
//   - If sends do not return within shutdownTimeout, everything
//     restarts: every source stops, the graph drains as at a stop, and
//     the new one starts.
//
// Reload returns, and the log says "reloaded", once every source it
// started that listens has bound its addresses (see [Binder]); one that
// cannot (an address in use) fails the daemon, and Reload returns why.
//
// The admin listener and the log settings are those of the start: a
// changed "admin" or "log" is logged and needs a restart. Reload is safe
// for concurrent use: reloads happen one at a time. It fails if Run is
// not running, or has returned.
func (d *Daemon) Reload(ctx context.Context, data []byte) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	cur, running, same := d.plan, d.g, bytes.Equal(data, d.data)
	d.mu.Unlock()
	if same {
		d.ms.reloads.WithLabelValues("ok").Inc()
		d.log.Info("reload: the config is unchanged: nothing to restart")
		return nil
	}
	p, g, c, err := d.validate(data, cur, running)
	if err != nil {
		d.ms.reloads.WithLabelValues("failed").Inc()
		d.log.Error("reload refused: the new config is not valid; the running one runs on unchanged", "err", oneLine(err))
		return err
	}
	if !reflect.DeepEqual(p.File.Admin, cur.File.Admin) || p.File.Log != cur.File.Log {
		d.log.Warn("reload: changes to admin and log take effect at the next restart")
	}
	req := &reloadReq{plan: p, g: g, change: c, data: data, done: make(chan error, 1)}
	select {
	case d.reloads <- req:
	case <-d.stopped:
		err = errors.New("sluiced is not running")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		g.handlers.close(d.log) // never ran
	}
	if err == nil {
		err = <-req.done
	}
	if err != nil {
		d.log.Error("reload failed", "err", err)
	}
	return err
}

// validate loads data, compares it with the plan cur that runs as
// running, and builds it keeping what has not changed; it checks that
// the data directory is the same, and writable.
func (d *Daemon) validate(data []byte, cur *Plan, running *graph) (*Plan, *graph, change, error) {
	p, err := Load(data, d.reg)
	if err != nil {
		return nil, nil, change{}, err
	}
	if filepath.Clean(p.File.DataDir) != filepath.Clean(cur.File.DataDir) {
		return nil, nil, change{}, &config.FieldError{Path: "dataDir", Msg: fmt.Sprintf(
			"changed from %q to %q: a reload cannot move the data directory, which holds the sources' checkpoints and the disk buffers' spools; restart sluiced to use the new one",
			cur.File.DataDir, p.File.DataDir)}
	}
	c := diff(cur, p)
	g, err := p.build(d.log, d.ms, &reuse{g: running, dests: c.keepDests, routes: c.keepRoutes})
	if err != nil {
		return nil, nil, change{}, err
	}
	if err := writableDir(p.File.DataDir); err != nil {
		g.handlers.close(d.log)
		return nil, nil, change{}, fmt.Errorf("dataDir %q: %w", p.File.DataDir, err)
	}
	return p, g, c, nil
}

// reloadFile reloads the config file at path; see [Daemon.Reload]. A file
// that cannot be read is a failed reload.
func (d *Daemon) reloadFile(ctx context.Context, path string) error {
	data, err := readConfig(path)
	if err != nil {
		d.ms.reloads.WithLabelValues("failed").Inc()
		d.log.Error("reload refused: cannot read the config file; the running config runs on unchanged", "path", path, "err", err)
		return err
	}
	if path != "" {
		d.log.Info("reload: reading the config file", "path", path)
	}
	return d.Reload(ctx, data)
}

// watchInterval is how often "run --watch" reads the config file.
const watchInterval = 250 * time.Millisecond

// watch reloads the config file at path when its content changes and
// then stays the same for one interval (an editor's writes settle), until
// ctx is done. A file that cannot be read (between an editor's rename and
// write) is logged once and read again at the next interval; a content
// refused once is not tried again until it changes.
func (d *Daemon) watch(ctx context.Context, path string, every time.Duration) {
	d.mu.Lock()
	applied := sha256.Sum256(d.data)
	d.mu.Unlock()
	seen := applied
	var lastErr string
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if err.Error() != lastErr {
				d.log.Warn("watch: cannot read the config file; trying again", "path", path, "err", err)
				lastErr = err.Error()
			}
			continue
		}
		lastErr = ""
		sum := sha256.Sum256(data)
		if sum != seen { // changing: wait for it to settle
			seen = sum
			continue
		}
		if sum == applied {
			continue
		}
		applied = sum
		d.log.Info("watch: the config file changed", "path", path)
		_ = d.Reload(ctx, data) // logged and counted
	}
}

// oneLine joins the lines of err's message with "; ", for a log line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
