package s3

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// staleScanEvery is how often Config.AbortStaleUploadsAfter looks for
// stale uploads, after the first look at start.
const staleScanEvery = time.Hour

// settleWait bounds how long a look waits for this process's
// CreateMultipartUpload calls in flight before it gives up aborting
// until the next look.
const settleWait = time.Minute

// uploads tracks this process's multipart uploads, so that the stale
// upload cleanup never aborts one: those created and not yet completed
// or aborted (ours), and the CreateMultipartUpload calls in flight,
// whose upload a listing may show before its ID is known (pending).
type uploads struct {
	mu      sync.Mutex
	next    uint64              // tickets given out, one per call
	pending map[uint64]struct{} // tickets of calls not returned
	ours    map[string]struct{} // upload IDs
	changed chan struct{}       // closed, and replaced, when a call returns
}

// begin is called before CreateMultipartUpload; it returns the call's
// ticket for created.
func (u *uploads) begin() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pending == nil {
		u.pending, u.ours = map[uint64]struct{}{}, map[string]struct{}{}
	}
	t := u.next
	u.next++
	u.pending[t] = struct{}{}
	return t
}

// created ends ticket t's call, which made upload id ("" if it failed).
func (u *uploads) created(t uint64, id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.pending, t)
	if id != "" {
		u.ours[id] = struct{}{}
	}
	if u.changed != nil {
		close(u.changed)
		u.changed = nil
	}
}

// done is called once upload id was completed or aborted (or given up).
func (u *uploads) done(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.ours, id)
}

// settle waits until every call begun so far has returned, so that any
// upload of this process a listing made before showed is in ours. It
// returns ctx's error, or errUnsettled after settleWait.
func (u *uploads) settle(ctx context.Context) error {
	u.mu.Lock()
	upTo := u.next
	u.mu.Unlock()
	timer := time.NewTimer(settleWait)
	defer timer.Stop()
	for {
		u.mu.Lock()
		busy := false
		for t := range u.pending {
			if t < upTo {
				busy = true
				break
			}
		}
		if !busy {
			u.mu.Unlock()
			return nil
		}
		if u.changed == nil {
			u.changed = make(chan struct{})
		}
		ch := u.changed
		u.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return errUnsettled
		}
	}
}

var errUnsettled = errors.New("a CreateMultipartUpload of this process did not return within 1m")

// running reports whether upload id is one of this process's.
func (u *uploads) running(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.ours[id]
	return ok
}

// keyPattern returns a regexp matching exactly the keys that KeyTemplate
// can make with prefix and ext.
func keyPattern(template, prefix, ext string) *regexp.Regexp {
	r := strings.NewReplacer(
		regexp.QuoteMeta("{prefix}"), regexp.QuoteMeta(prefix),
		regexp.QuoteMeta("{yyyy}"), `[0-9]{4}`,
		regexp.QuoteMeta("{mm}"), `[0-9]{2}`,
		regexp.QuoteMeta("{dd}"), `[0-9]{2}`,
		regexp.QuoteMeta("{hh}"), `[0-9]{2}`,
		regexp.QuoteMeta("{source}"), `[A-Za-z0-9._-]+`,
		regexp.QuoteMeta("{first}"), `[0-9]{8}T[0-9]{6}Z`,
		regexp.QuoteMeta("{hash}"), `[0-9a-f]{32}`,
		regexp.QuoteMeta("{ext}"), regexp.QuoteMeta(ext),
	)
	return regexp.MustCompile(`\A` + r.Replace(regexp.QuoteMeta(template)) + `\z`)
}

// cleanStale aborts stale uploads at once and then every staleScanEvery,
// until ctx is done or a look finds it may not (see abortStale).
func (w *writer) cleanStale(ctx context.Context) {
	every := w.o.staleEvery
	if every <= 0 {
		every = staleScanEvery
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if !w.abortStale(ctx) {
			return
		}
		timer.Reset(every)
	}
}

// abortStale lists the bucket's incomplete multipart uploads and aborts
// those of this destination's keys initiated before now minus
// Config.AbortStaleUploadsAfter that this process is not running. It
// reports whether to look again: not once the store refused the listing
// or an abort (a permission missing, or an operation it lacks), which it
// logs at Warn.
//
// It lists the whole bucket and keeps the keys the key template can make
// under pathPrefix: MinIO lists by prefix only the uploads of one key.
func (w *writer) abortStale(ctx context.Context) bool {
	cutoff := time.Now().Add(-w.cfg.AbortStaleUploadsAfter)
	type upload struct {
		key, id   string
		initiated time.Time
	}
	var stale []upload
	in := &awss3.ListMultipartUploadsInput{Bucket: aws.String(w.cfg.BucketName)}
	for {
		out, err := w.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return w.staleFailed(ctx, "list multipart uploads", "", err)
		}
		for _, u := range out.Uploads {
			key, id, at := aws.ToString(u.Key), aws.ToString(u.UploadId), aws.ToTime(u.Initiated)
			if u.Initiated != nil && at.Before(cutoff) && w.ownKey.MatchString(key) {
				stale = append(stale, upload{key, id, at})
			}
		}
		if !aws.ToBool(out.IsTruncated) || (out.NextKeyMarker == nil && out.NextUploadIdMarker == nil) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if len(stale) == 0 {
		return true
	}
	// An upload this process is creating may be in the listing before
	// its ID is known: wait for those calls to return.
	if err := w.up.settle(ctx); err != nil {
		if ctx.Err() == nil {
			w.o.log.Warn("s3: stale multipart uploads left until the next look", "bucket", w.cfg.BucketName, "error", err)
		}
		return true
	}
	for _, u := range stale {
		if w.up.running(u.id) {
			continue
		}
		_, err := w.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(w.cfg.BucketName), Key: aws.String(u.key), UploadId: aws.String(u.id)})
		switch {
		case err == nil:
			w.o.log.Info("s3: aborted a stale multipart upload", "bucket", w.cfg.BucketName, "key", u.key,
				"initiated", u.initiated.UTC(), "age", time.Since(u.initiated).Round(time.Second))
		case ctx.Err() == nil && w.error("abort multipart upload", u.key, err).Status == http.StatusNotFound:
			// Completed or aborted since the listing.
		default:
			return w.staleFailed(ctx, "abort multipart upload", u.key, err)
		}
	}
	return true
}

// staleFailed logs a failed look for stale uploads at Warn and reports
// whether to look again: not if the store refused the request (403, or
// an operation it does not implement), which would fail as well later.
func (w *writer) staleFailed(ctx context.Context, op, key string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	e := w.error(op, key, err)
	if e.Status == http.StatusForbidden || e.Status == http.StatusNotImplemented || e.Status == http.StatusMethodNotAllowed {
		w.o.log.Warn("s3: cannot abort stale multipart uploads (abortStaleUploadsAfter): the store refused; they stay until aborted otherwise (it needs s3:ListBucketMultipartUploads and s3:AbortMultipartUpload); uploads go on",
			"error", e)
		return false
	}
	w.o.log.Warn("s3: looking for stale multipart uploads failed; trying again at the next look", "error", e)
	return true
}
