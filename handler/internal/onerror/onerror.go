// Package onerror is what the parse and remap handlers do with an event
// they cannot process: keep it unchanged, drop it, or mark it for the
// route's dead-letter destination. Every failure is counted either way.
package onerror

import (
	"fmt"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

type msg = sluice.Message[event.Event]

// Policy is the value of a handler's "onError" setting.
type Policy int

const (
	// Keep passes the event on unchanged.
	Keep Policy = iota
	// Drop drops it; the processor acks it as done.
	Drop
	// DeadLetter hands it to the route's "deadLetter" destination, with
	// the reason in its deadLetter.error field.
	DeadLetter
)

// Parse parses "keep", "drop" or "deadLetter"; the error says what was
// expected and has no path (the caller adds "onError").
func Parse(s string) (Policy, error) {
	switch s {
	case "keep":
		return Keep, nil
	case "drop":
		return Drop, nil
	case "deadLetter":
		return DeadLetter, nil
	}
	return 0, fmt.Errorf("want keep, drop or deadLetter, got %q", s)
}

// Hooks are how a handler reports failures; each may be nil.
type Hooks struct {
	// Failed is called for each event that failed, with the reason.
	Failed func(reason error)
	// Dropped is called for each event dropped by [Drop].
	Dropped func()
	// Reject marks a message for the route's dead letter, with the reason
	// ([DeadLetter]). Without it, DeadLetter keeps the event.
	Reject func(m msg, reason string) msg
}

// Apply reports the failure of m and returns what the handler returns for
// it under p. It never returns an error: a bad event is never fatal.
func (p Policy) Apply(h *Hooks, m msg, reason error) []msg {
	if h.Failed != nil {
		h.Failed(reason)
	}
	switch p {
	case Drop:
		if h.Dropped != nil {
			h.Dropped()
		}
		return nil
	case DeadLetter:
		if h.Reject != nil {
			m = h.Reject(m, reason.Error())
		}
	}
	return []msg{m}
}
