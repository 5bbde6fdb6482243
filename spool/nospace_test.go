package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/tmpfstest"
)

// kiloRec is a record of 1 KiB numbered i.
func kiloRec(i int) []byte { return fmt.Appendf(nil, "%08d%01016d", i, 0) }

// runSpool runs s and returns its Run's result channel and a stop.
func runSpool(t *testing.T, s *Spool) (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(cancel)
	return errc, cancel
}

// ackSet is the set of records whose Send was acked.
type ackSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (a *ackSet) add(v []byte) { a.mu.Lock(); a.m[string(v)] = true; a.mu.Unlock() }
func (a *ackSet) len() int     { a.mu.Lock(); defer a.mu.Unlock(); return len(a.m) }

// The spool fills its own file system (a 1 MiB tmpfs, far below
// MaxBytes) while nothing reads it: writes fail with ENOSPC. The spool
// does not stop: it undoes the failed writes, holds its writers back and
// says so in Stats. Once a reader acks records, acked segments are deleted
// (the position saved in place, since no new file fits), writes go on,
// and every acked record is read.
//
// With segments larger than the file system, the segment being written
// when space runs out is sealed, so that it too is deleted once read.
func TestFullFileSystem(t *testing.T) {
	for _, seg := range []int64{64 << 10, 4 << 20} {
		t.Run(fmt.Sprintf("segmentBytes=%d", seg), func(t *testing.T) { testFullFileSystem(t, seg) })
	}
}

func testFullFileSystem(t *testing.T, segmentBytes int64) {
	mnt := tmpfstest.Mount(t, 1<<20)
	s, err := New(Config{Dir: filepath.Join(mnt, "spool"), SegmentBytes: segmentBytes, MaxBytes: 64 << 20, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	errc, stop := runSpool(t, s)

	acked := &ackSet{m: map[string]bool{}}
	wctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	writerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			v := kiloRec(i)
			if err := s.Send(wctx, func() { acked.add(v) }, sluice.Message[[]byte]{Value: v}); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	waitFor(t, func() bool { return s.Stats().NoSpace })
	full := acked.len()
	time.Sleep(3 * noSpaceRetry)
	// The writer waits between tries: a snapshot taken during a try sees
	// it not waiting, so look until one sees it wait.
	var st Stats
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st = s.Stats()
		if st.NoSpaceWrites >= 2 && st.Waiting == 1 && st.NoSpace || time.Now().After(end) {
			break
		}
	}
	if st.NoSpaceWrites < 2 || st.Waiting != 1 || !st.NoSpace {
		t.Errorf("with the file system full: %+v, want NoSpace, failed writes tried again, one writer waiting", st)
	}
	if n := acked.len(); n != full {
		t.Errorf("%d records acked while the file system was full (%d before)", n-full, full)
	}
	select {
	case err := <-errc:
		t.Fatalf("Run stopped on a full file system: %v", err)
	case err := <-writerDone:
		t.Fatalf("Send failed on a full file system: %v", err)
	default:
	}
	t.Logf("file system full after %d records of 1 KiB", full)

	// A reader acks what it reads: space comes back, writing goes on.
	var mu sync.Mutex
	got := map[string]int{}
	rctx, stopReader := context.WithCancel(context.Background())
	defer stopReader()
	go func() {
		for {
			m, ack, err := s.Recv(rctx)
			if err != nil {
				return
			}
			mu.Lock()
			got[string(m.Value)]++
			mu.Unlock()
			ack()
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for acked.len() < 3*full {
		if time.Now().After(deadline) {
			t.Fatalf("%d records acked, want writing to go on past %d once the reader frees space; %+v", acked.len(), 3*full, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopWriter()
	if err := <-writerDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("writer: %v", err)
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= acked.len()
	})
	mu.Lock()
	for v := range acked.m {
		if got[v] == 0 {
			t.Errorf("record %.8s acked, never read", v)
		}
	}
	mu.Unlock()
	// The writer may have stopped while waiting for space: NoSpace says
	// how the last write went, so write once more.
	send(t, s, kiloRec(1<<20))
	if st := s.Stats(); st.NoSpace || st.PositionErrors != 0 {
		t.Errorf("after space came back: %+v, want NoSpace false and the position saved every time", st)
	}
	stop()
	if err := <-errc; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// A spool restarted on a file system that is still full (another file
// took the space) opens, delivers what it holds, and saves its position:
// the run after it delivers nothing again. Writes wait for space, then go
// on once the spool's acked segments are deleted.
func TestRestartOnFullFileSystem(t *testing.T) {
	mnt := tmpfstest.Mount(t, 1<<20)
	c := Config{Dir: filepath.Join(mnt, "spool"), SegmentBytes: 64 << 10, MaxBytes: 64 << 20}
	s, stop := open(t, c)
	var want [][]byte
	for i := range 300 {
		want = append(want, kiloRec(i))
	}
	send(t, s, want...)
	stop()
	filler := filepath.Join(mnt, "filler")
	tmpfstest.Fill(t, filler)

	s, stop = open(t, c)
	got, acks := recvAll(t, s, 200*time.Millisecond)
	equal(t, got, want)
	// Nothing fits: a Send waits for space, then gives up with its ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 3*noSpaceRetry)
	err := s.Send(ctx, func() { t.Error("acked a record that was not written") }, sluice.Message[[]byte]{Value: kiloRec(1000)})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !s.Stats().NoSpace {
		t.Fatalf("Send on a full file system = %v, %+v; want to wait for space, then the ctx's error", err, s.Stats())
	}
	for _, a := range acks {
		a()
	}
	// The acked segments go, which frees space for the next records.
	send(t, s, kiloRec(1001))
	if st := s.Stats(); st.NoSpace {
		t.Errorf("after a write succeeded: %+v", st)
	}
	stop()
	if _, err := os.Stat(filler); err != nil {
		t.Fatal(err)
	}

	s, _ = open(t, c)
	got, _ = recvAll(t, s, 200*time.Millisecond)
	equal(t, got, [][]byte{kiloRec(1001)})
}

// A record larger than a segment, or a Send larger than the room past one
// segment, is refused with ErrTooLarge: nothing of it is written or acked.
func TestSendTooLarge(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, small(dir))
	ctx := context.Background()
	noAck := func() { t.Error("acked a Send that was refused") }
	big := make([]byte, 5*frameLen)
	if err := s.Send(ctx, noAck, sluice.Message[[]byte]{Value: rec(1)}, sluice.Message[[]byte]{Value: big}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Send of a record larger than a segment = %v, want ErrTooLarge", err)
	}
	many := make([]sluice.Message[[]byte], (1<<20)/frameLen)
	for i := range many {
		many[i].Value = rec(i)
	}
	if err := s.Send(ctx, noAck, many...); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Send of maxBytes = %v, want ErrTooLarge", err)
	}
	if vals, _ := recvAll(t, s, 50*time.Millisecond); len(vals) != 0 {
		t.Errorf("%d records written by refused Sends", len(vals))
	}
}
