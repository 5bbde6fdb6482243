package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaSourceCrash: two sluiced in one consumer group read a topic of
// four partitions into files while a producer writes numbered, keyed
// lines. Either member is killed with SIGKILL, mid-stream, and restarted
// at once, cycles times. Once the group has committed every record, both
// stop and the two files together must hold every line: none missing,
// duplicates counted and bounded by what a kill can repeat.
//
// SLUICE_CRASH_CYCLES sets the kills (default 5) and SLUICE_CRASH_LINES
// the lines (default 20,000; the figure is 100,000).
func TestKafkaSourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	cycles := crashCycles(t, 5)
	lines := 20_000
	if s := os.Getenv("SLUICE_CRASH_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SLUICE_CRASH_LINES=%q: want a positive integer", s)
		}
		lines = n
	}
	const (
		maxPending     = 2000
		commitInterval = 100 * time.Millisecond
	)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "logs"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]

	dir := t.TempDir()
	members := make([]*daemon, 2)
	configs := make([]string, 2)
	outs := make([]string, 2)
	dirs := make([]string, 2)
	for i := range members {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("member%d", i))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		outs[i] = filepath.Join(dirs[i], "out.ndjson")
		configs[i] = fmt.Sprintf(`{
			"dataDir": "data",
			"shutdownTimeout": "10s",
			"sources": {"logs": {"type": "kafka", "brokers": [%q], "topics": ["logs"], "group": "crash",
				"sessionTimeout": "3s", "commitInterval": %q, "maxPending": %d}},
			"destinations": {"out": {"type": "file", "path": %q, "maxBytes": 0, "batch": {"age": "20ms"}}},
		}`, brokers, commitInterval, maxPending, outs[i])
		members[i] = start(t, dirs[i], configs[i])
	}

	// The producer writes lines over about a second per cycle, so that
	// every kill falls mid-stream.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Kill k (from 0) comes k+1 seconds in; the producer ends a second
	// after the last.
	duration := time.Duration(cycles+2) * time.Second
	t0 := time.Now()
	const chunk = 200
	produced := make(chan error, 1)
	go func() {
		tick := time.NewTicker(duration / time.Duration((lines+chunk-1)/chunk))
		defer tick.Stop()
		for start := 0; start < lines; start += chunk {
			<-tick.C
			recs := make([]*kgo.Record, 0, chunk)
			for i := start; i < min(start+chunk, lines); i++ {
				recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "host%d", i%97), Value: fmt.Appendf(nil, "seq=%d crash test line", i)})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	adm := kadm.NewClient(cl)
	// progress returns the records committed by the group and produced.
	progress := func() (committed, end int64) {
		ends, _ := adm.ListEndOffsets(context.Background(), "logs")
		offs, _ := adm.FetchOffsets(context.Background(), "crash")
		ends.Each(func(o kadm.ListedOffset) {
			end += o.Offset
			if c, ok := offs.Lookup("logs", o.Partition); ok {
				committed += c.At
			}
		})
		return committed, end
	}
	out := seqs{parse: fileLineSeq}
	for k := range cycles {
		time.Sleep(time.Until(t0.Add(time.Duration(k+1) * time.Second)))
		victim := k % 2
		committed, end := progress()
		t.Logf("kill %d: member %d, with %d of %d produced records committed", k+1, victim, committed, end)
		if end >= int64(lines) {
			t.Errorf("kill %d came after the last line was produced: not mid-stream", k+1)
		}
		members[victim].kill()
		time.Sleep(100 * time.Millisecond) // down a moment: the other member goes on
		members[victim] = start(t, dirs[victim], configs[victim])
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	// Every record committed: the group has caught up.
	waitForLong(t, "the group to commit every record", 60*time.Second, func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), "logs")
		if err != nil {
			return false
		}
		offs, err := adm.FetchOffsets(context.Background(), "crash")
		if err != nil {
			return false
		}
		caughtUp := true
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := offs.Lookup("logs", o.Partition); !ok || c.At < o.Offset {
				caughtUp = false
			}
		})
		return caughtUp
	})
	for _, m := range members {
		m.stop(t)
	}
	for _, p := range outs {
		out.path, out.off = p, 0
		out.read(t)
	}
	missing := 0
	for i := range int64(lines) {
		if !out.seen[i] {
			missing++
		}
	}
	// A kill repeats what the killed member had fetched and not committed:
	// at most maxPending records in flight, plus those acked within the
	// last commit interval (at most maxPending too, with the fetch bound).
	bound := cycles * 2 * maxPending
	t.Logf("kafka crash: %d lines, %d SIGKILLs of 2 members: %d missing, %d duplicates (bound %d)", lines, cycles, missing, out.dups, bound)
	if missing > 0 {
		t.Fatalf("%d of %d lines missing", missing, lines)
	}
	if out.dups > bound {
		t.Errorf("%d duplicates, more than %d kills can repeat (%d)", out.dups, cycles, bound)
	}
}

// TestKafkaStartAtEndKill creates the moment startAt "end" is dangerous:
// sluiced's first start on a group with no committed offsets, its records
// delivered and acked, SIGKILLed before any commit (commitInterval 1h),
// records produced while it is down. The end each partition was first
// read from must have been committed before a record of it was handed
// on: the restart reads the records produced while it was down, rather
// than resolving a new end and skipping them. Records produced before the
// first start ("pre=") must not be read.
func TestKafkaStartAtEndKill(t *testing.T) {
	broker := kafkaCluster(t, "in")
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(format string, from, to int) { t.Helper(); produceKeyed(t, cl, format, from, to) }
	produce("pre=%d", 0, 10)

	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.ndjson")
	config := fmt.Sprintf(`{
		"dataDir": "data",
		"sources": {"k": {"type": "kafka", "brokers": [%q], "topics": ["in"], "group": "e2e",
			"startAt": "end", "commitInterval": "1h", "sessionTimeout": "3s"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, broker, outPath)
	d := start(t, dir, config)
	// The ends are committed at assignment; on code that does not commit
	// them, the end is resolved by then too, and the test goes on to show
	// the loss.
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		offs, err := adm.FetchOffsets(t.Context(), "e2e")
		if err == nil && len(offs.Offsets().Sorted()) == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := seqs{path: outPath, parse: fileLineSeq}
	produce("seq=%d", 0, 50)
	waitForLong(t, "records 0-49 in the file", 30*time.Second, func() bool { out.read(t); return len(out.seen) == 50 })
	d.kill()
	produce("seq=%d", 50, 100) // while sluiced is down
	d = start(t, dir, config)
	produce("seq=%d", 100, 101)
	waitForLong(t, "record 100 in the file", 30*time.Second, func() bool { out.read(t); return out.seen[100] })
	d.stop(t)
	out.read(t)
	var missing []int
	for i := range 101 {
		if !out.seen[int64(i)] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d records missing after a SIGKILL before the first commit (startAt end), first %v", len(missing), missing[:min(10, len(missing))])
	}
	noneBefore(t, &out)
	t.Logf("%d records written more than once", out.dups)
}

// noneBefore fails t if out holds a record "pre=N", produced before
// sluiced's first start with startAt "end".
func noneBefore(t *testing.T, out *seqs) {
	t.Helper()
	for seq := range out.seen {
		if seq < 0 {
			t.Errorf("record pre=%d, produced before the first start, was read with startAt end", -1-seq)
			return
		}
	}
}

// produceKeyed produces, one at a time, the records keyed "kI" with the
// value format(I), I from from to to-1, to cl's default topic, and returns
// them as stored (partition and offset set).
func produceKeyed(t *testing.T, cl *kgo.Client, format string, from, to int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, format, i)}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}
