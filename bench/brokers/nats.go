package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/bench/internal/benchproc"
)

// startNATS runs Debian's nats-server with JetStream and returns its URL
// and a JetStream client.
func startNATS(e *env) (string, jetstream.JetStream, func(), error) {
	bin, err := lookPath("nats-server")
	if err != nil {
		return "", nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	p, err := benchproc.Start(exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port),
		"-sd", filepath.Join(e.dir, "nats")), "Server is ready")
	if err != nil {
		return "", nil, nil, err
	}
	nc, err := natsgo.Connect(url)
	if err != nil {
		p.Stop()
		return "", nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		p.Stop()
		return "", nil, nil, err
	}
	return url, js, func() { nc.Close(); p.Stop() }, nil
}

// newStream creates a file-backed stream name capturing subject.
func newStream(js jetstream.JetStream, name, subject string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	return err
}

// waitStream waits until stream holds n messages.
func waitStream(js jetstream.JetStream, stream string, n int) func() error {
	return func() error {
		return waitFor(fmt.Sprintf("stream %s to hold %d messages", stream, n), n, func() (int64, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := js.Stream(ctx, stream)
			if err != nil {
				return 0, nil
			}
			return int64(s.CachedInfo().State.Msgs), nil
		})
	}
}

var natsProduce = benchCase{name: "nats-produce", needs: []string{"nats-server"}, setup: func(e *env) ([]subject, func(), error) {
	url, js, stop, err := startNATS(e)
	if err != nil {
		return nil, nil, err
	}
	stream := func(who string, i int) (string, string, error) {
		name, subj := fmt.Sprintf("P_%s_%d", who, i), fmt.Sprintf("p.%s.%d", who, i)
		return name, subj, newStream(js, name, subj)
	}
	return []subject{
		{"plain nats.go PublishAsync loop", true, func(i int) (benchproc.Result, error) {
			name, subj, err := stream("plain", i)
			if err != nil {
				return benchproc.Result{}, err
			}
			return plainRun(e, "nats-produce", waitStream(js, name, e.n), "-addr", url, "-target", subj, "-in", e.input)
		}},
		{"sluiced file → nats", false, func(i int) (benchproc.Result, error) {
			name, subj, err := stream("sluiced", i)
			if err != nil {
				return benchproc.Result{}, err
			}
			return sluicedRun(e, name, func(dir string) string {
				return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": %s},
					"destinations": {"out": {"type": "nats", "url": %q, "subject": %q}}}`, dir, fileSource(e.input), url, subj)
			}, waitStream(js, name, e.n))
		}},
	}, stop, nil
}}

var natsConsume = benchCase{name: "nats-consume", needs: []string{"nats-server"}, setup: func(e *env) ([]subject, func(), error) {
	url, js, stop, err := startNATS(e)
	if err != nil {
		return nil, nil, err
	}
	// One stream holding the events; each run reads it with a durable of its own.
	if err := newStream(js, "IN", "in"); err != nil {
		stop()
		return nil, nil, err
	}
	for i := range e.n {
		if _, err := js.PublishAsync("in", []byte(line(i))); err != nil {
			stop()
			return nil, nil, err
		}
		if i%4000 == 3999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	return []subject{
		{"plain nats.go pull loop (fetch, write, fsync, ack)", true, func(i int) (benchproc.Result, error) {
			o := fmt.Sprintf("%s/plain_consume_%d", e.dir, i)
			return plainRun(e, "nats-consume", waitFile(o, e.n), "-addr", url, "-target", "IN", "-out", o)
		}},
		{"sluiced nats → file", false, func(i int) (benchproc.Result, error) {
			name := fmt.Sprintf("sluiced_consume_%d", i)
			o := filepath.Join(e.dir, name+".log")
			return sluicedRun(e, name, func(dir string) string {
				return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": {"type": "nats", "url": %q, "stream": "IN", "durable": %q}},
					"destinations": {"out": %s}}`, dir, url, name, fileDest(o))
			}, waitFile(o, e.n))
		}},
	}, stop, nil
}}
