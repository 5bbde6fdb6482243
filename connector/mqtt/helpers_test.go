package mqtt

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokertest"
)

// mosquitto starts a broker for the test and returns its URL.
func mosquitto(t testing.TB, extra ...string) (*brokertest.Broker, string) {
	t.Helper()
	b := brokertest.Mosquitto(t, 0, extra...)
	return b, "tcp://" + b.Addr
}

// session makes the broker keep a persistent session for clientID,
// subscribed to topic, as a source's first run does: what is published
// from then on waits for the source.
func session(t testing.TB, broker, clientID, topic string) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("session %s: connect: %v", clientID, tok.Error())
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("session %s: subscribe: %v", clientID, tok.Error())
	}
	c.Disconnect(100)
}

// run runs r until the test ends and checks that it stops cleanly.
func run(t *testing.T, r sluice.Runner) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// recv receives n messages within timeout, acking each if ack is set.
func recv(t *testing.T, s *Source, n int, ack bool) ([]string, []func()) {
	t.Helper()
	var got []string
	var acks []func()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, a, err := s.Recv(ctx)
		cancel()
		if err != nil {
			t.Fatalf("recv after %d of %d: %v", len(got), n, err)
		}
		got = append(got, string(m.Value.Raw))
		acks = append(acks, a)
		if ack {
			a()
		}
	}
	return got, acks
}

// nothing checks that no message arrives within d.
func nothing(t *testing.T, s *Source, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, _, err := s.Recv(ctx); err == nil {
		t.Fatalf("got %q, want nothing", m.Value.Raw)
	}
}

// pub publishes each line as a message at QoS 1 with mosquitto_pub, an
// independent client. mosquitto_pub -l disconnects at the end of its input
// without waiting for the broker's PUBACKs, dropping what is still in
// flight, so its input stays open until the test ends.
func pub(t *testing.T, addr, topic string, lines ...string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(brokertest.Need(t, "mosquitto_pub"), "-h", host, "-p", port, "-q", "1", "-t", topic, "-l")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("mosquitto_pub: %v: %s", err, out.String())
		}
	})
	if _, err := io.WriteString(in, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
}

func lines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return out
}

func events(ls ...string) []sluice.Message[event.Event] {
	msgs := make([]sluice.Message[event.Event], len(ls))
	for i, l := range ls {
		msgs[i].Value.Raw = []byte(l)
	}
	return msgs
}
