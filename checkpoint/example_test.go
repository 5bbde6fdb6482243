package checkpoint_test

import (
	"fmt"

	"github.com/sluicehq/sluice/checkpoint"
)

// A file source tracks each line at the offset just past it. Acks arrive
// out of order; the committed offset only moves over a prefix of acked
// lines.
func Example() {
	t := checkpoint.NewAt[int64](0) // resume from the start of the file
	a := t.Track(100)               // line 1 ends at byte 100
	b := t.Track(250)
	c := t.Track(420)

	show := func(acked string, advanced bool) {
		off, _ := t.Committed()
		fmt.Printf("ack %s: advanced=%v committed=%d pending=%d\n", acked, advanced, off, t.Pending())
	}
	show("line 3", t.Ack(c))
	show("line 1", t.Ack(a))
	show("line 1", t.Ack(a)) // a second ack does nothing
	show("line 2", t.Ack(b))
	// Output:
	// ack line 3: advanced=false committed=0 pending=3
	// ack line 1: advanced=true committed=100 pending=2
	// ack line 1: advanced=false committed=100 pending=2
	// ack line 2: advanced=true committed=420 pending=0
}
