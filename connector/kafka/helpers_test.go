package kafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/event"
)

// newCluster starts an in-process Kafka (kfake) on loopback ports, with
// topics of partitions each, closed at cleanup.
func newCluster(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// createTopic creates topic on c.
func createTopic(t testing.TB, c *kfake.Cluster, partitions int32, topic string) {
	t.Helper()
	cl := client(t, c)
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// createTopicConfigs creates topic with one partition and configs (nil
// values are left out).
func createTopicConfigs(t testing.TB, c *kfake.Cluster, topic string, configs map[string]*string) {
	t.Helper()
	for k, v := range configs {
		if v == nil {
			delete(configs, k)
		}
	}
	resp, err := kadm.NewClient(client(t, c)).CreateTopic(context.Background(), 1, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// client returns a plain franz-go client for c, closed at cleanup.
func client(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes values to topic, keyed by keys[i] if keys is not nil,
// and waits for every one to be acknowledged.
func produce(t testing.TB, cl *kgo.Client, topic string, values [][]byte, keys []string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: v}
		if keys != nil {
			recs[i].Key = []byte(keys[i])
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll consumes topic from the start, without a group, until it has n
// records or timeout passes.
func readAll(t testing.TB, c *kfake.Cluster, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := client(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// readExactly reads the n records topic must hold, waiting up to 60s for
// them, and fails the test if it holds more: its end offsets count every
// record, so an extra one shows without a read that waits for it (a
// window of a few seconds read nothing at all on a loaded machine).
func readExactly(t testing.TB, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	recs := readAll(t, c, topic, n, 60*time.Second)
	ends, err := kadm.NewClient(client(t, c)).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(n) {
		t.Errorf("topic %s holds %d records, want %d", topic, total, n)
	}
	return recs
}

// committed returns the group's committed offsets of topic.
func committed(t testing.TB, c *kfake.Cluster, group, topic string) map[int32]int64 {
	t.Helper()
	resp, err := kadm.NewClient(client(t, c)).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out
}

// runSource runs s until the test ends, and fails the test if Run fails.
func runSource(t testing.TB, r sluice.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// srcConfig is a source config for tests: fast commits and stops.
func srcConfig(c *kfake.Cluster, group string, topics ...string) kafka.SourceConfig {
	return kafka.SourceConfig{Brokers: c.ListenAddrs(), Topics: topics, Group: group,
		SessionTimeout: 3 * time.Second, CommitInterval: 20 * time.Millisecond, StopTimeout: 200 * time.Millisecond}
}

// recvN receives n messages from s within timeout.
func recvN(t testing.TB, s sluice.Source[event.Event], n int, timeout time.Duration) ([]sluice.Message[event.Event], []func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var msgs []sluice.Message[event.Event]
	var acks []func()
	for len(msgs) < n {
		m, ack, err := s.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv after %d of %d: %v", len(msgs), n, err)
		}
		msgs = append(msgs, m)
		acks = append(acks, ack)
	}
	return msgs, acks
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAssigned reports whether group is stable with a partition
// assigned.
func groupAssigned(t testing.TB, c *kfake.Cluster, group string) bool {
	t.Helper()
	gs, err := kadm.NewClient(client(t, c)).DescribeGroups(context.Background(), group)
	if err != nil {
		return false
	}
	g, ok := gs[group]
	if !ok || g.State != "Stable" {
		return false
	}
	for _, m := range g.Members {
		if ca, ok := m.Assigned.AsConsumer(); ok && len(ca.Topics) > 0 {
			return true
		}
	}
	return false
}

// membersAssigned returns how many members of group own partitions.
func membersAssigned(t testing.TB, c *kfake.Cluster, group string) int {
	t.Helper()
	gs, err := kadm.NewClient(client(t, c)).DescribeGroups(context.Background(), group)
	if err != nil {
		return 0
	}
	n := 0
	for _, m := range gs[group].Members {
		if ca, ok := m.Assigned.AsConsumer(); ok && len(ca.Topics) > 0 {
			n++
		}
	}
	return n
}
