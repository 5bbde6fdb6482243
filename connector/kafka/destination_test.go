package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/memory"
)

// syslogLine is the i-th test line, RFC 5424 as a syslog source gets it.
func syslogLine(i int) []byte {
	return fmt.Appendf(nil, "<134>1 2026-12-06T07:00:00.%06dZ web%d nginx 1234 - - request %d done", i%1000000, i%7, i)
}

// TestDestination50kSyslog sends 50,000 syslog lines in Sends of up to 500
// from four goroutines; every ack fires, and a plain consumer reads every
// line back from the broker, each exactly once.
func TestDestination50kSyslog(t *testing.T) {
	const n = 50_000
	c := newCluster(t, 3, "out")
	var acked, events atomic.Int64
	dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out", Compression: "zstd"},
		kafka.WithDestinationHooks(kafka.DestinationHooks{Acked: func(k, _ int, _ time.Duration) { events.Add(int64(k)) }}))
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, dst)
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for start := w * 500; start < n; start += 4 * 500 {
				msgs := make([]sluice.Message[event.Event], 0, 500)
				for i := start; i < min(start+500, n); i++ {
					msgs = append(msgs, sluice.Message[event.Event]{Value: event.Event{Raw: syslogLine(i)}})
				}
				if err := dst.Send(t.Context(), func() { acked.Add(1) }, msgs...); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, "every Send acked", func() bool { return acked.Load() == n/500 })
	if got := events.Load(); got != n {
		t.Errorf("the Acked hook counted %d events, want %d", got, n)
	}
	recs := readExactly(t, c, "out", n)
	seen := make([]bool, n)
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(string(r.Value[bytes.Index(r.Value, []byte("request ")):]), "request %d done", &i); err != nil || i < 0 || i >= n {
			t.Fatalf("unexpected record %q", r.Value)
		}
		if !bytes.Equal(r.Value, syslogLine(i)) {
			t.Fatalf("record %d is %q, want %q", i, r.Value, syslogLine(i))
		}
		if seen[i] {
			t.Fatalf("line %d read twice", i)
		}
		seen[i] = true
	}
	if len(recs) != n {
		t.Fatalf("read %d records back, want %d", len(recs), n)
	}
}

// TestKeyAndFormat: the key comes from the named field, or from the
// message's key; format json writes the event's JSON.
func TestKeyAndFormat(t *testing.T) {
	for _, tc := range []struct {
		name, key, format string
		msg               sluice.Message[event.Event]
		wantKey, wantVal  string
	}{
		{"syslog hostname", "syslog.hostname", "raw",
			sluice.Message[event.Event]{Key: "ignored", Value: event.Event{Raw: []byte("x"), Syslog: event.Syslog{Present: true, Hostname: "web1"}}}, "web1", "x"},
		{"field", "fields.user", "raw",
			sluice.Message[event.Event]{Value: event.Event{Raw: []byte("y"), Fields: []event.Field{{Name: "user", Value: "ann"}}}}, "ann", "y"},
		{"field missing", "fields.user", "raw", sluice.Message[event.Event]{Value: event.Event{Raw: []byte("z")}}, "", "z"},
		{"message key", "", "raw", sluice.Message[event.Event]{Key: "k1", Value: event.Event{Raw: []byte("w")}}, "k1", "w"},
		{"json", "host", "json", sluice.Message[event.Event]{Value: event.Event{Raw: []byte("v"), Host: "h",
			ReceivedAt: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}}, "h",
			`{"ts":"2026-12-06T00:00:00Z","receivedAt":"2026-12-06T00:00:00Z","host":"h","raw":"v"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, "out")
			dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out", Key: tc.key, Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			runSource(t, dst)
			acked := make(chan struct{})
			if err := dst.Send(t.Context(), func() { close(acked) }, tc.msg); err != nil {
				t.Fatal(err)
			}
			<-acked
			recs := readAll(t, c, "out", 1, 10*time.Second)
			if len(recs) != 1 {
				t.Fatalf("read %d records", len(recs))
			}
			if got := string(recs[0].Key); got != tc.wantKey {
				t.Errorf("key %q, want %q", got, tc.wantKey)
			}
			if got := string(recs[0].Value); got != tc.wantVal {
				t.Errorf("value %q, want %q", got, tc.wantVal)
			}
		})
	}
}

// TestOversize: an event larger than maxMessageBytes is not produced; it
// is counted and acked, or goes to the dead letter, and the rest of its
// Send is produced.
func TestOversize(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2000)
	msgs := []sluice.Message[event.Event]{{Value: event.Event{Raw: []byte("small 1")}}, {Value: event.Event{Raw: big}},
		{Value: event.Event{Raw: []byte("small 2")}}}
	for _, tc := range []struct {
		name       string
		withDL     bool
		max        int    // the destination's maxMessageBytes
		topicLimit string // the topic's max.message.bytes, if set
	}{
		{"maxMessageBytes", false, 1000, ""},
		{"dead letter", true, 1000, ""},
		{"topic max.message.bytes", false, 0, "1000"},
	} {
		withDL := tc.withDL
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1)
			createTopicConfigs(t, c, "out", map[string]*string{"max.message.bytes": ptr(tc.topicLimit)})
			var rejected atomic.Int64
			opts := []kafka.DestinationOption{kafka.WithDestinationHooks(kafka.DestinationHooks{Rejected: func(cause string) {
				if cause == "oversize" {
					rejected.Add(1)
				}
			}})}
			dl := memory.New[event.Event](10)
			if withDL {
				opts = append(opts, kafka.WithDeadLetter(dl))
			}
			dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out", MaxMessageBytes: tc.max}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			runSource(t, dst)
			acked := make(chan struct{})
			if err := dst.Send(t.Context(), func() { close(acked) }, msgs...); err != nil {
				t.Fatal(err)
			}
			if withDL {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				m, dlAck, err := dl.Recv(ctx)
				if err != nil || !bytes.Equal(m.Value.Raw, big) {
					t.Fatalf("dead letter got %d bytes, %v; want the oversize event", len(m.Value.Raw), err)
				}
				select {
				case <-acked:
					t.Fatal("acked before the dead letter acked")
				case <-time.After(100 * time.Millisecond):
				}
				dlAck()
			}
			select {
			case <-acked:
			case <-time.After(10 * time.Second):
				t.Fatal("not acked")
			}
			if want := map[bool]int64{false: 1, true: 0}[withDL]; rejected.Load() != want {
				t.Errorf("rejected %d, want %d", rejected.Load(), want)
			}
			recs := readExactly(t, c, "out", 2)
			var got []string
			for _, r := range recs {
				got = append(got, string(r.Value))
			}
			if strings.Join(got, ",") != "small 1,small 2" {
				t.Errorf("the topic holds %q, want the two small events", got)
			}
		})
	}
}

// TestDestinationUnknownTopic: a topic that does not exist fails Run,
// naming it; Send waiting for Run returns, naming it too (a Processor
// reports whichever error it sees first).
func TestDestinationUnknownTopic(t *testing.T) {
	c := newCluster(t, 1, "out")
	dst, _ := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "nope"})
	sent := make(chan error, 1)
	go func() {
		sent <- dst.Send(t.Context(), nil, sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x")}})
	}()
	const want = `topic "nope" does not exist`
	err := dst.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), `kafka destination: topic "nope" does not exist on brokers `+c.ListenAddrs()[0]) {
		t.Fatalf("Run = %v", err)
	}
	if err := <-sent; !errors.Is(err, sluice.ErrClosed) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("Send waiting when Run failed = %v, want ErrClosed naming the topic", err)
	}
	err = dst.Send(t.Context(), nil, sluice.Message[event.Event]{Value: event.Event{Raw: []byte("y")}})
	if !errors.Is(err, sluice.ErrClosed) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("Send after Run failed = %v, want ErrClosed naming the topic", err)
	}
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// TestDestinationBrokerDownAtStart: with no broker, the destination is
// not ready and names the brokers, a Send waits (and gives up with its
// ctx, unacked); once a broker is up, Sends go through.
func TestDestinationBrokerDownAtStart(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dst, _ := kafka.NewDestination(kafka.DestinationConfig{Brokers: []string{addr}, Topic: "out"})
	runSource(t, dst)
	msg := sluice.Message[event.Event]{Value: event.Event{Raw: []byte("x")}}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := dst.Send(ctx, func() { t.Error("acked without a broker") }, msg); err == nil {
		t.Fatal("Send without a broker returned nil")
	}
	if why := dst.NotReady(); !strings.Contains(why, addr) {
		t.Errorf("NotReady = %q, want it to name %s", why, addr)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	acked := make(chan struct{})
	if err := dst.Send(t.Context(), func() { close(acked) }, msg); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(30 * time.Second):
		t.Fatal("not acked once the broker was up")
	}
	if why := dst.NotReady(); why != "" {
		t.Errorf("NotReady = %q once connected", why)
	}
}

// TestSendLargerThanMaxBuffered: a Send of more records than maxBuffered
// goes out a part at a time, and is acked once, when all are stored.
func TestSendLargerThanMaxBuffered(t *testing.T) {
	const n = 2000
	c := newCluster(t, 2, "out")
	dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out", MaxBuffered: 100})
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, dst)
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		msgs[i].Value.Raw = syslogLine(i)
	}
	var acks atomic.Int32
	done := make(chan struct{})
	go func() {
		if err := dst.Send(t.Context(), func() { acks.Add(1); close(done) }, msgs...); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("not acked")
	}
	if got := len(readAll(t, c, "out", n, 10*time.Second)); got != n {
		t.Errorf("the topic holds %d records, want %d", got, n)
	}
	if acks.Load() != 1 {
		t.Errorf("acked %d times", acks.Load())
	}
}

// TestDestinationStopUndelivered: brokers gone mid-stream, then a stop:
// the records they never acknowledged are not acked, and Run says so with
// [sluice.ErrUndelivered], so that the daemon reports an incomplete drain
// (exit 3) rather than a clean one.
func TestDestinationStopUndelivered(t *testing.T) {
	c := newCluster(t, 1, "out")
	dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: "out"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- dst.Run(ctx) }()
	msg := func(s string) sluice.Message[event.Event] {
		return sluice.Message[event.Event]{Value: event.Event{Raw: []byte(s)}}
	}
	acked := make(chan struct{})
	if err := dst.Send(t.Context(), func() { close(acked) }, msg("before")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(30 * time.Second):
		t.Fatal("not acked with the broker up")
	}
	c.Close() // the brokers go away
	if err := dst.Send(t.Context(), func() { t.Error("acked with the brokers gone") }, msg("a"), msg("b"), msg("c")); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the stop")
	}
	if !errors.Is(err, sluice.ErrUndelivered) || !strings.Contains(fmt.Sprint(err), "3 records") {
		t.Fatalf("Run = %v, want sluice.ErrUndelivered counting 3 records", err)
	}
}
