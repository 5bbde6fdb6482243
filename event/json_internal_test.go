package event

import (
	"strconv"
	"testing"
)

// TestPlain checks plain against its definition for every byte value at
// every position of a word of otherwise plain bytes.
func TestPlain(t *testing.T) {
	for pos := range 8 {
		for b := range 256 {
			w := uint64(0x6161616161616161) // "aaaaaaaa"
			w = w&^(0xff<<(8*pos)) | uint64(b)<<(8*pos)
			want := b >= 0x20 && b < 0x80 && b != '"' && b != '\\'
			if got := plain(w); got != want {
				t.Errorf("plain with byte %#x at %d = %v, want %v", b, pos, got, want)
			}
		}
	}
}

func TestAppendUint8(t *testing.T) {
	for v := range 256 {
		if got, want := string(appendUint8([]byte("x"), uint8(v))), "x"+strconv.Itoa(v); got != want {
			t.Errorf("appendUint8(%d) = %q, want %q", v, got, want)
		}
	}
}
