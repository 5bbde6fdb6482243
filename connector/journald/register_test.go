package journald_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector/journald"
	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/daemon"
)

func TestRegister(t *testing.T) {
	r := daemon.NewRegistry()
	stdio.Register(r)
	journald.Register(r)
	tests := []struct {
		name, source, wantErr string
	}{
		{name: "kawa config", source: `{"type": "journald"}`},
		{name: "every field", source: `{"type": "journald", "journalctl": "/bin/journalctl", "directory": "/var/log/journal",
			"units": ["ssh.service"], "startAt": "beginning", "stateDir": "st", "checkpointInterval": "50ms",
			"restart": {"initial": "10ms", "max": "1s"}}`},
		{name: "bad startAt", source: `{"type": "journald", "startAt": "now"}`, wantErr: "startAt"},
		{name: "unknown field", source: `{"type": "journald", "cursor": "x"}`, wantErr: "cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := `{"dataDir": "` + t.TempDir() + `", "sources": {"j": ` + tc.source + `}, "destinations": {"o": {"type": "printer"}}}`
			_, err := daemon.New([]byte(cfg), r, slog.New(slog.DiscardHandler))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
}
