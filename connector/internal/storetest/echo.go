package storetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// EchoAuth starts a server that answers every request status with a body
// quoting its Authorization header, as a misconfigured proxy or a debug
// endpoint may: what a store quotes from such a body must not show the
// credentials, in any encoding. t's cleanup stops it.
func EchoAuth(t testing.TB, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"text":"refused: Authorization `+r.Header.Get("Authorization")+`","code":4}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}
