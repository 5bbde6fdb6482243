// Package clickhousetest starts a real clickhouse-server for tests: the
// Debian package's binary, run as the current user on free loopback
// ports, with its data under a temporary directory and a config
// generated for it.
package clickhousetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running clickhouse-server.
type Server struct {
	// URL is its HTTP interface, http://127.0.0.1:port.
	URL string
}

// Start starts a clickhouse-server that t's cleanup stops. When the
// program is missing the test is skipped, or fails under SLUICE_E2E=1.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		bin = "/usr/sbin/clickhouse-server"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("SLUICE_E2E") == "1" {
				t.Fatal("clickhouse-server is not installed (SLUICE_E2E=1 requires it): apt-get install clickhouse-server")
			}
			t.Skip("clickhouse-server is not installed (apt-get install clickhouse-server); set SLUICE_E2E=1 to make this a failure")
		}
	}
	dir := t.TempDir()
	httpPort, tcpPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(configXML, httpPort, tcpPort, dir, dir, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	logs := &buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("clickhouse-server logs:\n%s", logs.String())
		}
	})
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("clickhouse-server exited at start:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server did not answer /ping within 30s:\n%s", logs.String())
		}
	}
}

// Query runs q and returns the response body; a status other than 200
// is an error holding the server's message.
func (s *Server) Query(q string) (string, error) {
	resp, err := client.Post(s.URL+"/?"+url.Values{"query": {q}}.Encode(), "text/plain", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// MustQuery is Query that fails t on error.
func (s *Server) MustQuery(t testing.TB, q string) string {
	t.Helper()
	out, err := s.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// client keeps no idle connection, so that a test's leak check does not
// see one.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// configXML is the smallest config clickhouse-server 18.16 starts with:
// it needs mark_cache_size; keep_alive_timeout is the default, 3s.
const configXML = `<yandex>
  <logger><level>fatal</level><console>1</console></logger>
  <http_port>%d</http_port>
  <tcp_port>%d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%s/data/</path>
  <tmp_path>%s/tmp/</tmp_path>
  <user_files_path>%s/user_files/</user_files_path>
  <format_schema_path>%s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <keep_alive_timeout>3</keep_alive_timeout>
</yandex>
`

// usersXML has the user "default" with no password, and "writer" with
// the password "s3cret-pass", both from 127.0.0.1.
const usersXML = `<yandex>
  <profiles><default></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <writer><password>s3cret-pass</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></writer>
  </users>
  <quotas><default></default></quotas>
</yandex>
`
