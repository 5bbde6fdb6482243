package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A read position that cannot be saved for another reason than a full
// file system (here the position file's name is taken by a directory, so
// the rename fails even for root) is counted in PositionErrors, and stops
// Run with the error: the spool does not go on as if its reads were
// saved. A Recv waiting meanwhile, and any Send or Recv after, is refused
// with that cause, not "closed" alone.
func TestPositionError(t *testing.T) {
	dir := t.TempDir()
	c := small(dir)
	c.CheckpointInterval = 10 * time.Millisecond
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	send(t, s, recs(0, 1)...)
	if err := os.RemoveAll(filepath.Join(dir, positionFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, positionFile, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, acks := recvAll(t, s, 50*time.Millisecond)
	waiting := make(chan error, 1)
	go func() {
		_, _, err := s.Recv(ctx) // nothing left: it waits until Run stops
		waiting <- err
	}()
	for _, a := range acks {
		a()
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "write position") {
			t.Errorf("Run = %v, want the position's write error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run goes on without saving its position")
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sluice.ErrClosed) || !strings.Contains(fmt.Sprint(err), "write position") {
			t.Errorf("%s = %v, want ErrClosed with the position's write error", what, err)
		}
	}
	refused("a Recv waiting when Run failed", <-waiting)
	refused("Send after Run failed", s.Send(ctx, nil, sluice.Message[[]byte]{Value: []byte("late")}))
	_, _, err = s.Recv(ctx)
	refused("Recv after Run failed", err)
	if n := s.Stats().PositionErrors; n < 1 {
		t.Errorf("PositionErrors = %d, want at least 1", n)
	}
}
