package s3_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/event"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLogger(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testSourceConfig struct{}

// registerTestSource registers a "test" source, so that a config with an
// s3 destination has something to route from.
func registerTestSource(r *daemon.Registry) {
	daemon.RegisterSource(r, "test", "test source",
		func() *testSourceConfig { return &testSourceConfig{} },
		func(daemon.Env, *testSourceConfig) (sluice.Source[event.Event], error) {
			return sluice.SourceFunc[event.Event](func(ctx context.Context) (sluice.Message[event.Event], func(), error) {
				<-ctx.Done()
				return sluice.Message[event.Event]{}, nil, ctx.Err()
			}), nil
		})
}
