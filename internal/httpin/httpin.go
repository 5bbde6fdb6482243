// Package httpin holds what sluice's HTTP sources share in taking a
// request: its body, read within a size limit (a gzip bomb stops at the
// limit too); request slots, taken once a body has arrived, so that slow
// clients hold none; the status and Retry-After of a refusal; and the
// queue between the handlers and Recv (Queue).
package httpin

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SlotAfter is how much of a body arrives before its request takes a
// slot: a slow client trickling a body holds none (the server's
// readTimeout bounds it).
const SlotAfter = 64 << 10

// Slots bounds the requests being handled at once: one slot each. Its len
// is the number taken. Safe for concurrent use.
type Slots chan struct{}

// NewSlots returns n slots.
func NewSlots(n int) Slots { return make(Slots, n) }

// TryTake takes a slot and reports true, or reports false at once if
// every slot is taken.
func (s Slots) TryTake() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release frees a slot taken by TryTake.
func (s Slots) Release() { <-s }

// ErrBusy is returned, wrapped, by [ReadBody] when every slot is taken;
// the client should retry later.
var ErrBusy = errors.New("every request slot is taken")

// busyError says how many slots there are; it is ErrBusy.
type busyError int

func (n busyError) Error() string {
	return fmt.Sprintf("%d requests are being handled (maxConcurrentRequests)", int(n))
}

func (busyError) Is(target error) bool { return target == ErrBusy }

// Error is an error of [ReadBody] with the status to refuse the request
// with.
type Error struct {
	Status int // 400, 408, 413 or 415; 503 for ErrBusy
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ReadBody reads r's whole body, decompressed as its Content-Encoding
// says (identity, gzip or x-gzip), within max bytes both as sent and
// decompressed. The buffer grows as bytes arrive, never from the
// Content-Length a client declares. Once SlotAfter bytes, or the whole
// body, have arrived it takes one of slots; on success the caller holds
// that slot and must Release it. Errors are *[Error]s: over max 413, a
// read past the server's ReadTimeout 408, another encoding 415, bad gzip
// or a broken read 400; every slot taken: 503 wrapping [ErrBusy] (what
// is held then is freed at once). limit names max in messages, such as
// "maxBodyBytes".
func ReadBody(w http.ResponseWriter, r *http.Request, max int64, limit string, slots Slots) ([]byte, error) {
	if r.ContentLength > max {
		return nil, &Error{http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes (%s)", max, limit)}
	}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, max)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, &Error{readStatus(err), fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, &Error{http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q: want gzip or none", enc)}
	}
	var buf bytes.Buffer
	rd = io.LimitReader(rd, max+1)
	_, err := buf.ReadFrom(io.LimitReader(rd, SlotAfter))
	if err == nil {
		if !slots.TryTake() {
			return nil, &Error{http.StatusServiceUnavailable, busyError(cap(slots))}
		}
		if _, err = buf.ReadFrom(rd); err != nil {
			slots.Release()
		}
	}
	switch {
	case err != nil:
		return nil, &Error{readStatus(err), fmt.Errorf("read body: %w", err)}
	case int64(buf.Len()) > max:
		slots.Release()
		return nil, &Error{http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes after decompression (%s)", max, limit)}
	}
	// Having seen the body's end, net/http clears the read deadline and
	// waits for the client's hang-up: ReadTimeout does not cut the wait
	// that follows (for acks).
	return buf.Bytes(), nil
}

// readStatus returns 413 if err is from http.MaxBytesReader, 408 if the
// read timed out (the server's ReadTimeout), else 400.
func readStatus(err error) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// RetryAfter is d as the value of a Retry-After header: whole seconds,
// rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
