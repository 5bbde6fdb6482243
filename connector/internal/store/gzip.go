package store

import (
	"bytes"

	"github.com/klauspost/compress/gzip"
)

// GzipPart is how many bytes of a body to gather before compressing
// them with [Gzip.Write]: small enough that the compressor reads them
// from the cache they were just written to.
const GzipPart = 32 << 10

// Gzip compresses request bodies into a buffer it reuses, at BestSpeed
// (klauspost/compress's level 1: the fastest of its levels and of the
// standard library's on log lines, at a ratio close to level 2's). The
// zero value is ready; it is not safe for concurrent use.
type Gzip struct {
	buf bytes.Buffer
	w   *gzip.Writer
}

// Compress returns b gzipped, valid until the next call.
func (g *Gzip) Compress(b []byte) ([]byte, error) {
	g.Start()
	if err := g.Write(b); err != nil {
		return nil, err
	}
	return g.Finish()
}

// Start begins a body written in parts with Write and ended by Finish:
// a body compressed while it is encoded, part by part, is read back from
// the cache rather than memory.
func (g *Gzip) Start() {
	g.buf.Reset()
	if g.w == nil {
		g.w, _ = gzip.NewWriterLevel(&g.buf, gzip.BestSpeed)
	} else {
		g.w.Reset(&g.buf)
	}
}

// Write compresses the next part of the body Start began.
func (g *Gzip) Write(b []byte) error {
	_, err := g.w.Write(b)
	return err
}

// Finish ends the body and returns it gzipped, valid until the next
// Start.
func (g *Gzip) Finish() ([]byte, error) {
	if err := g.w.Close(); err != nil {
		return nil, err
	}
	return g.buf.Bytes(), nil
}
