// Package s3 writes events to Amazon S3, or to an S3-compatible store such
// as Cloudflare R2 or MinIO: the "s3" destination.
//
// Events are batched (by count, bytes and age) and each batch is written
// as NDJSON ([event.Event.AppendJSON], one object per line), compressed with
// gzip (default), zstd or not at all, with Content-Type
// application/x-ndjson and the matching Content-Encoding. A batch holding
// events of several sources, or of several hours, is written as one object
// per (source, hour), so that every object sits under the hour of its own
// events. With Config.JSONRaw "unparsed", events whose fields were parsed
// (a syslog line, say) leave out their raw bytes.
//
// # Keys
//
// Keys come from Config.KeyTemplate, by default
//
//	{prefix}{yyyy}/{mm}/{dd}/{hh}/{source}-{first}-{hash}.ndjson{ext}
//
// such as logs/2026/11/24/23/nginx-20261124T231502Z-6f1c…e2.ndjson.gz. The
// date and hour are those of the object's first event (its event time, UTC,
// not the upload time), so late events land in their own hour. {hash} is
// a SHA-256 of the uncompressed content: the same batch always gets the same
// key, so an upload that is retried, after a timeout whose request had in
// fact succeeded, say, overwrites its object instead of adding a copy.
//
// # Delivery guarantee
//
// At least once. An event is acked only after the object holding it was
// stored: PutObject, or CompleteMultipartUpload for objects larger than
// Config.MultipartThreshold, returned success. A Send's ack is called when
// every event of that Send is stored, whichever batches they went out in.
//
// Failures:
//
//   - Throttling (503 SlowDown, 429), any 5xx, request timeouts and
//     network errors (no response) are retried with exponential back-off
//     and jitter (Config.Retry; default 100ms doubling to 30s, without
//     limit), each logged at Warn. Retried uploads overwrite the same keys.
//     While Parallelism batches are failing, Send blocks: back-pressure
//     reaches the source.
//   - Permanent errors (403 AccessDenied, 404 NoSuchBucket, 400 and other
//     4xx) are not retried. The error names the operation, key, bucket,
//     endpoint, HTTP status and S3 error code, never a credential. The batch
//     goes to the dead letter if one is configured (its events are acked
//     when the dead letter acks them); otherwise Run returns the error and
//     the daemon stops, with the batch and everything after it unacked.
//   - At start, Run checks the bucket with HeadBucket: a bucket that does
//     not exist or is forbidden is fatal at once ("s3: bucket "x" at
//     https://host: not found"). Note that HeadBucket needs s3:ListBucket.
//     A network error or 5xx at start is retried like an upload, logged at
//     Warn, so sluiced may start before the network or the store is up.
//   - When Run stops, it goes on uploading what it holds for the batch stop
//     timeout (5s); events not stored by then are not acked, and a durable
//     source delivers them again.
//   - A multipart upload whose part or CompleteMultipartUpload fails is
//     aborted, and the retry starts a new one. A crash (SIGKILL, power
//     loss) during a multipart upload loses nothing, since none of its
//     events was acked, but leaves the upload incomplete: its parts stay
//     in the bucket, billed, until they are aborted. Unless told to, a
//     restarted sluiced does not abort uploads it started before (it
//     keeps no record of them, and other writers may share the bucket):
//     give the bucket a lifecycle rule that does, such as
//     AbortIncompleteMultipartUpload with DaysAfterInitiation 1 on Amazon
//     S3 (MinIO, which lacks that rule, removes incomplete uploads older
//     than 24h itself: api stale_uploads_expiry), or set
//     Config.AbortStaleUploadsAfter ("24h", say).
//
// # Stale uploads
//
// With Config.AbortStaleUploadsAfter, Run looks once the bucket check has
// passed, and then every hour until it stops, for the incomplete
// multipart uploads of the bucket initiated longer ago than that, and
// aborts those whose key the destination could have made: PathPrefix,
// then the shape of KeyTemplate (each placeholder matching only what it
// expands to, such as 32 hex digits for {hash}). It lists the whole
// bucket (ListMultipartUploads, paged) and filters the keys itself,
// because MinIO lists by prefix only the uploads of one exact key. It
// never aborts an upload of its own that is running, even one older than
// the setting: it waits for its CreateMultipartUpload calls in flight
// before it decides. Each abort is logged at Info with the key and when
// the upload was initiated. The age is the store's Initiated against this
// host's clock, hence the least setting of 1h. A 403 (or a store without
// the operation) on the listing or an abort logs one Warn naming the
// permissions (s3:ListBucketMultipartUploads, s3:AbortMultipartUpload)
// and ends the looking until the next start; other failures are logged
// at Warn and tried at the next look. Uploads go on in every case.
//
// Duplicates are possible only where at-least-once allows them: a source
// that redelivers unacked events after a restart may batch them
// differently, and so under other keys.
package s3
