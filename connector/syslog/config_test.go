package syslog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

// The daemon fills the connection limits' and the queue's defaults and reports a bad one
// at its path.
func TestDaemonConfig(t *testing.T) {
	r := daemontest.Registry(syslog.Register, stdio.Register)
	const out = `, "destinations": {"out": {"type": "printer"}}}`
	p, err := daemon.Load([]byte(`{"sources": {"in": {"type": "syslog"}}`+out), r)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Sources[0].Config.(*syslog.Config)
	if c.IdleTimeout != 10*time.Minute || c.MaxConnections != 1024 || c.QueueSize != 1024 {
		t.Errorf("defaults: idleTimeout %v, maxConnections %d, queueSize %d; want 10m, 1024, 1024", c.IdleTimeout, c.MaxConnections, c.QueueSize)
	}
	for _, tc := range []struct{ src, want string }{
		{`{"type": "syslog", "idleTimeout": "-1s"}`, "sources.in.idleTimeout: want 0 or more, got -1s"},
		{`{"type": "syslog", "maxConnections": 0}`, "sources.in.maxConnections: want at least 1, got 0"},
		{`{"type": "syslog", "queueSize": -1}`, "sources.in.queueSize: want 1 to 65536, got -1"},
		{`{"type": "syslog", "queueSize": 100000}`, "sources.in.queueSize: want 1 to 65536, got 100000"},
	} {
		_, err := daemon.Load([]byte(`{"sources": {"in": `+tc.src+`}`+out), r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.src, err, tc.want)
		}
	}
}
