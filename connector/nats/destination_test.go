package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/brokertest"
	"github.com/sluicehq/sluice/memory"
)

func newDestination(t *testing.T, url, subject string, opts ...Option) *Destination {
	t.Helper()
	c := DefaultDestinationConfig()
	c.URL, c.Subject = url, subject
	d, err := NewDestination(c, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
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

// readStream reads n messages of stream with an independent ordered
// consumer.
func readStream(t *testing.T, js jetstream.JetStream, stream string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < n {
		batch, err := cons.Fetch(min(n-len(got), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		k := len(got)
		for m := range batch.Messages() {
			got = append(got, string(m.Data()))
		}
		if len(got) == k {
			t.Fatalf("read %d of %d messages", len(got), n)
		}
	}
	return got
}

// Every event sent is in the stream, in order, once the acks are in.
func TestDestinationPublishes(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	_, js := client(t, url)
	stream(t, js, "OUT", "out.>")
	d := newDestination(t, url, "out.app")
	brokertest.Run(t, d)
	want := brokertest.Lines("event-", 5000)
	send(t, d, brokertest.Events(want...))
	if got := readStream(t, js, "OUT", len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the stream holds %d events, want %d in order", len(got), len(want))
	}
}

// A subject no stream captures fails Run at start, naming the subject; so
// does a Send refused then, as a Processor reports whichever it sees first.
func TestDestinationNoStream(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	d := newDestination(t, url, "nobody.listens")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const want = `no stream captures subject "nobody.listens"`
	err := d.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run = %v, want an error naming the subject", err)
	}
	err = d.Send(ctx, func() {}, brokertest.Events("late")...)
	if !errors.Is(err, sluice.ErrClosed) || !strings.Contains(fmt.Sprint(err), want) {
		t.Fatalf("Send after Run failed = %v, want ErrClosed naming the subject", err)
	}
}

// A stream deleted while sluiced publishes: the batch fails with an error
// naming the subject and is retried, never acked, until a stream captures
// the subject again.
func TestDestinationStreamGone(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	_, js := client(t, url)
	stream(t, js, "OUT", "out.>")
	d := newDestination(t, url, "out.app")
	brokertest.Run(t, d)
	send(t, d, brokertest.Events("first"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, "OUT"); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Bool
	if err := d.Send(context.Background(), func() { acked.Store(true) }, brokertest.Events("second")...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if acked.Load() {
		t.Fatal("acked a publish no stream took")
	}
	stream(t, js, "OUT2", "out.>")
	deadline := time.Now().Add(40 * time.Second)
	for !acked.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not acked once a stream captures the subject again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := readStream(t, js, "OUT2", 1); got[0] != "second" {
		t.Fatalf("got %q", got)
	}
}

// An event over the limit is not published: it is counted and acked, or,
// with a dead letter, handed to it.
func TestDestinationOversize(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	_, js := client(t, url)
	stream(t, js, "OUT", "out.>")
	var dropped atomic.Int64
	c := DefaultDestinationConfig()
	c.URL, c.Subject, c.MaxMessageBytes = url, "out.app", 10
	d, err := NewDestination(c, "test", WithHooks(Hooks{Dropped: func(_ string, n int) { dropped.Add(int64(n)) }}))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d)
	send(t, d, brokertest.Events("small", strings.Repeat("x", 11), "after"))
	if got := readStream(t, js, "OUT", 2); strings.Join(got, ",") != "small,after" {
		t.Errorf("stream holds %q", got)
	}
	if dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1", dropped.Load())
	}

	dl := memory.New[event.Event](10)
	t.Cleanup(dl.Close)
	d2, err := NewDestination(c, "test", WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d2)
	var acked atomic.Bool
	if err := d2.Send(context.Background(), func() { acked.Store(true) }, brokertest.Events(strings.Repeat("y", 11))...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, ack, err := dl.Recv(ctx)
	if err != nil || len(m.Value.Raw) != 11 || m.Attributes.Value("error") == "" {
		t.Fatalf("dead letter got %q %v (%v)", m.Value.Raw, m.Attributes, err)
	}
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

// A Run stopped before it connected still connects, checks the stream,
// publishes what it holds and acks it within its stopTimeout: under
// load, the suite's send-cancel stopped Run within 50ms of its start,
// and Run used to wait out its stopTimeout for a connection it no longer
// tried to make. The server comes back on its port with the stream it
// had.
func TestDestinationStoppedBeforeConnected(t *testing.T) {
	dir, port, url := downWithStream(t, "LATE", "late.>")
	c := DefaultDestinationConfig()
	c.URL, c.Subject, c.Batch.StopTimeout = url, "late.stopped", time.Minute
	d, err := NewDestination(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.StopBeforeConnected(t, d, "held", func() { _, url = embedded(t, dir, port) })
	_, js := client(t, url)
	if got := readStream(t, js, "LATE", 1); got[0] != "held" {
		t.Fatalf("the stream holds %q, want the event held at the stop", got)
	}
}

// A stream at its max_bytes with discard "new" refuses publishes: the
// sender (the batch) sees the refusal and publishes again with back-off,
// never acking what the stream did not store, until there is room.
func TestDestinationStreamFull(t *testing.T) {
	_, url := embedded(t, t.TempDir(), 0)
	_, js := client(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const size = 1000
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FULL", Subjects: []string{"full.>"},
		Storage: jetstream.FileStorage, MaxBytes: 5 * size, Discard: jetstream.DiscardNew})
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultDestinationConfig()
	c.URL, c.Subject = url, "full.app"
	c.Batch.Retry.Initial, c.Batch.Retry.Max = 20*time.Millisecond, 100*time.Millisecond
	d, err := NewDestination(c, "test")
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Run(t, d)
	event := func(name string) string { return name + strings.Repeat(".", size-len(name)) }
	send(t, d, brokertest.Events(event("a"), event("b"), event("c")))
	var acked atomic.Bool
	if err := d.Send(ctx, func() { acked.Store(true) }, brokertest.Events(event("d"), event("e"), event("f"))...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // publishes refused and retried meanwhile
	if acked.Load() {
		info, _ := s.Info(ctx)
		t.Fatalf("acked a batch the full stream refused (it holds %d messages, %d bytes)", info.State.Msgs, info.State.Bytes)
	}
	if err := s.Purge(ctx); err != nil { // room again
		t.Fatal(err)
	}
	for !acked.Load() {
		if ctx.Err() != nil {
			t.Fatal("not acked once the stream had room")
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := readStream(t, js, "FULL", int(info.State.Msgs))
	for _, want := range []string{"d", "e", "f"} {
		if !slices.ContainsFunc(got, func(m string) bool { return strings.HasPrefix(m, want+".") }) {
			t.Errorf("event %s is not in the stream after the ack", want)
		}
	}
}
