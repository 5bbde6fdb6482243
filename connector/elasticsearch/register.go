package elasticsearch

import (
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon"
)

// Register adds the "elasticsearch" destination to r.
func Register(r *daemon.Registry) {
	store.Register(r, "elasticsearch", "batches of events written to Elasticsearch or OpenSearch with _bulk; items acked when stored, retried on 429/5xx, dead-lettered when rejected", DefaultConfig, New, "")
}
