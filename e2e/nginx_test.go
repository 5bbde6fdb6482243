package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A real nginx logs its requests over syslog (access_log syslog:...) to
// sluiced, whose nginx handler parses them: every request is in the file
// once, with the right fields.
func TestNginxAccessLogs(t *testing.T) {
	nginx := need(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	syslogPort, httpPort := freePort(t), freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"sources": {"nginx": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "udp"}},
		"destinations": {"out": {"type": "file", "path": "requests.ndjson", "batch": {"age": "20ms"}}},
		"routes": [{"from": ["nginx"], "to": ["out"], "handlers": [{"type": "nginx"}]}],
	}`, syslogPort))

	startNginx(t, nginx, dir, syslogPort, httpPort)
	client := &http.Client{Timeout: 5 * time.Second}

	const n = 500
	begin := time.Now().Truncate(time.Second)
	for i := range n {
		path := fmt.Sprintf("/req/%d?x=y", i)
		if i%10 == 0 {
			path = fmt.Sprintf("/missing/%d", i)
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, path), nil)
		req.Header.Set("User-Agent", "sluice-e2e/1.0")
		req.Header.Set("Referer", "https://example.test/")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	out := filepath.Join(dir, "requests.ndjson")
	count := func() int {
		c := 0
		for _, ev := range events(t, out) {
			if p, _ := get(ev, "http.path").(string); p != "/warmup" {
				c++
			}
		}
		return c
	}
	end := time.Now()
	waitFor(t, "every request in the file", func() bool { return count() >= n })
	d.stop(t)

	seen := map[string]int{}
	for _, ev := range events(t, out) {
		path, _ := get(ev, "http.path").(string)
		if path == "/warmup" {
			continue
		}
		if q, _ := get(ev, "http.query").(string); q != "" {
			path += "?" + q
		}
		seen[path]++
		// The event's time is the request's $time_local: whole seconds,
		// while the requests were made.
		if ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(get(ev, "ts"))); err != nil || ts.Nanosecond() != 0 || ts.Before(begin) || ts.After(end) {
			t.Errorf("%s: ts = %v (%v), want the request's whole second in [%v, %v]", path, get(ev, "ts"), err, begin, end)
		}
		wantStatus := float64(200)
		if len(path) > 8 && path[:8] == "/missing" {
			wantStatus = 404
		}
		for field, want := range map[string]any{
			"http.method": "GET", "http.status": wantStatus, "http.protocol": "HTTP/1.1", "http.userAgent": "sluice-e2e/1.0",
			"http.referrer": "https://example.test/", "http.remoteAddr": "127.0.0.1", "syslog.appName": "nginx", "sourceType": "syslog",
		} {
			if v := get(ev, field); v != want {
				t.Errorf("%s: %s = %v, want %v", path, field, v, want)
			}
		}
		if wantStatus == 200 && get(ev, "http.bytes") != float64(6) {
			t.Errorf("%s: bytes = %v, want 6", path, get(ev, "http.bytes"))
		}
	}
	for i := range n {
		path := fmt.Sprintf("/req/%d?x=y", i)
		if i%10 == 0 {
			path = fmt.Sprintf("/missing/%d", i)
		}
		if seen[path] != 1 {
			t.Errorf("request %s is in the file %d times, want once", path, seen[path])
		}
	}
}

// startNginx runs nginx, logging to syslog on syslogPort and serving on
// httpPort, until the test ends.
func startNginx(t *testing.T, nginx, dir string, syslogPort, httpPort int) {
	t.Helper()
	conf := fmt.Sprintf(`
worker_processes 1;
daemon off;
master_process off;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	access_log syslog:server=127.0.0.1:%[2]d,tag=nginx combined;
	server {
		listen 127.0.0.1:%[3]d;
		location / { return 200 "hello\n"; }
		location /missing { return 404; }
	}
}`, dir, syslogPort, httpPort)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := exec.Command(nginx, "-c", confPath, "-p", dir)
	ng.Stderr = os.Stderr
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ng.Process.Kill(); _ = ng.Wait() })
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	waitFor(t, "nginx to listen", func() bool {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/warmup", httpPort))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}
