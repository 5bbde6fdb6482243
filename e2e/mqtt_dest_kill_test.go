package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// TestMQTTDestinationKill SIGKILLs sluiced while mosquitto's PUBACK to
// its mqtt destination at QoS 1 is held; see [ackHoldKill]. The broker's
// lines are those a subscriber connected from the start received.
func TestMQTTDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	broker := brokertest.Mosquitto(t, 0)
	var mu sync.Mutex
	got := map[int64]int{}
	received := func() map[int64]int {
		mu.Lock()
		defer mu.Unlock()
		c := make(map[int64]int, len(got))
		for k, v := range got {
			c[k] = v
		}
		return c
	}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("e2e-sub").SetCleanSession(true))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: cannot connect to mosquitto: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	tok := sub.Subscribe("out/log", 1, func(_ paho.Client, m paho.Message) {
		seq := lineSeq(t, m.Payload())
		mu.Lock()
		got[seq]++
		mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	ackHoldKill(t, broker.Addr, "PUBACK", mqttFrame,
		func(addr string) string {
			return fmt.Sprintf(`{"type": "mqtt", "broker": "mqtt://%s", "topic": "out/log", "qos": 1}`, addr)
		},
		received)
}
