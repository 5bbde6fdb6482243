package socket

import (
	"context"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// Flush calls d's flush function directly, as a batch worker does.
func Flush(ctx context.Context, d *Destination, msgs ...sluice.Message[event.Event]) error {
	return d.s.flush(ctx, msgs)
}

// PeerClosedIdle reports whether an idle connection of d has seen its peer
// close or reset it, so a test can wait for the reader to notice.
func PeerClosedIdle(d *Destination) bool {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	for _, c := range d.s.idle {
		select {
		case <-c.done:
			return true
		default:
		}
	}
	return false
}

// CloseIdle closes d's idle connections, as Run does when it returns.
func CloseIdle(d *Destination) { d.s.closeIdle() }
