package loki

import (
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon"
)

// Register adds the "loki" destination to r.
func Register(r *daemon.Registry) {
	store.Register(r, "loki", "batches of events pushed to Grafana Loki (push API, JSON), streams by label templates; acked on 2xx", DefaultConfig, New, "refused_entry")
}
