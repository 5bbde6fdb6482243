package elasticsearch_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/elasticsearch"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
)

// target is the cluster a test writes to: the in-process estest.Server,
// or the real one at $SLUICE_ES_URL (with $SLUICE_ES_USERNAME and
// $SLUICE_ES_PASSWORD, or $SLUICE_ES_APIKEY).
type target struct {
	url, username, password, apiKey string
	fake                            *estest.Server // nil for a real cluster
}

func newTarget(t *testing.T) *target {
	t.Helper()
	if u := os.Getenv("SLUICE_ES_URL"); u != "" {
		return &target{url: u, username: os.Getenv("SLUICE_ES_USERNAME"), password: os.Getenv("SLUICE_ES_PASSWORD"), apiKey: os.Getenv("SLUICE_ES_APIKEY")}
	}
	return &target{fake: estest.New(t.Cleanup)}
}

func (tg *target) URL() string {
	if tg.fake != nil {
		return tg.fake.URL
	}
	return tg.url
}

// needFake skips a test that injects faults when the target is real.
func (tg *target) needFake(t *testing.T) *estest.Server {
	t.Helper()
	if tg.fake == nil {
		t.Skip("injects faults: runs against the in-process server only")
	}
	return tg.fake
}

func (tg *target) config(index string) elasticsearch.Config {
	return elasticsearch.Config{URL: config.Secret(tg.URL()), Index: index, Username: tg.username,
		Password: config.Secret(tg.password), APIKey: config.Secret(tg.apiKey), Timeout: 5 * time.Second}
}

func (tg *target) do(method, path, body string) ([]byte, error) {
	req, err := http.NewRequest(method, strings.TrimSuffix(tg.URL(), "/")+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connection left for the suite's goroutine check
	if tg.apiKey != "" {
		req.Header.Set("Authorization", "ApiKey "+tg.apiKey)
	} else if tg.username != "" {
		req.SetBasicAuth(tg.username, tg.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return b, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return b, err
}

// doc is a stored document as a test reads it.
type doc struct {
	ID        string    `json:"-"`
	Index     string    `json:"-"`
	Timestamp time.Time `json:"@timestamp"`
	Raw       string    `json:"raw"`
	Source    string    `json:"source"`
	Syslog    struct {
		Message string `json:"message"`
	} `json:"syslog"`
}

// read returns the documents of the indices matching pattern, through
// the search API (so that it works against a real cluster too).
func (tg *target) read(pattern string) ([]doc, error) {
	if _, err := tg.do(http.MethodPost, "/"+pattern+"/_refresh?ignore_unavailable=true&allow_no_indices=true", ""); err != nil {
		return nil, err
	}
	b, err := tg.do(http.MethodGet, "/"+pattern+"/_search?size=10000&ignore_unavailable=true&allow_no_indices=true", "")
	if err != nil {
		if strings.Contains(err.Error(), "index_not_found") {
			return nil, nil
		}
		return nil, err
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Index  string          `json:"_index"`
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	docs := make([]doc, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		if err := json.Unmarshal(h.Source, &docs[i]); err != nil {
			return nil, err
		}
		docs[i].ID, docs[i].Index = h.ID, h.Index
	}
	return docs, nil
}

func ev(raw string) sluice.Message[event.Event] {
	at := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	return sluice.Message[event.Event]{Value: event.Event{Time: at, ReceivedAt: at, Source: "test", SourceType: "test", Raw: []byte(raw)}}
}

// acks counts acks and lets a test wait for them.
type acks struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func newAcks() *acks { return &acks{ch: make(chan struct{}, 1<<16)} }

func (a *acks) ack() {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	a.ch <- struct{}{}
}

func (a *acks) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-a.ch:
		case <-time.After(15 * time.Second):
			t.Fatalf("timed out waiting for %d acks", n)
		}
	}
}
