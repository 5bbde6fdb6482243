package multi

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// Destination sends each Send to several destinations and acks it once
// every one of them has acked. Create it with [NewDestination].
type Destination[T any] struct {
	dsts []sluice.Destination[T]
	ran  atomic.Bool
}

// NewDestination returns a Destination that sends to every one of dsts, in
// order. It starts no goroutine and does no I/O. No destinations, or a nil
// one, is an error.
//
// Errors name a destination by its index in dsts, from 0.
func NewDestination[T any](dsts ...sluice.Destination[T]) (*Destination[T], error) {
	if err := checkAll("destination", dsts); err != nil {
		return nil, fmt.Errorf("multi: new destination: %w", err)
	}
	return &Destination[T]{dsts: append([]sluice.Destination[T](nil), dsts...)}, nil
}

// Send calls Send with msgs on each destination in turn, and calls ack once
// every destination has called the ack it was given; a Send with no
// messages goes to every destination too. Send is safe for concurrent use
// if every destination's Send is.
//
// If a destination's Send returns an error, Send returns it at once,
// wrapped as "multi: destination N: …", without calling the destinations
// after it. ack is then never called, since that destination never acks;
// the destinations before it may have written msgs, and write them again
// when the source redelivers them.
//
// Each destination gets an ack of its own that counts once however often
// it is called, so ack never fires before every destination has acked, even
// through a pass-through such as memory.Queue whose receiver acks twice.
// If ctx is already done, Send returns at once, writing nothing.
func (d *Destination[T]) Send(ctx context.Context, ack func(), msgs ...sluice.Message[T]) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("multi: send: %w", err)
	}
	var all func() // nil stays nil: nothing to count
	if ack != nil {
		all = sluice.AckAfter(len(d.dsts), ack) // for one destination, AckOnce(ack)
	}
	for i, dst := range d.dsts {
		mine := all
		if all != nil && len(d.dsts) > 1 {
			// A repeated ack from one destination must not stand in for
			// another's.
			mine = sluice.AckOnce(all)
		}
		if err := dst.Send(ctx, mine, msgs...); err != nil {
			return fmt.Errorf("multi: destination %d: %w", i, err)
		}
	}
	return nil
}

// Run runs the Run method of every destination that is a [sluice.Runner],
// with a child of ctx, and returns when they have all returned: at once if
// there are none. When one fails, Run cancels the others and returns its
// error, wrapped as "multi: destination N: run: …", joined with any later
// failure that is not just the effect of stopping. When ctx is done and
// none failed, Run returns nil. A second call returns
// [sluice.ErrAlreadyRunning].
func (d *Destination[T]) Run(ctx context.Context) error {
	if !d.ran.CompareAndSwap(false, true) {
		return sluice.ErrAlreadyRunning
	}
	g := newGroup(ctx, nil)
	for i, dst := range d.dsts {
		if r, ok := dst.(sluice.Runner); ok {
			g.run(func() error {
				if err := r.Run(g.ctx); err != nil {
					return fmt.Errorf("multi: destination %d: run: %w", i, err)
				}
				return nil
			})
		}
	}
	return g.wait()
}

var (
	_ sluice.Destination[[]byte] = (*Destination[[]byte])(nil)
	_ sluice.Runner              = (*Destination[[]byte])(nil)
)
