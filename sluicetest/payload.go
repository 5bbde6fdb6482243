package sluicetest

import (
	"fmt"
	"strconv"
)

// minPayload is the smallest MaxPayload the suite accepts: room for the id
// that makes each payload unique.
const minPayload = 16

// payload returns a new payload of size bytes: a unique id and a '.', then
// random bytes, printable ASCII without newlines unless Binary. The id
// alone may make it longer than size.
func (h *harness[T]) payload(size int) string {
	h.ids++
	b := strconv.AppendInt(make([]byte, 0, size), int64(h.ids), 36)
	b = append(b, '.')
	for len(b) < size {
		if h.f.Binary {
			b = append(b, byte(h.rng.Uint32()))
		} else {
			b = append(b, byte(' '+h.rng.IntN('~'-' '+1)))
		}
	}
	return string(b)
}

// payloads returns n new payloads of random sizes up to MaxPayload; the
// first is exactly MaxPayload bytes.
func (h *harness[T]) payloads(n int) []string {
	ps := make([]string, n)
	for i := range ps {
		size := h.f.MaxPayload
		if i > 0 {
			size = 1 + h.rng.IntN(h.f.MaxPayload)
		}
		ps[i] = h.payload(size)
	}
	return ps
}

// compare reports, under the subtest's rule, payloads received that were
// never sent or were received twice and payloads sent but not received;
// if ordered, it reports the first message out of order, under "order".
func (h *harness[T]) compare(sent, got []string, ordered bool) {
	h.t.Helper()
	want := make(map[string]int, len(sent))
	for _, p := range sent {
		want[p]++
	}
	var unknown, twice, over []string
	h.mu.Lock()
	scribbled := h.scribbled
	for _, p := range got {
		n, ok := want[p]
		switch {
		case !ok && scribbled[p]:
			over = append(over, p)
		case !ok:
			unknown = append(unknown, p)
		case n == 0:
			twice = append(twice, p)
		default:
			want[p]--
		}
	}
	h.mu.Unlock()
	var missing []string
	for _, p := range sent {
		if want[p] > 0 {
			missing = append(missing, p)
			want[p]--
		}
	}
	if len(over) > 0 {
		h.t.Errorf("send-msgs: received %s that the suite wrote over the msgs of a Send after it returned, first %s: the destination kept the caller's slice and read it later", count(len(over), "message"), show(over[0]))
	}
	if len(unknown) > 0 {
		h.t.Errorf("%s: received %s never sent (changed in transit?), first %s", h.rule, count(len(unknown), "payload"), show(unknown[0]))
	}
	if len(twice) > 0 {
		h.t.Errorf("%s: received %s more than once, first %s", h.rule, count(len(twice), "message"), show(twice[0]))
	}
	if len(missing) > 0 {
		h.t.Errorf("%s: %d of %d messages sent were not received, first %s", h.rule, len(missing), len(sent), show(missing[0]))
	}
	if !ordered || len(unknown)+len(twice)+len(missing) > 0 {
		return
	}
	for i := range got {
		if got[i] != sent[i] {
			h.t.Errorf("order: message %d of %d: got %s, want %s", i, len(sent), show(got[i]), show(sent[i]))
			return
		}
	}
}

// count returns n and noun, in the plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// show quotes p, shortened.
func show(p string) string {
	if len(p) > 24 {
		return fmt.Sprintf("%q… (%d bytes)", p[:24], len(p))
	}
	return strconv.Quote(p)
}
