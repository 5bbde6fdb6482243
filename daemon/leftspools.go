package daemon

import (
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

// leftSpools logs at ERROR each directory under dataDir's "spool" that
// no disk buffer of g uses and that holds records not acked: a disk
// buffer the config no longer has (removed while sluiced was stopped)
// left them there, acknowledged to their sources when spooled, so nothing
// else delivers them. It reads those directories whole, as "sluiced
// spool inspect" does; the others it only lists.
func leftSpools(log *slog.Logger, dataDir string, g *graph) {
	root := filepath.Join(dataDir, "spool")
	entries, err := os.ReadDir(root)
	if err != nil {
		return // none yet
	}
	used := map[string]bool{}
	for _, b := range g.buffers() {
		used[b.dir] = true
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || used[dir] {
			continue
		}
		if rep, err := spool.Inspect(dir, nil); err == nil && rep.Unacked > 0 {
			log.Error("a spool no disk buffer of the config uses holds events: they were acknowledged when spooled and are delivered only once a destination or route with a disk buffer in that directory runs again",
				"dir", dir, "records", rep.Unacked)
		}
	}
}
