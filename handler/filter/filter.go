// Package filter provides the "drop" and "keep" handlers: they drop, or
// keep only, the events for which a condition holds. Conditions are
// expr-lang expressions (https://expr-lang.org) over the event's fields,
// named as in its JSON encoding:
//
//	syslog.severity <= 4
//	http.status >= 500 && http.path startsWith "/api"
//	source == "web" and not (raw contains "healthcheck")
//	fields["_SYSTEMD_UNIT"] == "ssh.service"
//
// Fields an event does not have read as their zero value ("" or 0).
// A condition that is not valid, or not boolean, fails at start. An event
// the condition fails on at run time (such as int(raw) on "x") is passed
// on, never dropped on doubt, and reported.
package filter

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/eventexpr"
)

// Config configures a drop or keep handler.
type Config struct {
	// If is the condition, an expr-lang expression that returns a boolean.
	// Required.
	If string `json:"if" sluice:"required"`
}

// Handler drops or keeps events by a condition. It is safe for concurrent
// use.
type Handler struct {
	prog    *eventexpr.Program
	keep    bool // keep matching events (and drop the rest) instead of dropping them
	dropped func()
	failed  func(error)
}

// New compiles cond. With keep, the handler keeps the events for which cond
// holds and drops the others; otherwise it drops those for which it holds.
// dropped, if not nil, is called for each dropped event, and failed, if
// not nil, for each event the condition fails on (which is kept).
func New(cond string, keep bool, dropped func(), failed func(error)) (*Handler, error) {
	prog, err := eventexpr.CompileCond(cond)
	if err != nil {
		return nil, fmt.Errorf("if: %w", err)
	}
	return &Handler{prog: prog, keep: keep, dropped: dropped, failed: failed}, nil
}

// Handle returns msg, or nothing if it is dropped (the processor then acks
// it). It never fails.
func (h *Handler) Handle(ctx context.Context, msg sluice.Message[event.Event]) ([]sluice.Message[event.Event], error) {
	keep, err := h.Select(ctx, &msg.Value)
	if err != nil || !keep {
		return nil, err
	}
	return []sluice.Message[event.Event]{msg}, nil
}

// Select reports whether e is kept, counting it if it is dropped; the
// daemon's routes call it instead of Handle, which saves a slice per event.
// It never fails: an event the condition fails on is kept and reported.
func (h *Handler) Select(_ context.Context, e *event.Event) (bool, error) {
	out, err := h.prog.Cond(e)
	if err != nil {
		if h.failed != nil {
			h.failed(fmt.Errorf("filter: %w", err))
		}
		return true, nil
	}
	if out == h.keep {
		return true, nil
	}
	if h.dropped != nil {
		h.dropped()
	}
	return false, nil
}

var _ sluice.Handler[event.Event, event.Event] = (*Handler)(nil)
