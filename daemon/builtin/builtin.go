// Package builtin lists the connectors and handlers that sluiced is built
// with.
//
// Every connector is built in by default. A build tag leaves out one that
// a host does not use, with its dependencies, for a smaller binary and
// less memory:
//
//	sluice_no_s3            the s3 destination (and the AWS SDK)
//	sluice_no_webhook       the http and runreveal destinations
//	sluice_no_httpsrc       the http source
//	sluice_no_journald      the journald source
//	sluice_no_socket        the socket destination
//	sluice_no_kafka         the kafka source and destination (and franz-go)
//	sluice_no_mqtt          the mqtt source and destination (and paho)
//	sluice_no_nats          the nats source and destination (and nats.go)
//	sluice_no_clickhouse    the clickhouse destination
//	sluice_no_loki          the loki destination
//	sluice_no_elasticsearch the elasticsearch destination
//	sluice_no_splunk        the splunk_hec destination
//	sluice_no_gelf          the gelf destination
//	sluice_no_otlp          the otlp source and destination (and grpc, pdata)
//	sluice_no_wasm          the wasm handler (and wazero)
//
// For example: go build -tags sluice_no_s3,sluice_no_journald ./cmd/sluiced.
// The syslog, file and stdio connectors and the other handlers are always
// built in. A config that names a left-out type fails at start naming the tag.
package builtin

import (
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/stdio"
	"github.com/sluicehq/sluice/connector/syslog"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/handler/dedupe"
	"github.com/sluicehq/sluice/handler/filter"
	"github.com/sluicehq/sluice/handler/nginx"
	"github.com/sluicehq/sluice/handler/parse"
	"github.com/sluicehq/sluice/handler/remap"
	"github.com/sluicehq/sluice/handler/sample"
	"github.com/sluicehq/sluice/handler/throttle"
)

// optional are the Register functions of the connectors a build tag can
// leave out (see the files named after them), in file name order.
var optional []func(*daemon.Registry)

// Registry returns a registry with every type this build has.
func Registry() *daemon.Registry {
	r := daemon.NewRegistry()
	stdio.Register(r)
	file.Register(r)
	file.RegisterSource(r)
	syslog.Register(r)
	for _, register := range optional {
		register(r)
	}
	nginx.Register(r)
	filter.Register(r)
	parse.Register(r)
	remap.Register(r)
	sample.Register(r)
	throttle.Register(r)
	dedupe.Register(r)
	for _, o := range optionalTypes {
		if _, _, ok := r.Defaults(o.kind, o.typ); !ok {
			r.Omit(o.kind, o.typ, o.tag)
		}
	}
	return r
}

// optionalTypes are the types each build tag leaves out.
var optionalTypes = []struct {
	kind     daemon.Kind
	typ, tag string
}{
	{daemon.KindDestination, "s3", "sluice_no_s3"},
	{daemon.KindDestination, "http", "sluice_no_webhook"},
	{daemon.KindDestination, "runreveal", "sluice_no_webhook"},
	{daemon.KindSource, "http", "sluice_no_httpsrc"},
	{daemon.KindSource, "journald", "sluice_no_journald"},
	{daemon.KindDestination, "socket", "sluice_no_socket"},
	{daemon.KindSource, "kafka", "sluice_no_kafka"},
	{daemon.KindDestination, "kafka", "sluice_no_kafka"},
	{daemon.KindSource, "mqtt", "sluice_no_mqtt"},
	{daemon.KindDestination, "mqtt", "sluice_no_mqtt"},
	{daemon.KindSource, "nats", "sluice_no_nats"},
	{daemon.KindDestination, "nats", "sluice_no_nats"},
	{daemon.KindDestination, "clickhouse", "sluice_no_clickhouse"},
	{daemon.KindDestination, "loki", "sluice_no_loki"},
	{daemon.KindDestination, "elasticsearch", "sluice_no_elasticsearch"},
	{daemon.KindDestination, "splunk_hec", "sluice_no_splunk"},
	{daemon.KindDestination, "gelf", "sluice_no_gelf"},
	{daemon.KindSource, "otlp", "sluice_no_otlp"},
	{daemon.KindDestination, "otlp", "sluice_no_otlp"},
	{daemon.KindHandler, "wasm", "sluice_no_wasm"},
}
