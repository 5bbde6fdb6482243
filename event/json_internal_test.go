package event

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestSpecial checks that special's lowest set bit is at the first byte
// that is not plain ASCII: every byte value at every position, after
// plain bytes and before random ones (which may borrow, but only upward).
func TestSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	isSpecial := func(b byte) bool { return b < 0x20 || b >= 0x80 || b == '"' || b == '\\' }
	for pos := range 8 {
		for b := range 256 {
			for range 16 {
				w := r.Uint64()
				for i := range pos { // plain bytes below pos
					c := byte(0x20 + r.IntN(0x60))
					if isSpecial(c) {
						c = 'a'
					}
					w = w&^(0xff<<(8*i)) | uint64(c)<<(8*i)
				}
				w = w&^(0xff<<(8*pos)) | uint64(b)<<(8*pos)
				want := 0
				for want < 8 && !isSpecial(byte(w>>(8*want))) {
					want++
				}
				m := special(w)
				got := 8
				if m != 0 {
					got = bitsIndex(m)
				}
				if got != want {
					t.Fatalf("special(%#016x): first byte %d, want %d", w, got, want)
				}
			}
		}
	}
}

func bitsIndex(m uint64) int {
	i := 0
	for m&0xff == 0 {
		m >>= 8
		i++
	}
	return i
}

func TestAppendUint8(t *testing.T) {
	for v := range 256 {
		if got, want := string(appendUint8([]byte("x"), uint8(v))), "x"+strconv.Itoa(v); got != want {
			t.Errorf("appendUint8(%d) = %q, want %q", v, got, want)
		}
	}
}

// FuzzRawFields checks that fields pointing into the raw bytes, as a
// parser's do, are written exactly as copies of them are: the raw line's
// escaping is reused only where it is right to. Each field is cut from
// raw at offsets taken from the input, anywhere: before, inside, across
// or after the part that needed escaping.
func FuzzRawFields(f *testing.F) {
	// Offsets are the high and low byte of each uint16.
	f.Add([]byte(`<165>1 2026-11-24T10:00:00Z web1 nginx 42 ID47 [ex@1 a="1"] GET / 200`), uint16(50<<8|60), uint16(55<<8|58), uint16(60<<8|69))
	f.Add([]byte("<1>1 - h a - - - m\"sg \xe2\x80\xa8 end \t"), uint16(2<<8|6), uint16(17<<8|20), uint16(18<<8|33))
	f.Add([]byte("<1>1 - h a - - - bad \xff"), uint16(2<<8|6), uint16(17<<8|20), uint16(18<<8|23))
	f.Add([]byte("plain only, nothing to escape at all"), uint16(0<<8|4), uint16(6<<8|16), uint16(18<<8|36))
	f.Add([]byte(`<190>Nov 24 23:00:00 web-03 nginx: 203.0.113.7 - - [24/Nov/2026:23:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" é`+"\u2028\x01\\"), uint16(22<<8|28), uint16(29<<8|34), uint16(36<<8|160))
	f.Add([]byte(`x"""""""""""""""""""""""y`), uint16(0<<8|9), uint16(15<<8|19), uint16(17<<8|25)) // more escapes than recorded
	f.Fuzz(func(t *testing.T, raw []byte, a, b, c uint16) {
		cut := func(x uint16) string {
			if len(raw) == 0 {
				return ""
			}
			i, j := int(x>>8)%len(raw), int(x&0xff)%(len(raw)+1)
			if i > j {
				i, j = j, i
			}
			return unsafe.String(unsafe.SliceData(raw[i:]), j-i)
		}
		ev := Event{Raw: raw, Syslog: Syslog{Present: true, Hostname: cut(a), AppName: cut(b), Message: cut(c)},
			HTTP: &HTTP{Path: cut(b), UserAgent: cut(c)}, Fields: []Field{{Name: cut(a), Value: cut(c)}}}
		cp := ev
		cp.Raw = bytes.Clone(raw)
		cp.Syslog.Hostname, cp.Syslog.AppName, cp.Syslog.Message = strings.Clone(ev.Syslog.Hostname), strings.Clone(ev.Syslog.AppName), strings.Clone(ev.Syslog.Message)
		cp.HTTP = &HTTP{Path: strings.Clone(ev.HTTP.Path), UserAgent: strings.Clone(ev.HTTP.UserAgent)}
		cp.Fields = []Field{{Name: strings.Clone(ev.Fields[0].Name), Value: strings.Clone(ev.Fields[0].Value)}}
		if got, want := ev.AppendJSON(nil), cp.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("fields in raw %q give\n%s\nfields apart give\n%s", raw, got, want)
		}
	})
}

// TestRawTextCopies checks which fields of a parsed line are copied from
// the raw line's escaped text, so that FuzzRawFields tests that path, and
// that the copy is what escaping them gives.
func TestRawTextCopies(t *testing.T) {
	raw := []byte(`<165>1 2026-11-24T10:00:00Z web1 nginx 42 ID47 - GET "/a\b" 200 é` + "\u2028\t" + ` end`)
	at := func(sub string) string {
		i := bytes.Index(raw, []byte(sub))
		return unsafe.String(&raw[i], len(sub))
	}
	var r rawText
	out := r.appendRaw(nil, raw)
	for _, tc := range []struct {
		s      string
		copied bool
	}{
		{at("web1"), true},   // before the span
		{at(`<165>1`), true}, // from the first byte
		{at("end"), true},    // after the span
		{at(`GET "/a\b" 200 é` + "\u2028\t end"), true}, // the message, all of the span
		{at(` - GET "/a\b" 200 é` + "\u2028\t"), true},  // ends where the span does
		{at(`"/a`), false},                    // ends inside the span
		{at(`200 é` + "\u2028\t end"), false}, // starts inside it
		{strings.Clone(at("web1")), false},    // equal, elsewhere in memory
		{"", false},
	} {
		// Copied, the field is written without a scan: from raw or from
		// out, where its escaped text begins at r.out+off if it starts
		// before the span.
		off, ok := r.offset(tc.s)
		end := off + len(tc.s)
		plain, holds := end <= r.lo || off >= r.hi, off <= r.lo && end >= r.hi
		if copied := ok && (plain || holds); copied != tc.copied {
			t.Errorf("%q copied %v, want %v", tc.s, copied, tc.copied)
		}
		got := r.appendString(out, tc.s)[len(out):]
		if want := AppendString(nil, tc.s); string(got) != string(want) {
			t.Errorf("%q written %s, want %s", tc.s, got, want)
		}
	}
	var bad rawText
	if bad.appendRaw(nil, []byte("x\xffy")); bad.raw != "" {
		t.Errorf("invalid UTF-8 raw: %+v knows its text", bad)
	}
}

// TestNext checks next (SSE2 on amd64) and nextSWAR against a byte loop
// from every start, in strings of every length up to 70 holding specials
// at random places, runs of them too (a special byte borrows from the
// byte after it), and edge bytes: 0x1f, 0x20, 0x7f and 0x80 sit at the
// edges of the signed and unsigned comparisons.
func TestNext(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const specials = "\x00\x0c\x1f\"\\\x80\xe2\xff"
	const edges = "\x1f\x20\x21\x7e\x7f\x80\x81\x5b\x5d\x21\x23"
	for n := range 71 {
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(0x20 + r.IntN(0x5f))
				switch k := r.IntN(12); {
				case k == 0:
					b[i] = specials[r.IntN(len(specials))]
				case k == 1:
					b[i] = edges[r.IntN(len(edges))]
				}
			}
			for i := range n + 1 {
				want := i
				for want < n && !isSpecial[b[want]] {
					want++
				}
				if got := next(string(b), i); got != want {
					t.Fatalf("next(%q, %d) = %d, want %d", b, i, got, want)
				}
				if got := nextSWAR(string(b), i); got != want {
					t.Fatalf("nextSWAR(%q, %d) = %d, want %d", b, i, got, want)
				}
			}
		}
	}
}

// FuzzNext checks next (SSE2 on amd64) and nextSWAR against a byte loop
// on any bytes, from a start taken from the input.
func FuzzNext(f *testing.F) {
	f.Add("plain ascii text, then a quote \" and more plain text", uint8(3))
	f.Add("\x1f\x20\x7f\x80 sixteen bytes or more \\ \xff", uint8(0))
	f.Add("short", uint8(1))
	f.Fuzz(func(t *testing.T, s string, at uint8) {
		i := int(at) % (len(s) + 1)
		want := i
		for want < len(s) && !isSpecial[s[want]] {
			want++
		}
		if got := next(s, i); got != want {
			t.Fatalf("next(%q, %d) = %d, want %d", s, i, got, want)
		}
		if got := nextSWAR(s, i); got != want {
			t.Fatalf("nextSWAR(%q, %d) = %d, want %d", s, i, got, want)
		}
	})
}
