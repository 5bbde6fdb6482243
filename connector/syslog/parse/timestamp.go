package parse

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"time"
)

// shape is the fixed part of an RFC 3339 timestamp, "2006-01-02T15:04:05",
// where 'd' stands for a digit.
const shape = "dddd-dd-ddTdd:dd:dd"

// lastDate remembers the fixed part of the last valid timestamp a Parser
// met, and its seconds (see fixedPart): the messages of a stream mostly
// share their second, and comparing 19 bytes is cheaper than checking
// and converting a date.
type lastDate struct {
	text fixedText
	secs int64
	ok   bool
}

// fixedText is the fixed part of a timestamp as three little-endian
// words, bytes 0–7, 8–15 and 15–18: two loads and compares where a
// [19]byte compare calls memequal.
type fixedText struct {
	a, b uint64
	c    uint32
}

// textOf returns the fixed text at the start of b, which holds at least
// len(shape) bytes.
func textOf(b []byte) fixedText {
	_ = b[len(shape)-1]
	return fixedText{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint32(b[15:])}
}

// parseRFC3339 parses the RFC 3339 timestamp at the start of b:
// YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|±hh:mm). It returns the time and the number
// of bytes it took, or the index of the offending byte and the reason.
// It does not allocate, except the first time it meets an offset (see zone).
// last, if not nil, is consulted and updated.
func parseRFC3339(b []byte, last *lastDate) (t time.Time, n int, bad int, reason string) {
	if len(b) < len(shape) {
		return t, 0, badShape(b, shape), "invalid timestamp"
	}
	var local int64
	if last != nil && last.ok && last.text == textOf(b) {
		local = last.secs
	} else {
		if local, bad, reason = fixedPart(b); reason != "" {
			return t, 0, bad, reason
		}
		if last != nil {
			*last = lastDate{text: textOf(b), secs: local, ok: true}
		}
	}
	return rest(b, local)
}

// fixedPart checks and converts the fixed part at the start of b, which
// holds at least len(shape) bytes, to seconds since the epoch as if it
// were UTC; or it returns the index of the offending byte and the reason.
func fixedPart(b []byte) (secs int64, bad int, reason string) {
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, badShape(b, shape), "invalid timestamp"
	}
	y1, ok1 := digits2(b[0], b[1])
	y2, ok2 := digits2(b[2], b[3])
	month, ok3 := digits2(b[5], b[6])
	day, ok4 := digits2(b[8], b[9])
	hour, ok5 := digits2(b[11], b[12])
	minute, ok6 := digits2(b[14], b[15])
	sec, ok7 := digits2(b[17], b[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, badShape(b, shape), "invalid timestamp"
	}
	year := y1*100 + y2
	switch {
	case month < 1 || month > 12:
		return 0, 5, "timestamp out of range: month"
	case day < 1 || day > daysIn(month, year):
		return 0, 8, "timestamp out of range: day"
	case hour > 23:
		return 0, 11, "timestamp out of range: hour"
	case minute > 59:
		return 0, 14, "timestamp out of range: minute"
	case sec > 59:
		return 0, 17, "timestamp out of range: second"
	}
	return daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec), 0, ""
}

// rest parses what follows the fixed part at the start of b, whose
// seconds are local (see fixedPart): the fraction and the offset.
func rest(b []byte, local int64) (t time.Time, n int, bad int, reason string) {
	i, nsec := len(shape), 0
	if i < len(b) && b[i] == '.' {
		i++
		if nsec, i, reason = fraction(b, i); reason != "" {
			return t, 0, i, reason
		}
	}

	offset := 0 // seconds east of UTC
	switch {
	case i == len(b):
		return t, 0, i, "invalid timestamp: missing time offset"
	case b[i] == 'Z':
		i++
	case b[i] == '+' || b[i] == '-':
		o := b[i:]
		if len(o) < 6 || !isDigit(o[1]) || !isDigit(o[2]) || o[3] != ':' || !isDigit(o[4]) || !isDigit(o[5]) {
			return t, 0, i, "invalid timestamp: time offset"
		}
		oh, _ := digits2(o[1], o[2])
		om, _ := digits2(o[4], o[5])
		if oh > 23 || om > 59 {
			return t, 0, i, "timestamp out of range: time offset"
		}
		offset = oh*3600 + om*60
		if o[0] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return t, 0, i, "invalid timestamp: want 'Z', '+' or '-'"
	}

	return time.Unix(local-int64(offset), int64(nsec)).In(zone(offset)), i, 0, ""
}

// badShape returns the index of the first byte of b that does not fit
// shape, where 'd' stands for a digit; len(b) if b is too short.
func badShape(b []byte, shape string) int {
	for k := 0; k < len(shape); k++ {
		if k == len(b) {
			return k
		}
		if c := shape[k]; c == 'd' && !isDigit(b[k]) || c != 'd' && b[k] != c {
			return k
		}
	}
	return len(shape)
}

// digits2 returns the value of the two decimal digits a and b, and whether
// they are digits.
func digits2(a, b byte) (int, bool) {
	a, b = a-'0', b-'0'
	return int(a)*10 + int(b), a < 10 && b < 10
}

// fraction parses 1–9 digits of a fraction of a second at b[i:] and
// returns them as nanoseconds, with the index after them. Where eight
// bytes can be read, it reads them as one word (see digitsEnd).
func fraction(b []byte, i int) (nsec, next int, reason string) {
	start := i
	if i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i : i+8 : i+8])
		if k := digitsEnd(w); k < 8 {
			if k == 0 {
				return 0, i, "invalid timestamp: want digits after '.'"
			}
			return digitsValue(w, k) * pow10[9-k], i + k, ""
		}
	}
	for ; i < len(b) && isDigit(b[i]); i++ {
		if i-start == 9 {
			return 0, i, "invalid timestamp: fraction longer than 9 digits"
		}
		nsec = nsec*10 + int(b[i]-'0')
	}
	if i == start {
		return 0, i, "invalid timestamp: want digits after '.'"
	}
	return nsec * pow10[9-(i-start)], i, ""
}

// pow10[k] is 10 to the k.
var pow10 = [10]int{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// digitsEnd returns how many of the bytes of w (lowest first) are
// decimal digits before the first that is not; 8 if all are. A byte
// below '0' borrows in w-'0', one above '9' carries in w+0x46 into its
// own high bit, and w's own high bit marks the rest; only a flagged
// byte borrows from the byte above it, so bits above the first may be
// set falsely.
func digitsEnd(w uint64) int {
	return bits.TrailingZeros64(((w-'0'*ones)|(w+0x46*ones)|w)&highs) >> 3
}

// digitsValue returns the value of the first k digits of w (lowest byte
// first), 1 ≤ k < 8: the digits are shifted to the top, zeros fill below
// them, and pairs, quads and halves are joined by multiplication.
func digitsValue(w uint64, k int) int {
	v := (w - '0'*ones) << (8 * (8 - k))
	v = (v*10 + v>>8) & 0x00ff00ff00ff00ff
	v = (v*100 + v>>16) & 0x0000ffff0000ffff
	v = (v*10000 + v>>32) & 0xffffffff
	return int(v)
}

func isLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// daysIn returns the number of days in month (1–12) of year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's days_from_civil).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// zones caches one [time.Location] per offset, in minutes from -23:59 to
// +23:59, so that only the first timestamp with a given offset allocates.
var zones [2*24*60 - 1]atomic.Pointer[time.Location]

// zone returns a location for offset seconds east of UTC (a multiple of 60
// within ±23:59): UTC for 0, otherwise a cached fixed zone with no name, as
// [time.Parse] makes.
func zone(offset int) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	z := &zones[offset/60+24*60-1]
	if l := z.Load(); l != nil {
		return l
	}
	z.CompareAndSwap(nil, time.FixedZone("", offset))
	return z.Load()
}

// month returns the month (1–12) of the English abbreviation in b[:3],
// such as "Jan", or 0.
func month(b []byte) int {
	switch uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// parseBSD parses the RFC 3164 timestamp "Mmm dd hh:mm:ss" at the start of
// b: the day may be "dd", " d" or "d", and a fraction of 1–9 digits may
// follow the seconds. The year comes from now and the zone from loc (see
// [Parse]). It reports false if b does not start with a valid timestamp.
func parseBSD(b []byte, now time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(b) < len("Mmm d hh:mm:ss") || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	mon := month(b)
	var day, i int
	switch {
	case b[4] == ' ' && isDigit(b[5]): // "Mmm  d"
		day, i = int(b[5]-'0'), 6
	case isDigit(b[4]) && isDigit(b[5]): // "Mmm dd"
		day, _ = digits2(b[4], b[5])
		i = 6
	case isDigit(b[4]) && b[5] == ' ': // "Mmm d"
		day, i = int(b[4]-'0'), 5
	default:
		return time.Time{}, 0, false
	}
	const shape = " dd:dd:dd"
	if mon == 0 || day == 0 || len(b) < i+len(shape) {
		return time.Time{}, 0, false
	}
	c := b[i : i+len(shape)]
	hour, ok1 := digits2(c[1], c[2])
	minute, ok2 := digits2(c[4], c[5])
	sec, ok3 := digits2(c[7], c[8])
	if !ok1 || !ok2 || !ok3 || c[0] != ' ' || c[3] != ':' || c[6] != ':' ||
		hour > 23 || minute > 59 || sec > 59 || day > daysIn(mon, 2000) {
		return time.Time{}, 0, false
	}
	i += len(shape)
	nsec := 0
	if i < len(b) && b[i] == '.' {
		var reason string
		if nsec, i, reason = fraction(b, i+1); reason != "" {
			return time.Time{}, 0, false
		}
	}
	if now.IsZero() {
		now = time.Now()
	}
	if loc == nil {
		loc = time.UTC
	}
	return nearest(mon, day, hour, minute, sec, nsec, now, loc), i, true
}

// nearest returns the time with the given month, day and time of day in loc
// that is closest to now, looking at the years around now's.
func nearest(mon, day, hour, minute, sec, nsec int, now time.Time, loc *time.Location) time.Time {
	year := now.In(loc).Year()
	date := func(y int) time.Time {
		return time.Date(y, time.Month(mon), day, hour, minute, sec, nsec, loc)
	}
	if mon == 2 && day == 29 { // only in leap years: try the nearest ones
		var best time.Time
		var bestD time.Duration
		for y := year - 4; y <= year+4; y++ {
			if !isLeap(y) {
				continue
			}
			t := date(y)
			if d := absDuration(t.Sub(now)); best.IsZero() || d < bestD {
				best, bestD = t, d
			}
		}
		return best
	}
	// Another year is at least 365 days away from this one, so if this
	// one is within half of that of now it is the nearest.
	const half = 365 * 24 * time.Hour / 2
	t := date(year)
	d := t.Sub(now)
	var other time.Time
	switch {
	case d > half:
		other = date(year - 1)
	case d < -half:
		other = date(year + 1)
	default:
		return t
	}
	if absDuration(other.Sub(now)) < absDuration(d) {
		return other
	}
	return t
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
