package file

import (
	"context"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// SendLines writes the events of a run of lines, as Send would (the
// daemon's LineDestination). In format raw, l.Bytes are the lines as
// they are written: they go into the batch in one copy, and no event is
// built; in format json, the events are built and sent with Send, which
// encodes them at once. It keeps neither l nor its memory.
func (d *Destination) SendLines(ctx context.Context, ack func(), l *event.Lines) error {
	if d.w.cfg.Format == "raw" {
		return d.SendEncoded(ctx, ack, l.Bytes, l.Ends)
	}
	msgs := make([]sluice.Message[event.Event], l.Len())
	for i := range msgs {
		msgs[i].Value = l.Event(i)
	}
	return d.Send(ctx, ack, msgs...)
}
