package nats

import (
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokertest"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestConformance runs the suite against Debian's nats-server (2.9) in a
// process of its own: the suite fails a subtest that leaves goroutines
// behind, and an in-process server's streams and consumers are
// goroutines that outlive it. It also proves the connector works with
// the server version Debian ships.
func TestConformance(t *testing.T) {
	url := "nats://" + brokertest.NATS(t).Addr
	streams := map[string]bool{}
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			subject := "conf." + name
			if !streams[name] {
				nc, err := natsgo.Connect(url)
				if err != nil {
					t.Fatal(err)
				}
				js, _ := jetstream.New(nc)
				stream(t, js, "S_"+name, subject)
				nc.Close()
				streams[name] = true
			}
			sc := DefaultSourceConfig()
			sc.URL, sc.Stream, sc.Subject, sc.Durable = url, "S_"+name, subject, "d_"+name
			sc.AckWait = time.Second // an unacked message comes back within the suite's timeout
			src, err := NewSource(sc, name)
			if err != nil {
				t.Fatal(err)
			}
			dc := DefaultDestinationConfig()
			dc.URL, dc.Subject = url, subject
			dc.Batch.Age = 10 * time.Millisecond
			dst, err := NewDestination(dc, name)
			if err != nil {
				t.Fatal(err)
			}
			return src, dst
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}
