package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
)

// TestStoreDeadLetterKill checks that the events a store rejects are
// durable in the dead letter before the batch holding them is acked. The
// elasticsearch destination writes lines to an index whose "raw" is a
// number: each batch has items stored (the numbers) and items rejected
// with a parsing error (the text lines), which go to a file dead letter.
// Once a first part is acked, strace holds every fsync of the dead-letter
// file at its start; the test appends more lines, waits until the next
// rejected events are written there (not synced), requires that the
// source acked none of the new lines (an ack now would acknowledge events
// a power loss could take from the dead letter), and kills sluiced
// (SIGKILL). After a restart every line must be in the index or in the
// dead letter.
func TestStoreDeadLetterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	es := estest.New(t.Cleanup)
	req, _ := http.NewRequest(http.MethodPut, es.URL+"/dlkill", strings.NewReader(`{"mappings": {"properties": {"raw": {"type": "long"}}}}`))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	dir := t.TempDir()
	logPath, dlPath := filepath.Join(dir, "app.log"), filepath.Join(dir, "rejected.log")
	adminPort := freePort(t)
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"admin": {"addr": "127.0.0.1:%d"},
		"sources": {"log": {"type": "file", "paths": [%q], "pollInterval": "20ms", "checkpointInterval": "50ms", "startAt": "beginning"}},
		"destinations": {
			"es": {"type": "elasticsearch", "url": %q, "index": "dlkill", "deadLetter": "rejected",
				"batch": {"count": 100, "age": "20ms", "retry": {"initial": "20ms", "max": "200ms"}}},
			"rejected": {"type": "file", "path": %q, "batch": {"age": "20ms"}},
		},
		"routes": [{"from": ["log"], "to": ["es"]}],
	}`, filepath.Join(dir, "data"), adminPort, logPath, es.URL, dlPath)
	// Even lines are numbers, stored; odd ones are text, rejected.
	line := func(i int) string {
		if i%2 == 0 {
			return fmt.Sprint(1_000_000 + i)
		}
		return fmt.Sprintf("seq=%010d not a number", i)
	}
	appendLines := func(from, to int) {
		var b bytes.Buffer
		for i := from; i < to; i++ {
			b.WriteString(line(i) + "\n")
		}
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		must(t, err)
		_, err = f.Write(b.Bytes())
		must(t, err)
		must(t, f.Close())
	}
	acked := func() float64 {
		return scrapeOr(adminPort, `sluice_acked_total{kind="source",name="log"}`)
	}
	const first, held = 1000, 1000
	appendLines(0, first)
	d := start(t, dir, config)
	waitForLong(t, "the first lines to be acked", 60*time.Second, func() bool { return acked() == first })
	d.trace(t, "-P", dlPath, "-e", "trace=fsync", "-e", "inject=fsync:delay_enter=30000000")
	before := len(dlRaws(dlPath))
	appendLines(first, first+held)
	waitForLong(t, "rejected lines written to the dead letter", 30*time.Second, func() bool { return len(dlRaws(dlPath)) > before })
	// The batches wait for the dead letter's fsync: no ack may come. A
	// wrong ack would come within a few batch ages (20ms) and checkpoint
	// intervals (50ms).
	time.Sleep(time.Second)
	if n := acked(); n != first {
		t.Errorf("the source acked %v lines with the dead letter's fsync held, want %d: rejected events were acked before they were durable in the dead letter", n, first)
	}
	d.kill()

	d = start(t, dir, config)
	want := first + held
	waitForLong(t, "every line in the index or the dead letter", 60*time.Second, func() bool {
		got := dlRaws(dlPath)
		docs, _ := es.Docs("dlkill")
		for _, doc := range docs {
			var v struct{ Raw string }
			if json.Unmarshal(doc, &v) == nil {
				got[v.Raw] = true
			}
		}
		for i := range want {
			if !got[line(i)] {
				return false
			}
		}
		return true
	})
	d.stop(t)
	t.Logf("%d lines, %d rejected ones held at the dead letter's fsync, SIGKILL: none missing", want, held/2)
}

// dlRaws returns the raw lines in the dead-letter file at path;
// a line cut short by a SIGKILL is skipped.
func dlRaws(path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct{ Raw string }
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out[e.Raw] = true
		}
	}
	return out
}
