package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/batch"
	"github.com/sluicehq/sluice/connector/webhook"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s", r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b)
	}))
	defer srv.Close()

	d, err := webhook.New(webhook.Config{
		URL:         config.Secret(srv.URL + "/ingest?token=abc"),
		BearerToken: "t0ken",
		Batch:       batch.Config{Count: 2, Age: time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	acked := make(chan struct{})
	_ = d.Send(ctx, func() { close(acked) },
		sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, SourceType: "syslog", Raw: []byte("hello")}},
		sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, SourceType: "syslog", Raw: []byte("world")}})
	<-acked // the server answered 200
	cancel()
	fmt.Println("acked; Run:", <-done)
	// Output:
	// application/x-ndjson Bearer t0ken
	// {"ts":"2026-11-24T23:00:00Z","receivedAt":"2026-11-24T23:00:00Z","sourceType":"syslog","raw":"hello"}
	// {"ts":"2026-11-24T23:00:00Z","receivedAt":"2026-11-24T23:00:00Z","sourceType":"syslog","raw":"world"}
	// acked; Run: <nil>
}
