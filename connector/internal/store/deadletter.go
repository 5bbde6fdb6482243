package store

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Rejected is a message of a flush refused for good.
type Rejected struct {
	I      int    // its index in the flush's messages
	Reason string // why, for its "error" attribute
}

// DeadLetter sends msgs to d and waits until d acks them, so that the
// batch holding them is acked only once they are safe there. It returns
// an error, starting with name, if d fails them or ctx ends first.
func DeadLetter(ctx context.Context, name string, d sluice.Destination[event.Event], msgs []sluice.Message[event.Event]) error {
	return deadLetter(ctx, name, d, msgs, func() {})
}

// deadLetter is DeadLetter, calling sent once d took msgs.
func deadLetter(ctx context.Context, name string, d sluice.Destination[event.Event], msgs []sluice.Message[event.Event], sent func()) error {
	acked := make(chan struct{})
	if err := d.Send(ctx, sluice.AckOnce(func() { close(acked) }), msgs...); err != nil {
		return fmt.Errorf("%s: dead letter: %w", name, err)
	}
	sent()
	select {
	case <-acked:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the dead letter: %w", name, ctx.Err())
	}
}

// Refused is the permanent error of a flush of n messages whose dead
// ones have no dead letter to go to: DeadLetterRejected's without one.
func Refused(name, what string, dead []Rejected, n int) error {
	return fmt.Errorf("%s: %d of %d %s, first: %s", name, len(dead), n, what, dead[0].Reason)
}

// DeadLetterRejected sends the messages of msgs named by dead to the dead
// letter of o, each with the attributes "error" (its reason) and
// "batch.attempts", logs them once sent, and waits for the ack. Without a dead letter
// it returns a permanent error. what names the messages and the
// refusal ("items rejected", "events refused") in that error; its first
// word names them in the log.
func DeadLetterRejected(ctx context.Context, name, what string, o *Options, msgs []sluice.Message[event.Event], dead []Rejected, attempts int) error {
	if o.DeadLetter == nil {
		return Refused(name, what, dead, len(msgs))
	}
	noun, _, _ := strings.Cut(what, " ")
	out := make([]sluice.Message[event.Event], len(dead))
	n := strconv.Itoa(attempts)
	for k, r := range dead {
		m := msgs[r.I]
		m.Attributes = m.Attributes.With("error", r.Reason).With("batch.attempts", n)
		out[k] = m
	}
	return deadLetter(ctx, name, o.DeadLetter, out, func() {
		o.Log.LogAttrs(ctx, slog.LevelWarn, name+": "+noun+" sent to dead letter",
			slog.Int(noun, len(dead)), slog.Int("of", len(msgs)), slog.String("first", dead[0].Reason))
	})
}
