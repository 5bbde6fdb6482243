package main

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// runSDK emits n records through the OTel SDK (BatchProcessor, gRPC
// exporter, no compression as sluiced's side is configured) to addr, then
// flushes and waits to be stopped.
func runSDK(addr string, n, per int) {
	ctx := context.Background()
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(addr), otlploggrpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "bench"), attribute.String("host.name", "bench-1"))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
		sdklog.WithMaxQueueSize(n), sdklog.WithExportMaxBatchSize(per))))
	fmt.Println("ready")
	logger := lp.Logger("bench")
	for i := range n {
		var r otellog.Record
		r.SetSeverity(otellog.SeverityInfo)
		r.SetBody(attribute.StringValue(body(i)))
		logger.Emit(ctx, r)
	}
	if err := lp.ForceFlush(ctx); err != nil {
		log.Fatal(err)
	}
	select {}
}
