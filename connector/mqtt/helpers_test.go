package mqtt

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

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

// publish publishes each line at QoS 1 with paho and returns once the
// broker acknowledged every one: unlike pub, all are at the broker when
// it returns.
func publish(t *testing.T, broker, topic string, lines ...string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("publish"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for _, l := range lines {
		if tok := c.Publish(topic, 1, false, l); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %q: %v", l, tok.Error())
		}
	}
}
