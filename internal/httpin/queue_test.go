package httpin_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/httpin"
)

// TestQueue passes a message and its ack through, names the source in a
// cancelled Recv's and RecvBatch's error (which still wraps the cause),
// and returns io.EOF itself once the queue is closed and empty.
func TestQueue(t *testing.T) {
	q := httpin.NewQueue[string]("test source", 4)
	acked := false
	if err := q.Send(context.Background(), func() { acked = true }, sluice.Message[string]{Value: "a"}); err != nil {
		t.Fatal(err)
	}
	m, ack, err := q.Recv(context.Background())
	if err != nil || m.Value != "a" {
		t.Fatalf("Recv: %q, %v", m.Value, err)
	}
	ack()
	if !acked {
		t.Error("the receiver's ack did not reach the sender")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs, acks := make([]sluice.Message[string], 2), make([]func(), 2)
	for name, recv := range map[string]func() error{
		"Recv":      func() error { _, _, err := q.Recv(ctx); return err },
		"RecvBatch": func() error { _, err := q.RecvBatch(ctx, msgs, acks); return err },
	} {
		if err := recv(); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "test source: ") {
			t.Errorf("%s on a cancelled ctx: %v, want context.Canceled named \"test source\"", name, err)
		}
	}

	q.Close()
	if _, _, err := q.Recv(context.Background()); err != io.EOF {
		t.Errorf("Recv after Close: %v, want io.EOF itself", err)
	}
	if n, err := q.RecvBatch(context.Background(), msgs, acks); n != 0 || err != io.EOF {
		t.Errorf("RecvBatch after Close: %d, %v, want 0, io.EOF itself", n, err)
	}
}
