package mqtt

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	_, broker := mosquitto(t)
	sessions := map[string]bool{}
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			topic := "conformance/" + name
			if !sessions[name] {
				session(t, broker, "src-"+name, topic)
				sessions[name] = true
			}
			sc := DefaultSourceConfig()
			sc.Broker, sc.Topic, sc.ClientID = broker, topic, "src-"+name
			src, err := NewSource(sc, name)
			if err != nil {
				t.Fatal(err)
			}
			dc := DefaultDestinationConfig()
			dc.Broker, dc.Topic, dc.ClientID = broker, topic, "dst-"+name
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
