package store

import (
	"bytes"
	"github.com/klauspost/compress/gzip"
)

// Gzip compresses request bodies into a buffer it reuses. The zero value
// is ready; it is not safe for concurrent use.
type Gzip struct {
	buf bytes.Buffer
	w   *gzip.Writer
}

// Compress returns b gzipped at BestSpeed, valid until the next call.
func (g *Gzip) Compress(b []byte) ([]byte, error) {
	g.buf.Reset()
	if g.w == nil {
		g.w, _ = gzip.NewWriterLevel(&g.buf, gzip.BestSpeed)
	} else {
		g.w.Reset(&g.buf)
	}
	if _, err := g.w.Write(b); err != nil {
		return nil, err
	}
	if err := g.w.Close(); err != nil {
		return nil, err
	}
	return g.buf.Bytes(), nil
}
