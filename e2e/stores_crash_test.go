package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	"github.com/sluicehq/sluice/connector/gelf/gelftest"
	"github.com/sluicehq/sluice/connector/splunk/hectest"
)

// crashStore is a store under TestStoresCrash: a test server in this
// process that sluiced writes to.
type crashStore struct {
	// dest is the destination's config object.
	dest string
	// seqs returns how many times each seq was stored.
	seqs func() map[int]int
	// armKill makes the store call kill at its dangerous moment: when it
	// has stored a batch and not yet answered.
	armKill func(kill func())
	// noDups says that the store must hold each event once.
	noDups bool
	// sourceCheckpoint is the file source's checkpointInterval; default
	// 100ms.
	sourceCheckpoint string
}

var seqRE = regexp.MustCompile(`seq=(\d{10})`)

// TestStoresCrash runs a file source into a store, kills sluiced with
// SIGKILL right after the store took a batch and before it answered
// (stored events sluiced never saw acknowledged), a few times, and
// checks that every line of the file is in the store in the end: no
// event acked is missing.
func TestStoresCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	t.Run("elasticsearch", func(t *testing.T) {
		es := estest.New(t.Cleanup)
		runStoreCrash(t, crashStore{
			dest: fmt.Sprintf(`{"type": "elasticsearch", "url": %q, "index": "crash-%%Y.%%m.%%d", "id": "content", "opType": "create",
				"batch": {"count": 500, "age": "20ms", "retry": {"initial": "20ms", "max": "200ms"}}}`, es.URL),
			seqs: func() map[int]int {
				docs, ids := es.Docs("crash-*")
				out := map[int]int{}
				for _, id := range ids {
					var d struct{ Raw string }
					if json.Unmarshal(docs[id], &d) == nil {
						if m := seqRE.FindStringSubmatch(d.Raw); m != nil {
							n, _ := strconv.Atoi(m[1])
							out[n]++
						}
					}
				}
				return out
			},
			armKill: es.AfterNextBulk,
			noDups:  true,
		})
	})
	t.Run("splunk_hec", func(t *testing.T) {
		const token = "00000000-1111-2222-3333-444444444444"
		hec := hectest.New(t.Cleanup, token)
		hec.AckEnabled()
		hec.DelayAcks(30 * time.Millisecond)
		runStoreCrash(t, crashStore{
			dest: fmt.Sprintf(`{"type": "splunk_hec", "url": %q, "token": %q, "ackEnabled": true, "ackPollInterval": "10ms",
				"batch": {"count": 500, "age": "20ms", "retry": {"initial": "20ms", "max": "200ms"}}}`, hec.URL, token),
			seqs: func() map[int]int {
				out := map[int]int{}
				for _, e := range hec.Events() {
					if m := seqRE.FindStringSubmatch(e.Raw()); m != nil {
						n, _ := strconv.Atoi(m[1])
						out[n]++
					}
				}
				return out
			},
			armKill: hec.OnNextIndex,
		})
	})
	t.Run("gelf/tcp", func(t *testing.T) {
		s, err := gelftest.New(t.Cleanup)
		if err != nil {
			t.Fatal(err)
		}
		runStoreCrash(t, crashStore{
			dest: fmt.Sprintf(`{"type": "gelf", "serviceAddr": %q, "network": "tcp",
				"batch": {"count": 500, "age": "20ms", "retry": {"initial": "20ms", "max": "200ms"}}}`, s.TCPAddr),
			seqs: func() map[int]int {
				out := map[int]int{}
				for _, m := range s.Messages() {
					if m := seqRE.FindStringSubmatch(m.String("short_message")); m != nil {
						n, _ := strconv.Atoi(m[1])
						out[n]++
					}
				}
				return out
			},
			// The kill comes as a message arrives: sluiced may have
			// written more of the batch, and acked it, before it dies.
			armKill: s.OnNextMessage,
		})
	})
}

func runStoreCrash(t *testing.T, s crashStore) {
	cycles := crashCycles(t, 5)
	const perCycle = 4000
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	config := fmt.Sprintf(`{
		"dataDir": %q,
		"shutdownTimeout": "10s",
		"sources": {"log": {"type": "file", "paths": [%q], "pollInterval": "20ms", "checkpointInterval": %q, "startAt": "beginning"}},
		"destinations": {"store": %s},
	}`, filepath.Join(dir, "data"), logPath, cmp.Or(s.sourceCheckpoint, "100ms"), s.dest)
	total := 0
	for c := range cycles {
		appendSeqs(t, logPath, int64(total), int64(total+perCycle))
		total += perCycle
		killed := make(chan struct{})
		d := start(t, dir, config)
		s.armKill(func() { d.kill(); close(killed) })
		select {
		case <-killed:
		case <-time.After(30 * time.Second):
			t.Fatalf("cycle %d: the store got no batch to kill at", c)
		}
	}
	appendSeqs(t, logPath, int64(total), int64(total+perCycle))
	total += perCycle
	d := start(t, dir, config)
	// Fail when delivery stalls, not when it is slow: a loaded CI
	// machine may need minutes, and a lost event never arrives.
	const stall = 45 * time.Second
	deadline, last := time.Now().Add(stall), total+1
	var got map[int]int
	for {
		got = s.seqs()
		var missing []int
		for i := range total {
			if got[i] == 0 {
				missing = append(missing, i)
			}
		}
		if len(missing) == 0 {
			break
		}
		if len(missing) < last {
			deadline, last = time.Now().Add(stall), len(missing)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events missing from the store after %d kills, none arrived in %v; seqs %s",
				len(missing), total, cycles, stall, ranges(missing))
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop(t)
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	t.Logf("%d events, %d kills: 0 missing, %d duplicates", total, cycles, dups)
	if s.noDups && dups > 0 {
		t.Errorf("%d duplicates, want none", dups)
	}
}

// ranges writes sorted ints as runs: "3-7 9 12-40".
func ranges(v []int) string {
	var b []byte
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(v[i]), 10)
		if j > i {
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(v[j]), 10)
		}
		i = j + 1
	}
	return string(b)
}
