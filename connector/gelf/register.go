package gelf

import (
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon"
)

// Register adds the "gelf" destination to r.
func Register(r *daemon.Registry) {
	store.Register(r, "gelf", "events as GELF 1.1 messages to Graylog over UDP (compressed, chunked; delivery not confirmed) or TCP (NUL-framed); acked once written", DefaultConfig, New, "")
}
