package storetest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// CheckQuotedNoCredentials checks what a store logged (logs) and put in
// dl's error attributes after an [EchoAuth] server refused it: the
// server's message is quoted, and neither password nor the base64 of
// user:password shows.
func CheckQuotedNoCredentials(t testing.TB, logs string, dl *DeadLetter, user, password string) {
	t.Helper()
	text := logs
	for _, m := range dl.Got() {
		text += m.Attributes.Value("error")
	}
	if !strings.Contains(text, "refused: Authorization Basic") {
		t.Fatalf("the server's message is not quoted:\n%s", text)
	}
	for _, secret := range []string{password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password))} {
		if strings.Contains(text, secret) {
			t.Errorf("%q shown:\n%s", secret, text)
		}
	}
}
