package kafka_test

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/kafka"
)

// A record over maxMessageBytes is counted and not handed out, and its
// offset is committed with the others': the records after it arrive, and
// the group's offset moves past all three.
func TestOversizeRecord(t *testing.T) {
	c := newCluster(t, 1, "logs")
	produce(t, client(t, c), "logs", [][]byte{[]byte("small 1"), bytes.Repeat([]byte("b"), 2000), []byte("small 2")}, nil)
	cfg := srcConfig(c, "g", "logs")
	cfg.MaxMessageBytes = 1000
	var oversize atomic.Int64
	src, err := kafka.NewSource(cfg, kafka.WithSourceHooks(kafka.SourceHooks{Oversize: func() { oversize.Add(1) }}))
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	msgs, acks := recvN(t, src, 2, 10*time.Second)
	if string(msgs[0].Value.Raw) != "small 1" || string(msgs[1].Value.Raw) != "small 2" {
		t.Fatalf("got %q and %q, want the two small records", msgs[0].Value.Raw, msgs[1].Value.Raw)
	}
	for _, a := range acks {
		a()
	}
	waitFor(t, 5*time.Second, "offset 3 committed", func() bool { return committed(t, c, "g", "logs")[0] == 3 })
	if n := oversize.Load(); n != 1 {
		t.Errorf("oversize records counted: %d, want 1", n)
	}
	if n, field := cfg.RecordLimit(); n != 1000 || field != "maxMessageBytes" {
		t.Errorf("RecordLimit = %d, %q", n, field)
	}
}
