// redact.c is examples/wasm/redact written in C against ABI version 1, for
// the benchmarks: how much of a Go guest's cost is the Go code's, and
// what a compiler that emits plain WebAssembly costs instead. It replaces
// every run of 12 or more ASCII digits with "[redacted]" in every string
// of an event but HTTP.Query, as package redaction does, and drops events
// whose raw line or syslog message contains "DEBUG". Build it with
//
//	clang --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry \
//	  -Wl,--export=sluice_abi_v1 -Wl,--export=sluice_alloc \
//	  -Wl,--export=sluice_init -Wl,--export=sluice_handle -o redact.wasm redact.c
//
// (the benchmark does, when clang and wasm-ld are installed).

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MIN_DIGITS 12
static const u8 mask[] = "[redacted]";
#define MASK_LEN 10

static u8 *in_buf, *out_buf;
static u32 in_cap, out_cap;

// grow returns n new bytes at the end of memory, or traps.
static u8 *grow(u32 n, u32 *cap) {
	u32 pages = (n + 65535) / 65536;
	int old = __builtin_wasm_memory_grow(0, pages);
	if (old < 0) __builtin_trap();
	*cap = pages * 65536;
	return (u8 *)(old * 65536);
}

void sluice_abi_v1(void) {}

u8 *sluice_alloc(u32 size) {
	if (size > in_cap) in_buf = grow(size, &in_cap);
	return in_buf;
}

u64 sluice_init(u8 *p, u32 n) { return 0; }

static u32 le32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

static void put32(u8 *p, u32 v) {
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

// A record is read from r and written to w; bad marks malformed input.
struct rw {
	const u8 *r, *end;
	u8 *w;
	int bad;
};

static void copy_varint(struct rw *s) {
	do {
		if (s->r >= s->end) { s->bad = 1; return; }
		*s->w++ = *s->r;
	} while (*s->r++ & 0x80);
}

static u8 copy_byte(struct rw *s) {
	if (s->r >= s->end) { s->bad = 1; return 0; }
	return *s->w++ = *s->r++;
}

static u32 get_len(struct rw *s) {
	u32 v = 0, shift = 0;
	for (;;) {
		if (s->r >= s->end || shift > 28) { s->bad = 1; return 0; }
		u8 c = *s->r++;
		v |= (u32)(c & 0x7f) << shift;
		if (!(c & 0x80)) break;
		shift += 7;
	}
	if (v > (u32)(s->end - s->r)) { s->bad = 1; return 0; }
	return v;
}

static u8 *put_len(u8 *w, u32 v) {
	while (v >= 0x80) { *w++ = v | 0x80; v >>= 7; }
	*w++ = v;
	return w;
}

static int is_digit(u8 c) { return c >= '0' && c <= '9'; }

static int contains_debug(const u8 *p, u32 n) {
	for (u32 i = 0; i + 5 <= n; i++)
		if (p[i] == 'D' && p[i + 1] == 'E' && p[i + 2] == 'B' && p[i + 3] == 'U' && p[i + 4] == 'G') return 1;
	return 0;
}

// copy_str copies a string, redacted unless raw; it returns the string
// read, for the DEBUG check.
static const u8 *copy_str(struct rw *s, int raw, u32 *len) {
	u32 n = get_len(s);
	const u8 *src = s->r;
	*len = n;
	if (s->bad) return src;
	s->r += n;
	u32 first = n, run = 0;
	if (!raw) {
		for (u32 i = 0; i < n; i++) {
			run = is_digit(src[i]) ? run + 1 : 0;
			if (run == MIN_DIGITS) { first = i + 1 - MIN_DIGITS; break; }
		}
	}
	if (first == n) { // unchanged
		s->w = put_len(s->w, n);
		__builtin_memcpy(s->w, src, n);
		s->w += n;
		return src;
	}
	// The redacted string is no longer than n: write it after room for
	// the longest length, then move it next to its length.
	u8 *d = s->w + 5, *o = d;
	__builtin_memcpy(o, src, first);
	o += first;
	for (u32 i = first; i < n;) {
		u32 j = i;
		while (j < n && is_digit(src[j])) j++;
		if (j - i >= MIN_DIGITS) {
			__builtin_memcpy(o, mask, MASK_LEN);
			o += MASK_LEN;
		} else {
			__builtin_memcpy(o, src + i, j - i);
			o += j - i;
		}
		u32 k = j;
		while (k < n && !is_digit(src[k])) k++;
		__builtin_memcpy(o, src + j, k - j);
		o += k - j;
		i = k;
	}
	u32 m = o - d;
	s->w = put_len(s->w, m);
	__builtin_memmove(s->w, d, m);
	s->w += m;
	return src;
}

static void copy_time(struct rw *s) {
	if (copy_byte(s) == 1) {
		copy_varint(s);
		copy_varint(s);
	}
}

// record copies one record, redacted, and reports whether to keep it.
static int record(struct rw *s) {
	u32 n, rawLen = 0, msgLen = 0;
	const u8 *raw = 0, *msg = 0;
	u8 version = copy_byte(s);
	copy_time(s);
	copy_time(s);
	for (int i = 0; i < 4; i++) copy_str(s, 0, &n); // Source, SourceType, Host, ContentType
	raw = copy_str(s, 0, &rawLen);
	copy_varint(s); // Flags
	copy_str(s, 0, &n); // File.Path
	copy_varint(s); // File.Offset
	u8 sys = copy_byte(s);
	if (sys == 1 || sys == 2) {
		copy_byte(s); copy_byte(s); copy_byte(s);
		for (int i = 0; i < 5; i++) copy_str(s, 0, &n);
		msg = copy_str(s, 0, &msgLen);
	}
	if (copy_byte(s) == 1) { // HTTP
		for (int i = 0; i < 3; i++) copy_str(s, 0, &n);
		copy_varint(s); copy_varint(s);
		copy_str(s, 0, &n); copy_str(s, 0, &n);
		for (int i = 0; i < 8; i++) copy_byte(s);
		copy_str(s, 0, &n); copy_str(s, 0, &n);
	}
	u32 fields = 0, shift = 0;
	const u8 *f = s->r;
	copy_varint(s);
	for (; f < s->r; f++, shift += 7) fields |= (u32)(*f & 0x7f) << shift;
	for (u32 i = 0; i < 2 * fields && !s->bad; i++) copy_str(s, 0, &n);
	if (version >= 2) copy_str(s, 1, &n); // HTTP.Query, as it is
	if (s->bad || s->r != s->end) { s->bad = 1; return 0; }
	return !contains_debug(raw, rawLen) && !(msg && contains_debug(msg, msgLen));
}

static u64 result(u8 *p, u32 n) { return (u64)(u32)p << 32 | n; }

static u64 fail(const char *why) {
	put32(out_buf, 1);
	u32 n = 0;
	while (why[n]) { out_buf[4 + n] = why[n]; n++; }
	return result(out_buf, 4 + n);
}

u64 sluice_handle(u8 *p, u32 n) {
	u32 need = n + 8 * (n / 5) + 256; // an event takes 5 bytes or more, and gets 8 more of framing
	if (need > out_cap) out_buf = grow(need, &out_cap);
	if (n < 4) return fail("short batch");
	u32 count = le32(p), kept = 0;
	const u8 *r = p + 4, *end = p + n;
	u8 *w = out_buf + 8;
	for (u32 i = 0; i < count; i++) {
		if (end - r < 4) return fail("truncated batch");
		u32 len = le32(r);
		r += 4;
		if (len > (u32)(end - r)) return fail("record past the end");
		u8 *start = w;
		put32(w, i);
		put32(w + 4, 0);
		struct rw s = {r, r + len, w + 12, 0};
		int keep = record(&s);
		if (s.bad) return fail("malformed record");
		r += len;
		if (keep) {
			put32(w + 8, s.w - (w + 12));
			w = s.w;
			kept++;
		} else {
			w = start;
		}
	}
	put32(out_buf, 0);
	put32(out_buf + 4, kept);
	return result(out_buf, w - out_buf);
}
