package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench/internal/benchproc"
)

const kcatName = "kcat -P -l (librdkafka)"

// startKfake runs a kfake cluster of one broker in its own process and
// returns its address and an admin client.
func startKfake(e *env) (string, *kadm.Client, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	a := "127.0.0.1:" + strconv.Itoa(port)
	p, err := benchproc.Start(exec.Command(e.self, "-role", "kfake", "-addr", a), "ready")
	if err != nil {
		return "", nil, nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(a))
	if err != nil {
		p.Stop()
		return "", nil, nil, err
	}
	return a, kadm.NewClient(cl), func() { cl.Close(); p.Stop() }, nil
}

// topics creates a topic of one partition per replica, named prefix-i.
func newTopic(adm *kadm.Client, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := adm.CreateTopic(ctx, 1, 1, nil, name)
	if err == nil {
		err = r.Err
	}
	return err
}

// waitTopic waits until topic holds n records.
func waitTopic(adm *kadm.Client, topic string, n int) func() error {
	return func() error {
		return waitFor(fmt.Sprintf("topic %s to hold %d records", topic, n), n, func() (int64, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			offs, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				return 0, nil
			}
			var sum int64
			offs.Each(func(o kadm.ListedOffset) { sum += o.Offset })
			return sum, nil
		})
	}
}

var kafkaProduce = benchCase{name: "kafka-produce", needs: []string{"kcat"}, versus: kcatName, setup: func(e *env) ([]subject, func(), error) {
	a, adm, stop, err := startKfake(e)
	if err != nil {
		return nil, nil, err
	}
	topic := func(who string, i int) (string, error) {
		t := fmt.Sprintf("kafka-%s-%d", who, i)
		return t, newTopic(adm, t)
	}
	return []subject{
		{"plain franz-go Produce loop", true, func(i int) (benchproc.Result, error) {
			t, err := topic("plain", i)
			if err != nil {
				return benchproc.Result{}, err
			}
			return plainRun(e, "kafka-produce", waitTopic(adm, t, e.n), "-addr", a, "-target", t, "-in", e.input)
		}},
		{kcatName, false, func(i int) (benchproc.Result, error) {
			t, err := topic("kcat", i)
			if err != nil {
				return benchproc.Result{}, err
			}
			r, err := benchproc.RunToEnd(exec.Command("kcat", "-P", "-b", a, "-t", t, "-l",
				"-X", "acks=all", "-X", "enable.idempotence=true", "-X", "compression.codec=snappy", e.input))
			if err != nil {
				return r, err
			}
			return r, waitTopic(adm, t, e.n)() // kcat waits for every delivery report before it exits
		}},
		{"sluiced file → kafka", false, func(i int) (benchproc.Result, error) {
			t, err := topic("sluiced", i)
			if err != nil {
				return benchproc.Result{}, err
			}
			return sluicedRun(e, t, func(dir string) string {
				return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": %s},
					"destinations": {"out": {"type": "kafka", "brokers": [%q], "topic": %q}}}`, dir, fileSource(e.input), a, t)
			}, waitTopic(adm, t, e.n))
		}},
	}, stop, nil
}}

var kafkaConsume = benchCase{name: "kafka-consume", setup: func(e *env) ([]subject, func(), error) {
	a, adm, stop, err := startKfake(e)
	if err != nil {
		return nil, nil, err
	}
	// One topic holding the events; each run reads it in a group of its own.
	if err := newTopic(adm, "in"); err != nil {
		stop()
		return nil, nil, err
	}
	if err := produceLines(a, "in", e.n); err != nil {
		stop()
		return nil, nil, err
	}
	return []subject{
		{"plain franz-go group loop (poll, write, fsync, commit)", true, func(i int) (benchproc.Result, error) {
			o := fmt.Sprintf("%s/kafka-plain-consume-%d.log", e.dir, i)
			return plainRun(e, "kafka-consume", waitFile(o, e.n), "-addr", a, "-target", "in", "-out", o)
		}},
		{"sluiced kafka → file", false, func(i int) (benchproc.Result, error) {
			name := fmt.Sprintf("kafka-sluiced-consume-%d", i)
			o := fmt.Sprintf("%s/%s.log", e.dir, name)
			return sluicedRun(e, name, func(dir string) string {
				return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": {"type": "kafka", "brokers": [%q], "topics": ["in"], "group": %q, "startAt": "beginning"}},
					"destinations": {"out": %s}}`, dir, a, name, fileDest(o))
			}, waitFile(o, e.n))
		}},
	}, stop, nil
}}

// produceLines produces events 0..n-1 to topic.
func produceLines(a, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(a), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := 0; i < n; i += 10_000 {
		recs := make([]*kgo.Record, 0, 10_000)
		for j := i; j < min(i+10_000, n); j++ {
			recs = append(recs, &kgo.Record{Value: []byte(line(j))})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}
