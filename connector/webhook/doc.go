// Package webhook posts events to HTTP endpoints: the "http" destination
// (any URL, NDJSON or a JSON array, optionally gzipped) and the "runreveal"
// destination (RunReveal's webhook, with the config of kawa's reveald).
//
// Both are a [batch.Destination] whose flush is one HTTP POST per batch.
// The request body is built in a pooled buffer ([event.Event.AppendJSON],
// a reused gzip writer), so encoding allocates nothing per event once the
// buffers have grown. One [http.Client] is built when Run starts (Run reads
// the TLS files; New does no I/O) and its idle connections are closed when
// Run returns. Redirects are not followed: a 3xx is a permanent failure,
// so that credentials are never sent to another host.
//
// # Delivery guarantees
//
// An event is acked only after the server answered the POST that carried
// it with a 2xx status: the server has the whole body. Delivery is at least
// once: a batch that is retried after a timeout or a reset connection may
// have been received already, so the server may see it twice.
//
//	Outcome of a POST                Retried?                    Acked?
//	-------------------------------  --------------------------  ------------------------------------
//	2xx                              no                          yes, every event of the batch
//	429, 408, 5xx                    yes, exponential back-off,  after the retry that gets a 2xx
//	                                 at least Retry-After
//	                                 (seconds or HTTP date)
//	network error, timeout, reset    yes, exponential back-off   after the retry that gets a 2xx
//	retries exhausted (only when     no                          as for other 4xx, below: dead letter,
//	  batch.retry.maxAttempts is                                 or Run stops
//	  set; default: no limit)
//	other 4xx (and 3xx), with        no                          when the dead letter acks the batch;
//	  deadLetter                                                 each event carries an "error"
//	                                                             attribute (status and body excerpt)
//	                                                             and "batch.attempts"
//	other 4xx (and 3xx), without     no                          never: Run stops with "webhook: POST
//	  deadLetter                                                 https://host: 400 Bad Request: <body>",
//	                                                             and the daemon stops; nothing is
//	                                                             dropped, the source redelivers
//	shutdown                         held batches are flushed    yes for what gets a 2xx before the
//	                                 for batch.stopTimeout       stop timeout; the rest is not acked
//	                                                             and is delivered again after a restart
//	                                                             (by a durable source)
//
// # Secrets
//
// The URL (a webhook URL often holds a token), the bearer token, the basic
// auth password and header values are [config.Secret]. Errors and logs name
// the endpoint as scheme://host only, and a response body quoted in an
// error has every secret value replaced by REDACTED.
package webhook
