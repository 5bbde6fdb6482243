package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
)

type msg = sluice.Message[event.Event]

// tracker records the life of every "tracked" handler built: its calls,
// its Closes, and any call after a Close.
type tracker struct {
	mu       sync.Mutex
	handlers []*tracked
	errs     []string
}

type tracked struct {
	t      *tracker
	name   string // the config's id and the build's number, such as "h1#2"
	calls  int
	closes int
}

func (h *tracked) Handle(_ context.Context, m msg) ([]msg, error) {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	if h.closes > 0 {
		h.t.errs = append(h.t.errs, h.name+" called after Close")
	}
	h.calls++
	m.Value.Fields = append(m.Value.Fields[:len(m.Value.Fields):len(m.Value.Fields)], event.Field{Name: "handledBy", Value: h.name})
	return []msg{m}, nil
}

func (h *tracked) Close() error {
	h.t.mu.Lock()
	defer h.t.mu.Unlock()
	h.closes++
	return nil
}

// state returns "calls/closes" of each handler built, by name.
func (t *tracker) state() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := map[string]string{}
	for _, h := range t.handlers {
		s[h.name] = fmt.Sprintf("closed %d", h.closes)
	}
	return s
}

func (t *tracker) registry() *daemon.Registry {
	r := builtin.Registry()
	type config struct {
		ID string `json:"id"`
	}
	daemon.RegisterHandler(r, "tracked", "records its life, for tests", func() *config { return &config{} },
		func(_ daemon.Env, c *config) (sluice.Handler[event.Event, event.Event], error) {
			if c.ID == "fail" {
				return nil, errors.New("refuses to build")
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			h := &tracked{t: t, name: fmt.Sprintf("%s#%d", c.ID, len(t.handlers)+1)}
			t.handlers = append(t.handlers, h)
			return h, nil
		})
	return r
}

// The daemon closes a handler (an io.Closer) exactly once, when nothing
// will call it again, and never calls it after: a reload that only
// restarts a source keeps the running handler and builds no other; a
// reload that changes the route closes the old handler once Sends are
// paused; a refused config (a handler that fails to build) closes what it
// built, and one that changes the data directory builds nothing; the stop
// closes the handler running.
func TestHandlersAreClosed(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.ndjson")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	type cfg struct{ dataDir, poll, id string }
	config := func(c cfg) []byte {
		return fmt.Appendf(nil, `{
			"dataDir": %q,
			"sources": {"in": {"type": "file", "paths": [%q], "startAt": "beginning", "pollInterval": %q}},
			"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "5ms"}}},
			"routes": [{"name": "main", "from": ["in"], "to": ["out"], "handlers": [%s]}],
		}`, c.dataDir, in, c.poll, out, c.id)
	}
	handler := func(id string) string { return fmt.Sprintf(`{"type": "tracked", "id": %q}`, id) }
	base := cfg{filepath.Join(dir, "data"), "10ms", handler("h1")}
	var tr tracker
	dm, err := daemon.New(config(base), tr.registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	line := 0
	// deliver appends a line and returns the handler that handled it.
	deliver := func() string {
		t.Helper()
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		line++
		fmt.Fprintf(f, "line %d\n", line)
		f.Close()
		var by string
		waitUntil(t, fmt.Sprintf("line %d delivered", line), func() bool {
			_, err := os.Stat(out)
			if err != nil {
				return false
			}
			lines := readLines(t, out)
			if len(lines) < line {
				return false
			}
			by = fmt.Sprint(lines[line-1]["fields"].(map[string]any)["handledBy"])
			return true
		})
		return by
	}
	check := func(step string, want map[string]string) {
		t.Helper()
		if got := tr.state(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: handlers %v, want %v", step, got, want)
		}
	}

	if by := deliver(); by != "h1#1" {
		t.Errorf("handled by %s, want h1#1", by)
	}
	check("running", map[string]string{"h1#1": "closed 0"})

	next := base
	next.poll = "11ms" // the source restarts; the routes, and their handlers, stay
	if err := dm.Reload(t.Context(), config(next)); err != nil {
		t.Fatal(err)
	}
	check("source reload", map[string]string{"h1#1": "closed 0"})
	if by := deliver(); by != "h1#1" {
		t.Errorf("after a source reload, handled by %s, want h1#1", by)
	}

	next.id = handler("h2") // the route changes: h1#1 goes
	if err := dm.Reload(t.Context(), config(next)); err != nil {
		t.Fatal(err)
	}
	check("route reload", map[string]string{"h1#1": "closed 1", "h2#2": "closed 0"})
	if by := deliver(); by != "h2#2" {
		t.Errorf("after a route reload, handled by %s, want h2#2", by)
	}

	bad := next
	bad.id = handler("h3") + ", " + handler("fail") // h3 is built, then the next handler fails
	if err := dm.Reload(t.Context(), config(bad)); err == nil || !strings.Contains(err.Error(), "refuses to build") {
		t.Fatalf("Reload(a handler that fails) = %v", err)
	}
	bad = next
	bad.id, bad.dataDir = handler("h4"), filepath.Join(dir, "other")
	if err := dm.Reload(t.Context(), config(bad)); err == nil || !strings.Contains(err.Error(), "dataDir: changed from") {
		t.Fatalf("Reload(another dataDir) = %v", err)
	}
	check("refused reloads", map[string]string{"h1#1": "closed 1", "h2#2": "closed 0", "h3#3": "closed 1"})
	if by := deliver(); by != "h2#2" {
		t.Errorf("after refused reloads, handled by %s, want h2#2", by)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	done <- nil // for the deferred wait
	check("stopped", map[string]string{"h1#1": "closed 1", "h2#2": "closed 1", "h3#3": "closed 1"})
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.errs) > 0 {
		t.Error(tr.errs)
	}
}
