// Package dedupe provides the "dedupe" handler: it drops an event when an
// event with the same values of its fields was seen among the last Window
// distinct ones.
//
// Events are told apart by a 128-bit hash of those values (a missing field
// differs from an empty one), so the memory held is bounded by Window
// whatever the size of the events: about 100 bytes per entry. Two
// different events are taken for one with a probability of about
// Window/2^128 per event. Seen events are held in an LRU cache
// (github.com/hashicorp/golang-lru/v2): a repeat makes its entry the most
// recent again. The cache is in memory: a restart forgets it.
package dedupe

import (
	"context"
	"fmt"
	"hash/maphash"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/fieldpath"
)

// Config configures a dedupe handler.
type Config struct {
	// Fields are the fields whose values make two events the same, paths
	// as for parse's field, such as ["host", "fields.request_id"]. Default ["message"].
	Fields []string `json:"fields"`
	// Window is how many distinct events are remembered; a repeat of one
	// of them is dropped. Default 10000.
	Window int `json:"window"`
}

// Defaults returns a Config with the defaults filled in.
func Defaults() *Config { return &Config{Fields: []string{"message"}, Window: 10000} }

// Handler drops repeated events. It is safe for concurrent use.
type Handler struct {
	fields  []fieldpath.Getter
	seeds   [2]maphash.Seed
	seen    *lru.Cache[[2]uint64, struct{}]
	dropped func()
}

// New checks c and returns a handler that calls dropped, if not nil, for
// each repeat it drops.
func New(c *Config, dropped func()) (*Handler, error) {
	if len(c.Fields) == 0 {
		return nil, fmt.Errorf("fields: want at least one field")
	}
	h := &Handler{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, dropped: dropped}
	for i, f := range c.Fields {
		g, err := fieldpath.Compile(f)
		if err != nil {
			return nil, fmt.Errorf("fields[%d]: %w", i, err)
		}
		h.fields = append(h.fields, g)
	}
	if c.Window < 1 {
		return nil, fmt.Errorf("window: want 1 or more, got %d", c.Window)
	}
	var err error
	if h.seen, err = lru.New[[2]uint64, struct{}](c.Window); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	return h, nil
}

// Handle returns msg the first time its values are seen, nothing for a
// repeat (the processor then acks it). It never fails.
func (h *Handler) Handle(ctx context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	if ok, _ := h.Select(ctx, &msg.Value); !ok {
		return nil, nil
	}
	return []sluice.Message[event.Event]{msg}, nil
}

// Select reports whether e is new, remembering it, and counts it if it is a
// repeat. Of two identical events handled at once, exactly one is new.
func (h *Handler) Select(_ context.Context, e *event.Event) (bool, error) {
	var k [2]uint64
	for i := range k {
		var m maphash.Hash
		m.SetSeed(h.seeds[i])
		for _, get := range h.fields {
			v, ok := get(e)
			if !ok {
				m.WriteByte(0)
				continue
			}
			m.WriteByte(1)
			var n [8]byte
			for j, l := 0, uint64(len(v)); j < 8; j, l = j+1, l>>8 {
				n[j] = byte(l)
			}
			m.Write(n[:])
			m.WriteString(v)
		}
		k[i] = m.Sum64()
	}
	if seen, _ := h.seen.ContainsOrAdd(k, struct{}{}); !seen {
		return true, nil
	}
	h.seen.Get(k) // a repeat is recent again
	if h.dropped != nil {
		h.dropped()
	}
	return false, nil
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
