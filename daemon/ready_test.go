package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/event"
)

// unready is a source that takes nothing and says whatever why holds
// when asked whether it is ready, as a broker client does while its
// broker is down.
type unready struct{ why *atomic.Value }

func (u unready) Recv(ctx context.Context) (sluice.Message[event.Event], func(), error) {
	<-ctx.Done()
	return sluice.Message[event.Event]{}, nil, ctx.Err()
}

func (u unready) NotReady() string { return u.why.Load().(string) }

// /readyz answers 503 with the reason of a source that is not ready, and
// 200 once it is.
func TestReadyzAsksConnectors(t *testing.T) {
	var why atomic.Value
	why.Store("broker tcp://127.0.0.1:1 is down")
	r := builtin.Registry()
	daemon.RegisterSource(r, "unready", "test", func() *struct{} { return &struct{}{} },
		func(daemon.Env, *struct{}) (sluice.Source[event.Event], error) { return unready{&why}, nil })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	d, err := daemon.New(fmt.Appendf(nil, `{
		"dataDir": %q,
		"admin": {"addr": %q},
		"sources": {"b": {"type": "unready"}},
		"destinations": {"out": {"type": "file", "path": %q}},
	}`, dir, addr, filepath.Join(dir, "out.ndjson")), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	wait := func(code int, body string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, b := readyz()
			if c == code && b == body {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %d %q, want %d %q", c, b, code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait(503, "not ready: source b: broker tcp://127.0.0.1:1 is down\n")
	why.Store("")
	wait(200, "ready\n")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
