//go:build unix

package spool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLock runs two spools on one directory: the second's Run fails while
// the first runs and succeeds once it has stopped.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	s1, stop := open(t, small(dir))
	send(t, s1, rec(0)) // Run has opened

	s2, err := New(small(dir))
	if err != nil {
		t.Fatal(err)
	}
	err = s2.Run(context.Background())
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), dir+" is in use by another spool") {
		t.Fatalf("second Run: %v, want ErrInUse", err)
	}
	if err := s2.Send(context.Background(), nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("Send to the spool that could not open: %v", err)
	}
	stop()

	s3, _ := open(t, small(dir))
	vals, _ := recvAll(t, s3, 50*time.Millisecond)
	equal(t, vals, recs(0))
	if st := s3.Stats(); st.Skipped != 0 || st.CorruptRegions != 0 || st.TornBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}
