package httpin_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/httpin"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// ReadBody's answers, and the slot it holds only when it succeeds.
func TestReadBody(t *testing.T) {
	const max = 100 << 10 // over SlotAfter, so a body can pass it
	big := bytes.Repeat([]byte("x"), httpin.SlotAfter+10)
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string
		declared int64 // Content-Length; 0: the body's, -1: unknown
		busy     bool  // every slot taken beforehand
		want     []byte
		status   int
		msg      string
	}{
		{name: "plain", body: []byte("hello"), want: []byte("hello")},
		{name: "past SlotAfter", body: big, want: big},
		{name: "gzip", body: gz([]byte("hello")), encoding: "gzip", want: []byte("hello")},
		{name: "x-gzip", body: gz([]byte("hello")), encoding: "x-gzip", want: []byte("hello")},
		{name: "declared too large", body: []byte("x"), declared: max + 1, status: 413, msg: "maxTest"},
		{name: "sent too large", body: bytes.Repeat([]byte("x"), max+1), declared: -1, status: 413},
		{name: "gzip bomb", body: gz(bytes.Repeat([]byte("x"), 1<<20)), encoding: "gzip", status: 413, msg: "after decompression"},
		{name: "bad gzip", body: []byte("not gzip"), encoding: "gzip", status: 400},
		{name: "other encoding", body: []byte("x"), encoding: "br", status: 415},
		{name: "busy", body: []byte("hello"), busy: true, status: 503, msg: "maxConcurrentRequests"},
		{name: "busy past SlotAfter", body: big, busy: true, status: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slots := httpin.NewSlots(1)
			if tc.busy && !slots.TryTake() {
				t.Fatal("TryTake on a free slot")
			}
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tc.body))
			switch {
			case tc.declared > 0:
				r.ContentLength = tc.declared
			case tc.declared < 0:
				r.ContentLength = -1
			}
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			got, err := httpin.ReadBody(httptest.NewRecorder(), r, max, "maxTest", slots)
			held := len(slots)
			if tc.busy {
				held--
			}
			if tc.status == 0 {
				if err != nil || !bytes.Equal(got, tc.want) || held != 1 {
					t.Errorf("got %d bytes, %v, %d slots held; want %d bytes, a slot", len(got), err, held, len(tc.want))
				}
				return
			}
			var e *httpin.Error
			if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(err.Error(), tc.msg) || held != 0 {
				t.Errorf("got %v (%d slots held), want status %d with %q and no slot", err, held, tc.status, tc.msg)
			}
			if tc.busy != errors.Is(err, httpin.ErrBusy) {
				t.Errorf("errors.Is(%v, ErrBusy) = %v", err, !tc.busy)
			}
		})
	}
}

// A read that breaks is 400 and frees the slot taken past SlotAfter.
func TestReadBodyBrokenAfterSlot(t *testing.T) {
	slots := httpin.NewSlots(1)
	body := io.MultiReader(bytes.NewReader(make([]byte, httpin.SlotAfter+1)), errReader{})
	r := httptest.NewRequest(http.MethodPost, "/", body)
	r.ContentLength = -1
	_, err := httpin.ReadBody(httptest.NewRecorder(), r, 1<<20, "max", slots)
	var e *httpin.Error
	if !errors.As(err, &e) || e.Status != 400 || len(slots) != 0 {
		t.Errorf("got %v, %d slots held; want 400 and none", err, len(slots))
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", 3 * time.Second: "3"} {
		if got := httpin.RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
