package splunk

import (
	"github.com/sluicehq/sluice/connector/internal/store"
	"github.com/sluicehq/sluice/daemon"
)

// Register adds the "splunk_hec" destination to r.
func Register(r *daemon.Registry) {
	store.Register(r, "splunk_hec", "batches of events sent to a Splunk HTTP Event Collector; acked on 200, or with ackEnabled once /services/collector/ack confirms them", DefaultConfig, New, "")
}
