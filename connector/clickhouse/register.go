package clickhouse

import (
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon"
)

// Register adds the "clickhouse" destination to r.
func Register(r *daemon.Registry) {
	store.Register(r, "clickhouse", "batches of events INSERTed into a ClickHouse table over HTTP (JSONEachRow, gzip); acked when the INSERT succeeded", DefaultConfig, New, "rejected_row")
}
