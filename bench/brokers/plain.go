package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// plain runs role: the kfake broker, or a plain client-library loop doing
// a subject's work. Each prints "ready" once started, then works, then
// waits for SIGTERM (the driver reads its CPU time and RSS before that).
func plain(role string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch role {
	case "kfake":
		err = runKfake(ctx)
	case "kafka-produce":
		err = kafkaProduceLoop(ctx)
	case "kafka-consume":
		err = kafkaConsumeLoop(ctx)
	case "nats-produce":
		err = natsProduceLoop(ctx)
	case "nats-consume":
		err = natsConsumeLoop(ctx)
	case "mqtt-produce":
		err = mqttProduceLoop(ctx)
	case "mqtt-consume":
		err = mqttConsumeLoop(ctx)
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func runKfake(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(*addr)
	p, _ := strconv.Atoi(port)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

// scan calls f with each line of the input file (valid during the call).
func scan(f func([]byte) error) error {
	file, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if err := f(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// writer is the output file of a consume loop: lines are buffered and
// made durable (flush and fsync) by sync.
type writer struct {
	f *os.File
	w *bufio.Writer
}

func create() (*writer, error) {
	f, err := os.Create(*out)
	if err != nil {
		return nil, err
	}
	return &writer{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (w *writer) line(b []byte) {
	w.w.Write(b)
	w.w.WriteByte('\n')
}

func (w *writer) sync() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	return w.f.Sync()
}

// kafkaProduceLoop: Produce each line (acks all, idempotent, snappy, as
// sluiced's defaults), then Flush.
func kafkaProduceLoop(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(*addr), kgo.DefaultProduceTopic(*target),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.MaxBufferedRecords(10_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Println("ready")
	var failed atomic.Pointer[error]
	err = scan(func(b []byte) error {
		cl.Produce(ctx, &kgo.Record{Value: append([]byte(nil), b...)}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(&err)
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if e := failed.Load(); e != nil {
		return *e
	}
	<-ctx.Done()
	return nil
}

// kafkaConsumeLoop: PollFetches, write, fsync, CommitRecords.
func kafkaConsumeLoop(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(*addr), kgo.ConsumeTopics(*target), kgo.ConsumerGroup("plain-"+*out),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	w, err := create()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			w.line(r.Value)
			recs = append(recs, r)
		})
		if err := w.sync(); err != nil {
			return err
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			return err
		}
	}
	return nil
}

// natsProduceLoop: PublishAsync each line, with up to 4000 unacked.
func natsProduceLoop(ctx context.Context) error {
	nc, err := natsgo.Connect(*addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	err = scan(func(b []byte) error {
		_, err := js.PublishAsync(*target, append([]byte(nil), b...), jetstream.WithStallWait(time.Minute))
		return err
	})
	if err != nil {
		return err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	<-ctx.Done()
	return nil
}

// natsConsumeLoop: a durable pull consumer; Fetch 256, write, fsync, Ack
// each.
func natsConsumeLoop(ctx context.Context) error {
	nc, err := natsgo.Connect(*addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, *target, jetstream.ConsumerConfig{Durable: filepath.Base(*out),
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1024, AckWait: 30 * time.Second})
	if err != nil {
		return err
	}
	w, err := create()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for ctx.Err() == nil {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return err
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			w.line(m.Data())
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, natsgo.ErrTimeout) && ctx.Err() == nil {
			return err
		}
		if err := w.sync(); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := m.Ack(); err != nil {
				return err
			}
		}
	}
	return nil
}

// mqttProduceLoop: QoS 1 publishes, up to 1000 in flight.
func mqttProduceLoop(ctx context.Context) error {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(*addr).SetClientID("plain-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	fmt.Println("ready")
	toks := make([]paho.Token, 0, 1000)
	wait := func() error {
		for _, tok := range toks {
			if tok.Wait(); tok.Error() != nil {
				return tok.Error()
			}
		}
		toks = toks[:0]
		return nil
	}
	err := scan(func(b []byte) error {
		toks = append(toks, c.Publish(*target, 1, false, append([]byte(nil), b...)))
		if len(toks) == cap(toks) {
			return wait()
		}
		return nil
	})
	if err == nil {
		err = wait()
	}
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// mqttConsumeLoop: resumes the persistent session of client id *target
// (topic bench/in); writes each message, fsyncs every 256 and at a pause.
// paho acknowledges each on return from the handler (its default).
func mqttConsumeLoop(ctx context.Context) error {
	w, err := create()
	if err != nil {
		return err
	}
	msgs := make(chan []byte, 1024)
	o := paho.NewClientOptions().AddBroker(*addr).SetClientID(*target).SetCleanSession(false).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { msgs <- m.Payload() })
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	fmt.Println("ready")
	n := 0
	for {
		select {
		case b := <-msgs:
			w.line(b)
			if n++; n%256 == 0 {
				if err := w.sync(); err != nil {
					return err
				}
			}
		case <-time.After(20 * time.Millisecond):
			if err := w.sync(); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
