package nats

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// logsServer starts a server with a stream LOGS capturing logs.> and
// connects a client.
func logsServer(t testing.TB) (string, jetstream.JetStream) {
	t.Helper()
	_, url := embedded(t, t.TempDir(), 0)
	_, js := client(t, url)
	stream(t, js, "LOGS", "logs.>")
	return url, js
}

// countCopies counts the messages s pulls that the server sent again,
// calling also (if not nil) on each, before s looks at it.
func countCopies(s *Source, also func()) *atomic.Int64 {
	var n atomic.Int64
	s.received = func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			n.Add(1)
			if also != nil {
				also()
			}
		}
	}
	return &n
}

// downWithStream starts a server with a stream name capturing subjects,
// then shuts it down; it returns the server's store, port and URL, to
// start it again (embedded(t, dir, port)) with the stream.
func downWithStream(t testing.TB, name string, subjects ...string) (dir string, port int, url string) {
	t.Helper()
	dir = t.TempDir()
	s, url := embedded(t, dir, 0)
	nc, js := client(t, url)
	stream(t, js, name, subjects...)
	nc.Close()
	port = s.Addr().(*net.TCPAddr).Port
	s.Shutdown()
	s.WaitForShutdown()
	return dir, port, url
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
