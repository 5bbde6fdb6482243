package syslog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A receive buffer the kernel capped is reported at INFO with the size the
// socket has and the command that raises the cap; one it granted in full,
// or of unknown size, is not reported.
func TestReportReadBuffer(t *testing.T) {
	const asked, rmemMax = 16 << 20, 212992
	for _, tc := range []struct {
		name string
		got  int
		want []string
	}{
		{"capped", 2 * rmemMax, []string{"level=INFO", "effectiveBytes=212992", "readBufferBytes=16777216", "net.core.rmem_max=212992",
			"sysctl -w net.core.rmem_max=16777216"}},
		{"granted", 2 * asked, nil},
		{"unknown", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := &Source{log: slog.New(slog.NewTextHandler(&buf, nil))}
			s.reportReadBuffer(asked, tc.got, rmemMax)
			if tc.want == nil && buf.Len() != 0 {
				t.Errorf("logged %q, want nothing", buf.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q does not hold %q", buf.String(), w)
				}
			}
		})
	}
}

// The source is not ready until it listens, then ready.
func TestNotReadyUntilListening(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Network: "udp+tcp"}, "sys")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.NotReady(); got != "not listening yet" {
		t.Errorf("before Run: NotReady = %q", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.ready
	if got := s.NotReady(); got != "" {
		t.Errorf("listening: NotReady = %q, want \"\"", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
