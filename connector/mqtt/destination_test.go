package mqtt

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokertest"
	"github.com/sluicehq/sluice/memory"
)

func newDestination(t *testing.T, broker, topic string, edit ...func(*DestinationConfig)) *Destination {
	t.Helper()
	c := DefaultDestinationConfig()
	c.Broker, c.Topic, c.ClientID = broker, topic, "dst-"+strings.ReplaceAll(t.Name(), "/", "-")
	for _, f := range edit {
		f(&c)
	}
	d, err := NewDestination(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// subscribe starts mosquitto_sub, an independent client, on topic and
// returns a function that reads n messages from it. It returns once the
// subscription is live: a marker it publishes has come back (a message
// published before that would be lost, as the subscriber has no session).
func subscribe(t *testing.T, addr, topic string) func(n int) []string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(brokertest.Need(t, "mosquitto_sub"), "-h", host, "-p", port, "-q", "1", "-t", topic, "-i", "sub-"+topic)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewScanner(out)
		for r.Scan() {
			lines <- r.Text()
		}
	}()
	const marker = "subscribed?"
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("marker-" + topic)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("marker client: connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	var early []string // such as a retained message
	for live := false; !live; {
		c.Publish(topic, 0, false, marker)
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("mosquitto_sub exited")
			}
			if live = l == marker; !live {
				early = append(early, l)
			}
		case <-tick.C:
		case <-deadline:
			t.Fatal("mosquitto_sub not subscribed within 30s")
		}
	}
	return func(n int) []string {
		t.Helper()
		k := min(n, len(early))
		ls := early[:k:k]
		early = early[k:]
		deadline := time.After(30 * time.Second)
		for len(ls) < n {
			select {
			case l, ok := <-lines:
				if !ok {
					return ls
				}
				if l != marker { // one published before the first came back
					ls = append(ls, l)
				}
			case <-deadline:
				t.Fatalf("mosquitto_sub: %d of %d messages within 30s", len(ls), n)
			}
		}
		return ls
	}
}

// send sends msgs in Sends of up to 256 and waits for every ack.
func send(t *testing.T, d sluice.Destination[event.Event], msgs []sluice.Message[event.Event]) {
	t.Helper()
	var acked atomic.Int64
	sends := 0
	for i := 0; i < len(msgs); i += 256 {
		sends++
		if err := d.Send(context.Background(), func() { acked.Add(1) }, msgs[i:min(i+256, len(msgs))]...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() != int64(sends) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sends acked within 30s", acked.Load(), sends)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every event sent is read back by mosquitto_sub, in order; the acks come
// once the broker has acknowledged them.
func TestDestinationPublishes(t *testing.T) {
	b, broker := mosquitto(t)
	read := subscribe(t, b.Addr, "out/app")
	d := newDestination(t, broker, "out/app")
	brokertest.Run(t, d)
	want := brokertest.Lines("event-", 5000)
	send(t, d, brokertest.Events(want...))
	got := read(len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("mosquitto_sub read %d events, want %d in order", len(got), len(want))
	}
}

// A broker that is down at start: Sends wait (back-pressure), nothing is
// acked, and once the broker is up everything is published.
func TestDestinationBrokerDownAtStart(t *testing.T) {
	port := brokertest.FreePort(t)
	d := newDestination(t, "tcp://127.0.0.1:"+strconv.Itoa(port), "late/out")
	brokertest.Run(t, d)
	var acked atomic.Bool
	if err := d.Send(context.Background(), func() { acked.Store(true) }, brokertest.Events("a", "b")...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if acked.Load() {
		t.Fatal("acked while the broker is down")
	}
	if why := d.NotReady(); !strings.Contains(why, "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("NotReady = %q, want it to name the broker", why)
	}
	brokertest.Mosquitto(t, port)
	brokertest.WaitReady(t, d)
	deadline := time.Now().Add(40 * time.Second)
	for !acked.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not acked 40s after the broker came up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An event over maxMessageBytes is not published: it is counted and
// acked, or, with a dead letter, handed to it; the rest are published.
func TestDestinationOversize(t *testing.T) {
	b, broker := mosquitto(t)
	read := subscribe(t, b.Addr, "big/out")
	var dropped atomic.Int64
	c := DefaultDestinationConfig()
	c.Broker, c.Topic, c.ClientID, c.MaxMessageBytes = broker, "big/out", "big-dst", 10
	d, err := NewDestination(c, "test", WithHooks(Hooks{Dropped: func(_ string, n int) { dropped.Add(int64(n)) }}))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d)
	send(t, d, brokertest.Events("small", strings.Repeat("x", 11), "after"))
	if got := read(2); strings.Join(got, ",") != "small,after" {
		t.Errorf("read %q", got)
	}
	if dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1", dropped.Load())
	}

	dl := memory.New[event.Event](10)
	t.Cleanup(dl.Close)
	c.ClientID = "big-dst-2"
	d2, err := NewDestination(c, "test", WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d2)
	var acked atomic.Bool
	if err := d2.Send(context.Background(), func() { acked.Store(true) }, brokertest.Events(strings.Repeat("y", 11), "fits")...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, ack, err := dl.Recv(ctx)
	if err != nil || len(m.Value.Raw) != 11 || m.Attributes.Value("error") == "" {
		t.Fatalf("dead letter got %q %v (%v)", m.Value.Raw, m.Attributes, err)
	}
	if got := read(1); got[0] != "fits" {
		t.Errorf("read %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	if acked.Load() {
		t.Fatal("acked before the dead letter acked")
	}
	ack()
	deadline := time.Now().Add(5 * time.Second)
	for !acked.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not acked after the dead letter acked")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A Run stopped before it connected still connects, publishes what it
// holds and acks it within its stopTimeout: under load, the suite's
// send-cancel stopped Run within 50ms of its start, and Run used to wait
// out its stopTimeout for a connection it no longer tried to make.
func TestDestinationStoppedBeforeConnected(t *testing.T) {
	port := brokertest.FreePort(t)
	d := newDestination(t, "tcp://127.0.0.1:"+strconv.Itoa(port), "late/stopped", func(c *DestinationConfig) {
		c.Retained = true // read back after the publish
		c.Batch.StopTimeout = time.Minute
	})
	var b *brokertest.Broker
	brokertest.StopBeforeConnected(t, d, "held", func() { b = brokertest.Mosquitto(t, port) })
	if got := subscribe(t, b.Addr, "late/stopped")(1); len(got) != 1 || got[0] != "held" {
		t.Fatalf("the broker holds %q, want the event held at the stop", got)
	}
}

// A connection lost while a batch waits for its PUBACKs: the batch is not
// acked until the broker acknowledged it on a later connection. paho
// resends what was in flight when it reconnects and completes the
// original publish tokens then, without an error, as if acknowledged: a
// destination that trusted them acked events the broker never took (a
// publish the broker refuses by closing the connection was acked so).
func TestDestinationConnectionLostInFlight(t *testing.T) {
	b, _ := mosquitto(t)
	l, url := newLink(t, b.Addr)
	read := subscribe(t, b.Addr, "lost/out")
	l.mu.Lock()
	l.holdAcks = true // the broker's PUBACKs never reach sluiced
	l.mu.Unlock()
	d := newDestination(t, url, "lost/out", func(c *DestinationConfig) {
		c.AckTimeout = time.Minute // no retry by timeout within the test
		c.Batch.Retry.Initial = 50 * time.Millisecond
		c.Batch.Retry.Max = 200 * time.Millisecond
	})
	brokertest.Run(t, d)
	var acked atomic.Bool
	if err := d.Send(context.Background(), func() { acked.Store(true) }, brokertest.Events("a", "b", "c")...); err != nil {
		t.Fatal(err)
	}
	isSent := func(p packet) bool { return p.sent }
	l.waitFor("the batch published", func(l *link) bool { return l.count(1, isSent) == 3 })
	l.cut(false) // the connection is lost; paho reconnects
	l.waitFor("the batch published again", func(l *link) bool { return l.count(2, isSent) == 3 })
	time.Sleep(500 * time.Millisecond) // room for a wrong ack
	if acked.Load() {
		t.Fatalf("acked with no PUBACK received; link saw %+v", l.seen(0))
	}
	l.mu.Lock()
	l.holdAcks = false
	l.mu.Unlock()
	l.cut(false) // the PUBACKs of the second connection were dropped
	deadline := time.Now().Add(30 * time.Second)
	for !acked.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("not acked within 30s of the broker's PUBACKs flowing again; link saw %+v", l.seen(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := read(3) // at least once: a batch published again may come twice
	if got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("the broker's subscriber read %q, want a, b, c first", got)
	}
}
