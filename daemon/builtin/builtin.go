// Package builtin lists the connectors and handlers that sluiced is built
// with.
package builtin

import (
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/httpsrc"
	"github.com/sluicehq/sluice/connector/journald"
	"github.com/sluicehq/sluice/connector/s3"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/connector/webhook"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/handler/filter"
	"github.com/sluicehq/sluice/handler/nginx"
)

// Registry returns a registry with every built-in type.
func Registry() *daemon.Registry {
	r := daemon.NewRegistry()
	stdio.Register(r)
	file.Register(r)
	file.RegisterSource(r)
	syslog.Register(r)
	s3.Register(r)
	journald.Register(r)
	webhook.Register(r)
	socket.Register(r)
	httpsrc.Register(r)
	nginx.Register(r)
	filter.Register(r)
	return r
}
