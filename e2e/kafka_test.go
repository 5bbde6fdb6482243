package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaCluster starts an in-process Kafka (kfake) on a loopback port with
// topics of three partitions, for kcat and sluiced to talk to.
func kafkaCluster(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestKafkaKcatToFile: lines produced by kcat, keyed, reach the file
// through sluiced's kafka source, each once, and the group commits them.
func TestKafkaKcatToFile(t *testing.T) {
	kcat := need(t, "kcat", "kafkacat")
	const n = 5000
	broker := kafkaCluster(t, "in")
	var in bytes.Buffer
	for i := range n {
		fmt.Fprintf(&in, "host%d:seq=%d from kcat\n", i%13, i)
	}
	cmd := exec.Command(kcat, "-P", "-b", broker, "-t", "in", "-K", ":")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}

	dir := t.TempDir()
	outPath := filepath.Join(dir, "out.ndjson")
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": "data",
		"sources": {"k": {"type": "kafka", "brokers": [%q], "topics": ["in"], "group": "e2e", "sessionTimeout": "3s"}},
		"destinations": {"out": {"type": "file", "path": %q, "batch": {"age": "20ms"}}},
	}`, broker, outPath))
	out := seqs{path: outPath, parse: fileLineSeq}
	waitForLong(t, "every line in the file", 30*time.Second, func() bool { out.read(t); return len(out.seen) == n })
	d.stop(t)
	out.read(t)
	if out.dups > 0 {
		t.Errorf("%d lines written twice without a crash", out.dups)
	}
	evs := events(t, outPath)
	for _, e := range evs[:3] {
		if get(e, "sourceType") != "kafka" || get(e, "source") != "k" {
			t.Errorf("event %v: want source k of type kafka", e)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != n {
		t.Errorf("the group committed %d records after a clean stop, want %d", committed, n)
	}
}

// TestKafkaFileToKcat: lines appended to a file reach a topic through
// sluiced's kafka destination, and kcat reads every one back, with the
// key sluiced set.
func TestKafkaFileToKcat(t *testing.T) {
	kcat := need(t, "kcat", "kafkacat")
	const n = 5000
	broker := kafkaCluster(t, "out")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	var lines bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lines, "seq=%d to kcat\n", i)
	}
	if err := os.WriteFile(logPath, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": "data",
		"sources": {"app": {"type": "file", "paths": [%q], "startAt": "beginning"}},
		"destinations": {"k": {"type": "kafka", "brokers": [%q], "topic": "out", "key": "source", "compression": "lz4"}},
	}`, logPath, broker))
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitForLong(t, "every line produced", 30*time.Second, func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), "out")
		if err != nil {
			return false
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum >= n
	})
	d.stop(t)

	out, err := exec.Command(kcat, "-C", "-b", broker, "-t", "out", "-o", "beginning", "-e", "-q", "-f", "%k|%s\n").Output()
	if err != nil {
		t.Fatalf("kcat -C: %v", err)
	}
	got := seqs{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		key, val, _ := strings.Cut(line, "|")
		if key != "app" {
			t.Fatalf("kcat read key %q, want app (the source's name)", key)
		}
		seq, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(val, "seq="), " to kcat"), 10, 64)
		if err != nil {
			t.Fatalf("kcat read %q", line)
		}
		got.add(seq)
	}
	for i := range int64(n) {
		if !got.seen[i] {
			t.Fatalf("line %d not read back by kcat (read %d lines)", i, len(got.seen))
		}
	}
	if got.dups > 0 {
		t.Errorf("kcat read %d lines twice", got.dups)
	}
}

// TestKafkaDestinationSyslog50k: 50,000 syslog lines sent to sluiced over
// TCP are all readable from the topic, each once, as JSON keyed by the
// sending host.
func TestKafkaDestinationSyslog50k(t *testing.T) {
	const n = 50_000
	broker := kafkaCluster(t, "logs")
	dir := t.TempDir()
	port := freePort(t)
	d := start(t, dir, fmt.Sprintf(`{
		"dataDir": "data",
		"sources": {"sys": {"type": "syslog", "addr": "127.0.0.1:%d", "network": "tcp"}},
		"destinations": {"k": {"type": "kafka", "brokers": [%q], "topic": "logs", "key": "syslog.hostname", "format": "json"}},
	}`, port, broker))
	conn := dial(t, fmt.Sprintf("127.0.0.1:%d", port))
	w := bufio.NewWriter(conn)
	for i := range n {
		fmt.Fprintf(w, "<134>1 2026-12-06T08:00:00Z host%d app - - - seq=%d syslog to kafka\n", i%5, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("logs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := seqs{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(got.seen) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var ev struct {
				Syslog struct {
					Hostname string `json:"hostname"`
					Message  string `json:"message"`
				} `json:"syslog"`
			}
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatalf("record %q: %v", r.Value, err)
			}
			if string(r.Key) != ev.Syslog.Hostname || ev.Syslog.Hostname == "" {
				t.Fatalf("record key %q, want the hostname %q", r.Key, ev.Syslog.Hostname)
			}
			seq, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(ev.Syslog.Message, "seq="), " syslog to kafka"), 10, 64)
			if err != nil {
				t.Fatalf("record %q: %v", r.Value, err)
			}
			got.add(seq)
		})
	}
	d.stop(t)
	if len(got.seen) != n || got.dups > 0 {
		t.Fatalf("read %d distinct lines of %d from the topic, %d twice", len(got.seen), n, got.dups)
	}
}
