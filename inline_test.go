package sluice_test

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/handoff"
)

// item is what inlineSource queues: a message and its ack.
type item struct {
	v   string
	ack func()
}

// inlineSource is an InlineSource over a handoff queue, as the syslog
// source is, but with an ack per message.
type inlineSource struct{ q *handoff.Queue[item] }

func (s inlineSource) Recv(ctx context.Context) (sluice.Message[string], func(), error) {
	var m [1]sluice.Message[string]
	var a [1]func()
	_, err := s.RecvBatch(ctx, m[:], a[:])
	return m[0], a[0], err
}

func (s inlineSource) RecvBatch(ctx context.Context, msgs []sluice.Message[string], acks []func()) (int, error) {
	return s.RecvBatchInline(ctx, msgs, acks, nil)
}

func (s inlineSource) RecvBatchInline(ctx context.Context, msgs []sluice.Message[string], acks []func(), do func(int) error) (int, error) {
	k := 0
	fill := func(items []item) {
		for _, it := range items {
			msgs[k], acks[k] = sluice.Message[string]{Value: it.v}, it.ack
			k++
		}
	}
	if do == nil {
		return s.q.Take(ctx, len(msgs), fill)
	}
	return s.q.TakeOrRun(ctx, len(msgs), fill, func(n int) error { k = 0; return do(n) })
}

// putInline queues one message from a goroutine of its own, as a source's
// reader does, and waits for its Put to return.
func putInline(t *testing.T, q *handoff.Queue[item], it item) {
	t.Helper()
	done := make(chan error)
	go func() {
		b := q.Get()
		b.Items = append(b.Items, it)
		done <- q.Put(t.Context(), b)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// inlineMarker notes whether a Send ran on putInline's goroutine.
type inlineMarker struct{ inline atomic.Int32 }

func (m *inlineMarker) mark() {
	buf := make([]byte, 16<<10)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "sluice/internal/handoff.(*Queue[...]).Put") {
		m.inline.Add(1)
	}
}

// An InlineSource's goroutine that sends on itself keeps Send's contract:
// the source's acks are called only once the destination acks, each once,
// whether the destination takes the batch's acks as they are or one ack
// for all; and what the destination does not ack is never acked.
func TestInlineSourceAcksAfterDestination(t *testing.T) {
	for _, each := range []bool{false, true} {
		t.Run(map[bool]string{false: "Send", true: "SendBatch"}[each], func(t *testing.T) {
			q := handoff.New[item](64)
			dst := &lateBatchAcker{}
			var d sluice.Destination[string] = &dst.lateAcker
			if each {
				d = dst
			}
			var m inlineMarker
			marked := sluice.Hooks{Send: func(ctx context.Context, n int) (context.Context, func(error)) {
				m.mark()
				return ctx, func(error) {}
			}}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := run(t, ctx, sluice.Config[string, string]{Source: inlineSource{q}, Destination: d, Handler: sluice.Pipe[string]()},
				sluice.WithHooks(marked))
			var acks []*counter
			for i := 0; m.inline.Load() < 3; i++ { // until three Sends ran on the putting goroutine
				if i == 1000 {
					t.Fatal("1000 messages queued one at a time, none sent on by the goroutine that queued it")
				}
				acks = append(acks, new(counter))
				putInline(t, q, item{"m", acks[i].ack})
				eventually(t, "the message sent", func() bool { return dst.held() == i+1 })
			}
			for i, c := range acks {
				if c.get() != 0 {
					t.Fatalf("message %d acked before the destination acked", i)
				}
			}
			released := dst.release(len(acks) - 1)
			cancel()
			if err := wait(t, done); err != nil {
				t.Fatal(err)
			}
			for i, c := range acks {
				if want := int64(min(1, max(0, released-i))); c.get() != want {
					t.Errorf("message %d acked %d times, want %d", i, c.get(), want)
				}
			}
		})
	}
}
