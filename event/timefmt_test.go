package event

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

func TestAppendTime(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(-1, 0),
		time.Unix(-1, 999999999),
		time.Date(2026, 11, 25, 1, 2, 3, 123456000, time.UTC),
		time.Date(2026, 11, 25, 1, 2, 3, 100, time.FixedZone("x", 5*3600+1800)),
		// Trailing zeros in each group of three digits, and across groups.
		time.Date(2026, 11, 24, 12, 0, 0, 1000000, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 100000000, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 120000, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 1000, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 10, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 0, 100100000, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1600, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Now(),
	}
	// Twice: the second round reads the seconds from the cache, where
	// the first may have left them.
	for range 2 {
		for _, tc := range times {
			want := tc.UTC().Format(time.RFC3339Nano)
			if got := string(appendTime(nil, tc)); got != want {
				t.Errorf("appendTime(%v) = %s, want %s", tc, got, want)
			}
			// After other bytes, into room holding old ones: written in place.
			dst := append(bytes.Repeat([]byte("z"), 64)[:1], "x"...)
			if got := string(appendTime(dst, tc)); got != "zx"+want {
				t.Errorf("appendTime(%q, %v) = %s, want zx%s", dst, tc, got, want)
			}
		}
	}
}

// TestAppendTimeConcurrent formats times from many goroutines, whose
// seconds share the cache's slots: each must get its own.
func TestAppendTimeConcurrent(t *testing.T) {
	base := time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				tm := base.Add(time.Duration((i*7+g)%97) * time.Second).Add(time.Duration(i))
				if got, want := string(appendTime(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
					t.Errorf("appendTime = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1795000000), int64(123456789))
	f.Add(int64(-62167219200), int64(0))
	f.Add(int64(253402300799), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if want, got := tm.UTC().Format(time.RFC3339Nano), string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%d, %d) = %s, want %s", sec, nsec, got, want)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 25, 1, 2, 3, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("appendTime", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
}
