// Package otlp receives and sends OpenTelemetry logs (OTLP): the "otlp"
// source and the "otlp" destination. It is built on the Collector's pdata
// (plog, plogotlp) and grpc-go; nothing else in sluice imports them.
//
// # Source
//
// The source serves OTLP/gRPC (LogsService/Export) on grpcAddr and
// OTLP/HTTP (POST /v1/logs, application/x-protobuf or application/json,
// optionally gzipped; the reply is in the request's content type) on
// httpAddr. Each log record becomes one event:
//
//	time        the record's time, else its observed time (zero: receipt time)
//	sourceType  "otlp"
//	host        the resource's host.name attribute, else the client's IP
//	raw         the record as a JSON object:
//	  {"time": RFC 3339, "observedTime": RFC 3339,
//	   "severityNumber": 9, "severityText": "INFO", "eventName": "...",
//	   "body": any JSON value,
//	   "attributes": {key: value}, "traceId": 32 hex digits, "spanId": 16 hex digits,
//	   "flags": n, "resource": {key: value},
//	   "scope": {"name", "version", "attributes": {key: value}}}
//
// Empty parts are left out; attributes keep their order. Values map to JSON
// as themselves, with ints as numbers, bytes as base64 strings and NaN or
// ±Inf doubles as the strings "NaN", "Infinity", "-Infinity".
//
// # Answering after the ack
//
// The source answers a request OK only once every record of it has been
// acknowledged by the pipeline's destinations, that is, written where they
// keep it. The OpenTelemetry Collector answers as soon as a record is in
// its memory queue; a crash then loses what the client was told was safe,
// and the client, which has dropped its copy, cannot send it again.
// Answering after the ack makes OTLP's own retry the delivery guarantee:
// a record is in the client's hands until sluice holds it durably, so a
// crash at any moment loses nothing, and at worst a retry delivers a
// record twice (at least once).
//
//	Outcome                                      gRPC                          HTTP
//	every record acked                           OK                            200 + ExportLogsServiceResponse
//	some records over maxRecordBytes             OK, partial_success           200, partial_success
//	                                             (rest delivered)
//	maxConcurrentRequests busy, queue full       UNAVAILABLE + RetryInfo       429 + Retry-After
//	  (the client sends too fast)                (retryAfter)
//	not acked within ackTimeout (a destination   UNAVAILABLE + RetryInfo       503 + Retry-After
//	  slow or down), shutdown                    (retryAfter)
//	body does not decode                         INVALID_ARGUMENT + reason     400 + google.rpc.Status
//	over maxRequestBytes                         RESOURCE_EXHAUSTED            413
//	body not sent within readTimeout             -                             408
//	other content type or encoding               -                             415
//
// A refusal after the records were queued leaves them in flight: they are
// delivered, and the client's retry sends them again. OTLP clients retry
// 429 and 503 alike (the OTLP spec's throttling answers), waiting what
// Retry-After says.
//
// Slow HTTP clients are bounded by readHeaderTimeout, readTimeout and
// idleTimeout; an HTTP body takes memory as its bytes arrive, never from
// the Content-Length it declares, and takes one of maxConcurrentRequests
// only once 64 KiB of it, or all of it, has arrived. A gRPC client must
// finish its TLS handshake and HTTP/2 preface within readHeaderTimeout,
// and a gRPC connection with no call for idleTimeout is sent a GOAWAY.
// Each listener holds at most maxConnections connections; a refused or
// evicted one, a failed TLS handshake and a request over maxRequestBytes
// (also once decompressed) are counted in errors{cause}; the WARN lines a
// client can cause are written at most once per 10 seconds each.
//
// # Destination
//
// The destination batches events into ExportLogsServiceRequests (split
// so each stays under maxRequestBytes, 4 MB by default, below a gRPC
// receiver's 4 MiB default), sent by gRPC or by HTTP protobuf to endpoint
// + "/v1/logs". An event that came from an otlp source is sent as the
// record it was (its raw JSON read back; bytes values come back as their
// base64 strings). Any other event is mapped:
//
//	body        the syslog message, else the raw bytes as a string
//	time        the event's time; observed time: its receipt time
//	severity    from the syslog severity: 0 emerg FATAL4, 1 alert FATAL3,
//	            2 crit FATAL, 3 err ERROR, 4 warning WARN, 5 notice INFO2,
//	            6 info INFO, 7 debug DEBUG; none for other events
//	attributes  the event's fields, and syslog appname, procid, msgid,
//	            facility; sluice.source, sluice.sourceType
//	resource    host.name (the syslog hostname, else the event's host)
//
// An event is acked only after the response to the request that carried
// it was OK. UNAVAILABLE, RESOURCE_EXHAUSTED (with RetryInfo), ABORTED,
// DEADLINE_EXCEEDED, CANCELED, OUT_OF_RANGE, DATA_LOSS, and HTTP 429, 502,
// 503, 504 are retried with back-off, waiting at least what RetryInfo or
// Retry-After asks. Other errors are permanent: the batch goes to the dead
// letter, or Run stops. A partial success that rejects records is
// permanent for the request's batch, since OTLP does not say which records
// were rejected: with a dead letter, the whole batch goes there (the
// records the receiver took are then in both places); without one, the
// rejection is logged and counted and the batch is acked, as the receiver
// has answered for it and OTLP forbids resending it.
package otlp
