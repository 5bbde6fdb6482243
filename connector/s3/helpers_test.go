package s3_test

import (
	"log/slog"

	"github.com/sluicehq/sluice/internal/syncbuf"
)

func newLogger(b *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
