package batch_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/memory"
	"github.com/sluicehq/sluice/sluicetest"
)

// framed encodes a message as its length (uvarint) and its value, so that
// a batch can be cut back into its messages whatever they hold.
func framed(b []byte, m *sluice.Message[[]byte]) []byte {
	return append(binary.AppendUvarint(b, uint64(len(m.Value))), m.Value...)
}

// unframe cuts an encoded batch back into its values.
func unframe(b []byte) ([][]byte, error) {
	var vs [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("bad frame")
		}
		vs = append(vs, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return vs, nil
}

// TestEncodedConformance runs the sluicetest suite on a NewEncoded
// destination whose flusher cuts each batch back into messages and sends
// them into a memory.Queue, the Source.
func TestEncodedConformance(t *testing.T) {
	tests := []struct {
		name    string
		cfg     batch.Config
		ordered bool
	}{
		{"one flush at a time", batch.Config{Count: 10, Age: 10 * time.Millisecond, Parallelism: 1, StopTimeout: 500 * time.Millisecond}, true},
		{"parallel flushes, bytes limit, eager", batch.Config{Count: 7, Bytes: 600, Age: 10 * time.Millisecond, Parallelism: 4, Eager: true, StopTimeout: 500 * time.Millisecond}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sluicetest.Features{Ordered: tc.ordered, ConcurrentRecv: true, ConcurrentSend: true, Binary: true}
			sluicetest.Run(t, f, func(t *testing.T, name string) (sluice.Source[[]byte], sluice.Destination[[]byte]) {
				q := memory.New[[]byte](0)
				t.Cleanup(q.Close)
				flush := batch.FlushBytesFunc(func(ctx context.Context, b []byte, ends []int) error {
					vs, err := unframe(b)
					if err != nil || len(vs) != len(ends) {
						return fmt.Errorf("batch of %d messages holds %d (%v)", len(ends), len(vs), err)
					}
					start := 0
					for i, end := range ends {
						if !bytes.Equal(framed(nil, &sluice.Message[[]byte]{Value: vs[i]}), b[start:end]) {
							return fmt.Errorf("message %d is not at %d:%d", i, start, end)
						}
						start = end
					}
					ms := make([]sluice.Message[[]byte], len(ends))
					for i, v := range vs {
						ms[i].Value = slices.Clone(v) // b is reused after the flush
					}
					return q.Send(ctx, sluice.Noop, ms...)
				})
				d, err := batch.NewEncoded(tc.cfg, framed, flush)
				if err != nil {
					t.Fatal(err)
				}
				return q, d
			})
		})
	}
}

// TestEncodedCuts checks that an encoded destination cuts where New's
// does, counting encoded bytes, and that each batch is its messages'
// encodings in order.
func TestEncodedCuts(t *testing.T) {
	raw := func(b []byte, m *sluice.Message[[]byte]) []byte { return append(b, m.Value...) }
	for _, tc := range cutTests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				got     []int
				flushed []byte
			)
			flush := batch.FlushBytesFunc(func(_ context.Context, b []byte, ends []int) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, len(ends))
				flushed = append(flushed, b...)
				return nil
			})
			d, err := batch.NewEncoded(batch.Config{Count: tc.count, Bytes: tc.bytes, Age: time.Hour, Parallelism: 1}, raw, flush)
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, t.Context(), d)
			var sent []byte
			for i, sizes := range tc.sends {
				ms := msgs(fmt.Sprint(i), sizes...)
				for j := range ms {
					for k := range ms[j].Value {
						ms[j].Value[k] = byte('a' + (i+j+k)%26)
					}
					sent = append(sent, ms[j].Value...)
				}
				if err := d.Send(t.Context(), nil, ms...); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got batches %v, want %v", got, tc.want)
			}
			if !bytes.Equal(flushed, sent) {
				t.Errorf("flushed %q, sent %q", flushed, sent)
			}
		})
	}
}

func TestNewEncoded(t *testing.T) {
	noop := batch.FlushBytesFunc(func(context.Context, []byte, []int) error { return nil })
	tests := []struct {
		name    string
		new     func() error
		wantErr string
	}{
		{"defaults", func() error { _, err := batch.NewEncoded(batch.Config{}, framed, noop); return err }, ""},
		{"nil encoder", func() error { _, err := batch.NewEncoded[[]byte](batch.Config{}, nil, noop); return err }, "encoder is nil"},
		{"nil flusher", func() error { _, err := batch.NewEncoded(batch.Config{}, framed, nil); return err }, "flusher is nil"},
		{"nil FlushBytesFunc", func() error {
			_, err := batch.NewEncoded(batch.Config{}, framed, batch.FlushBytesFunc(nil))
			return err
		}, "flusher is nil"},
		{"dead letter", func() error {
			_, err := batch.NewEncoded(batch.Config{}, framed, noop, batch.WithDeadLetter[[]byte](memory.New[[]byte](1)))
			return err
		}, "dead letter"},
		{"bad config", func() error { _, err := batch.NewEncoded(batch.Config{Count: -1}, framed, noop); return err }, "count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.new()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// TestEncodedKeepsNoMessage: once Send has returned, the batch holds only
// bytes, so changing a sent message's value changes nothing flushed.
func TestEncodedKeepsNoMessage(t *testing.T) {
	var got []byte
	flush := batch.FlushBytesFunc(func(_ context.Context, b []byte, _ []int) error {
		got = append(got, b...)
		return nil
	})
	raw := func(b []byte, m *sluice.Message[[]byte]) []byte { return append(b, m.Value...) }
	d, err := batch.NewEncoded(batch.Config{Count: 10, Age: time.Hour, Parallelism: 1}, raw, flush)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, t.Context(), d)
	v := []byte("before")
	if err := d.Send(t.Context(), nil, sluice.Message[[]byte]{Value: v}); err != nil {
		t.Fatal(err)
	}
	copy(v, "AFTER!")
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if string(got) != "before" {
		t.Errorf("flushed %q, want %q", got, "before")
	}
}

// SendEncoded cuts batches exactly as Send does with the same messages
// (by count and by bytes, a run spread over several batches), and acks
// each call once all of it is flushed.
func TestSendEncodedCutsAsSend(t *testing.T) {
	var msgs []sluice.Message[[]byte]
	for i := range 200 {
		msgs = append(msgs, sluice.Message[[]byte]{Value: []byte(strings.Repeat("v", i%37))})
	}
	cfg := batch.Config{Count: 7, Bytes: 100, Age: time.Hour, Parallelism: 1, StopTimeout: 5 * time.Second}
	calls := (len(msgs) + 29) / 30 // of 30 messages
	run := func(send func(d *batch.Destination[[]byte], ack func())) (flushed []string, acked int) {
		var mu sync.Mutex
		d, err := batch.NewEncoded(cfg, framed, batch.FlushBytesFunc(func(ctx context.Context, b []byte, ends []int) error {
			mu.Lock()
			defer mu.Unlock()
			flushed = append(flushed, fmt.Sprintf("%x %v", b, ends))
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		var acks sync.WaitGroup
		acks.Add(calls)
		send(d, func() {
			mu.Lock()
			acked++
			mu.Unlock()
			acks.Done()
		})
		cancel() // flushes what is held
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		acks.Wait()
		return flushed, acked
	}
	want, _ := run(func(d *batch.Destination[[]byte], ack func()) {
		for i := 0; i < len(msgs); i += 30 {
			if err := d.Send(context.Background(), ack, msgs[i:min(i+30, len(msgs))]...); err != nil {
				t.Fatal(err)
			}
		}
	})
	got, acked := run(func(d *batch.Destination[[]byte], ack func()) {
		for i := 0; i < len(msgs); i += 30 {
			var b []byte
			var ends []int
			for j := i; j < min(i+30, len(msgs)); j++ {
				b = framed(b, &msgs[j])
				ends = append(ends, len(b))
			}
			if err := d.SendEncoded(context.Background(), ack, b, ends); err != nil {
				t.Fatal(err)
			}
			clear(b) // SendEncoded keeps neither slice
		}
	})
	if !slices.Equal(got, want) {
		t.Errorf("SendEncoded flushed %d batches:\n%v\nSend flushed %d:\n%v", len(got), got, len(want), want)
	}
	if acked != calls {
		t.Errorf("%d acks, want one per call", acked)
	}
}

func TestSendEncodedRefuses(t *testing.T) {
	enc, err := batch.NewEncoded(batch.Config{}, framed, batch.FlushBytesFunc(func(context.Context, []byte, []int) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.SendEncoded(context.Background(), nil, []byte("abc"), []int{1, 2}); err == nil {
		t.Error("SendEncoded with ends short of the bytes: no error")
	}
	plain, err := batch.New(batch.Config{}, batch.FlushFunc[[]byte](func(context.Context, []sluice.Message[[]byte]) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.SendEncoded(context.Background(), nil, []byte("a"), []int{1}); err == nil {
		t.Error("SendEncoded on a destination made by New: no error")
	}
}

// An encoded destination takes a Send's encodings a batch at a time;
// New's takes messages one by one. Over random limits and sends, both
// cut the same batches and call each Send's ack after the same flush.
func TestEncodedCutsAsNew(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		cfg := batch.Config{Count: 1 + rnd.IntN(12), Age: time.Hour, Parallelism: 1}
		if rnd.IntN(4) > 0 {
			cfg.Bytes = 1 + rnd.IntN(60)
		}
		sends := make([][]int, 1+rnd.IntN(12))
		for i := range sends {
			sends[i] = make([]int, 1+rnd.IntN(20)) // an empty Send acks at once, outside the flushes
			for j := range sends[i] {
				sends[i][j] = rnd.IntN(25)
			}
		}
		run := func(d *batch.Destination[[]byte], log *[]string, mu *sync.Mutex) {
			r := start(t, t.Context(), d)
			for i, sizes := range sends {
				ack := func() {
					mu.Lock()
					defer mu.Unlock()
					*log = append(*log, fmt.Sprint("ack ", i))
				}
				if err := d.Send(t.Context(), ack, msgs(fmt.Sprint(i), sizes...)...); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		var want, got []string
		d, err := batch.New(cfg, batch.FlushFunc[[]byte](func(_ context.Context, ms []sluice.Message[[]byte]) error {
			mu.Lock()
			defer mu.Unlock()
			var b []byte
			for _, m := range ms {
				b = append(b, m.Value...)
			}
			want = append(want, fmt.Sprintf("batch of %d: %q", len(ms), b))
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		run(d, &want, &mu)
		raw := func(b []byte, m *sluice.Message[[]byte]) []byte { return append(b, m.Value...) }
		e, err := batch.NewEncoded(cfg, raw, batch.FlushBytesFunc(func(_ context.Context, b []byte, ends []int) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("batch of %d: %q", len(ends), b))
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		run(e, &got, &mu)
		if i := firstDifference(got, want); i >= 0 {
			t.Fatalf("round %d, count %d, bytes %d, sends %v: from the %dth flush or ack on,\nencoded %q\nNew     %q",
				round, cfg.Count, cfg.Bytes, sends, i, got[i:], want[i:])
		}
	}
}

// firstDifference returns the first index where a and b differ, or -1.
func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestEncodedBatchGrowth fills one batch of 10,000 encodings of 600 bytes
// (6 MB, under Bytes, cut by Count), by Send in place and by SendEncoded
// (copied in), and checks the heap allocated meanwhile: a batch's bytes
// double as they grow (to 8 MiB, Bytes, here), so filling it allocates
// under 3.5 times its size (append's 1.25× for large slices made it
// about five and a half times); a second batch, while the first is held
// by its flush, starts with the first one's room (8 MiB) and allocates
// under twice its size (three times without that start).
func TestEncodedBatchGrowth(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what the runtime allocates")
	}
	const n, size = 10000, 600
	value := bytes.Repeat([]byte{'x'}, size)
	msgs := make([]sluice.Message[[]byte], 100)
	for i := range msgs {
		msgs[i].Value = value
	}
	raw := func(b []byte, m *sluice.Message[[]byte]) []byte { return append(b, m.Value...) }
	buf := bytes.Repeat(value, len(msgs))
	ends := make([]int, len(msgs))
	for i := range ends {
		ends[i] = (i + 1) * size
	}
	for _, tc := range []struct {
		name string
		send func(d *batch.Destination[[]byte]) error
	}{
		{"Send", func(d *batch.Destination[[]byte]) error { return d.Send(t.Context(), nil, msgs...) }},
		{"SendEncoded", func(d *batch.Destination[[]byte]) error { return d.SendEncoded(t.Context(), nil, buf, ends) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flushed, release := make(chan int, 1), make(chan struct{})
			flush := batch.FlushBytesFunc(func(_ context.Context, b []byte, _ []int) error {
				flushed <- len(b)
				<-release
				return nil
			})
			d, err := batch.NewEncoded(batch.Config{Count: n, Bytes: 8 << 20, Age: time.Hour, Parallelism: 2}, raw, flush)
			if err != nil {
				t.Fatal(err)
			}
			start(t, t.Context(), d)
			defer close(release) // the first flush holds its batch: the second is a new one
			for i, bound := range []float64{3.5, 2} {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for range n / len(msgs) {
					if err := tc.send(d); err != nil {
						t.Fatal(err)
					}
				}
				got := <-flushed
				runtime.ReadMemStats(&m1)
				if got != n*size {
					t.Fatalf("flushed %d bytes, want %d", got, n*size)
				}
				if alloc := m1.TotalAlloc - m0.TotalAlloc; float64(alloc) > bound*n*size {
					t.Errorf("batch %d: filling %d bytes allocated %d (%.1f×), want under %.1f×", i+1, n*size, alloc, float64(alloc)/(n*size), bound)
				}
			}
		})
	}
}
