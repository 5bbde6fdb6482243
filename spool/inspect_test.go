package spool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// dirSum returns a digest of every file in dir, names and contents.
func dirSum(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

// TestInspectAgreesWithStats damages a spool of 20 records in segments 1-4
// (five of 64 bytes each; record i has sequence number i+1; records 0-2
// acked), inspects it, then recovers it with a Spool that reads every
// record, and checks that both count the same losses, and the exact ones.
func TestInspectAgreesWithStats(t *testing.T) {
	tests := []struct {
		name       string
		damage     func(t *testing.T, dir string)
		want       []int // records delivered
		lost       int64 // Skipped
		damaged    int   // entries in Report.Damage, acked ones included
		torn       int64
		positionOK bool
	}{
		{"intact", func(*testing.T, string) {}, span(3, 20), 0, 0, 0, true},
		{"flipped byte mid segment", flipByte(2, 2*frameLen+30), append(span(3, 7), span(8, 20)...), 1, 1, 0, true},
		{"flipped length byte", flipByte(3, 1*frameLen+1), append(span(3, 11), span(12, 20)...), 1, 1, 0, true},
		{"truncated sealed segment", truncateSegment(2, 2*frameLen+30), append(span(3, 7), span(10, 20)...), 3, 1, 0, true},
		{"deleted middle segment", removeFile(segmentName(3)), append(span(3, 10), span(15, 20)...), 5, 1, 0, true},
		{"truncated segment then damaged one", both(truncateSegment(2, 2*frameLen+30), flipByte(3, 30)), append(span(3, 7), span(11, 20)...), 4, 2, 0, true},
		{"deleted position file", removeFile(positionFile), span(0, 20), 0, 0, 0, false},
		{"deleted position file and damaged first record", both(flipByte(1, 30), removeFile(positionFile)), span(1, 20), 1, 1, 0, false},
		{"damage before the position", flipByte(1, 1*frameLen+30), span(3, 20), 0, 1, 0, true},
		{"garbage tail on the newest segment", appendToSegment(4, bytes.Repeat([]byte{0xA5}, 50)), span(3, 20), 1, 1, 0, true},
		{"torn tail on the newest segment", appendToSegment(4, appendFrame(nil, 21, 0, rec(20))[:30]), span(3, 20), 0, 0, 30, true},
		{"zeros at the tail", appendToSegment(4, make([]byte, 100)), span(3, 20), 0, 0, 100, true},
		{"damaged last record", flipByte(4, 4*frameLen+40), span(3, 19), 1, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, stop := open(t, small(dir))
			send(t, s, recs(span(0, 20)...)...)
			_, acks := recvAll(t, s, 50*time.Millisecond)
			for _, a := range acks[:3] {
				a()
			}
			stop()
			tt.damage(t, dir)

			before := dirSum(t, dir)
			var visited [][]byte
			rep, err := Inspect(dir, func(seq uint64, _ time.Time, p []byte) {
				visited = append(visited, bytes.Clone(p))
			})
			if err != nil {
				t.Fatal(err)
			}
			if dirSum(t, dir) != before {
				t.Fatal("Inspect changed the directory")
			}
			t.Logf("report %+v", rep)

			s, _ = open(t, small(dir))
			vals, _ := recvAll(t, s, 100*time.Millisecond)
			equal(t, vals, recs(tt.want...))
			equal(t, visited, vals)
			st := s.Stats()

			var regions, corrupt, lost int64
			for _, d := range rep.Damage {
				if !d.Acked {
					regions++
					corrupt += d.Bytes
					lost += d.Records
				}
			}
			if rep.Skipped != tt.lost || st.Skipped != tt.lost || lost != tt.lost {
				t.Errorf("skipped: report %d (damage sums to %d), stats %d, want %d", rep.Skipped, lost, st.Skipped, tt.lost)
			}
			if regions != st.CorruptRegions || corrupt != st.CorruptBytes {
				t.Errorf("report: %d regions of %d bytes, stats: %d of %d", regions, corrupt, st.CorruptRegions, st.CorruptBytes)
			}
			if len(rep.Damage) != tt.damaged {
				t.Errorf("%d damage entries %+v, want %d", len(rep.Damage), rep.Damage, tt.damaged)
			}
			if rep.TornBytes != tt.torn || st.TornBytes != tt.torn {
				t.Errorf("torn bytes: report %d, stats %d, want %d", rep.TornBytes, st.TornBytes, tt.torn)
			}
			if rep.Unacked != int64(len(tt.want)) {
				t.Errorf("unacked %d, want %d", rep.Unacked, len(tt.want))
			}
			if rep.PositionOK != tt.positionOK || tt.positionOK && rep.Position != 3 {
				t.Errorf("position %d ok %v, want 3 ok %v", rep.Position, rep.PositionOK, tt.positionOK)
			}
			var records int64
			for _, g := range rep.Segments {
				records += g.Records
			}
			if records != rep.Records || rep.Records < rep.Unacked {
				t.Errorf("records %d, per segment %d, unacked %d", rep.Records, records, rep.Unacked)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, stop := open(t, small(dir), WithClock(func() time.Time { return now }))
	send(t, s, recs(span(0, 7)...)...)
	_, acks := recvAll(t, s, 50*time.Millisecond)
	acks[0]()
	stop()
	rep, err := Inspect(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) != 2 || rep.Records != 7 || rep.Unacked != 6 || rep.Position != 1 || !rep.PositionOK ||
		rep.Bytes != 7*frameLen || len(rep.Damage) != 0 || !rep.OldestUnacked.Equal(now) {
		t.Fatalf("report %+v", rep)
	}
	g := rep.Segments[1]
	if g.Name != segmentName(2) || g.Records != 2 || g.FirstSeq != 6 || g.LastSeq != 7 || !g.FirstWrite.Equal(now) || g.Bytes != 2*frameLen {
		t.Fatalf("segment %+v", g)
	}
	if _, err := Inspect(filepath.Join(dir, "missing"), nil); err == nil {
		t.Fatal("Inspect of a missing directory: no error")
	}
}

// TestInspectLive inspects a spool while records are written, received,
// acked and their segments deleted: Inspect must not fail nor report
// damage.
func TestInspectLive(t *testing.T) {
	dir := t.TempDir()
	c := small(dir)
	c.CheckpointInterval = time.Millisecond
	s, _ := open(t, c)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			if err := s.Send(ctx, nil, sluice.Message[[]byte]{Value: rec(i)}); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for {
			_, ack, err := s.Recv(ctx)
			if err != nil {
				return
			}
			ack()
		}
	})
	defer func() { cancel(); wg.Wait() }()
	for range 200 {
		var last uint64
		rep, err := Inspect(dir, func(seq uint64, _ time.Time, _ []byte) {
			if seq <= last {
				t.Errorf("visited %d after %d", seq, last)
			}
			last = seq
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Damage) != 0 || rep.Skipped != 0 {
			t.Fatalf("damage in a live spool: %+v", rep)
		}
	}
}

func TestSyncObserver(t *testing.T) {
	var mu sync.Mutex
	var calls []time.Duration
	s, stop := open(t, small(t.TempDir()), WithSyncObserver(func(d time.Duration) {
		mu.Lock()
		calls = append(calls, d)
		mu.Unlock()
	}))
	send(t, s, recs(0, 1, 2)...)
	mu.Lock()
	n := len(calls)
	mu.Unlock()
	if n < 3 || int64(n) != s.Stats().Fsyncs {
		t.Fatalf("%d calls, %d fsyncs, want 3 or more and equal", n, s.Stats().Fsyncs)
	}
	for _, d := range calls {
		if d < 0 {
			t.Fatalf("negative duration %v", d)
		}
	}
	stop()
}

func TestInspectIgnoresLock(t *testing.T) {
	dir := t.TempDir()
	s, stop := open(t, small(dir))
	send(t, s, rec(0))
	stop()
	if _, err := os.Stat(filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(dir, nil)
	if err != nil || len(rep.Damage) != 0 || rep.Records != 1 || len(rep.Segments) != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if errors.Is(err, ErrInUse) {
		t.Fatal(err)
	}
}
