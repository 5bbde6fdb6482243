package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/brokertest"
	"github.com/sluicehq/sluice/internal/syncbuf"
)

// TestMQTTSourceCrash: mosquitto_pub publishes numbered lines at QoS 1
// while sluiced, subscribed with a persistent session, is killed with
// SIGKILL and left down a moment, again and again; mosquitto queues for
// the session meanwhile. Once it is back for good, the file holds every
// line: PUBACKs go out only after the file destination synced a line, so
// a kill can duplicate, never lose.
func TestMQTTSourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	n, cycles := brokerLines(t, 20000), crashCycles(t, 5)
	b := brokertest.Mosquitto(t, 0)
	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"mq": {"type": "mqtt", "broker": "tcp://%s", "clientID": "e2e-crash", "topic": "logs/#"}},
		"destinations": {"out": {"type": "file", "path": %q, "maxBytes": 0, "batch": {"age": "20ms"}}},
	}`, filepath.Join(dir, "data"), b.Addr, outPath)

	d := start(t, dir, config) // makes the session before anything is published
	waitFor(t, "the subscription", func() bool { return strings.Contains(d.logs.String(), "msg=subscribed") })
	d.stop(t)

	host, port, _ := strings.Cut(b.Addr, ":")
	pub := exec.Command(brokertest.Need(t, "mosquitto_pub"), "-h", host, "-p", port, "-q", "1", "-t", "logs/app", "-l")
	in, err := pub.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	count, wait := producer(in, n, max(n/8, 1000), stop) // spread over about 8s
	t.Cleanup(func() {
		close(stop)
		wait()
		in.Close() // mosquitto_pub -l drops what is in flight at EOF: close only at the end
		_ = pub.Wait()
	})
	crashRun(t, dir, config, n, cycles, count.Load, &seqs{path: outPath, parse: fileLineSeq})
}

// TestMQTTDestination: 50,000 syslog lines in over TCP, all readable from
// mosquitto with mosquitto_sub.
func TestMQTTDestination(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	b := brokertest.Mosquitto(t, 0)
	host, port, _ := strings.Cut(b.Addr, ":")
	// A message retained on a second topic comes to mosquitto_sub once it
	// subscribed to both: sluiced starts only then, so that no publish is
	// missed by a subscriber still starting (a fixed wait was one).
	if out, err := exec.Command(brokertest.Need(t, "mosquitto_pub"), "-h", host, "-p", port, "-q", "1", "-r",
		"-t", "e2e/subscribed", "-m", "subscribed").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	sub := exec.Command(brokertest.Need(t, "mosquitto_sub"), "-h", host, "-p", port, "-q", "1", "-t", "out/syslog",
		"-t", "e2e/subscribed", "-C", fmt.Sprint(n+1), "-W", "120")
	var out syncbuf.Buffer
	sub.Stdout = &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mosquitto_sub to subscribe", func() bool { return strings.Contains(out.String(), "subscribed\n") })
	dir := t.TempDir()
	sysPort := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"mq": {"type": "mqtt", "broker": "mqtt://%s", "topic": "out/syslog"}},
	}`, filepath.Join(dir, "data"), sysPort, b.Addr))
	start := time.Now()
	syslogLines(t, fmt.Sprintf("127.0.0.1:%d", sysPort), n)
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v (read %d lines)", err, strings.Count(out.String(), "\n"))
	}
	got := lineSeqs(out.String())
	t.Logf("%d lines read back from mosquitto in %v, %d duplicates", len(got.seen), time.Since(start).Round(time.Millisecond), got.dups)
	for s := range int64(n) {
		if !got.seen[s] {
			t.Fatalf("seq %d missing from the broker", s)
		}
	}
	d.stop(t)
}

// A broker that is down at start: sluiced runs, /readyz says not ready
// naming the broker, the log names it too; once mosquitto is up, it
// connects and is ready.
func TestMQTTBrokerDownAtStart(t *testing.T) {
	mqPort, admin := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := t.TempDir()
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"mq": {"type": "mqtt", "broker": "tcp://127.0.0.1:%d", "topic": "t", "userName": "u", "password": "hunter2-secret"}},
		"destinations": {"out": {"type": "file", "path": "out.ndjson"}},
	}`, filepath.Join(dir, "data"), admin, mqPort))
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", mqPort)
	waitFor(t, "a retry logged", func() bool { return strings.Contains(d.logs.String(), "cannot reach broker") })
	if code, body := readyz(t, admin); code != 503 || !strings.Contains(body, broker) {
		t.Errorf("/readyz = %d %q, want 503 naming %s", code, body, broker)
	}
	if !strings.Contains(d.logs.String(), broker) {
		t.Errorf("the log does not name the broker:\n%s", d.logs.String())
	}
	brokertest.Mosquitto(t, mqPort)
	deadline := time.Now().Add(40 * time.Second)
	for {
		code, body := readyz(t, admin)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q 40s after the broker came up", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)
	if strings.Contains(d.logs.String(), "hunter2") {
		t.Error("the password is in the log")
	}
}
