package daemon

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/spool"
)

// stoppedBuffers returns the disk buffers of the running destinations
// dests and routes routes.
func (l *live) stoppedBuffers(dests, routes []string) []*diskBuffer {
	var bs []*diskBuffer
	for _, name := range dests {
		if b, ok := l.g.dests[name].(*diskBuffer); ok {
			bs = append(bs, b)
		}
	}
	for _, name := range routes {
		for _, p := range l.g.routes[name] {
			if p.buffer != nil {
				bs = append(bs, p.buffer)
			}
		}
	}
	return bs
}

// leftInSpools logs at ERROR each of the stopped disk buffers whose
// spool still holds records and that no disk buffer of next reads (its
// destination or route was removed, or its buffer's dir changed, or it
// became "memory"): those events were acknowledged to their sources when
// spooled, so no source sends them again; they stay on disk and are
// delivered only once a disk buffer in that directory runs again.
func leftInSpools(log *slog.Logger, stopped []*diskBuffer, next *graph) {
	read := map[string]bool{}
	for _, b := range next.buffers() {
		read[b.dir] = true
	}
	for _, b := range stopped {
		if n := b.sp.Stats().Records; n > 0 && !read[b.dir] {
			log.Error("reload: a removed disk buffer left events in its spool: they were acknowledged when spooled and are delivered only once a destination or route with a disk buffer in that directory runs again",
				"buffer", b.name, "dir", b.dir, "records", n)
		}
	}
}

// unusedSpools returns, in name order, the directories under dataDir's
// "spool" that are not among used (the directories of a config's disk
// buffers, compared as absolute, clean paths): spools of buffers a config
// no longer has. It returns none and no error if there is no such
// "spool" directory. It only lists; the caller reads the spools.
func unusedSpools(dataDir string, used []string) ([]string, error) {
	root := filepath.Join(dataDir, "spool")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // none yet
	}
	if err != nil {
		return nil, err
	}
	inUse := map[string]bool{}
	for _, dir := range used {
		inUse[absDir(dir)] = true
	}
	var dirs []string
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if e.IsDir() && !inUse[absDir(dir)] {
			dirs = append(dirs, dir)
		}
	}
	return dirs, nil
}

// absDir returns dir absolute and clean, or clean if it cannot.
func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return filepath.Clean(dir)
}

// leftSpools logs at ERROR each directory under dataDir's "spool" that
// no disk buffer of g uses and that holds records not acked: a disk
// buffer the config no longer has (removed while sluiced was stopped)
// left them there, acknowledged to their sources when spooled, so nothing
// else delivers them. It reads those directories whole, as "sluiced
// spool inspect" does; the others it only lists. One it cannot list or
// read it logs at WARN, and goes on.
func leftSpools(log *slog.Logger, dataDir string, g *graph) {
	var used []string
	for _, b := range g.buffers() {
		used = append(used, b.dir)
	}
	dirs, err := unusedSpools(dataDir, used)
	if err != nil {
		log.Warn("cannot look for spools no disk buffer of the config uses", "err", err)
	}
	for _, dir := range dirs {
		rep, err := spool.Inspect(dir, nil)
		switch {
		case err != nil:
			log.Warn("cannot read a spool no disk buffer of the config uses", "dir", dir, "err", err)
		case rep.Unacked > 0:
			log.Error("a spool no disk buffer of the config uses holds events: they were acknowledged when spooled and are delivered only once a destination or route with a disk buffer in that directory runs again",
				"dir", dir, "records", rep.Unacked)
		}
	}
}
