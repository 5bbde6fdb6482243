package parse

import (
	"math/rand/v2"
	"testing"
)

// TestPrintEnd checks printEnd against the byte loop: every byte value at
// every position of a word, after printable bytes and before random ones
// (which may borrow or carry, but only upward), from every start.
func TestPrintEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	want := func(b []byte, i int) int {
		for i < len(b) && printable[b[i]] {
			i++
		}
		return i
	}
	for n := range 20 {
		for pos := range n {
			for c := range 256 {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte('!' + r.IntN('~'-'!'+1))
					if i > pos {
						b[i] = byte(r.IntN(256))
					}
				}
				b[pos] = byte(c)
				for i := range n + 1 {
					if got, w := printEnd(b, i), want(b, i); got != w {
						t.Fatalf("printEnd(%q, %d) = %d, want %d", b, i, got, w)
					}
				}
			}
		}
	}
}
