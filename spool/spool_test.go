package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// run starts s.Run and returns a function that stops it and checks its
// result.
func run(t testing.TB, s *Spool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func open(t testing.TB, c Config, opts ...Option) (*Spool, func()) {
	t.Helper()
	s, err := New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, run(t, s)
}

func send(t testing.TB, s *Spool, payloads ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range payloads {
		acked := false
		if err := s.Send(ctx, func() { acked = true }, sluice.Message[[]byte]{Value: p}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !acked {
			t.Fatal("Send returned without ack")
		}
	}
}

// recvAll receives until no record arrives for wait.
func recvAll(t testing.TB, s *Spool, wait time.Duration) (vals [][]byte, acks []func()) {
	t.Helper()
	ready, cancelReady := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelReady()
	if err := s.waitReady(ready); err != nil {
		t.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		m, ack, err := s.Recv(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return vals, acks
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		vals, acks = append(vals, m.Value), append(acks, ack)
	}
}

// rec returns the payload of record i: 40 bytes, so a frame is 64.
func rec(i int) []byte { return fmt.Appendf(nil, "record-%033d", i) }

func recs(idx ...int) [][]byte {
	var out [][]byte
	for _, i := range idx {
		out = append(out, rec(i))
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

const frameLen = 64

// small: five records per segment.
func small(dir string) Config {
	return Config{Dir: dir, SegmentBytes: 5 * frameLen, MaxBytes: 1 << 20}
}

func equal(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records %q, want %d %q", len(got), got, len(want), want)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		ok   bool
	}{
		{"defaults", Config{Dir: "x"}, true},
		{"no dir", Config{}, false},
		{"bad whenFull", Config{Dir: "x", WhenFull: "drop"}, false},
		{"bad sync", Config{Dir: "x", Sync: "always"}, false},
		{"maxBytes below two segments", Config{Dir: "x", SegmentBytes: 1 << 20, MaxBytes: 1 << 20}, false},
		{"tiny segment", Config{Dir: "x", SegmentBytes: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.c)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	s, _ := open(t, small(t.TempDir()))
	send(t, s, rec(0)) // Run has opened
	if err := s.Run(context.Background()); !errors.Is(err, sluice.ErrAlreadyRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestGroupCommit(t *testing.T) {
	var fsyncs atomic.Int64
	hook := func(time.Duration) {
		fsyncs.Add(1)
		time.Sleep(time.Millisecond) // a slow disk: Sends pile up behind the fsync
	}
	s, _ := open(t, Config{Dir: t.TempDir()}, WithSyncObserver(hook))
	const senders, each = 32, 20
	var wg sync.WaitGroup
	var acked atomic.Int64
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				err := s.Send(context.Background(), func() { acked.Add(1) }, sluice.Message[[]byte]{Value: rec(g*each + i)})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if acked.Load() != senders*each {
		t.Fatalf("acked %d Sends, want %d", acked.Load(), senders*each)
	}
	n := fsyncs.Load()
	t.Logf("%d Sends, %d fsyncs", senders*each, n)
	if n > senders*each/4 {
		t.Fatalf("%d fsyncs for %d concurrent Sends: no group commit", n, senders*each)
	}
	vals, _ := recvAll(t, s, 100*time.Millisecond)
	if len(vals) != senders*each {
		t.Fatalf("received %d records, want %d", len(vals), senders*each)
	}
}

func TestRestartReplaysUnacked(t *testing.T) {
	dir := t.TempDir()
	s, stop := open(t, small(dir))
	send(t, s, recs(span(0, 12)...)...)
	vals, acks := recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, recs(span(0, 12)...))
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 8, 10} { // 7 is not acked
		acks[i]()
		acks[i]() // a second ack does nothing
	}
	stop()

	s, stop = open(t, small(dir))
	vals, acks = recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, recs(span(7, 12)...)) // from the first unacked record on
	for _, a := range acks {
		a()
	}
	stop()

	s, _ = open(t, small(dir))
	vals, _ = recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, nil)
	if st := s.Stats(); st.Skipped != 0 || st.CorruptRegions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSegmentDeletion(t *testing.T) {
	dir := t.TempDir()
	s, stop := open(t, small(dir))
	send(t, s, recs(span(0, 23)...)...) // segments 1-4 full, 5 holds three
	if n := len(segFiles(t, dir)); n != 5 {
		t.Fatalf("%d segment files, want 5", n)
	}
	vals, acks := recvAll(t, s, 50*time.Millisecond)
	if len(vals) != 23 {
		t.Fatalf("got %d records", len(vals))
	}
	for _, a := range acks[:12] { // segments 1 and 2 fully acked
		a()
	}
	waitFor(t, func() bool { return len(segFiles(t, dir)) == 3 })
	for _, a := range acks[12:] {
		a()
	}
	// The current one stays. The files go before the spool forgets them.
	waitFor(t, func() bool { return len(segFiles(t, dir)) == 1 && s.Stats().Segments == 1 })
	if st := s.Stats(); st.Segments != 1 || st.Records != 0 {
		t.Fatalf("stats %+v", st)
	}
	stop()
	// Every acked segment is gone; a restart numbers new segments after
	// the position, so the reader does not skip them.
	s, _ = open(t, small(dir))
	send(t, s, rec(50))
	vals, _ = recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, recs(50))
	if st := s.Stats(); st.Skipped != 0 || st.CorruptRegions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecovery damages a spool of 20 records in segments 1-4 (five records
// of 64 bytes each; record i has sequence number i+1) and checks what is
// delivered after a restart and what is counted.
func TestRecovery(t *testing.T) {
	seg := func(dir string, id uint64) string { return segmentPath(dir, id) }
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		want    []int
		skipped int64
		regions int64
		torn    int64
	}{
		{"intact", func(*testing.T, string) {}, span(0, 20), 0, 0, 0},
		{"torn tail", appendToSegment(4, appendFrame(nil, 21, 0, rec(20))[:30]), span(0, 20), 0, 0, 30},
		{"zeros at the tail", appendToSegment(4, make([]byte, 100)), span(0, 20), 0, 0, 100},
		{"flipped payload byte", flipByte(2, 2*frameLen+30), append(span(0, 7), span(8, 20)...), 1, 1, 0},
		{"flipped length byte", flipByte(2, 3*frameLen+1), append(span(0, 8), span(9, 20)...), 1, 1, 0},
		{"flipped sequence byte", flipByte(2, 0*frameLen+9), append(span(0, 5), span(6, 20)...), 1, 1, 0},
		{"garbage between records", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(seg(dir, 2))
			b = append(b[:2*frameLen:2*frameLen], append(bytes.Repeat([]byte{0xA5}, 77), b[2*frameLen:]...)...)
			os.WriteFile(seg(dir, 2), b, 0o644)
		}, span(0, 20), 0, 1, 0},
		{"truncated middle segment", truncateSegment(2, 2*frameLen+30), append(span(0, 7), span(10, 20)...), 3, 1, 0},
		{"deleted middle segment", removeFile(segmentName(3)), append(span(0, 10), span(15, 20)...), 5, 1, 0},
		{"corrupt last record", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(seg(dir, 4), os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt([]byte{'X'}, 4*frameLen+40)
		}, span(0, 19), 1, 1, 0},
		{"deleted position file", removeFile(positionFile), span(0, 20), 0, 0, 0},
		{"damaged position file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, positionFile), []byte("{\"segm"), 0o644)
		}, span(0, 20), 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, stop := open(t, small(dir))
			send(t, s, recs(span(0, 20)...)...)
			stop()
			tt.damage(t, dir)

			s, _ = open(t, small(dir))
			vals, _ := recvAll(t, s, 100*time.Millisecond)
			equal(t, vals, recs(tt.want...))
			st := s.Stats()
			if st.Skipped != tt.skipped || st.CorruptRegions != tt.regions || st.TornBytes != tt.torn {
				t.Fatalf("stats %+v, want skipped %d, regions %d, torn %d", st, tt.skipped, tt.regions, tt.torn)
			}
			// Still live: a new record goes through.
			send(t, s, rec(99))
			vals, _ = recvAll(t, s, 50*time.Millisecond)
			equal(t, vals, recs(99))
		})
	}
}

// TestReplayAfterPositionLoss acks everything, deletes the position file
// while the segments are still there, and expects a full replay.
func TestReplayAfterPositionLoss(t *testing.T) {
	dir := t.TempDir()
	c := Config{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 4 << 20}
	s, stop := open(t, c)
	send(t, s, recs(span(0, 10)...)...)
	_, acks := recvAll(t, s, 50*time.Millisecond)
	for _, a := range acks {
		a()
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, positionFile)); err != nil {
		t.Fatal(err)
	}
	s, stop = open(t, c)
	vals, _ := recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, nil)
	stop()
	os.Remove(filepath.Join(dir, positionFile))
	s, _ = open(t, c)
	vals, _ = recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, recs(span(0, 10)...))
}

func TestWhenFull(t *testing.T) {
	for _, mode := range []string{WhenFullBlock, WhenFullDropNewest} {
		t.Run(mode, func(t *testing.T) {
			c := Config{Dir: t.TempDir(), SegmentBytes: 5 * frameLen, MaxBytes: 10 * frameLen, WhenFull: mode}
			s, _ := open(t, c)
			send(t, s, recs(span(0, 10)...)...) // full
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			acked := make(chan struct{})
			err := s.Send(ctx, func() { close(acked) }, sluice.Message[[]byte]{Value: rec(10)})
			cancel()
			switch mode {
			case WhenFullBlock:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Send to a full spool: %v, want deadline exceeded", err)
				}
				// A Send waits; acking the first segment makes room.
				done := make(chan error, 1)
				go func() { done <- s.Send(context.Background(), nil, sluice.Message[[]byte]{Value: rec(11)}) }()
				vals, acks := recvAll(t, s, 50*time.Millisecond)
				equal(t, vals, recs(span(0, 10)...))
				select {
				case err := <-done:
					t.Fatalf("Send returned %v before room was made", err)
				default:
				}
				for _, a := range acks[:5] {
					a()
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				vals, _ = recvAll(t, s, 50*time.Millisecond)
				equal(t, vals, recs(11))
			case WhenFullDropNewest:
				if err != nil {
					t.Fatal(err)
				}
				<-acked // dropped records are acked: the drop is the promise
				vals, _ := recvAll(t, s, 50*time.Millisecond)
				equal(t, vals, recs(span(0, 10)...))
				if st := s.Stats(); st.Dropped != 1 {
					t.Fatalf("Dropped = %d, want 1", st.Dropped)
				}
			}
		})
	}
}

func TestSyncInterval(t *testing.T) {
	var fsyncs atomic.Int64
	c := Config{Dir: t.TempDir(), Sync: SyncInterval, SyncInterval: 10 * time.Millisecond}
	s, _ := open(t, c, WithSyncObserver(func(time.Duration) { fsyncs.Add(1) }))
	send(t, s, recs(span(0, 50)...)...) // acked without waiting for fsync
	vals, _ := recvAll(t, s, 50*time.Millisecond)
	equal(t, vals, recs(span(0, 50)...))
	waitFor(t, func() bool { return fsyncs.Load() >= 1 })
	if n := fsyncs.Load(); n > 20 {
		t.Fatalf("%d fsyncs for 50 Sends in interval mode", n)
	}
}

func TestStats(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, _ := open(t, small(t.TempDir()), WithClock(func() time.Time { return now }))
	send(t, s, recs(span(0, 7)...)...)
	st := s.Stats()
	if st.Records != 7 || st.Segments != 2 || st.Bytes != 7*frameLen {
		t.Fatalf("stats %+v", st)
	}
	_, acks := recvAll(t, s, 50*time.Millisecond)
	if got := s.Stats().OldestUnacked; !got.Equal(now) {
		t.Fatalf("OldestUnacked = %v, want %v", got, now)
	}
	for _, a := range acks[:3] {
		a()
	}
	waitFor(t, func() bool { return s.Stats().Records == 4 })
	for _, a := range acks {
		a()
	}
	waitFor(t, func() bool { return s.Stats().Records == 0 })
	if st := s.Stats(); !st.OldestUnacked.IsZero() {
		t.Fatalf("OldestUnacked = %v with nothing unacked", st.OldestUnacked)
	}
	later := now.Add(time.Hour)
	now = later // the clock is read by Send, in this goroutine
	send(t, s, rec(7))
	waitFor(t, func() bool { return s.Stats().OldestUnacked.Equal(later) })
}
