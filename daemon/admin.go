package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/internal/httpin"
	"github.com/sluicehq/sluice/internal/lograte"
)

// The admin listener's bounds: at most adminMaxConns connections (one
// more evicts the one waiting longest for a request, or is closed if all
// are busy), and a keep-alive connection idle for adminIdleTimeout is
// closed. Variables for tests.
var (
	adminMaxConns    = 64
	adminIdleTimeout = 2 * time.Minute
)

// serveAdmin serves /metrics, /healthz, /readyz, /tap (see serveTap) and,
// if enabled, pprof on c.Addr until ctx is done. The listener is bound
// before it returns, so a bad address fails the start.
func serveAdmin(ctx context.Context, c *AdminConfig, ms *metricSet, state *runState, tap http.Handler, log *slog.Logger) (wait func(), err error) {
	raw, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	ln := httpin.Limit(raw, adminMaxConns, log, lograte.New(lograte.Every), func(string) {})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(ms.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := state.get(); err != nil {
			http.Error(w, "failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready, err := state.get(); !ready || err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if state.busy != nil {
			if why := state.busy(); why != "" {
				http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /tap", tap)
	if c.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: adminIdleTimeout,
		ConnState: ln.EvictWaiting()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String(), "pprof", c.Pprof, "tap", c.Tap)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return func() {
		if stop() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
		<-done
	}, nil
}
