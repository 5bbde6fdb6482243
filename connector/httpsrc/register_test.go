package httpsrc

import (
	"testing"

	"github.com/sluicehq/sluice/daemon"
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
