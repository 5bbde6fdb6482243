package splunk

import (
	"math"
	"strconv"
	"sync"
	"testing"
)

// FuzzSeconds checks that a seconds cache appends what strconv.AppendInt
// does for any run of values: repeated, changed, back to an earlier one,
// of another length, negative (times before 1970), zero first (the
// cache's zero value must not pass for 0's digits).
func FuzzSeconds(f *testing.F) {
	for _, seed := range [][3]int64{{0, 0, 1}, {1764025200, 1764025200, 1764025201}, {1764025201, 999, 1764025201},
		{-1, -62135596800, 0}, {math.MaxInt64, math.MinInt64, 10}} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c int64) {
		var s seconds
		dst := []byte("x")
		want := []byte("x")
		for _, u := range []int64{a, a, b, c, a} {
			dst = s.append(dst, u)
			want = strconv.AppendInt(want, u, 10)
			if string(dst) != string(want) {
				t.Fatalf("after %d: got %q, want %q", u, dst, want)
			}
		}
	})
}

// TestSecondsConcurrent appends from several goroutines at once, as
// Sends encode events concurrently, seconds that change under each other:
// every append must be strconv.AppendInt's (and -race must see no race).
func TestSecondsConcurrent(t *testing.T) {
	var s seconds
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var dst []byte
			for i := range 2000 {
				u := int64(1764025200 + (i+g)%3)
				dst = s.append(dst[:0], u)
				if want := strconv.FormatInt(u, 10); string(dst) != want {
					t.Errorf("got %q, want %q", dst, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
