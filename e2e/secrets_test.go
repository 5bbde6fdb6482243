package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every kind of secret a config can hold. Each is long and unique, so
// that any 8-byte piece of one found in the output is a leak.
var testSecrets = map[string]string{
	"http URL path token":    "q7Fz2Lw9Xk4Rm1Tp",
	"http URL query token":   "v3Nb8Hs6Jd0Gc5Ya",
	"http bearer token":      "e9Wu4Ko1Zi7Qx2Mf",
	"http basic password":    "r5Ty8Pl3Gh6Dn0Vb",
	"http header value":      "c2Aj7Se4Bw9Ek1Ou",
	"s3 secret key":          "w8Rf3Yn6Tc1Lm5Zk9Hq",
	"s3 access key ID":       "AKIAZ7X4W2V9U6T3",
	"runreveal URL token":    "h4Gd9Kp2Mz6Sx1Nc",
	"runreveal query token":  "j1Qv5Bt8Fy3Wr7Ld",
	"http source bearer":     "m6Xe2Uo9Ia4Hk8Pw",
	"http source from env":   "t3Lc7Zb1Ns5Vq9Gj",
	"validate-only password": "y0Dk4Rh8Ex2Mi6Fa",
}

// leaks returns, for each secret that out holds an 8-byte piece of, the
// secret's name and the piece.
func leaks(out string) []string {
	var found []string
	for name, s := range testSecrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(out, s[i:i+8]) {
				found = append(found, fmt.Sprintf("%s (%q)", name, s[i:i+8]))
				break
			}
		}
	}
	slices.Sort(found)
	return found
}

// echo answers every request with status(n) (n counts requests from 0)
// and a body that repeats the whole request: its line, every header and
// the start of its body, after a pad that moves the request line across
// the 256-byte cut of a quoted error body, further on each request. With
// xmlErr, the echo is the Message of an S3 error document.
func echo(t *testing.T, status func(r *http.Request, n int64) int, xmlErr bool) *httptest.Server {
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := count.Add(1) - 1
		code := status(r, n)
		if code < 300 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(code)
			return
		}
		var b bytes.Buffer
		b.WriteString(strings.Repeat("-", 200+int(n*7%60)))
		fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.URL.RequestURI(), r.Host)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.Header {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 200))
		b.Write(body)
		if xmlErr {
			var m bytes.Buffer
			_ = xml.EscapeText(&m, b.Bytes())
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, m.String())
			return
		}
		w.WriteHeader(code)
		_, _ = w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSecretsNeverInOutput configures every kind of secret and drives
// every path that may print one, at debug level: a server that echoes
// the request in 5xx and 4xx answers (with the secrets placed across the
// cut of the quoted body), connections refused, a TLS handshake with a
// plain HTTP server, S3 errors that echo the signed request, requests to
// the http source with a wrong token, the fatal stop after a rejection,
// `validate` on broken configs, the start-up log, and /metrics. No
// secret, and no 8-byte piece of one, may appear in any of it: the logs,
// standard error and output, the dead-letter file, or the metrics page.
func TestSecretsNeverInOutput(t *testing.T) {
	s := testSecrets
	// The basic credentials as sent, which an echo shows.
	s["http basic credentials, base64"] = base64.StdEncoding.EncodeToString([]byte("sluice:" + s["http basic password"]))
	dir := t.TempDir()
	t.Setenv("SRC_TOKEN", s["http source from env"])
	t.Setenv("S3_SECRET", s["s3 secret key"])
	t.Setenv("WH_BEARER", s["http bearer token"])

	fail5xx := echo(t, func(*http.Request, int64) int { return http.StatusServiceUnavailable }, false)
	fail4xx := echo(t, func(*http.Request, int64) int { return http.StatusBadRequest }, false)
	rr := echo(t, func(_ *http.Request, n int64) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK // then RunReveal takes them: no retry goes on past the stop
	}, false)
	s3srv := echo(t, func(r *http.Request, n int64) int {
		switch {
		case r.Method == http.MethodHead:
			return http.StatusOK // the bucket exists
		case n%2 == 1:
			return http.StatusInternalServerError
		}
		return http.StatusForbidden
	}, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }

	httpPort, adminPort := freePort(t), freePort(t)
	retry := `{"initial": "20ms", "max": "100ms", "maxAttempts": 3}`
	whBatch := `"batch": {"count": 5, "age": "50ms", "retry": ` + retry + `}`
	path := func(host, tok, qtok string) string {
		return fmt.Sprintf("http://%s/hooks/%s/in?token=%s&x=1", host, tok, qtok)
	}
	config := fmt.Sprintf(`{
		"dataDir": %q, "shutdownTimeout": "3s",
		"log": {"level": "debug"},
		"admin": {"addr": "127.0.0.1:%d"},
		"sources": {
			"in": {"type": "http", "addr": "127.0.0.1:%d", "format": "lines", "requestTimeout": "2s", "bearerToken": %q},
			"in2": {"type": "http", "addr": "127.0.0.1:%d", "format": "lines", "requestTimeout": "2s", "bearerToken": "$SRC_TOKEN"},
		},
		"destinations": {
			"wh5xx": {"type": "http", "url": %q, "bearerToken": "$WH_BEARER", "headers": {"X-Api-Key": %q}, %s, "deadLetter": "dlq"},
			"wh4xx": {"type": "http", "url": %q, "basicAuth": {"username": "sluice", "password": %q}, "headers": {"X-Api-Key": %q}, %s, "deadLetter": "dlq"},
			"whdown": {"type": "http", "url": %q, "bearerToken": "$WH_BEARER", %s, "deadLetter": "dlq"},
			"whtls": {"type": "http", "url": %q, "bearerToken": "$WH_BEARER", "headers": {"X-Api-Key": %q}, %s, "deadLetter": "dlq"},
			"rr": {"type": "runreveal", "webhookURL": %q, "batchSize": 5, "flushFreq": "50ms"},
			"s3": {"type": "s3", "bucketName": "logs", "bucketRegion": "us-east-1", "customEndpoint": %q,
				"accessKeyID": %q, "accessSecretKey": "$S3_SECRET", "batchSize": 5, "flushFrequency": "50ms",
				"retry": %s, "deadLetter": "dlq"},
			"dlq": {"type": "file", "path": %q},
		},
		"routes": [{"from": ["in", "in2"], "to": ["wh5xx", "wh4xx", "whdown", "whtls", "rr", "s3"]}],
	}`, dir, adminPort,
		httpPort, s["http source bearer"], freePortFor(t, &httpPort2),
		path(hostOf(fail5xx.URL), s["http URL path token"], s["http URL query token"]), s["http header value"], whBatch,
		path(hostOf(fail4xx.URL), s["http URL path token"], s["http URL query token"]), s["http basic password"], s["http header value"], whBatch,
		path(refused, s["http URL path token"], s["http URL query token"]), whBatch,
		strings.Replace(path(hostOf(fail5xx.URL), s["http URL path token"], s["http URL query token"]), "http:", "https:", 1), s["http header value"], whBatch,
		fmt.Sprintf("%s/sources/hook/%s?auth=%s", rr.URL, s["runreveal URL token"], s["runreveal query token"]),
		s3srv.URL, s["s3 access key ID"], retry, filepath.Join(dir, "dlq.ndjson"))

	// validate, first on the good config, then on broken ones.
	var outputs []string
	validate := func(cfg string) {
		t.Helper()
		p := filepath.Join(dir, "v.hujson")
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(sluiced, "validate", "--config", p).CombinedOutput()
		outputs = append(outputs, "validate: "+string(out))
	}
	validate(config)
	if !strings.Contains(outputs[0], ": ok (") {
		t.Fatalf("the config does not validate: %s", outputs[0])
	}
	for _, broken := range []struct{ from, to string }{
		{`"bearerToken": "$WH_BEARER", "headers"`, `"bearerToken": "$WH_BEARER", "tiemout": "1s", "headers"`}, // unknown field
		{`"type": "http", "url": "http://`, `"type": "http", "url": "ftp://`},                                 // bad scheme
		{`"deadLetter": "dlq"},`, `"deadLetter": "dlq", "basicAuth": {"password": "` + s["validate-only password"] + `"}},`},
		{`"bearerToken": "$WH_BEARER"`, `"bearerToken": "$UNSET_SECRET_VAR"`},
		{`"accessKeyID": "`, `"accessKeyID": 1, "x": "`},
		{`"bucketName": "logs", `, ``},
		{`"webhookURL": "http://`, `"webhookURL": "h t t p://`},
		{`"X-Api-Key": "` + s["http header value"], `"X-Api-Key": "` + s["http header value"] + `\nX-Injected: 1`},
		{`"X-Api-Key": "` + s["http header value"] + `"`, `"X-Api-Key": "` + s["http header value"] + `" "`}, // a syntax error
		{`"accessKeyID": "`, `"accessKeyID": "` + "\x01"},                                                    // a control character in a string
	} {
		if !strings.Contains(config, broken.from) {
			t.Fatalf("config lacks %q", broken.from)
		}
		validate(strings.Replace(config, broken.from, broken.to, 1))
	}

	d := start(t, dir, config) // running: the http sources listen
	post := func(port int, token string) int {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", port), strings.NewReader("one event\nanother\n"))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		// A wrong token that shares most of the real one: a source that
		// logged what it was sent would leak the real one's pieces.
		if st := post(httpPort, s["http source bearer"][:len(s["http source bearer"])-1]+"X"); st != http.StatusUnauthorized && st != http.StatusForbidden {
			t.Errorf("a wrong token got %d, want 401 or 403", st)
		}
		post(httpPort, s["http source bearer"])
		post(httpPort2, s["http source from env"])
	}
	for _, name := range []string{"wh5xx", "wh4xx", "whdown", "whtls", "rr", "s3"} {
		waitFor(t, name+" to fail", func() bool {
			return strings.Contains(d.logs.String(), "destination="+name) && scrapeOr(adminPort, fmt.Sprintf(`sluice_events_in_total{kind="destination",name=%q}`, name)) > 0
		})
	}
	waitFor(t, "a batch in the dead letter", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "dlq.ndjson"))
		return bytes.Contains(b, []byte("400 Bad Request")) && bytes.Contains(b, []byte("access denied"))
	})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	terminate(t, d)
	dlq, _ := os.ReadFile(filepath.Join(dir, "dlq.ndjson"))

	// The fatal stop: a rejection with no dead letter stops sluiced with
	// the error, which quotes the echoed request.
	fatal := strings.NewReplacer(`, "deadLetter": "dlq"}`, `}`).Replace(config)
	dir2 := t.TempDir()
	fatal = strings.Replace(fatal, fmt.Sprintf(`"dataDir": %q`, dir), fmt.Sprintf(`"dataDir": %q`, dir2), 1)
	fatal = strings.Replace(fatal, fmt.Sprintf("127.0.0.1:%d", adminPort), fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1)
	d2 := start(t, dir2, fatal)
	post(httpPort, s["http source bearer"])
	select {
	case <-waitExit(d2):
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not stop after a rejection with no dead letter")
	}
	if !strings.Contains(d2.logs.String(), `msg=stopped err=`) {
		t.Errorf("the fatal stop is not logged:\n%s", d2.logs.String())
	}

	all := map[string]string{
		"logs":          d.logs.String(),
		"fatal logs":    d2.logs.String(),
		"dead letter":   string(dlq),
		"/metrics":      string(metrics),
		"validate":      strings.Join(outputs, "\n"),
		"validate (ok)": outputs[0],
	}
	for what, out := range all {
		if l := leaks(out); len(l) > 0 {
			t.Errorf("%s show pieces of %s:\n%s", what, strings.Join(l, ", "), out)
		}
	}
	// The paths were driven: their errors are in the output.
	for _, want := range []string{
		"503 Service Unavailable", "400 Bad Request", "connection refused", "server gave HTTP response to HTTPS client",
		"500 Internal Server Error", "access denied (AccessDenied", "request rejected",
	} {
		if !strings.Contains(all["logs"]+all["dead letter"]+all["fatal logs"], want) {
			t.Errorf("no %q in the output: that path was not driven", want)
		}
	}
	if !strings.Contains(all["validate"], "tiemout") || !strings.Contains(all["validate"], "UNSET_SECRET_VAR") {
		t.Errorf("validate did not report the broken configs:\n%s", all["validate"])
	}
	t.Logf("validate:\n%s", all["validate"])
	t.Logf("checked %d bytes of logs, %d of dead letter, %d of metrics, %d of validate output",
		len(all["logs"])+len(all["fatal logs"]), len(dlq), len(metrics), len(all["validate"]))
}

var httpPort2 int

// freePortFor sets *p to a free port and returns it.
func freePortFor(t *testing.T, p *int) int {
	*p = freePort(t)
	return *p
}

// waitExit returns a channel closed once d has exited.
func waitExit(d *daemon) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		err := <-d.done
		d.done <- err
		close(ch)
	}()
	return ch
}
