package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice/internal/brokertest"
)

// TestMQTTDestinationKill creates the dangerous moment of an mqtt
// destination at QoS 1 (file source -> sluiced -> mosquitto): a proxy
// between sluiced and mosquitto holds the holdAt-th PUBACK and
// everything after it in both directions, and SIGKILLs sluiced a second
// later (twenty checkpoint intervals): the held message is the broker's,
// its PUBACK never reaches sluiced, and what sluiced published after it
// never reaches the broker. A destination that acked before the PUBACK
// would have its events checkpointed by then. After a restart without
// the hold, a subscriber connected from the start must have received
// every line: none missing, duplicates counted.
func TestMQTTDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const (
		n       = 20_000
		holdAt  = 3000
		holdFor = time.Second
	)
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

	p := &ackHold{server: broker.Addr, holdAt: holdAt, next: mqttFrame, held: make(chan struct{})}
	proxy := p.listen(t)
	dir := t.TempDir()
	logPath := seqLog(t, dir, n, "mqtt destination kill")
	config := func(addr string) string {
		return holdKillConfig(logPath, fmt.Sprintf(`{"type": "mqtt", "broker": "mqtt://%s", "topic": "out/log", "qos": 1}`, addr))
	}
	d := start(t, dir, config(proxy))
	select {
	case <-p.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("PUBACK %d never came: %d PUBACKs", holdAt, p.acks.Load())
	}
	time.Sleep(holdFor)
	d.kill()
	// Every PUBACKed message reaches the subscriber; fewer than all lines.
	waitAll(holdAt, func() int { return len(received()) })
	in := len(received())
	t.Logf("SIGKILL with PUBACK %d held: %d distinct lines received", holdAt, in)
	if in < holdAt || in >= n {
		t.Fatalf("%d lines received at the kill, want at least the %d PUBACKed and fewer than %d: the test did not create its moment", in, holdAt, n)
	}

	d = start(t, dir, config(broker.Addr))
	waitAll(n, func() int { return len(received()) })
	d.stop(t)
	checkAllSent(t, received(), n, "a SIGKILL with a PUBACK held")
}
