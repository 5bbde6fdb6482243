package mqtt

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/brokertest"
)

func newSource(t *testing.T, broker, topic, clientID string, edit ...func(*SourceConfig)) *Source {
	t.Helper()
	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID = broker, topic, clientID
	for _, f := range edit {
		f(&c)
	}
	s, err := NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The dangerous moment: the destination acked later messages but not the
// first when sluiced stops. No PUBACK may have gone out for any of them
// (they go out in order), so the broker sends all three again; once the
// first is acked too, all three are acknowledged and none comes back.
func TestPubackWaitsForEarlierMessages(t *testing.T) {
	b, broker := mosquitto(t)
	session(t, broker, "order", "order/t")
	pub(t, b.Addr, "order/t", "one", "two", "three")

	s := newSource(t, broker, "order/t", "order")
	stop := brokertest.Run(t, s)
	got, acks := brokertest.Recv(t, s, 3, false)
	if !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("got %q", got)
	}
	acks[2]()
	acks[1]()
	time.Sleep(200 * time.Millisecond) // room for a wrong PUBACK to reach the broker
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	s = newSource(t, broker, "order/t", "order")
	stop = brokertest.Run(t, s)
	got, acks = brokertest.Recv(t, s, 3, false)
	if !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("after restart got %q, want all three again (no PUBACK before the first is acked)", got)
	}
	acks[1]()
	acks[2]()
	acks[0]() // releases all three, in order
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	s = newSource(t, broker, "order/t", "order")
	brokertest.Run(t, s)
	brokertest.Nothing(t, s, 500*time.Millisecond)
}

// Messages published while sluiced is down wait at the broker in the
// persistent session and arrive after the restart.
func TestPersistentSession(t *testing.T) {
	b, broker := mosquitto(t)
	s := newSource(t, broker, "logs/#", "persist")
	stop := brokertest.Run(t, s)
	brokertest.WaitReady(t, s) // subscribed
	pub(t, b.Addr, "logs/a", "before")
	if got, _ := brokertest.Recv(t, s, 1, true); got[0] != "before" {
		t.Fatalf("got %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := brokertest.Lines("down-", 500)
	pub(t, b.Addr, "logs/b", want...)

	s = newSource(t, broker, "logs/#", "persist")
	brokertest.Run(t, s)
	got, _ := brokertest.Recv(t, s, len(want), true)
	if !slices.Equal(got, want) {
		t.Fatalf("after restart got %d messages, first %q", len(got), got[:min(3, len(got))])
	}
	brokertest.Nothing(t, s, 300*time.Millisecond)
}

// A broker that is down at start is retried with back-off; the source is
// not ready until it connects, and the log names the broker.
func TestBrokerDownAtStart(t *testing.T) {
	port := brokertest.FreePort(t)
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	var logs syncBuf
	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID = broker, "late/t", "late"
	s, err := NewSource(c, "test", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, s)
	time.Sleep(500 * time.Millisecond)
	if why := s.NotReady(); !strings.Contains(why, broker) {
		t.Errorf("NotReady = %q, want it to name %s", why, broker)
	}
	if l := logs.String(); !strings.Contains(l, "cannot reach broker") || !strings.Contains(l, broker) {
		t.Errorf("logs do not name the broker:\n%s", l)
	}
	b := brokertest.Mosquitto(t, port)
	brokertest.WaitReady(t, s) // subscribed
	pub(t, b.Addr, "late/t", "hello")
	if got, _ := brokertest.Recv(t, s, 1, true); got[0] != "hello" {
		t.Fatalf("got %q", got)
	}
}

// Wrong credentials end Run with an error that names the fields; the
// password is in no log line or error.
func TestWrongCredentials(t *testing.T) {
	dir := t.TempDir()
	pw := dir + "/passwd"
	if out, err := exec.Command(brokertest.Need(t, "mosquitto_passwd"), "-b", "-c", pw, "sluiced", "right-secret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	_, broker := mosquitto(t, "password_file "+pw, "allow_anonymous false")
	for _, tc := range []struct{ user, pass string }{{"sluiced", "wrong-secret"}, {"", ""}} {
		var logs syncBuf
		c := DefaultSourceConfig()
		c.Broker, c.Topic, c.ClientID, c.UserName, c.Password = broker, "t", "creds", tc.user, "wrong-secret"
		if tc.user == "" {
			c.Password = ""
		}
		s, err := NewSource(c, "test", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.Run(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "userName and password") {
			t.Errorf("user %q: Run = %v, want an error naming userName and password", tc.user, err)
		}
		if err != nil && strings.Contains(err.Error()+logs.String(), "wrong-secret") {
			t.Errorf("the password was logged: %v\n%s", err, logs.String())
		}
	}
	// The right ones connect.
	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID, c.UserName, c.Password = broker, "t", "creds", "sluiced", "right-secret"
	s, err := NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, s)
	brokertest.WaitReady(t, s)
}

// A message over maxMessageBytes is counted, acknowledged to the broker
// (it would otherwise come back forever) and not passed on.
func TestSourceOversize(t *testing.T) {
	b, broker := mosquitto(t)
	session(t, broker, "big", "big/t")
	pub(t, b.Addr, "big/t", "small", strings.Repeat("x", 100), "after")
	var dropped atomic.Int64
	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID, c.MaxMessageBytes = broker, "big/t", "big", 10
	s, err := NewSource(c, "test", WithHooks(Hooks{Dropped: func(cause string, n int) {
		if cause == "oversize" {
			dropped.Add(int64(n))
		}
	}}))
	if err != nil {
		t.Fatal(err)
	}
	stop := brokertest.Run(t, s)
	if got, _ := brokertest.Recv(t, s, 2, true); !slices.Equal(got, []string{"small", "after"}) {
		t.Fatalf("got %q", got)
	}
	if dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1", dropped.Load())
	}
	time.Sleep(200 * time.Millisecond)
	_ = stop()
	s = newSource(t, broker, "big/t", "big")
	brokertest.Run(t, s)
	brokertest.Nothing(t, s, 500*time.Millisecond)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// ssl:// connects with the broker's CA in tls.caFile; without it the
// broker's certificate is not trusted, and Run says so at once.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := brokertest.SelfSigned(t, dir)
	port := brokertest.FreePort(t)
	mosquitto(t, fmt.Sprintf("listener %d 127.0.0.1", port), "certfile "+cert, "keyfile "+key)
	broker := fmt.Sprintf("ssl://127.0.0.1:%d", port)

	c := DefaultSourceConfig()
	c.Broker, c.Topic, c.ClientID = broker, "tls/t", "tls"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Run without the CA = %v, want a TLS error", err)
	}

	c.TLS = &TLSConfig{CAFile: cert}
	s, err = NewSource(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, s)
	brokertest.WaitReady(t, s)
}

// Run stopped the moment it connected returns only once its OnConnect
// handler's subscription ended. A handler left in paho's Subscribe when
// Disconnect stopped the client taking the SUBSCRIBE waited there for
// connectTimeout (TestConformance/restart-after-ack's rare leak); before
// the fix this failed within 100 runs in each of 5 of 5 tries.
func TestStopJustConnected(t *testing.T) {
	_, broker := mosquitto(t)
	// Busy goroutines make it likely that the handler's goroutine is
	// preempted between Subscribe's status check and its send.
	var busy sync.WaitGroup
	var quit atomic.Bool
	defer func() { quit.Store(true); busy.Wait() }()
	for range 2 * runtime.GOMAXPROCS(0) {
		busy.Go(func() {
			for !quit.Load() { // spin: keep every CPU busy
			}
		})
	}
	for i := range 100 {
		s := newSource(t, broker, "stop/t", "stop")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		for c := s.client.Load(); c == nil || !(*c).IsConnectionOpen(); c = s.client.Load() {
			runtime.Gosched() // connected: its subscription has just begun
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "mqtt.(*Source).subscribe(") {
				t.Fatalf("run %d: Run returned with its subscription still in progress:\n%s", i, g)
			}
		}
	}
}
