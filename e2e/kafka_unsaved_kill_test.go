package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaStartAtEndUnsavedKill creates the unsaved-start moment of
// startAt "end" on purpose: sluiced's first start on a group with no
// committed offsets while the broker fails every OffsetCommit of the
// group, so that neither the ends listed at assignment nor the first
// records fetched can be committed. Records are produced and fetched
// meanwhile: none may reach the destination, and /readyz must say why.
// sluiced is SIGKILLed in that window, records are produced while it is
// down, and it restarts with commits allowed. On each partition, every
// record from the first offset that was committed or written to the file,
// whichever is lower, must be in the file: a record handed on from an
// unsaved start (and acked) would be followed by records the restart
// skips.
func TestKafkaStartAtEndUnsavedKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const group, parts = "e2e", 3
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "in"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]

	var deny atomic.Bool // fail the group's commits
	deny.Store(true)
	var mu sync.Mutex
	refused := map[int32]int64{} // the highest offset refused per partition (since cleared)
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetCommitRequest)
		if req.Group != group || !deny.Load() {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		mu.Lock()
		defer mu.Unlock()
		for _, rt := range req.Topics {
			t := kmsg.NewOffsetCommitResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewOffsetCommitResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, kerr.UnknownServerError.Code
				t.Partitions = append(t.Partitions, p)
				if o, ok := refused[rp.Partition]; !ok || rp.Offset > o {
					refused[rp.Partition] = rp.Offset
				}
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type at struct {
		partition int32
		offset    int64
	}
	where := map[int64]at{} // seq -> where it was produced
	produce := func(from, to int) {
		t.Helper()
		for i, r := range produceKeyed(t, cl, "seq=%d", from, to) {
			where[int64(from+i)] = at{r.Partition, r.Offset}
		}
	}
	produceKeyed(t, cl, "pre=%d", 0, 10)

	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.ndjson")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	config := fmt.Sprintf(`{
		"dataDir": "data",
		"admin": {"addr": %q},
		"sources": {"k": {"type": "kafka", "brokers": [%q], "topics": ["in"], "group": %q,
			"startAt": "end", "commitInterval": "100ms", "sessionTimeout": "3s"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, admin, broker, group, outPath)
	d := start(t, dir, config)
	const unready = `not ready: source k: startAt "end": where partition in[`
	waitFor(t, "/readyz to name an unsaved partition", func() bool {
		code, body := readyz(t, admin)
		return code == 503 && strings.HasPrefix(body, unready)
	})

	// The assignment's tries end; from here a commit comes only from
	// records fetched: their start, or (had they been handed on) their
	// acks.
	waitFor(t, "the assignment to give up committing the ends", func() bool {
		return strings.Contains(d.logs.String(), "none of their records is handed on until the first one fetched is committed")
	})
	mu.Lock()
	clear(refused)
	mu.Unlock()
	produce(0, 60)
	first := map[int32]int64{} // the first offset of run 1's records per partition
	for seq := range int64(60) {
		if o, ok := first[where[seq].partition]; !ok || where[seq].offset < o {
			first[where[seq].partition] = where[seq].offset
		}
	}
	// The moment: records fetched (a commit at or past the first of a
	// partition was refused), none committed. The fetch loop waits on the
	// first partition whose start it cannot save.
	waitFor(t, "a commit of run 1's records refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for p, o := range refused {
			if o >= first[p] {
				return true
			}
		}
		return false
	})
	out := seqs{path: outPath, parse: fileLineSeq}
	out.read(t)
	if n := len(out.seen); n > 0 {
		t.Errorf("%d records in the file while no partition's start was committed", n)
	}
	code, body := readyz(t, admin)
	if code != 503 || !strings.HasPrefix(body, unready) || !strings.Contains(body, kerr.UnknownServerError.Message) {
		t.Errorf("/readyz = %d %q while no start is committed, want 503 %q... naming the broker's error", code, body, unready)
	}
	t.Logf("SIGKILL with commits refused up to %v, /readyz %d %q", refused, code, body)
	d.kill()

	deny.Store(false)
	produce(60, 90) // while sluiced is down
	d = start(t, dir, config)
	committed := map[int32]int64{} // the first offsets committed
	adm := kadm.NewClient(cl)
	waitFor(t, "a start committed for each partition", func() bool {
		offs, err := adm.FetchOffsets(t.Context(), group)
		if err != nil || len(offs.Offsets().Sorted()) < parts {
			return false
		}
		offs.Each(func(o kadm.OffsetResponse) { committed[o.Partition] = o.At })
		return true
	})
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := readyz(t, admin); return code == 200 })
	produce(90, 120)
	waitForLong(t, "records 90-119 in the file", 30*time.Second, func() bool {
		out.read(t)
		for seq := range int64(30) {
			if !out.seen[90+seq] {
				return false
			}
		}
		return true
	})
	d.stop(t)
	out.read(t)

	// From where on each partition nothing may be missing: its first
	// commit, or its first record written, whichever is lower.
	from := maps.Clone(committed)
	for seq := range out.seen {
		if w, ok := where[seq]; ok && w.offset < from[w.partition] {
			from[w.partition] = w.offset
		}
	}
	var missing []int64
	for seq := range int64(120) {
		if w := where[seq]; w.offset >= from[w.partition] && !out.seen[seq] {
			missing = append(missing, seq)
		}
	}
	t.Logf("first commits %v, checked from %v: %d of 120 records in the file, %d written twice", committed, from, len(out.seen), out.dups)
	if len(missing) > 0 {
		t.Errorf("%d records missing after their partition's start or first record written, first %v", len(missing), missing[:min(10, len(missing))])
	}
	noneBefore(t, &out)
}
