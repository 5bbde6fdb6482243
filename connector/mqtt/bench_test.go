package mqtt

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// The benchmarks compare the connectors with a plain paho loop doing the
// same work against the same mosquitto: one op is one event. Run them
// side by side, as ratios:
//
//	go test -run '^$' -bench . -benchmem ./connector/mqtt/

// prefill publishes n messages at QoS 1 to topic and waits for them.
func prefill(b *testing.B, broker, topic string, n int) {
	b.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("prefill"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	toks := make([]paho.Token, 0, 1000)
	for i := range n {
		toks = append(toks, c.Publish(topic, 1, false, brokertest.Payload))
		if len(toks) == cap(toks) || i == n-1 {
			for _, tok := range toks {
				tok.Wait()
			}
			toks = toks[:0]
		}
	}
}

// BenchmarkSource: the source takes b.N queued messages in batches and
// acks each (a PUBACK each, in order).
func BenchmarkSource(b *testing.B) {
	_, broker := mosquitto(b)
	benchSource(b, broker)
}

func benchSource(b *testing.B, broker string) {
	id := fmt.Sprintf("bsrc-%d", b.N)
	session(b, broker, id, "bench/src")
	prefill(b, broker, "bench/src", b.N)
	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID = broker, "bench/src", id
	s, err := NewSource(c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	brokertest.BenchSource(b, s)
}

// BenchmarkPahoSubscribe is the plain loop: paho with its automatic
// acknowledgement, counting messages in its handler.
func BenchmarkPahoSubscribe(b *testing.B) {
	_, broker := mosquitto(b)
	id := fmt.Sprintf("bpaho-%d", b.N)
	session(b, broker, id, "bench/paho")
	prefill(b, broker, "bench/paho", b.N)
	var got atomic.Int64
	all := make(chan struct{})
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			if got.Add(1) == int64(b.N) {
				close(all)
			}
		})
	b.ReportAllocs()
	b.ResetTimer()
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	<-all
	b.StopTimer()
	brokertest.PerEvent(b)
	c.Disconnect(100)
}

// BenchmarkDestination: b.N events in Sends of 256, each acked on the
// broker's PUBACKs.
func BenchmarkDestination(b *testing.B) {
	_, broker := mosquitto(b)
	c := DefaultDestinationConfig()
	c.Broker, c.Topic, c.ClientID = broker, "bench/dst", "bdst"
	d, err := NewDestination(c, "bench")
	if err != nil {
		b.Fatal(err)
	}
	brokertest.BenchDestination(b, d)
}

// BenchmarkPahoPublish is the plain loop: QoS 1 publishes with up to 1000
// in flight, waiting for their PUBACKs.
func BenchmarkPahoPublish(b *testing.B) {
	_, broker := mosquitto(b)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("bpub"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	toks := make([]paho.Token, 0, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		toks = append(toks, c.Publish("bench/pub", 1, false, brokertest.Payload))
		if len(toks) == cap(toks) || i == b.N-1 {
			for _, tok := range toks {
				tok.Wait()
			}
			toks = toks[:0]
		}
	}
	b.StopTimer()
	brokertest.PerEvent(b)
}
