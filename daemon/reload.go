package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
)

// reloadReq hands a validated and built config to Run, which answers on
// done once it runs it (nil) or has refused it.
type reloadReq struct {
	plan *Plan
	g    *graph
	data []byte
	done chan error
}

// Reload replaces the running config with data, the way SIGHUP does. It
// validates data first, as "sluiced validate" does, and checks its data
// directory: if that fails, Reload logs why (with field paths), counts a
// failed reload and returns the error; the running config runs on,
// untouched. A config equal to the running one, byte for byte, changes
// nothing. Otherwise Run applies it and Reload returns once it runs:
//
//   - A source whose config changed, or that is gone, stops taking input
//     and hands on what it has in flight, which is acked through the
//     normal path; then its new instance starts (a replayable source
//     resumes at its last acknowledged position). Other sources go on
//     running: their listeners stay open.
//   - If any destination or route changed, the destinations and routes
//     are rebuilt as a whole: the routers' Sends are held back, the old
//     destinations and buffers drain as at a stop (flush, ack, close
//     their spools, so that no spool is ever open twice), the new ones
//     start, and Sends go on. A source left with events the old sinks
//     never acked restarts, so that a replayable one reads them again.
//   - A changed dataDir, or sends that do not return within
//     shutdownTimeout, restart everything: every source stops, the graph
//     drains as at a stop, and the new one starts.
//
// The admin listener and the log settings are those of the start: a
// changed "admin" or "log" is logged and needs a restart. Reload is safe
// for concurrent use: reloads happen one at a time. It fails if Run is
// not running, or has returned.
func (d *Daemon) Reload(ctx context.Context, data []byte) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	cur, same := d.plan, bytes.Equal(data, d.data)
	d.mu.Unlock()
	if same {
		d.ms.reloads.WithLabelValues("ok").Inc()
		d.log.Info("reload: the config is unchanged: nothing to restart")
		return nil
	}
	p, g, err := d.validate(data)
	if err != nil {
		d.ms.reloads.WithLabelValues("failed").Inc()
		d.log.Error("reload refused: the new config is not valid; the running one runs on unchanged", "err", oneLine(err))
		return err
	}
	if !reflect.DeepEqual(p.File.Admin, cur.File.Admin) || p.File.Log != cur.File.Log {
		d.log.Warn("reload: changes to admin and log take effect at the next restart")
	}
	req := &reloadReq{plan: p, g: g, data: data, done: make(chan error, 1)}
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

// validate loads and builds data and checks its data directory.
func (d *Daemon) validate(data []byte) (*Plan, *graph, error) {
	p, err := Load(data, d.reg)
	if err != nil {
		return nil, nil, err
	}
	g, err := p.build(d.log, d.ms)
	if err != nil {
		return nil, nil, err
	}
	if err := writableDir(p.File.DataDir); err != nil {
		g.handlers.close(d.log)
		return nil, nil, fmt.Errorf("dataDir %q: %w", p.File.DataDir, err)
	}
	return p, g, nil
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
