package elasticsearch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	"github.com/sluicehq/sluice/connector/internal/storetest"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/retry"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestConformance(t *testing.T) {
	tg := newTarget(t)
	sluicetest.DestinationSuite[event.Event]{
		// Timeout is how long a message may take from Send to the read
		// back, and an ack or a blocked Send to come: generous, as on a
		// loaded machine the in-process cluster, the destination and the
		// suite's polling reads share the CPU (5s, the default, was seen
		// to pass by). Each wait ends as soon as what it waits for holds.
		Features: sluicetest.Features{Durable: true, ConcurrentSend: true, Timeout: time.Minute},
		NewDestination: func(t *testing.T, name string) sluice.Destination[event.Event] {
			c := tg.config(name)
			c.ID = "content"
			c.Batch = batch.Config{Count: 16, Age: 5 * time.Millisecond, StopTimeout: time.Second, Retry: storetest.FastRetry}
			d, err := elasticsearch.New(c)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Storage: sluicetest.Storage[event.Event]{
			Read: func(name string) ([]sluice.Message[event.Event], error) {
				docs, err := tg.read(name)
				if err != nil {
					return nil, err
				}
				msgs := make([]sluice.Message[event.Event], len(docs))
				for i, d := range docs {
					msgs[i] = ev(d.Raw)
				}
				return msgs, nil
			},
			Fail: func(name string, fail bool) error {
				if tg.fake == nil {
					return fmt.Errorf("cannot make a real cluster fail")
				}
				tg.fake.Unavailable(fail)
				return nil
			},
		},
		// Payloads are distinct, so content ids are too.
		Wrap:   func(p []byte) sluice.Message[event.Event] { return ev(string(p)) },
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

// TestFirstPushesThrottled answers the first three bulk requests 429
// es_rejected_execution_exception with Retry-After: 1; the events are
// stored and acked after it, not before.
func TestFirstPushesThrottled(t *testing.T) {
	tg := newTarget(t)
	es := tg.needFake(t)
	es.Throttle(3, "1")
	c := tg.config("throttled")
	// The default Max (30s): the hint is capped at a multiple of it.
	c.Batch = batch.Config{Count: 10, Age: time.Hour, Parallelism: 1, Retry: retry.Policy{Initial: 10 * time.Millisecond}}
	d, err := elasticsearch.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	a := newAcks()
	start := time.Now()
	var msgs []sluice.Message[event.Event]
	for i := range 10 {
		msgs = append(msgs, ev(fmt.Sprintf("line %d", i)))
	}
	if err := d.Send(context.Background(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	if el := time.Since(start); el < 3*time.Second {
		t.Errorf("acked after %v: the three 429s asked for 1s each", el)
	}
	docs, _ := tg.read("throttled")
	if len(docs) != 10 {
		t.Errorf("stored %d documents, want 10", len(docs))
	}
}

// TestItemRejectedThenRetried answers 429 es_rejected_execution_exception
// for two items of a batch, twice: only those two are sent again, and
// nothing is acked until they are stored.
func TestItemRejectedThenRetried(t *testing.T) {
	tg := newTarget(t)
	es := tg.needFake(t)
	var rejections atomic.Int32
	es.RejectItems(func(doc []byte) bool {
		return bytes.Contains(doc, []byte("busy")) && rejections.Add(1) <= 4
	})
	c := tg.config("partial")
	c.Batch = batch.Config{Count: 10, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := elasticsearch.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	var msgs []sluice.Message[event.Event]
	for i := range 10 {
		s := fmt.Sprintf("line %d", i)
		if i == 3 || i == 7 {
			s += " busy"
		}
		msgs = append(msgs, ev(s))
	}
	a := newAcks()
	if err := d.Send(context.Background(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	if got, want := es.Items(), []int{10, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("items per request %v, want %v: only the rejected items are resent", got, want)
	}
	docs, _ := tg.read("partial")
	if len(docs) != 10 {
		t.Errorf("stored %d documents, want 10", len(docs))
	}
}

// TestMappingErrorDeadLettered maps "raw" as a long: the events whose raw
// is not a number are rejected with a parsing error and go to the dead
// letter with Elasticsearch's reason; the rest are stored, and the ack
// waits for both.
func TestMappingErrorDeadLettered(t *testing.T) {
	tg := newTarget(t)
	const idx = "mapping-errors"
	if _, err := tg.do("PUT", "/"+idx, `{"mappings": {"properties": {"raw": {"type": "long"}}}}`); err != nil {
		t.Fatal(err)
	}
	dl := &storetest.DeadLetter{}
	c := tg.config(idx)
	c.Batch = batch.Config{Count: 4, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := elasticsearch.New(c, elasticsearch.WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	a := newAcks()
	if err := d.Send(context.Background(), a.ack, ev("1"), ev("two"), ev("3"), ev("4")); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	got := dl.Got()
	if len(got) != 1 || string(got[0].Value.Raw) != "two" {
		t.Fatalf("dead letter got %d events, want the one with raw \"two\"", len(got))
	}
	reason := got[0].Attributes.Value("error")
	if !strings.HasPrefix(reason, "400 ") || !strings.Contains(reason, "pars") || !strings.Contains(reason, "[raw]") {
		t.Errorf("error attribute %q, want 400 and the parsing error on [raw]", reason)
	}
	docs, _ := tg.read(idx)
	if len(docs) != 3 {
		t.Errorf("stored %d documents, want 3", len(docs))
	}
}

// TestMappingErrorWithoutDeadLetter stops Run, acking nothing.
func TestMappingErrorWithoutDeadLetter(t *testing.T) {
	tg := newTarget(t)
	const idx = "mapping-fatal"
	if _, err := tg.do("PUT", "/"+idx, `{"mappings": {"properties": {"raw": {"type": "long"}}}}`); err != nil {
		t.Fatal(err)
	}
	c := tg.config(idx)
	c.Batch = batch.Config{Count: 2, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := elasticsearch.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := storetest.Run(t, d)
	acked := false
	if err := d.Send(context.Background(), func() { acked = true }, ev("1"), ev("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "1 of 2 items rejected") {
			t.Errorf("Run = %v, want the rejection", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if acked {
		t.Error("acked a batch with a rejected item and no dead letter")
	}
}

// TestRetryAfterLostResponse stores a batch and closes the connection
// before answering: the retry must not store the events twice with
// id "content", in both op types; with id "auto" it does, as documented.
func TestRetryAfterLostResponse(t *testing.T) {
	for _, tc := range []struct {
		id, op string
		want   int
	}{
		{"content", "create", 5},
		{"content", "index", 5},
		{"auto", "index", 10},
	} {
		t.Run(tc.id+"/"+tc.op, func(t *testing.T) {
			tg := newTarget(t)
			es := tg.needFake(t)
			es.DropResponses(1)
			c := tg.config("lost")
			c.ID, c.OpType = tc.id, tc.op
			c.Batch = batch.Config{Count: 5, Age: time.Hour, Retry: storetest.FastRetry}
			d, err := elasticsearch.New(c)
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			a := newAcks()
			if err := d.Send(context.Background(), a.ack, ev("a"), ev("b"), ev("c"), ev("d"), ev("e")); err != nil {
				t.Fatal(err)
			}
			a.wait(t, 1)
			if docs, _ := tg.read("lost"); len(docs) != tc.want {
				t.Errorf("stored %d documents, want %d", len(docs), tc.want)
			}
		})
	}
}

// TestTooLarge sets http.max_content_length to 4 KiB: a 40-event batch is
// split until it fits, and an event larger than the limit by itself goes
// to the dead letter with the 413.
func TestTooLarge(t *testing.T) {
	tg := newTarget(t)
	es := tg.needFake(t)
	es.MaxContentLength = 4 << 10
	dl := &storetest.DeadLetter{}
	c := tg.config("large")
	c.Batch = batch.Config{Count: 41, Age: time.Hour, Retry: storetest.FastRetry}
	d, err := elasticsearch.New(c, elasticsearch.WithDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	var msgs []sluice.Message[event.Event]
	for i := range 40 {
		msgs = append(msgs, ev(fmt.Sprintf("%03d %s", i, strings.Repeat("x", 200))))
	}
	msgs = append(msgs, ev(strings.Repeat("y", 5<<10)))
	a := newAcks()
	if err := d.Send(context.Background(), a.ack, msgs...); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	if docs, _ := tg.read("large"); len(docs) != 40 {
		t.Errorf("stored %d documents, want 40", len(docs))
	}
	if got := dl.Got(); len(got) != 1 || !strings.Contains(got[0].Attributes.Value("error"), "413") {
		t.Errorf("dead letter got %d events, want the large one with its 413", len(got))
	}
}

// TestIndexFromEventTime puts events of two days in two daily indices,
// each named in its action line, then a batch of one day in its index,
// named once in the URL (POST /{index}/_bulk).
func TestIndexFromEventTime(t *testing.T) {
	tg := newTarget(t)
	c := tg.config("sluice-test-days-%Y.%m.%d")
	c.Batch = batch.Config{Count: 2, Age: time.Hour}
	d, err := elasticsearch.New(c)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, d)
	m1, m2, m3, m4 := ev("first"), ev("second"), ev("third"), ev("fourth")
	m2.Value.Time = time.Date(2026, 11, 25, 0, 30, 0, 0, time.FixedZone("x", 3600)) // 2026-11-24 23:30 UTC
	m1.Value.Time = time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	m3.Value.Time = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	m4.Value.Time = time.Date(2026, 11, 23, 23, 59, 59, 999999999, time.UTC) // another hour, the same day
	a := newAcks()
	if err := d.Send(context.Background(), a.ack, m1, m2); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	if err := d.Send(context.Background(), a.ack, m3, m4); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 1)
	docs, err := tg.read("sluice-test-days-*")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range docs {
		got[d.Raw] = d.Index
	}
	want := map[string]string{"first": "sluice-test-days-2026.11.25", "second": "sluice-test-days-2026.11.24",
		"third": "sluice-test-days-2026.11.23", "fourth": "sluice-test-days-2026.11.23"}
	if !maps.Equal(got, want) {
		t.Errorf("indices %v, want %v (UTC)", got, want)
	}
	if tg.fake != nil {
		if got, want := tg.fake.Targets(), []string{"", "sluice-test-days-2026.11.23"}; !slices.Equal(got, want) {
			t.Errorf("indices in the URLs %q, want %q", got, want)
		}
	}
}

// TestDataStream writes to a data stream with op_type create; with
// op_type index every item is refused and goes to the dead letter.
func TestDataStream(t *testing.T) {
	tg := newTarget(t)
	es := tg.needFake(t)
	es.CreateDataStream("logs-sluice-default")
	for _, op := range []string{"create", "index"} {
		t.Run(op, func(t *testing.T) {
			dl := &storetest.DeadLetter{}
			c := tg.config("logs-sluice-default")
			c.OpType, c.ID = op, "content"
			c.Batch = batch.Config{Count: 2, Age: time.Hour}
			d, err := elasticsearch.New(c, elasticsearch.WithDeadLetter(dl))
			if err != nil {
				t.Fatal(err)
			}
			storetest.Run(t, d)
			a := newAcks()
			if err := d.Send(context.Background(), a.ack, ev(op+" 1"), ev(op+" 2")); err != nil {
				t.Fatal(err)
			}
			a.wait(t, 1)
			docs, _ := es.Docs("logs-sluice-default")
			stored := 0
			for _, d := range docs {
				if bytes.Contains(d, []byte(op)) {
					stored++
				}
			}
			if op == "create" && (stored != 2 || len(dl.Got()) != 0) {
				t.Errorf("create: stored %d, dead-lettered %d; want 2, 0", stored, len(dl.Got()))
			}
			if op == "index" && (stored != 0 || len(dl.Got()) != 2 || !strings.Contains(dl.Got()[0].Attributes.Value("error"), "op_type of create")) {
				t.Errorf("index: stored %d, dead-lettered %d; want 0, 2 with the reason", stored, len(dl.Got()))
			}
		})
	}
}

// TestAuth sends basic credentials or an API key; wrong ones stop Run
// with a 401 whose text holds no secret.
func TestAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*estest.Server, *elasticsearch.Config)
		ok   bool
	}{
		{"basic", func(s *estest.Server, c *elasticsearch.Config) {
			s.Username, s.Password = "elastic", "s3cretpw"
			c.Username, c.Password = "elastic", "s3cretpw"
		}, true},
		{"apiKey", func(s *estest.Server, c *elasticsearch.Config) {
			s.APIKey, c.APIKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
		}, true},
		{"wrong password", func(s *estest.Server, c *elasticsearch.Config) {
			s.Username, s.Password = "elastic", "right"
			c.Username, c.Password = "elastic", "s3cretpw"
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := estest.New(t.Cleanup)
			c := elasticsearch.Config{URL: config.Secret(es.URL), Index: "auth", Batch: batch.Config{Count: 1, Age: time.Hour}}
			tc.set(es, &c)
			var logs bytes.Buffer
			d, err := elasticsearch.New(c, elasticsearch.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			done := storetest.Run(t, d)
			a := newAcks()
			if err := d.Send(context.Background(), a.ack, ev("x")); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				a.wait(t, 1)
				return
			}
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "s3cretpw") {
					t.Errorf("Run = %v, want a 401 without the password", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
			if strings.Contains(logs.String(), "s3cretpw") {
				t.Error("the password reached the log")
			}
		})
	}
}

// TestJSONRaw stores a parsed syslog event and one that failed to parse
// with jsonRaw "always" and "unparsed": with "unparsed" the parsed one's
// document has no raw (its text is in syslog.message) and the other keeps
// it; the content _id is the same either way, so that switching the
// setting does not store an event twice.
func TestJSONRaw(t *testing.T) {
	tg := newTarget(t)
	parsed := ev("<13>Nov 24 23:00:00 h app: hello")
	parsed.Value.Syslog = event.Syslog{Present: true, Facility: 1, Severity: 5, Hostname: "h", AppName: "app", Message: "hello"}
	failed := ev("not syslog")
	failed.Value.Flags = event.ParseError
	ids := map[string][]string{}
	for _, mode := range []string{"always", "unparsed"} {
		c := tg.config("sluice-test-jsonraw-" + mode)
		c.ID, c.JSONRaw = "content", mode
		d, err := elasticsearch.New(c)
		if err != nil {
			t.Fatal(err)
		}
		storetest.Run(t, d)
		a := newAcks()
		if err := d.Send(context.Background(), a.ack, parsed, failed); err != nil {
			t.Fatal(err)
		}
		a.wait(t, 1)
		docs, err := tg.read("sluice-test-jsonraw-" + mode)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 2 {
			t.Fatalf("jsonRaw %s: %d documents, want 2", mode, len(docs))
		}
		for _, d := range docs {
			wantRaw := string(failed.Value.Raw)
			if d.Syslog.Message == "hello" {
				wantRaw = string(parsed.Value.Raw)
				if mode == "unparsed" {
					wantRaw = ""
				}
			}
			if d.Raw != wantRaw {
				t.Errorf("jsonRaw %s: document %+v has raw %q, want %q", mode, d, d.Raw, wantRaw)
			}
			ids[mode] = append(ids[mode], d.Syslog.Message+"="+d.ID)
		}
		slices.Sort(ids[mode])
	}
	if !slices.Equal(ids["always"], ids["unparsed"]) {
		t.Errorf("content ids differ: always %v, unparsed %v", ids["always"], ids["unparsed"])
	}
}
