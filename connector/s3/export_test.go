package s3

import "time"

// WithStaleScanEvery sets how often stale uploads are looked for after
// the first look (default 1h), so that a test sees several looks.
func WithStaleScanEvery(d time.Duration) Option { return func(o *options) { o.staleEvery = d } }
