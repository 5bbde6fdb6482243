// Package elasticsearch writes events to Elasticsearch (7 and 8) or
// OpenSearch: the "elasticsearch" destination.
//
// It is a [batch.Destination] whose flush sends the batch with the _bulk
// API: one action line ("index", or "create" for data streams) and one
// document per event. The document is the event's JSON ([event.Event.AppendJSON])
// with "@timestamp" first, the event's time. The index comes from a pattern
// with the event's time (UTC) in it, such as "logs-%Y.%m.%d". Documents get
// their _id from Elasticsearch, or, with id "content", from a hash of the
// event, so that a retry writes the same document again rather than a
// second one. The HTTP client is built when Run starts (New does no I/O).
//
// # Delivery guarantees
//
// _bulk answers per item. An event is acked once its item is stored
// (2xx), or, with id "content" and op type "create", found stored by an
// earlier try (409), and every other event of its Send is too:
//
//	Outcome                              Retried?                        Acked?
//	-----------------------------------  ------------------------------  ---------------------------------------
//	item 2xx                             no                              yes
//	item 429 (es_rejected_execution_     yes, only the failed items, in  after the retry that stores it
//	  exception) or 5xx                  one request, with back-off
//	                                     (batch.retry)
//	item 409 with id content and create  no: stored by an earlier try    yes
//	other item 4xx (mapping and parsing  no                              when the dead letter acks it; the event
//	  errors, data stream refusals)                                      carries "error": "400 <type>: <reason>";
//	                                                                     without a dead letter Run stops
//	request 429, 408, 5xx, timeout,      yes, the whole request, at      after the retry whose items are stored
//	  network error                      least Retry-After
//	request 413 (over http.max_         yes, split in halves; a single  that event: as a rejected item
//	  content_length)                    event is rejected
//	request 401, 403, 404, other 4xx     no                              the whole batch goes to the dead letter
//	                                                                     (or Run stops)
//	retries exhausted (only when         no                              as a rejected item
//	  batch.retry.maxAttempts is set)
//	shutdown                             for batch.stopTimeout           what is stored by then; the rest is
//	                                                                     delivered again after a restart
//
// Duplicates: with id "auto" (the default), a request retried after its
// response was lost (a timeout, a reset connection) stores its items
// again; and so does a batch redelivered by the source after a crash.
// With id "content" neither does: the same event gets the same _id
// ("index" overwrites it, "create" answers 409, counted as stored).
//
// # Secrets
//
// The URL, password and API key are [config.Secret]: errors and logs name
// the cluster as scheme://host, and a response body quoted in an error
// has the secrets masked.
package elasticsearch
