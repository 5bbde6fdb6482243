package httpsrc

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/daemontest"
)

func TestRegister(t *testing.T) {
	r := daemon.NewRegistry()
	Register(r)
	c, doc, ok := r.Defaults(daemon.KindSource, "http")
	if !ok || doc == "" {
		t.Fatalf("http source not registered (ok %v, doc %q)", ok, doc)
	}
	if got, want := *c.(*Config), DefaultConfig(); got.Addr != want.Addr || got.MaxBodyBytes != want.MaxBodyBytes || got.RequestTimeout != want.RequestTimeout {
		t.Errorf("got defaults %+v, want %+v", got, want)
	}
	if _, _, ok := r.Defaults(daemon.KindDestination, "http"); ok {
		t.Error("Register added an http destination")
	}
}

// The daemon fills the limits' defaults and reports a bad one at its path.
func TestDaemonConfig(t *testing.T) {
	r := daemontest.Registry(Register, stdio.Register)
	const out = `, "destinations": {"out": {"type": "printer"}}}`
	p, err := daemon.Load([]byte(`{"sources": {"in": {"type": "http"}}`+out), r)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Sources[0].Config.(*Config)
	if c.ReadHeaderTimeout != 10*time.Second || c.ReadTimeout != time.Minute || c.IdleTimeout != 2*time.Minute || c.MaxConcurrentRequests != 256 {
		t.Errorf("defaults: %+v", c)
	}
	for _, tc := range []struct{ src, want string }{
		{`{"type": "http", "readTimeout": "0s"}`, "sources.in.readTimeout: want more than 0"},
		{`{"type": "http", "readTimeout": "5s"}`, "sources.in.readTimeout: want at least readHeaderTimeout (10s), got 5s"},
		{`{"type": "http", "maxConcurrentRequests": -1}`, "sources.in.maxConcurrentRequests: want at least 1"},
		{`{"type": "http", "idleTimeout": "-1s"}`, "sources.in.idleTimeout: want more than 0"},
	} {
		_, err := daemon.Load([]byte(`{"sources": {"in": `+tc.src+`}`+out), r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.src, err, tc.want)
		}
	}
}
