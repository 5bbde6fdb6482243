package nats

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// embedded runs a nats-server with JetStream in the test process, its
// store in dir, on port (or a free one if 0).
func embedded(t testing.TB, dir string, port int, edit ...func(*server.Options)) (*server.Server, string) {
	t.Helper()
	if port == 0 {
		port = -1
	}
	o := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	for _, f := range edit {
		f(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, fmt.Sprintf("nats://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)
}

// client connects a plain nats.go client, independent of the connector.
func client(t testing.TB, url string, opts ...natsgo.Option) (*natsgo.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsgo.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// stream creates a file-backed stream name capturing subjects.
func stream(t testing.TB, js jetstream.JetStream, name string, subjects ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
}

// publish publishes each line to subject and waits for the PubAcks.
func publish(t testing.TB, js jetstream.JetStream, subject string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := js.PublishAsync(subject, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("PubAcks not in within 30s")
	}
}

// run runs r until the test ends; stop cancels it and returns its error.
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

func nothing(t *testing.T, s *Source, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, _, err := s.Recv(ctx); err == nil {
		t.Fatalf("got %q, want nothing", m.Value.Raw)
	}
}

func waitReady(t *testing.T, r interface{ NotReady() string }) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.NotReady() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20s: %s", r.NotReady())
		}
		time.Sleep(20 * time.Millisecond)
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
