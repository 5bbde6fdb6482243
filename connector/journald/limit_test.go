package journald

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

type dropCounter struct {
	nopCounters
	mu      sync.Mutex
	dropped map[string]int
}

func (c *dropCounter) Dropped(cause string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropped[cause] += n
}

// An entry over maxEntryBytes is counted, not passed on, and passed over
// by the cursor: the entries after it arrive, and once they are acked the
// saved cursor is past it.
func TestOversizeEntry(t *testing.T) {
	journalctl, dir := fakeJournal(t)
	state := t.TempDir()
	big := strings.Repeat("b", 2000)
	appendEntries(t, dir, fs("MESSAGE", "m1"), fs("MESSAGE", big), fs("MESSAGE", "m3"))
	c := testConfig(journalctl, dir, state)
	c.MaxEntryBytes = 1000
	count := &dropCounter{dropped: map[string]int{}}
	s, err := New(c, "j", WithCounters(count))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Source: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	evs, acks := recv(t, s, 2)
	if got := messages(evs); !slices.Equal(got, []string{"m1", "m3"}) {
		t.Fatalf("got %q, want m1 and m3: the entry over maxEntryBytes is not passed on", got)
	}
	for _, a := range acks {
		a()
	}
	checkFor(t, "the cursor past every entry", func() bool { return savedCursor(t, state) == "i=3" })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count.mu.Lock()
	defer count.mu.Unlock()
	if count.dropped["oversize"] != 1 {
		t.Errorf("dropped %v, want oversize 1", count.dropped)
	}
	if n, field := c.RecordLimit(); n != 2000 || field != "maxEntryBytes" {
		t.Errorf("RecordLimit = %d, %q", n, field)
	}
}
