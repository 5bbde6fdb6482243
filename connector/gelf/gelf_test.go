package gelf_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/gelf"
	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

var fastRetry = retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

func ev(raw string) sluice.Message[event.Event] {
	at := time.Date(2026, 11, 24, 23, 0, 0, 250e6, time.UTC)
	return sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, Source: "app", SourceType: "file", Host: "10.0.0.7", Raw: []byte(raw)}}
}

func newServer(t *testing.T) *gelftest.Server {
	t.Helper()
	s, err := gelftest.New(t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addr(s *gelftest.Server, network string) string {
	if network == "tcp" {
		return s.TCPAddr
	}
	return s.UDPAddr
}

func run(t *testing.T, d sluice.Runner) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return done
}

func send(t *testing.T, d sluice.Destination[event.Event], msgs ...sluice.Message[event.Event]) {
	t.Helper()
	acked := make(chan struct{})
	if err := d.Send(context.Background(), func() { close(acked) }, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		t.Fatal("not acked")
	}
}

// waitMessages waits until the server has n messages.
func waitMessages(t *testing.T, s *gelftest.Server, n int) []gelftest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := s.Messages()
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server has %d messages, want %d (rejected: %v)", len(m), n, s.Rejected())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConformance(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			sluicetest.Suite[event.Event]{
				Features: sluicetest.Features{ConcurrentSend: true, ConcurrentRecv: true},
				NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
					q := memory.New[event.Event](1 << 14)
					s := newServer(t)
					s.Forward(func(m gelftest.Message) {
						_ = q.Send(context.Background(), nil, ev(m.String("short_message")))
					})
					d, err := gelf.New(gelf.Config{ServiceAddr: addr(s, network), Network: network,
						Batch: batch.Config{Count: 16, Age: 5 * time.Millisecond, StopTimeout: time.Second, Retry: fastRetry}})
					if err != nil {
						t.Fatal(err)
					}
					return q, d
				},
				Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
				Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
			}.Run(t)
		})
	}
}

// TestMessageShape checks a parsed syslog event's GELF message.
func TestMessageShape(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			s := newServer(t)
			d, err := gelf.New(gelf.Config{ServiceAddr: addr(s, network), Network: network, Host: "fallback"})
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			m := ev("<34>1 2026-11-24T23:00:00Z web1 sshd 77 ID47 - login failed\nfor \"alice\" ü")
			m.Value.Syslog = event.Syslog{Present: true, Facility: 4, Severity: 2, Version: 1, Hostname: "web1", AppName: "sshd", ProcID: "77", MsgID: "ID47", Message: "login failed\nfor \"alice\" ü"}
			m.Value.Fields = []event.Field{{Name: "id", Value: "x"}, {Name: "user name", Value: "alice"}}
			plain := ev("")
			plain.Value.Host = ""
			send(t, d, m, plain)
			got := waitMessages(t, s, 2)
			g := got[0]
			want := map[string]string{"version": "1.1", "host": "web1", "short_message": "login failed\nfor \"alice\" ü",
				"full_message": string(m.Value.Raw), "timestamp": "1795561200.250", "level": "2", "_facility": "4", "_app_name": "sshd",
				"_proc_id": "77", "_msg_id": "ID47", "_source": "app", "_source_type": "file", "_id_": "x", "_user_name": "alice"}
			for k, v := range want {
				if fmt.Sprint(g[k]) != v {
					t.Errorf("%s = %v, want %q", k, g[k], v)
				}
			}
			if got[1].String("host") != "fallback" || got[1].String("short_message") != "-" {
				t.Errorf("an event without host or raw: %v", got[1])
			}
			if r := s.Rejected(); len(r) > 0 {
				t.Errorf("rejected: %v", r)
			}
		})
	}
}

func random(n int) string {
	b := make([]byte, n*3/4+1)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)[:n]
}

// TestUDPChunked sends messages larger than a datagram, in every
// compression: the server reassembles the chunks and decompresses.
func TestUDPChunked(t *testing.T) {
	for _, comp := range []string{"auto", "gzip", "zlib", "none"} {
		t.Run(comp, func(t *testing.T) {
			s := newServer(t)
			d, err := gelf.New(gelf.Config{ServiceAddr: s.UDPAddr, Compression: comp, ChunkSize: 1420})
			if err != nil {
				t.Fatal(err)
			}
			run(t, d)
			big := []sluice.Message[event.Event]{ev(random(40000)), ev("small"), ev(random(100000))}
			send(t, d, big...)
			got := waitMessages(t, s, 3)
			for i, m := range got {
				if m.String("short_message") != string(big[i].Value.Raw) {
					t.Errorf("message %d: %d bytes, want %d", i, len(m.String("short_message")), len(big[i].Value.Raw))
				}
			}
			if s.Incomplete() != 0 {
				t.Errorf("%d incomplete messages", s.Incomplete())
			}
		})
	}
}

// TestUDPTooLarge sends a message that needs more than 128 chunks: it goes
// to the dead letter, and the others of its batch are sent.
func TestUDPTooLarge(t *testing.T) {
	s := newServer(t)
	dl := &storetest.DeadLetter{}
	d, err := gelf.New(gelf.Config{ServiceAddr: s.UDPAddr, ChunkSize: 512}, gelf.WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	send(t, d, ev("before"), ev(random(200000)), ev("after"))
	got := waitMessages(t, s, 2)
	if got[0].String("short_message") != "before" || got[1].String("short_message") != "after" {
		t.Errorf("got %d messages, not before and after", len(got))
	}
	if dl := dl.Got(); len(dl) != 1 || !strings.Contains(dl[0].Attributes.Value("error"), "more than 128") {
		t.Errorf("dead letter: %v", dl)
	}
}

// TestTCPInputDown points the destination at a closed TCP port: nothing
// is acked, and Run stops at once when asked, not acking.
func TestTCPInputDown(t *testing.T) {
	s := newServer(t)
	a := s.TCPAddr
	s.Close()
	d, err := gelf.New(gelf.Config{ServiceAddr: a, Network: "tcp", Batch: batch.Config{Count: 1, StopTimeout: 100 * time.Millisecond, Retry: fastRetry}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	acked := false
	if err := d.Send(context.Background(), func() { acked = true }, ev("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	err = <-done
	if acked || err == nil || !strings.Contains(err.Error(), "not") {
		t.Errorf("acked %v, Run = %v; want not acked and an error saying so", acked, err)
	}
}

// TestRealGraylog sends events to the GELF input at $SLUICE_GELF_ADDR
// over $SLUICE_GELF_NETWORK (udp by default) and waits for the acks,
// which over UDP mean only that the datagrams left.
func TestRealGraylog(t *testing.T) {
	a := os.Getenv("SLUICE_GELF_ADDR")
	if a == "" {
		t.Skip("set SLUICE_GELF_ADDR (and SLUICE_GELF_NETWORK) to run against a real Graylog input")
	}
	network := os.Getenv("SLUICE_GELF_NETWORK")
	d, err := gelf.New(gelf.Config{ServiceAddr: a, Network: network})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	var msgs []sluice.Message[event.Event]
	for i := range 100 {
		msgs = append(msgs, ev(fmt.Sprintf("sluice test %s %d", t.Name(), i)))
	}
	msgs = append(msgs, ev("sluice test large "+random(50000)))
	send(t, d, msgs...)
}
