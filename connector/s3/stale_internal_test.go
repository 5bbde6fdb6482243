package s3

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The stale upload cleanup keeps only keys its template can make: the
// same prefix and extension, each placeholder in its own shape.
func TestKeyPattern(t *testing.T) {
	hash := strings.Repeat("0f", 16)
	for _, tc := range []struct {
		name, template, prefix, ext, key string
		want                             bool
	}{
		{"default", DefaultKeyTemplate, "logs/", ".gz", "logs/2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson.gz", true},
		{"escaped source", DefaultKeyTemplate, "logs/", ".gz", "logs/2026/12/07/13/a_b.c-20261207T130000Z-" + hash + ".ndjson.gz", true},
		{"other prefix", DefaultKeyTemplate, "logs/", ".gz", "other/2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson.gz", false},
		{"under the prefix, another shape", DefaultKeyTemplate, "logs/", ".gz", "logs/backup.tar", false},
		{"deeper prefix", DefaultKeyTemplate, "logs/", ".gz", "logs/x/2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson.gz", false},
		{"other extension", DefaultKeyTemplate, "logs/", ".gz", "logs/2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson.zst", false},
		{"short hash", DefaultKeyTemplate, "logs/", ".gz", "logs/2026/12/07/13/web-20261207T130000Z-" + hash[2:] + ".ndjson.gz", false},
		{"no prefix", DefaultKeyTemplate, "", "", "2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson", true},
		{"no prefix, a prefixed key", DefaultKeyTemplate, "", "", "logs/2026/12/07/13/web-20261207T130000Z-" + hash + ".ndjson", false},
		{"meta characters", "a.b+({prefix}{hash})", "p*/", "", "a.b+(p*/" + hash + ")", true},
		{"meta characters are literal", "a.b+({prefix}{hash})", "p*/", "", "aXbb+(pp/" + hash + ")", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyPattern(tc.template, tc.prefix, tc.ext).MatchString(tc.key); got != tc.want {
				t.Errorf("keyPattern(%q, %q, %q) matches %q: %v, want %v", tc.template, tc.prefix, tc.ext, tc.key, got, tc.want)
			}
		})
	}
}

// settle waits for the CreateMultipartUpload calls begun before it, so
// that an upload a listing showed before its ID was known is known as
// this process's before anything is aborted.
func TestUploadsSettle(t *testing.T) {
	var u uploads
	first, second := u.begin(), u.begin()
	u.created(second, "b")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := u.settle(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("settle with a call in flight = %v, want it to wait (until ctx is done)", err)
	}
	settled := make(chan error, 1)
	go func() { settled <- u.settle(t.Context()) }()
	u.created(first, "a")
	if err := <-settled; err != nil {
		t.Fatalf("settle = %v once every call returned", err)
	}
	if !u.running("a") || !u.running("b") || u.running("c") {
		t.Errorf("running a, b, c: %v %v %v, want true true false", u.running("a"), u.running("b"), u.running("c"))
	}
	u.done("a")
	if u.running("a") {
		t.Error("a still running once done")
	}
}
