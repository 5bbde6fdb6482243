package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

// routes[].if sends each event down the routes whose condition holds; the
// parse handler's rejects go to the route's dead letter; every event is
// acked once, wherever it went.
func TestConditionalRoutesAndRejects(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {
			"app": {"type": "gen", "lines": [
				"{\"level\":\"error\",\"msg\":\"disk full\"}",
				"{\"level\":\"info\",\"msg\":\"ok\"}",
				"not json at all",
				"{\"level\":\"error\",\"msg\":\"boom\"}",
			]},
		},
		"destinations": {
			"errors": {"type": "file", "path": %q},
			"json":   {"type": "file", "path": %q},
			"bad":    {"type": "file", "path": %q},
		},
		"routes": [
			{"from": ["app"], "to": ["errors"], "if": "raw contains \"error\"",
			 "handlers": [{"type": "parse", "format": "json"}]},
			{"from": ["app"], "to": ["json"], "deadLetter": "bad",
			 "handlers": [{"type": "parse", "format": "json", "onError": "deadLetter"}]},
		],
	}`, dir, filepath.Join(dir, "errors.ndjson"), filepath.Join(dir, "json.ndjson"), filepath.Join(dir, "bad.ndjson"))
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	errs := readLines(t, filepath.Join(dir, "errors.ndjson"))
	if len(errs) != 2 || errs[0]["fields"].(map[string]any)["msg"] != "disk full" || errs[1]["fields"].(map[string]any)["msg"] != "boom" {
		t.Errorf("errors.ndjson = %v, want the two error lines, parsed", errs)
	}
	if got := readLines(t, filepath.Join(dir, "json.ndjson")); len(got) != 3 {
		t.Errorf("json.ndjson holds %d events, want the 3 that parse", len(got))
	}
	bad := readLines(t, filepath.Join(dir, "bad.ndjson"))
	if len(bad) != 1 || bad[0]["raw"] != "not json at all" {
		t.Fatalf("bad.ndjson = %v, want the line that is not JSON", bad)
	}
	f := bad[0]["fields"].(map[string]any)
	if f["deadLetter.from"] != "route-1" || f["deadLetter.error"] != "json: not an object" {
		t.Errorf("dead-letter fields = %v, want the route and the reason", f)
	}
	if acked.n != 4 {
		t.Errorf("%d events acked, want 4", acked.n)
	}
}

// sample, throttle and dedupe select through the routes' Selector path:
// what they drop counts as delivered, and what they keep arrives once.
func TestSelectingHandlers(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "count": 100}, "dup": {"type": "gen", "lines": ["a", "b", "a", "a", "c", "b"]}},
		"destinations": {
			"sampled":   {"type": "file", "path": %q},
			"throttled": {"type": "file", "path": %q},
			"unique":    {"type": "file", "path": %q},
		},
		"routes": [
			{"from": ["g"], "to": ["sampled"], "handlers": [{"type": "sample", "rate": 10}]},
			{"from": ["g"], "to": ["throttled"], "handlers": [{"type": "throttle", "rate": "7/h"}]},
			{"from": ["dup"], "to": ["unique"], "handlers": [{"type": "dedupe", "fields": ["raw"], "window": 100}]},
		],
	}`, dir, filepath.Join(dir, "sampled.ndjson"), filepath.Join(dir, "throttled.ndjson"), filepath.Join(dir, "unique.ndjson"))
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for name, want := range map[string]int{"sampled": 10, "throttled": 7, "unique": 3} {
		if got := readLines(t, filepath.Join(dir, name+".ndjson")); len(got) != want {
			t.Errorf("%s holds %d events, want %d", name, len(got), want)
		}
	}
	if acked.n != 106 {
		t.Errorf("%d events acked, want all 106", acked.n)
	}
}

// heldAcks is a destination that keeps the acks it is given, uncalled, until
// the test calls them: the moment between a send and its durable write.
type heldAcks struct {
	mu   sync.Mutex
	raw  []string
	acks []func()
	got  chan struct{}
}

func (h *heldAcks) Send(_ context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	h.mu.Lock()
	for _, m := range msgs {
		h.raw = append(h.raw, string(m.Value.Raw))
	}
	h.acks = append(h.acks, ack)
	h.mu.Unlock()
	h.got <- struct{}{}
	return nil
}

func (h *heldAcks) ackAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.acks {
		sluice.Ack(a)
	}
}

// An event a handler rejects is acked to its source only once the route's
// dead letter has written it, not when the handler returns: the test
// holds the dead letter's write open and checks the source is not acked.
func TestRejectedIsAckedAfterTheDeadLetterWrites(t *testing.T) {
	acked := &ackLog{}
	r := testRegistry(acked)
	holds := map[string]*heldAcks{}
	daemon.RegisterDestination(r, "hold", "holds acks", func() *rejectConfig { return &rejectConfig{} },
		func(env daemon.Env, _ *rejectConfig) (sluice.Destination[event.Event], error) {
			h := &heldAcks{got: make(chan struct{}, 10)}
			holds[env.Name] = h
			return h, nil
		})
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "block": true, "lines": ["{\"a\":1}", "not json"]}},
		"destinations": {"main": {"type": "hold"}, "dlq": {"type": "hold"}},
		"routes": [{"from": ["g"], "to": ["main"], "deadLetter": "dlq",
			"handlers": [{"type": "parse", "format": "json", "onError": "deadLetter"}]}],
	}`, t.TempDir())
	d, err := daemon.New([]byte(cfg), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	main, dlq := holds["main"], holds["dlq"]
	for _, h := range []*heldAcks{main, dlq} {
		select {
		case <-h.got:
		case <-ctx.Done():
			t.Fatal("an event never reached its destination")
		}
	}
	ackedNow := func() int { acked.mu.Lock(); defer acked.mu.Unlock(); return acked.n }
	if n := ackedNow(); n != 0 {
		t.Fatalf("%d events acked before any destination wrote", n)
	}
	main.ackAll()
	if n := ackedNow(); n != 1 {
		t.Fatalf("%d events acked after main wrote, want 1 (the rejected one waits for the dead letter)", n)
	}
	if dlq.raw[0] != "not json" {
		t.Errorf("the dead letter got %q", dlq.raw)
	}
	dlq.ackAll()
	if n := ackedNow(); n != 2 {
		t.Fatalf("%d events acked after the dead letter wrote, want 2", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// A condition that fails at run time on bad data is not fatal: the event
// goes to the route's dead letter, or, without one, skips the route.
func TestConditionErrorsAreNotFatal(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
		"dataDir": %q,
		"sources": {"g": {"type": "gen", "lines": ["7", "x", "3"]}},
		"destinations": {
			"big":   {"type": "file", "path": %q},
			"big2":  {"type": "file", "path": %q},
			"bad":   {"type": "file", "path": %q},
		},
		"routes": [
			{"from": ["g"], "to": ["big"], "if": "int(raw) > 5", "deadLetter": "bad"},
			{"from": ["g"], "to": ["big2"], "if": "int(raw) > 5"},
		],
	}`, dir, filepath.Join(dir, "big.ndjson"), filepath.Join(dir, "big2.ndjson"), filepath.Join(dir, "bad.ndjson"))
	acked := &ackLog{}
	d, err := daemon.New([]byte(cfg), testRegistry(acked), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err != nil {
		t.Fatalf("Run = %v, want nil: bad data is not fatal", err)
	}
	for _, name := range []string{"big", "big2"} {
		if got := readLines(t, filepath.Join(dir, name+".ndjson")); len(got) != 1 || got[0]["raw"] != "7" {
			t.Errorf("%s = %v, want the 7", name, got)
		}
	}
	bad := readLines(t, filepath.Join(dir, "bad.ndjson"))
	if len(bad) != 1 || bad[0]["raw"] != "x" {
		t.Fatalf("bad = %v, want the x", bad)
	}
	if e, _ := bad[0]["fields"].(map[string]any)["deadLetter.error"].(string); !strings.HasPrefix(e, "if: ") {
		t.Errorf("deadLetter.error = %q, want the condition's error", e)
	}
	if acked.n != 3 {
		t.Errorf("%d acked, want 3", acked.n)
	}
}
