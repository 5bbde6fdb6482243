package splunk_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/connector/splunk"
	"github.com/sluicehq/sluice/connector/splunk/hectest"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

const token = "11111111-2222-3333-4444-555555555555"
const channel = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"

func ev(raw string) sluice.Message[event.Event] {
	at := time.Date(2026, 11, 24, 23, 0, 0, 123e6, time.UTC)
	return sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, Source: "app", SourceType: "syslog", Host: "web1", Raw: []byte(raw)}}
}

func newHEC(t *testing.T, ack bool) (*hectest.Server, splunk.Config) {
	s := hectest.New(t.Cleanup, token)
	if ack {
		s.AckEnabled()
	}
	return s, splunk.Config{URL: config.Secret(s.URL), Token: token, AckEnabled: ack, Channel: channel,
		AckPollInterval: 10 * time.Millisecond, Timeout: 5 * time.Second}
}

func waitAck(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatal("no ack")
	}
}

// TestConformance runs the sluicetest suite with and without indexer
// acks, each without a dead letter (batches of event objects encoded by
// Send) and with one (batches of messages, encoded by the flush).
func TestConformance(t *testing.T) {
	for _, tc := range []struct{ ack, dead bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		ack := tc.ack
		t.Run(fmt.Sprintf("ack=%v,deadLetter=%v", tc.ack, tc.dead), func(t *testing.T) {
			hec, c := newHEC(t, ack)
			sluicetest.DestinationSuite[event.Event]{
				Features: sluicetest.Features{Durable: true, ConcurrentSend: true},
				NewDestination: func(t *testing.T, name string) sluice.Destination[event.Event] {
					c := c
					c.Index = name
					c.Batch = batch.Config{Count: 16, Age: 5 * time.Millisecond, StopTimeout: time.Second, Retry: storetest.FastRetry}
					var opts []splunk.Option
					if tc.dead {
						opts = append(opts, splunk.WithDeadLetter(&storetest.DeadLetter{}))
					}
					d, err := splunk.New(c, opts...)
					if err != nil {
						t.Fatal(err)
					}
					return d
				},
				Storage: sluicetest.Storage[event.Event]{
					Read: func(name string) ([]sluice.Message[event.Event], error) {
						var msgs []sluice.Message[event.Event]
						for _, e := range hec.Events() {
							if e.Index == name {
								msgs = append(msgs, ev(e.Raw()))
							}
						}
						return msgs, nil
					},
					Fail: func(_ string, fail bool) error {
						if fail {
							hec.Busy(1<<30, 503, "")
						} else {
							hec.Busy(0, 503, "")
						}
						return nil
					},
				},
				Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
				Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
			}.Run(t)
		})
	}
}

// TestEventShape checks the HEC event object against what HEC indexed.
func TestEventShape(t *testing.T) {
	hec, c := newHEC(t, false)
	c.Index, c.Sourcetype = "web", "access_combined"
	c.Batch = batch.Config{Count: 2, Age: time.Hour}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	acked := make(chan struct{})
	empty := ev("")
	if err := d.Send(context.Background(), func() { close(acked) }, ev(`GET / "quoted" ü`), empty); err != nil {
		t.Fatal(err)
	}
	waitAck(t, acked)
	got := hec.Events()
	if len(got) != 2 {
		t.Fatalf("indexed %d events, want 2", len(got))
	}
	e := got[0]
	if e.Time.String() != "1795561200.123" || e.Host != "web1" || e.Source != "app" || e.Sourcetype != "access_combined" ||
		e.Index != "web" || e.Raw() != `GET / "quoted" ü` {
		t.Errorf("indexed %+v", e)
	}
	if !bytes.HasPrefix(got[1].Event, []byte(`{"ts":`)) {
		t.Errorf("an event with no raw bytes went as %s, want its JSON object", got[1].Event)
	}
}

// TestFirstPushesBusy answers the first three requests 429 (and then 503
// code 9) with Retry-After: 1: the batch is acked after them, not before.
func TestFirstPushesBusy(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			hec, c := newHEC(t, true)
			hec.Busy(3, status, "1")
			c.Batch = batch.Config{Count: 5, Age: time.Hour, Parallelism: 1, Retry: retry.Policy{Initial: 10 * time.Millisecond}}
			d, err := splunk.New(c)
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			acked := make(chan struct{})
			start := time.Now()
			if err := d.Send(context.Background(), func() { close(acked) }, ev("a"), ev("b"), ev("c"), ev("d"), ev("e")); err != nil {
				t.Fatal(err)
			}
			waitAck(t, acked)
			if el := time.Since(start); el < 3*time.Second {
				t.Errorf("acked after %v; three Retry-After: 1", el)
			}
			if n := len(hec.Events()); n != 5 || hec.Requests() != 4 {
				t.Errorf("indexed %d events in %d requests, want 5 in 4", n, hec.Requests())
			}
		})
	}
}

// TestEventRefused has HEC refuse the third event of five: it goes to the
// dead letter with HEC's code, and the others are indexed.
func TestEventRefused(t *testing.T) {
	hec, c := newHEC(t, false)
	hec.Refuse = func(e hectest.Event) bool { return e.Raw() == "bad" }
	c.Batch = batch.Config{Count: 5, Age: time.Hour, Retry: storetest.FastRetry}
	dl := &storetest.DeadLetter{}
	d, err := splunk.New(c, splunk.WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	acked := make(chan struct{})
	if err := d.Send(context.Background(), func() { close(acked) }, ev("a"), ev("b"), ev("bad"), ev("d"), ev("e")); err != nil {
		t.Fatal(err)
	}
	waitAck(t, acked)
	if len(dl.Got()) != 1 || string(dl.Got()[0].Value.Raw) != "bad" || !strings.Contains(dl.Got()[0].Attributes.Value("error"), `code 6 "Invalid data format"`) {
		t.Fatalf("dead letter got %v", dl.Got())
	}
	seen := map[string]int{}
	for _, e := range hec.Events() {
		seen[e.Raw()]++
	}
	for _, s := range []string{"a", "b", "d", "e"} {
		if seen[s] == 0 {
			t.Errorf("%q not indexed", s)
		}
	}
	// HEC indexed a and b before refusing "bad"; they are sent again.
	t.Logf("indexed %v", seen)
}

// TestEventRefusedNoDeadLetter has HEC refuse the third event of five
// without a dead letter: Run stops naming the refusal, and nothing is
// acked, so a replayable source sends the batch again after the fix.
func TestEventRefusedNoDeadLetter(t *testing.T) {
	hec, c := newHEC(t, false)
	hec.Refuse = func(e hectest.Event) bool { return e.Raw() == "bad" }
	c.Batch = batch.Config{Count: 5, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	var acks atomic.Int32
	if err := d.Send(t.Context(), func() { acks.Add(1) }, ev("a"), ev("b"), ev("bad"), ev("d"), ev("e")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if want := `splunk_hec: 1 of 5 events refused, first: POST http://`; err == nil || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), `code 6 "Invalid data format"`) {
			t.Errorf("Run = %v, want %q... code 6", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if acks.Load() != 0 {
		t.Error("the batch was acked")
	}
}

// TestAckOnlyAfterConfirmation delays HEC's acks: the Send is acked only
// once /services/collector/ack reported its ack id true.
func TestAckOnlyAfterConfirmation(t *testing.T) {
	hec, c := newHEC(t, true)
	hec.DelayAcks(300 * time.Millisecond)
	c.Batch = batch.Config{Count: 2, Age: time.Hour}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	// indexed is when HEC took the events, read on its side: the ack id
	// turns true 300ms after it. A time read by the test after Send
	// returned can come any time later on a loaded machine.
	var indexed time.Time
	hec.OnNextIndex(func() { indexed = time.Now() })
	acked := make(chan struct{})
	var pendingAtAck int
	var el time.Duration
	if err := d.Send(context.Background(), func() {
		el, pendingAtAck = time.Since(indexed), hec.Pending(channel)
		close(acked)
	}, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	waitAck(t, acked)
	if len(hec.Events()) != 2 || el < 300*time.Millisecond || pendingAtAck != 0 {
		t.Errorf("acked %v after HEC took %d events, with %d ack ids pending; want after the 300ms ack delay, none pending",
			el, len(hec.Events()), pendingAtAck)
	}
}

// TestAckLost loses the first request's ack id, as an indexer restart
// does: after ackTimeout the batch is sent again and acked on the second
// ack; its events are indexed twice, as documented.
func TestAckLost(t *testing.T) {
	hec, c := newHEC(t, true)
	hec.LoseAcks(1)
	c.AckTimeout = 200 * time.Millisecond
	c.Batch = batch.Config{Count: 2, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	acked := make(chan struct{})
	if err := d.Send(context.Background(), func() { close(acked) }, ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	waitAck(t, acked)
	if hec.Requests() != 2 || len(hec.Events()) != 4 {
		t.Errorf("%d requests, %d events indexed; want 2 and 4 (sent again after the ack timeout)", hec.Requests(), len(hec.Events()))
	}
}

// TestOutstandingAcksBounded sends many batches while acks are slow: the
// channel never holds more ack ids than batch.parallelism.
func TestOutstandingAcksBounded(t *testing.T) {
	hec, c := newHEC(t, true)
	hec.DelayAcks(50 * time.Millisecond)
	c.Batch = batch.Config{Count: 10, Age: time.Millisecond, Parallelism: 3}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		var msgs []sluice.Message[event.Event]
		for j := range 10 {
			msgs = append(msgs, ev(fmt.Sprintf("%d-%d", i, j)))
		}
		if err := d.Send(context.Background(), wg.Done, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if m := hec.MaxPending(); m > 3 || m < 2 {
		t.Errorf("at most %d ack ids outstanding, want 2 or 3 (parallelism 3)", m)
	}
}

// TestTokenNeverLogged uses a wrong token: Run stops with HEC's 403, and
// neither the error nor the log holds the token.
func TestTokenNeverLogged(t *testing.T) {
	_, c := newHEC(t, false)
	c.Token = "s3cret-token-value"
	c.Batch = batch.Config{Count: 1, Age: time.Hour, Retry: storetest.FastRetry}
	var logs bytes.Buffer
	d, err := splunk.New(c, splunk.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	done := storetest.Run(t, d)
	if err := d.Send(context.Background(), func() { t.Error("acked") }, ev("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `403 Forbidden: code 4 "Invalid token"`) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if !strings.Contains(logs.String(), "Invalid token") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("log holds the token, or not the refusal:\n%s", logs.String())
	}
}

// TestRealHEC sends events to the HEC at $SLUICE_SPLUNK_URL with the
// token $SLUICE_SPLUNK_TOKEN ($SLUICE_SPLUNK_ACK=1 if the token has
// indexer acknowledgement on; $SLUICE_SPLUNK_INSECURE=1 for Splunk's
// self-signed certificate) and waits for the acks. Events cannot be read
// back through HEC: search for sourcetype=sluice_test in Splunk.
func TestRealHEC(t *testing.T) {
	u := os.Getenv("SLUICE_SPLUNK_URL")
	if u == "" {
		t.Skip("set SLUICE_SPLUNK_URL and SLUICE_SPLUNK_TOKEN to run against a real HEC")
	}
	c := splunk.Config{URL: config.Secret(u), Token: config.Secret(os.Getenv("SLUICE_SPLUNK_TOKEN")),
		AckEnabled: os.Getenv("SLUICE_SPLUNK_ACK") == "1", Sourcetype: "sluice_test",
		TLS: splunk.TLSConfig{InsecureSkipVerify: os.Getenv("SLUICE_SPLUNK_INSECURE") == "1"}}
	d, err := splunk.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	acked := make(chan struct{})
	var msgs []sluice.Message[event.Event]
	for i := range 100 {
		msgs = append(msgs, ev(fmt.Sprintf("sluice test %s %d", t.Name(), i)))
	}
	if err := d.Send(context.Background(), func() { close(acked) }, msgs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(3 * time.Minute):
		t.Fatal("not acked")
	}
}
