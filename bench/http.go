package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions say how a load is POSTed.
type HTTPOptions struct {
	URL     string  // where to POST
	Clients int     // concurrent clients, each with one keep-alive connection
	Batch   int     // events (lines) per request
	Rate    float64 // events per second over all clients; 0 is as fast as possible
	Retries int     // 503s retried per request before giving up (default 100)
	Stamps  *Stamps // if set, gets the send time of every event (its request's first try)
}

// SendHTTP POSTs the load as NDJSON bodies of o.Batch lines
// (Content-Type application/x-ndjson) from o.Clients concurrent clients.
// Requests are cut in order and taken by whichever client is free, so
// the output interleaves them. A 503 (queue full, acks too slow) is
// retried after 20 ms and counted; any other status than 200 is an error.
// An event counts as delivered once its request got 200: SendStats.Last
// is the time of the last 200.
func SendHTTP(l *Load, o HTTPOptions) (SendStats, error) {
	o.Clients = max(o.Clients, 1)
	o.Batch = max(o.Batch, 1)
	if o.Retries <= 0 {
		o.Retries = 100
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	n := l.Lines()
	reqs := (n + o.Batch - 1) / o.Batch
	var next, retries atomic.Int64
	var mu sync.Mutex
	var last time.Time
	var wg sync.WaitGroup
	errs := make([]error, o.Clients)
	st := SendStats{First: time.Now()}
	p := pacer{start: st.First, rate: o.Rate}
	for c := range o.Clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= reqs {
					return
				}
				lo, hi := i*o.Batch, min((i+1)*o.Batch, n)
				p.wait(lo)
				o.Stamps.mark(lo, hi)
				r, err := post(client, o.URL, l.Span(lo, hi), o.Retries)
				retries.Add(int64(r))
				if err != nil {
					errs[c] = fmt.Errorf("request %d (events %d-%d): %w", i, lo, hi-1, err)
					next.Store(int64(reqs)) // stop the others too
					return
				}
				now := time.Now()
				mu.Lock()
				if now.After(last) {
					last = now
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.Last, st.Bytes, st.Requests, st.Retries = last, int64(len(l.Buf)), reqs, int(retries.Load())
	for _, err := range errs {
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// post sends one body until it gets 200, retrying 503s; it returns the
// number of retries.
func post(client *http.Client, url string, body []byte, maxRetries int) (int, error) {
	for retry := 0; ; retry++ {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return retry, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return retry, err
		}
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close() // read to EOF first, so the connection is reused
		switch {
		case resp.StatusCode == http.StatusOK:
			return retry, nil
		case resp.StatusCode == http.StatusServiceUnavailable && retry < maxRetries:
			time.Sleep(20 * time.Millisecond)
		default:
			return retry, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(reply)))
		}
	}
}
