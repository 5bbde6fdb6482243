package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaDestinationKill creates the two dangerous moments of a kafka
// destination, holding the broker's answer to one produce request of a
// sluiced run (file source -> sluiced -> kfake) and SIGKILLing sluiced
// while it is held:
//
//   - run 1: once sluiced is dead, the broker stores the held batch and
//     writes its answer to the dead connection: stored, never answered;
//   - run 2: the held batch is never stored (the broker drops it).
//
// Either way the batch is checked in the topic before the restart.
//
// The answer is held for a second, twenty checkpoint intervals, before
// the kill: a destination that acked before the broker answered would
// have its events checkpointed by then. After a third start, every line
// of the file must be in the topic: none missing, duplicates counted.
func TestKafkaDestinationKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]

	const (
		n      = 20_000
		holdAt = 3 // the produce request of each run whose answer is held
	)
	var mu sync.Mutex
	var cur *daemon
	run, produces := 0, 0
	type held struct {
		why  string
		seqs []int64
	}
	killed := make(chan held, 1)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		d := cur
		if d != nil {
			produces++
		}
		k, r := produces, run
		mu.Unlock()
		if d == nil || k != holdAt {
			return nil, nil, false // the cluster answers
		}
		// Hold the answer: the cluster serves nothing meanwhile.
		time.Sleep(holdFor)
		mu.Lock()
		cur, produces = nil, 0
		mu.Unlock()
		d.kill()
		seqs := produceSeqs(t, kreq.(*kmsg.ProduceRequest))
		if r == 1 {
			killed <- held{fmt.Sprintf("produce request %d of %d records stored, its answer held", k, len(seqs)), seqs}
			return nil, nil, false // stored now; its answer goes to a dead connection
		}
		killed <- held{fmt.Sprintf("produce request %d of %d records held, never stored", k, len(seqs)), seqs}
		return nil, errors.New("dropped"), true // the connection is closed, the batch not stored
	})

	dir := t.TempDir()
	config := holdKillConfig(seqLog(t, dir, n, "kafka destination kill"),
		fmt.Sprintf(`{"type": "kafka", "brokers": [%q], "topic": "out", "compression": "none", "maxBuffered": 1000}`, broker))
	var before map[int64]int // run 2 may send again lines run 1 stored
	for r := 1; r <= 2; r++ {
		if r == 2 {
			before = topicSeqs(t, broker, "out")
		}
		d := start(t, dir, config)
		mu.Lock()
		cur, run = d, r
		mu.Unlock()
		var h held
		select {
		case h = <-killed:
		case <-time.After(60 * time.Second):
			t.Fatalf("run %d: sluiced was not killed: produce request %d never came", r, holdAt)
		}
		// The moment happened as intended: the held batch is in the topic
		// (run 1) or not (run 2).
		in := topicSeqs(t, broker, "out")
		got := 0
		for _, s := range h.seqs {
			if in[s] > before[s] {
				got++
			}
		}
		t.Logf("run %d: SIGKILL with %s; %d of its records in the topic, %d distinct lines in all", r, h.why, got, len(in))
		if want := map[bool]int{true: len(h.seqs), false: 0}[r == 1]; got != want || len(h.seqs) == 0 {
			t.Fatalf("run %d: %d of the held batch's %d records in the topic, want %d: the test did not create its moment", r, got, len(h.seqs), want)
		}
	}
	d := start(t, dir, config)
	waitAll(n, func() int { return len(topicSeqs(t, broker, "out")) })
	d.stop(t)
	checkAllSent(t, topicSeqs(t, broker, "out"), n, "2 SIGKILLs with a produce answer held")
}

// produceSeqs returns the seqs of the records of an uncompressed produce
// request.
func produceSeqs(t *testing.T, req *kmsg.ProduceRequest) []int64 {
	var seqs []int64
	for _, tp := range req.Topics {
		for _, p := range tp.Partitions {
			for rb := p.Records; len(rb) > 0; {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(rb); err != nil {
					t.Errorf("record batch: %v", err)
					return nil
				}
				rb = rb[12+int(batch.Length):]
				for rs := batch.Records; len(rs) > 0; {
					l, k := binary.Varint(rs)
					var r kmsg.Record
					if k <= 0 || r.ReadFrom(rs[:k+int(l)]) != nil {
						t.Errorf("record of batch: cannot parse")
						return nil
					}
					rs = rs[k+int(l):]
					seqs = append(seqs, lineSeq(t, r.Value))
				}
			}
		}
	}
	return seqs
}

// topicSeqs reads topic from its start to its end offsets and counts
// each line's copies.
func topicSeqs(t *testing.T, broker, topic string) map[int64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			offsets[o.Partition] = kgo.NewOffset().AtStart()
			left[o.Partition] = o.Offset
		}
	})
	seen := map[int64]int{}
	if len(left) == 0 {
		return seen
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(broker),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for len(left) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading topic %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= left[r.Partition] {
				return
			}
			seen[lineSeq(t, r.Value)]++
			if r.Offset == left[r.Partition]-1 {
				delete(left, r.Partition)
			}
		})
	}
	return seen
}
