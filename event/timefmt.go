package event

import (
	"slices"
	"sync/atomic"
	"time"
)

// appendTime appends t in UTC as time.RFC3339Nano does, about four times
// faster: the civil date comes from one division of the Unix time, and
// the digits are written directly. Years outside 0000-9999 take the slow
// path.
func appendTime(dst []byte, t time.Time) []byte {
	secs := t.Unix()
	const minSecs, maxSecs = -62167219200, 253402300799 // 0000-01-01 to 9999-12-31T23:59:59 UTC
	if secs < minSecs || secs > maxSecs {
		return t.UTC().AppendFormat(dst, time.RFC3339Nano)
	}
	// Written in place, into room for the longest text: fixed-size
	// copies, not a call to memmove for each (a parsed P1 event formats
	// two times).
	at := len(dst)
	dst = slices.Grow(dst, 30)[:at+30]
	b := (*[30]byte)(dst[at:])
	slot := &seconds[uint64(secs)*0x9E3779B97F4A7C15>>(64-secondsBits)]
	if c := slot.Load(); c != nil && c.secs == secs {
		*b = c.text
	} else {
		formatSeconds(b, secs)
		slot.Store(&formatted{secs: secs, text: *b})
	}
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		b[19] = '.'
		// Arrays, not slices, of three bytes: moves, not calls to memmove.
		// Groups of three zeros at the end are not written (a time to the
		// millisecond has two); then the last zeros go one by one: ns is
		// not 0, so a digit before the '.' stops the loop.
		hi, rest := ns/1e6, ns%1e6
		*(*[3]byte)(b[20:23]) = [3]byte(digits3[3*hi : 3*hi+3])
		n = 23
		if rest != 0 {
			mid, lo := rest/1e3, rest%1e3
			*(*[3]byte)(b[23:26]) = [3]byte(digits3[3*mid : 3*mid+3])
			n = 26
			if lo != 0 {
				*(*[3]byte)(b[26:29]) = [3]byte(digits3[3*lo : 3*lo+3])
				n = 29
			}
		}
		for b[n-1] == '0' {
			n--
		}
	}
	b[n] = 'Z'
	return dst[:at+n+1]
}

// seconds caches the text of recently formatted seconds: most events of
// a moment share their second, and a date takes longer to compute than
// to look up (a parsed P1 event formats two times). A slot is replaced,
// not changed, so that readers on other goroutines see whole entries.
var seconds [1 << secondsBits]atomic.Pointer[formatted]

const secondsBits = 4

type formatted struct {
	secs int64
	text [30]byte // "2006-01-02T15:04:05" and room for the rest
}

// formatSeconds writes secs since the Unix epoch, UTC, as
// "2006-01-02T15:04:05" into b[:19].
func formatSeconds(b *[30]byte, secs int64) {
	days, sod := secs/86400, secs%86400
	if sod < 0 {
		days, sod = days-1, sod+86400
	}
	y, m, d := civil(days)
	put4(b[0:], y)
	b[4] = '-'
	put2(b[5:], m)
	b[7] = '-'
	put2(b[8:], d)
	b[10] = 'T'
	put2(b[11:], int(sod/3600))
	b[13] = ':'
	put2(b[14:], int(sod/60%60))
	b[16] = ':'
	put2(b[17:], int(sod%60))
}

// civil returns the proleptic Gregorian date of days since 1970-01-01
// (Howard Hinnant's days_from_civil, inverted).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}

// digits3 holds "000" to "999", three bytes each.
var digits3 = func() (b [3000]byte) {
	for i := range 1000 {
		b[3*i], b[3*i+1], b[3*i+2] = byte('0'+i/100), byte('0'+i/10%10), byte('0'+i%10)
	}
	return b
}()
