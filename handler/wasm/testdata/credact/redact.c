// redact.c is examples/wasm/redact written in C against ABI version 2, for
// the benchmarks: how much of a Go guest's cost is the Go code's, and
// what a compiler that emits plain WebAssembly costs instead. It replaces
// every run of 12 or more ASCII digits with "[redacted]" in every string
// of an event, with the algorithm of package redaction, and
// drops events whose raw line or syslog message contains "DEBUG". It
// reads each string where the host's view points and returns each event
// kept as Keep, or as a Patch of the strings it changed. Build it with
//
//	clang --target=wasm32 -O2 -nostdlib -mbulk-memory -Wl,--no-entry \
//	  -Wl,--export=sluice_abi_v2 -Wl,--export=sluice_alloc \
//	  -Wl,--export=sluice_init -Wl,--export=sluice_handle -o redact.wasm redact.c
//
// (the benchmark does, when clang and wasm-ld are installed).

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MIN_DIGITS 12
static const u8 mask[] = "[redacted]";
#define MASK_LEN 10

// The view of an event (docs/wasm.md).
#define VIEW_SIZE 240
#define SLOTS 20
#define SLOT_RAW 4
#define SLOT_MESSAGE 11
#define VIEW_FIELD_TABLE 160
#define VIEW_FIELD_COUNT 164
#define FIELD_SLOT 0x10000

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

void sluice_abi_v2(void) {}

// sluice_alloc keeps its buffer until it is asked for a larger one.
u8 *sluice_alloc(u32 size) {
	if (size > in_cap) in_buf = grow(size, &in_cap);
	return in_buf;
}

u64 sluice_init(u8 *p, u32 n) { return 0; }

static u32 le32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

static u8 *put32(u8 *p, u32 v) {
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
	return p + 4;
}

static int is_digit(u8 c) { return c >= '0' && c <= '9'; }

// first returns the index of the first run of MIN_DIGITS digits in p, or
// n: as package redaction does, it looks at every MIN_DIGITS-th byte.
static u32 first(const u8 *p, u32 n) {
	for (u32 i = MIN_DIGITS - 1; i < n; i += MIN_DIGITS) {
		if (!is_digit(p[i])) continue;
		u32 start = i, end = i + 1;
		while (start > 0 && is_digit(p[start - 1])) start--;
		while (end < n && is_digit(p[end])) end++;
		if (end - start >= MIN_DIGITS) return start;
		i = end;
	}
	return n;
}

// letter marks the letters of "DEBUG" with their index in it plus one.
static const u8 letter[256] = {['D'] = 1, ['E'] = 2, ['B'] = 3, ['U'] = 4, ['G'] = 5};

// contains_debug reports whether p has "DEBUG", as package redaction's
// Debug finds it: every DEBUG covers exactly one of the bytes 4, 9, 14, …,
// looked at four at a time.
static int contains_debug(const u8 *p, u32 n) {
	for (u32 i = 4; i < n; i += 5) {
		while (i + 15 < n && (letter[p[i]] | letter[p[i + 5]] | letter[p[i + 10]] | letter[p[i + 15]]) == 0) i += 20;
		if (i >= n) break;
		u32 k = i + 1 - letter[p[i]];
		if (k <= i && k + 5 <= n && p[k] == 'D' && p[k + 1] == 'E' && p[k + 2] == 'B' && p[k + 3] == 'U' && p[k + 4] == 'G') return 1;
	}
	return 0;
}

// drop reports whether the event is dropped, as package redaction's Drop:
// a message within the raw line (the syslog source's) is not searched again.
static int drop(const u8 *raw, u32 rawLen, const u8 *msg, u32 msgLen) {
	int within = msgLen > 0 && msg >= raw && msg + msgLen <= raw + rawLen;
	return contains_debug(raw, rawLen) || (!within && contains_debug(msg, msgLen));
}

struct batch {
	const u8 *p;
	u32 n;
	int bad;
};

// str returns the string whose offset and length are at v, or 0 with
// bad set if it lies outside the batch.
static const u8 *str(struct batch *b, const u8 *v, u32 *len) {
	u32 off = le32(v), n = le32(v + 4);
	*len = n;
	if (off > b->n || n > b->n - off) { b->bad = 1; *len = 0; return 0; }
	return b->p + off;
}

// item writes a patch of slot with s redacted, if it has a long run of
// digits, and returns where the output goes on.
static u8 *item(u8 *w, u32 slot, const u8 *s, u32 n, u32 *items) {
	u32 start = first(s, n);
	if (start == n) return w;
	u8 *len = w + 4, *o = w + 8;
	put32(w, slot);
	while (start < n) {
		u32 end = start + MIN_DIGITS;
		while (end < n && is_digit(s[end])) end++;
		__builtin_memcpy(o, s, start);
		o += start;
		__builtin_memcpy(o, mask, MASK_LEN);
		o += MASK_LEN;
		s += end;
		n -= end;
		start = first(s, n);
	}
	__builtin_memcpy(o, s, n);
	o += n;
	put32(len, o - (len + 4));
	(*items)++;
	return o;
}

static u64 result(u8 *p, u32 n) { return (u64)(u32)p << 32 | n; }

static u64 fail(const char *why) {
	put32(out_buf, 1);
	u32 n = 0;
	while (why[n]) { out_buf[4 + n] = why[n]; n++; }
	return result(out_buf, 4 + n);
}

u64 sluice_handle(u8 *p, u32 n) {
	// Per event at most 16 bytes of framing and, per string, 8 and no
	// more bytes than it has: the input's 240-byte view and 16 bytes per
	// field bound that.
	u32 need = 2 * n + 256;
	if (need > out_cap) out_buf = grow(need, &out_cap);
	if (n < 4) return fail("short batch");
	u32 count = le32(p), kept = 0;
	if (count > (n - 4) / VIEW_SIZE) return fail("views past the end of the batch");
	struct batch b = {p, n, 0};
	u8 *w = out_buf + 8;
	for (u32 i = 0; i < count; i++) {
		const u8 *v = p + 4 + i * VIEW_SIZE;
		u32 rawLen, msgLen;
		const u8 *raw = str(&b, v + 8 * SLOT_RAW, &rawLen), *msg = str(&b, v + 8 * SLOT_MESSAGE, &msgLen);
		if (b.bad) return fail("a string past the end of the batch");
		if (drop(raw, rawLen, msg, msgLen)) continue;
		u8 *kind = put32(put32(w, i), 0); // from, no route
		u8 *cnt = kind + 4, *o = cnt + 4;
		u32 items = 0, len;
		for (u32 slot = 0; slot < SLOTS; slot++) {
			const u8 *s = str(&b, v + 8 * slot, &len);
			o = item(o, slot, s, len, &items);
		}
		u32 nf = le32(v + VIEW_FIELD_COUNT), table = le32(v + VIEW_FIELD_TABLE);
		if (nf > 0 && (table > n || nf > (n - table) / 16)) return fail("a field table past the end of the batch");
		for (u32 j = 0; j < 2 * nf; j++) {
			const u8 *s = str(&b, p + table + 8 * j, &len);
			o = item(o, FIELD_SLOT + j, s, len, &items);
		}
		if (b.bad) return fail("a string past the end of the batch");
		if (items == 0) {
			put32(kind, 0); // Keep
			w = cnt;
		} else {
			put32(kind, 1); // Patch
			put32(cnt, items);
			w = o;
		}
		kept++;
	}
	put32(out_buf, 0);
	put32(out_buf + 4, kept);
	return result(out_buf, w - out_buf);
}
