package daemon

import (
	"io"
	"log/slog"
	"sync"
)

// ownedHandler is a built handler that implements io.Closer.
type ownedHandler struct {
	name string
	c    io.Closer
	once *sync.Once
}

// closers collects the handlers of a graph that need closing.
type closers []ownedHandler

func (cs *closers) add(name string, h any) {
	if c, ok := h.(io.Closer); ok {
		*cs = append(*cs, ownedHandler{name, c, new(sync.Once)})
	}
}

// close closes every handler of cs, once each however often it is
// called, logging failures.
func (cs closers) close(log *slog.Logger) {
	for _, h := range cs {
		h.once.Do(func() {
			if err := h.c.Close(); err != nil {
				log.Warn("closing a handler failed", "handler", h.name, "err", err)
			}
		})
	}
}
