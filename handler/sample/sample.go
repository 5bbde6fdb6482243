// Package sample provides the "sample" handler: it keeps about one event
// in Rate and drops the others.
//
// Without a key it keeps every Rate-th event (the first, then the
// Rate+1-th, ...), exactly 1 in Rate. With a key, the decision is a hash of
// the key's value: every event with the same value is kept or dropped
// alike (all the events of a trace stay together), the same way on every
// host and after a restart, and about 1 in Rate values is kept. Events
// without the key are sampled by the counter.
package sample

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/fieldpath"
)

// Config configures a sample handler.
type Config struct {
	// Rate keeps about one event in Rate; 1 keeps them all. Required.
	Rate int `json:"rate" sluice:"required"`
	// Key, if set, is the field whose value decides, a path as for
	// parse's field (such as fields.trace_id): events with the same value are kept or dropped
	// together. Default none: every Rate-th event.
	Key string `json:"key"`
}

// Handler samples events. It is safe for concurrent use, and allocates
// nothing in Select.
type Handler struct {
	rate    uint64
	key     fieldpath.Getter // nil without a key
	n       atomic.Uint64
	dropped func()
}

// New checks c and returns a handler that calls dropped, if not nil, for
// each event it drops.
func New(c *Config, dropped func()) (*Handler, error) {
	if c.Rate < 1 {
		return nil, fmt.Errorf("rate: want 1 or more, got %d", c.Rate)
	}
	h := &Handler{rate: uint64(c.Rate), dropped: dropped}
	if c.Key != "" {
		g, err := fieldpath.Compile(c.Key)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		h.key = g
	}
	return h, nil
}

// Handle returns msg if it is kept, nothing if not (the processor then
// acks it). It never fails.
func (h *Handler) Handle(ctx context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	if keep, _ := h.Select(ctx, &msg.Value); !keep {
		return nil, nil
	}
	return []sluice.Message[event.Event]{msg}, nil
}

// Select reports whether e is kept, counting it if not. It never fails.
func (h *Handler) Select(_ context.Context, e *event.Event) (bool, error) {
	var keep bool
	if v, ok := h.keyOf(e); ok {
		keep = Hash(v)%h.rate == 0
	} else {
		keep = (h.n.Add(1)-1)%h.rate == 0
	}
	if !keep && h.dropped != nil {
		h.dropped()
	}
	return keep, nil
}

func (h *Handler) keyOf(e *event.Event) (string, bool) {
	if h.key == nil {
		return "", false
	}
	return h.key(e)
}

// Hash is the stable 64-bit hash of s that keyed sampling uses: FNV-1a,
// then the SplitMix64 finaliser, so that its low bits, which the modulo
// reads, are well mixed. It never changes between versions.
func Hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
