package httpin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/memory"
)

// Queue is the bounded queue between an HTTP source's handlers and its
// Recv: a [memory.Queue] (Send, Close and the rest as there) whose Recv
// and RecvBatch name the source in their errors, except io.EOF, returned
// as is once the queue is closed and empty. Safe for concurrent use.
type Queue[T any] struct {
	*memory.Queue[T]
	name string // the errors' prefix, e.g. "http source"
}

// NewQueue returns an empty queue of capacity messages (see [memory.New])
// whose errors start with name.
func NewQueue[T any](name string, capacity int) *Queue[T] {
	return &Queue[T]{Queue: memory.New[T](capacity), name: name}
}

// Recv is [memory.Queue.Recv] with the source's name in its errors.
func (q *Queue[T]) Recv(ctx context.Context) (sluice.Message[T], func(), error) {
	m, ack, err := q.Queue.Recv(ctx)
	if err != nil {
		return m, nil, q.wrap(err)
	}
	return m, ack, nil
}

// RecvBatch is [memory.Queue.RecvBatch] with the source's name in its
// errors; each message keeps its own ack.
func (q *Queue[T]) RecvBatch(ctx context.Context, msgs []sluice.Message[T], acks []func()) (int, error) {
	n, err := q.Queue.RecvBatch(ctx, msgs, acks)
	if err != nil {
		return 0, q.wrap(err)
	}
	return n, nil
}

func (q *Queue[T]) wrap(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("%s: %w", q.name, err)
}
