package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/kafka"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/builtin"
	"github.com/sluicehq/sluice/daemon/config"
	"github.com/sluicehq/sluice/event"
	"github.com/sluicehq/sluice/internal/syncbuf"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestConformance runs the suite on a source and a destination over one
// topic (one partition, so that order holds) and one group per subtest.
func TestConformance(t *testing.T) {
	c := newCluster(t, 1)
	sluicetest.Suite[event.Event]{
		Features: sluicetest.Features{Durable: true, Ordered: true, ConcurrentRecv: true, ConcurrentSend: true, Binary: true},
		NewPair: func(t *testing.T, name string) (sluice.Source[event.Event], sluice.Destination[event.Event]) {
			topic := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
					return r
				}
				return '-'
			}, name)
			if _, ok := topics.LoadOrStore(topic, true); !ok {
				createTopic(t, c, 1, topic)
			}
			src, err := kafka.NewSource(srcConfig(c, topic, topic))
			if err != nil {
				t.Fatal(err)
			}
			dst, err := kafka.NewDestination(kafka.DestinationConfig{Brokers: c.ListenAddrs(), Topic: topic})
			if err != nil {
				t.Fatal(err)
			}
			return src, dst
		},
		Wrap: func(p []byte) sluice.Message[event.Event] {
			return sluice.Message[event.Event]{Value: event.Event{Raw: p}}
		},
		Unwrap: func(m sluice.Message[event.Event]) []byte { return m.Value.Raw },
	}.Run(t)
}

var topics sync.Map // the conformance suite's topics, made once each

// TestCommitsContiguousWatermark acks out of order: the committed offset
// stops at the first record not acked, whatever was acked after it.
func TestCommitsContiguousWatermark(t *testing.T) {
	c := newCluster(t, 1, "logs")
	produce(t, client(t, c), "logs", values("line", 10), nil)
	src, err := kafka.NewSource(srcConfig(c, "g", "logs"))
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	_, acks := recvN(t, src, 10, 10*time.Second)
	for _, i := range []int{0, 1, 2, 5, 6, 7, 8, 9} {
		acks[i]()
	}
	waitFor(t, 5*time.Second, "offset 3 committed", func() bool { return committed(t, c, "g", "logs")[0] == 3 })
	acks[3]()
	waitFor(t, 5*time.Second, "offset 4 committed", func() bool { return committed(t, c, "g", "logs")[0] == 4 })
	// 4 is still in flight: 5 to 9, acked, are not committed.
	if got := committed(t, c, "g", "logs")[0]; got != 4 {
		t.Fatalf("committed %d with record 4 not acked, want 4", got)
	}
	acks[4]()
	acks[4]() // a second ack has no effect
	waitFor(t, 5*time.Second, "offset 10 committed", func() bool { return committed(t, c, "g", "logs")[0] == 10 })
}

// TestRestartResumesFromCommitted: records received and not acked are
// delivered again by a new source in the group, and acked ones are not.
func TestRestartResumesFromCommitted(t *testing.T) {
	c := newCluster(t, 1, "logs")
	produce(t, client(t, c), "logs", values("line", 6), nil)
	src, _ := kafka.NewSource(srcConfig(c, "g", "logs"))
	stop := runSource(t, src)
	msgs, acks := recvN(t, src, 6, 10*time.Second)
	for i := range 3 {
		acks[i]()
	}
	stop()
	if got := committed(t, c, "g", "logs")[0]; got != 3 {
		t.Fatalf("after stop, committed %d, want 3", got)
	}
	if m, _, err := src.Recv(t.Context()); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after Run returned: %q, %v; want io.EOF", m.Value.Raw, err)
	}
	src2, _ := kafka.NewSource(srcConfig(c, "g", "logs"))
	runSource(t, src2)
	again, _ := recvN(t, src2, 3, 10*time.Second)
	for i, m := range again {
		if want := msgs[3+i].Value.Raw; !bytes.Equal(m.Value.Raw, want) {
			t.Errorf("after restart, record %d is %q, want %q", i, m.Value.Raw, want)
		}
	}
}

// TestRevokeCommitsAckedAndDropsInFlight creates the dangerous moment: a
// member holds records of a partition, some acked, some handed out and not
// acked, some still queued, when a second member joins and the partition
// moves. The revoke commits exactly the acked watermark; the queued
// records are never handed out by the first member; the late acks of the
// ones in flight are not committed by it; and the new owner reads from the
// watermark, so nothing is lost.
func TestRevokeCommitsAckedAndDropsInFlight(t *testing.T) {
	c := newCluster(t, 2, "logs")
	const per = 50
	cl := client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		recs := make([]*kgo.Record, per)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "logs", Partition: p, Value: fmt.Appendf(nil, "p%d-%03d", p, i)}
		}
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfgA := srcConfig(c, "g", "logs")
	cfgA.MaxPending = 2 * per // room for everything: records queue up
	cfgA.CommitInterval = time.Hour
	var dropped sync.Map
	a, _ := kafka.NewSource(cfgA, kafka.WithSourceHooks(kafka.SourceHooks{Dropped: func(n int) {
		v, _ := dropped.LoadOrStore("n", new(int))
		*v.(*int) += n
	}}))
	runSource(t, a)
	// Take 10 records of each partition; ack the first 4 and the 8th of each.
	got := map[byte][]func(){}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for len(got['0']) < 10 || len(got['1']) < 10 {
		m, ack, err := a.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Value.Raw[1]
		if len(got[p]) < 10 {
			got[p] = append(got[p], ack)
		} // records past the 10th stay unacked, like those queued
	}
	for _, p := range []byte{'0', '1'} {
		for _, i := range []int{0, 1, 2, 3, 7} {
			got[p][i]()
		}
	}
	// B joins: one partition moves to it.
	cfgB := srcConfig(c, "g", "logs")
	b, _ := kafka.NewSource(cfgB)
	runSource(t, b)
	first, _ := recvN(t, b, 1, 15*time.Second)
	moved := first[0].Value.Raw[1]
	if want := fmt.Sprintf("p%c-004", moved); string(first[0].Value.Raw) != want {
		t.Fatalf("the new owner starts at %q, want %q (the acked watermark)", first[0].Value.Raw, want)
	}
	movedP := int32(moved - '0')
	if got := committed(t, c, "g", "logs")[movedP]; got != 4 {
		t.Fatalf("revoke committed %d for partition %d, want 4", got, movedP)
	}
	// A's late acks of the moved partition are not committed by A.
	for _, ack := range got[moved] {
		ack()
	}
	// A hands out no more records of the moved partition.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	for {
		m, _, err := a.Recv(ctx2)
		if err != nil {
			break
		}
		if m.Value.Raw[1] == moved {
			t.Fatalf("after the revoke, A handed out %q of the moved partition", m.Value.Raw)
		}
	}
	if v, ok := dropped.Load("n"); !ok || *v.(*int) == 0 {
		t.Errorf("no queued record of the moved partition was counted as dropped")
	}
	if got := committed(t, c, "g", "logs")[movedP]; got != 4 {
		t.Fatalf("after A's late acks, partition %d committed at %d, want 4 (B acked nothing)", movedP, got)
	}
}

func values(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s %05d", prefix, i)
	}
	return out
}

// TestStartAt: with "end", a group with no commit skips what is there.
// TestStartAtEndStoppedEarly stops a member that started at the end of a
// partition with no committed offset after it handed a record on and
// before it acked any, as a SIGKILL then does (neither commits): the end
// it started at must already be committed, so that the restart reads that
// record and those produced while it was down, instead of resolving a new
// end and skipping them.
func TestStartAtEndStoppedEarly(t *testing.T) {
	c := newCluster(t, 1, "logs")
	cl := client(t, c)
	produce(t, cl, "logs", values("old", 3), nil)
	cfg := srcConfig(c, "g", "logs")
	cfg.StartAt = "end"
	src, _ := kafka.NewSource(cfg)
	stop := runSource(t, src)
	waitFor(t, 10*time.Second, "assignment", func() bool { return groupAssigned(t, c, "g") })
	// As in TestStartAt: records keep coming until one is handed on.
	ctx, cancel := context.WithCancel(t.Context())
	var producing sync.WaitGroup
	producing.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: fmt.Appendf(nil, "mid %05d", i)})
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	first, _ := recvN(t, src, 1, 10*time.Second) // handed on, never acked
	cancel()
	producing.Wait()
	stop()
	// The end it started at is 3, or more if "mid" records were produced
	// before its assignment listed the end (the group shows the member
	// assigned a moment before): never past the record it handed on,
	// "mid i" at offset 3+i, which was not acked.
	var i int64
	if _, err := fmt.Sscanf(string(first[0].Value.Raw), "mid %d", &i); err != nil {
		t.Fatalf("handed on %q, want a mid record", first[0].Value.Raw)
	}
	if got := committed(t, c, "g", "logs")[0]; got < 3 || got > 3+i {
		t.Errorf("committed offset after a stop that acked nothing: %d, want the end it started at, 3 to %d (the record handed on, not acked)", got, 3+i)
	}
	produce(t, cl, "logs", values("new", 2), nil)

	src2, _ := kafka.NewSource(cfg)
	runSource(t, src2)
	seen := map[string]bool{}
	for !seen["new 00001"] {
		rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
		m, _, err := src2.Recv(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("after restart, Recv: %v; read %v", err, seen)
		}
		seen[string(m.Value.Raw)] = true
	}
	for _, want := range []string{string(first[0].Value.Raw), "new 00000"} {
		if !seen[want] {
			t.Errorf("after restart, %q was not read again (read %v)", want, seen)
		}
	}
}

func TestStartAt(t *testing.T) {
	for _, tc := range []struct {
		startAt string
		want    string
	}{{"beginning", "old 00000"}, {"end", "new 00000"}} {
		t.Run(tc.startAt, func(t *testing.T) {
			c := newCluster(t, 1, "logs")
			cl := client(t, c)
			produce(t, cl, "logs", values("old", 3), nil)
			cfg := srcConfig(c, "g", "logs")
			cfg.StartAt = tc.startAt
			src, _ := kafka.NewSource(cfg)
			runSource(t, src)
			waitFor(t, 10*time.Second, "ready", func() bool { return src.NotReady() == "" })
			if tc.startAt == "beginning" {
				produce(t, cl, "logs", values("new", 1), nil)
			} else {
				// "end" is resolved when the member first lists the
				// partition's offsets, a moment after its assignment: a
				// record produced before that is "before the end" too.
				// New records keep coming until one arrives; none of the
				// old ones may come first.
				waitFor(t, 10*time.Second, "assignment", func() bool { return groupAssigned(t, c, "g") })
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go func() {
					for ctx.Err() == nil {
						cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: []byte("new 00000")})
						select {
						case <-ctx.Done():
						case <-time.After(200 * time.Millisecond):
						}
					}
				}()
			}
			msgs, _ := recvN(t, src, 1, 10*time.Second)
			if got := string(msgs[0].Value.Raw); got != tc.want {
				t.Errorf("first record %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRunErrors: what fails the start at once, and how it reads.
func TestRunErrors(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "right"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// kfake closes the connection on a wrong password; Kafka answers
	// SASL_AUTHENTICATION_FAILED, which is what the source must explain.
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		if parts := bytes.Split(r.SASLAuthBytes, []byte{0}); len(parts) == 3 && string(parts[2]) != "right" {
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("Authentication failed: Invalid username or password")
			return resp, nil, true
		}
		return nil, nil, false
	})
	sasl := func(user, pass string) *kafka.SASLConfig {
		return &kafka.SASLConfig{Mechanism: "PLAIN", User: user, Password: config.Secret(pass)}
	}
	for _, tc := range []struct {
		name   string
		topic  string
		sasl   *kafka.SASLConfig
		want   string
		secret string
	}{
		{"unknown topic", "nope", sasl("admin", "right"), `kafka source: topic "nope" does not exist on brokers`, ""},
		{"wrong password", "logs", sasl("admin", "wrong"), `SASL authentication failed for sasl.user "admin": check sasl.user and sasl.password`, "wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srcConfig(c, "g", tc.topic)
			cfg.SASL = tc.sasl
			src, err := kafka.NewSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err = src.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestBrokerDownAtStart: with no broker listening, the source is not
// ready, says which brokers it tries, and logs each retry; once a broker
// comes up on that address it consumes.
func TestBrokerDownAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var logs syncbuf.Buffer
	cfg := kafka.SourceConfig{Brokers: []string{addr}, Topics: []string{"logs"}, Group: "g", SessionTimeout: 3 * time.Second}
	src, _ := kafka.NewSource(cfg, kafka.WithSourceLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if why := src.NotReady(); why == "" {
		t.Fatal("ready before Run")
	}
	runSource(t, src)
	waitFor(t, 10*time.Second, "a retry logged", func() bool { return strings.Contains(logs.String(), "cannot reach the cluster; retrying") })
	if why := src.NotReady(); !strings.Contains(why, addr) {
		t.Errorf("NotReady = %q, want it to name %s", why, addr)
	}
	if !strings.Contains(logs.String(), "brokers="+addr) {
		t.Errorf("the retry log does not name the broker:\n%s", logs.String())
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "logs"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	produce(t, client(t, c), "logs", values("line", 1), nil)
	waitFor(t, 30*time.Second, "ready", func() bool { return src.NotReady() == "" })
	recvN(t, src, 1, 10*time.Second)
}

// TestInstanceIDFile: the first Run makes the static membership id and
// keeps it; the next Run uses it.
func TestInstanceIDFile(t *testing.T) {
	c := newCluster(t, 1, "logs")
	path := filepath.Join(t.TempDir(), "kafka", "in.instance-id")
	var ids []string
	for range 2 {
		src, _ := kafka.NewSource(srcConfig(c, "g", "logs"), kafka.WithInstanceIDFile(path))
		stop := runSource(t, src)
		waitFor(t, 10*time.Second, "ready", func() bool { return src.NotReady() == "" })
		stop()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(b))
	}
	if ids[0] != ids[1] || !strings.HasPrefix(ids[0], "sluiced-") {
		t.Errorf("instance ids %q: want one, kept", ids)
	}
}

// TestReadyz: in the daemon, a kafka source whose brokers are down keeps
// /readyz at 503, naming the source and the brokers, until a broker is up.
func TestReadyz(t *testing.T) {
	port, admin := freePort(t), freePort(t)
	broker := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"dataDir": %q, "admin": {"addr": "127.0.0.1:%d"},
		"sources": {"in": {"type": "kafka", "brokers": [%q], "topics": ["logs"], "sessionTimeout": "3s"}},
		"destinations": {"out": {"type": "file", "path": %q}}}`, dir, admin, broker, filepath.Join(dir, "out.ndjson"))
	d, err := daemon.New([]byte(cfg), builtin.Registry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	readyz := func() (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", admin))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := "not ready: source in: connecting to brokers " + broker
	waitFor(t, 10*time.Second, "/readyz naming the brokers", func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, want)
	})
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "logs"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitFor(t, 30*time.Second, "/readyz ready", func() bool { code, _ := readyz(); return code == http.StatusOK })
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestCleanStopLeavesGroup: a static member that stops cleanly leaves
// the group, so its partitions move at once rather than after the
// session timeout (30s here, longer than the test waits).
func TestCleanStopLeavesGroup(t *testing.T) {
	c := newCluster(t, 2, "logs")
	cfg := srcConfig(c, "g", "logs")
	cfg.SessionTimeout = 30 * time.Second
	a, _ := kafka.NewSource(cfg, kafka.WithInstanceIDFile(filepath.Join(t.TempDir(), "a.id")))
	stopA := runSource(t, a)
	waitFor(t, 10*time.Second, "a to own the partitions", func() bool { return groupAssigned(t, c, "g") })
	b, _ := kafka.NewSource(cfg, kafka.WithInstanceIDFile(filepath.Join(t.TempDir(), "b.id")))
	runSource(t, b)
	waitFor(t, 15*time.Second, "both members to own a partition", func() bool { return membersAssigned(t, c, "g") == 2 })
	stopA()
	cl := client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "logs", Partition: 0, Value: []byte("p0")},
		&kgo.Record{Topic: "logs", Partition: 1, Value: []byte("p1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	msgs, _ := recvN(t, b, 2, 10*time.Second)
	got := map[string]bool{string(msgs[0].Value.Raw): true, string(msgs[1].Value.Raw): true}
	if !got["p0"] || !got["p1"] {
		t.Errorf("b read %v, want the records of both partitions", got)
	}
}

// TestGroupNotAuthorized: a group the user may not join fails Run with an
// error naming the group, instead of a source that never consumes.
func TestGroupNotAuthorized(t *testing.T) {
	c := newCluster(t, 1, "logs")
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil, true
	})
	src, _ := kafka.NewSource(srcConfig(c, "forbidden", "logs"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := src.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `group "forbidden": not authorized`) {
		t.Fatalf("Run = %v, want an authorization error naming the group", err)
	}
}

// TestSessionTimeoutRefused: a sessionTimeout outside the brokers' range
// fails Run naming the field, rather than a join retried for ever (with
// three log lines at each attempt) while nothing is consumed.
func TestSessionTimeoutRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := srcConfig(c, "g", "logs")
	cfg.SessionTimeout = time.Second // kfake's group.min.session.timeout.ms is 6s, as Kafka's
	src, _ := kafka.NewSource(cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = src.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "refuse sessionTimeout 1s") {
		t.Fatalf("Run = %v, want an error naming sessionTimeout", err)
	}
}

// TestStartAtEndNotSaved: a member starting at the end of a partition with
// no committed offset, whose commit of that start fails (the commit itself,
// or listing the end offset), hands on no record of the partition before a
// start at or before that record is committed. Once the failure clears it
// consumes; if it never does within StartTimeout, Run fails saying why and
// nothing was handed on.
func TestStartAtEndNotSaved(t *testing.T) {
	const never = `kafka source: startAt "end": could not commit where partition logs[0] starts within 3s (startTimeout), so none of its records was handed on: `
	for _, tc := range []struct {
		name  string
		key   kmsg.Key // the request that fails
		fails int      // how many times; -1: always
		want  string   // the start of Run's error; "": it consumes
	}{
		{name: "nothing fails", key: kmsg.OffsetCommit},
		{name: "commit fails once", key: kmsg.OffsetCommit, fails: 1},
		{name: "commit fails past the assignment", key: kmsg.OffsetCommit, fails: 5},
		{name: "listing fails", key: kmsg.ListOffsets, fails: 3},
		{name: "commit never succeeds", key: kmsg.OffsetCommit, fails: -1, want: never},
		{name: "listing never succeeds", key: kmsg.ListOffsets, fails: -1, want: never},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, "logs")
			cl := client(t, c)
			produce(t, cl, "logs", values("old", 3), nil)
			var left atomic.Int32
			left.Store(int32(tc.fails))
			var start atomic.Int64 // the offset of the first commit let through
			start.Store(-1)
			var passed atomic.Int32 // commits let through
			hook := func(key kmsg.Key) {
				c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					if n := left.Load(); key == tc.key && n != 0 {
						if n > 0 {
							left.Add(-1)
						}
						return failedResponse(req), nil, true
					}
					if r, ok := req.(*kmsg.OffsetCommitRequest); ok {
						passed.Add(1)
						for _, t := range r.Topics {
							for _, p := range t.Partitions {
								start.CompareAndSwap(-1, p.Offset)
							}
						}
					}
					return nil, nil, false
				})
			}
			hook(kmsg.OffsetCommit)
			if tc.key != kmsg.OffsetCommit {
				hook(tc.key)
			}
			cfg := srcConfig(c, "g", "logs")
			cfg.StartAt, cfg.StartTimeout = "end", time.Minute
			if tc.want != "" {
				cfg.StartTimeout = 3 * time.Second
			}
			src, err := kafka.NewSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			// Records keep coming, each offset noted, until the test ends.
			var offsets sync.Map
			var producing sync.WaitGroup
			t.Cleanup(producing.Wait)
			t.Cleanup(cancel)
			producing.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					v := fmt.Sprintf("mid %05d", i)
					if r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: []byte(v)}).First(); err == nil {
						offsets.Store(v, r.Offset)
					}
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
			})
			got := make(chan sluice.Message[event.Event], 1)
			go func() {
				if m, _, err := src.Recv(ctx); err == nil {
					got <- m
				}
			}()
			if tc.want != "" {
				// Meanwhile /readyz says why nothing comes.
				waitFor(t, 10*time.Second, "NotReady to name the unsaved partition and the broker's error", func() bool {
					why := src.NotReady()
					return strings.HasPrefix(why, `startAt "end": where partition logs[0] starts is not committed yet, so none of its records is handed on (last failure: `) &&
						strings.Contains(why, kerr.UnknownServerError.Message)
				})
				select {
				case err := <-done:
					done <- err
					t.Logf("Run: %v", err)
					if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), kerr.UnknownServerError.Message) {
						t.Errorf("Run: got %v, want %q and the broker's error", err, tc.want)
					}
				case m := <-got:
					t.Fatalf("%q handed on though no start was committed (%d)", m.Value.Raw, start.Load())
				case <-time.After(30 * time.Second):
					t.Fatal("Run did not fail within 30s though the start was never committed")
				}
				select {
				case m := <-got:
					t.Errorf("%q handed on though no start was committed", m.Value.Raw)
				default:
				}
				return
			}
			var m sluice.Message[event.Event]
			select {
			case m = <-got:
			case err := <-done:
				t.Fatalf("Run: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("no record within 30s")
			}
			if why := src.NotReady(); why != "" {
				t.Errorf("NotReady = %q once a record is handed on", why)
			}
			saved := start.Load()
			off, ok := offsets.Load(string(m.Value.Raw))
			switch {
			case string(m.Value.Raw) < "mid":
				t.Errorf("%q handed on: a record from before the start", m.Value.Raw)
			case saved < 0:
				t.Errorf("%q handed on before any start was committed", m.Value.Raw)
			case ok && saved > off.(int64):
				t.Errorf("%q (offset %d) handed on, but the start committed is %d, after it", m.Value.Raw, off, saved)
			}
			if n := passed.Load(); n != 1 {
				t.Errorf("%d commits let through before any ack, want 1: the start", n)
			}
			if n := left.Load(); n != 0 {
				t.Errorf("%d of the %d failures left: the source did not try again", n, tc.fails)
			}
			if g, ok := committed(t, c, "g", "logs")[0]; !ok || g != saved {
				t.Errorf("committed offset %d (%v), want %d, the start let through", g, ok, saved)
			}
		})
	}
}

// failedResponse answers an OffsetCommit or ListOffsets request with
// UNKNOWN_SERVER_ERROR for each of its partitions.
func failedResponse(req kmsg.Request) kmsg.Response {
	code := kerr.UnknownServerError.Code
	switch r := req.(type) {
	case *kmsg.OffsetCommitRequest:
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.ListOffsetsRequest:
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewListOffsetsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	panic(fmt.Sprintf("failedResponse: %T", req))
}

// TestStartAtEndUnsavedRebalance: a member whose commits all fail waits
// in its fetch loop with records it may not hand on. The group still
// rebalances when a second member joins: that member consumes its share
// from a committed start, and the first hands on no record at all.
func TestStartAtEndUnsavedRebalance(t *testing.T) {
	c := newCluster(t, 2, "logs")
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if id := req.(*kmsg.OffsetCommitRequest).InstanceID; id != nil && *id == "a" {
			return failedResponse(req), nil, true
		}
		return nil, nil, false
	})
	cl := client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	cfg := srcConfig(c, "g", "logs")
	cfg.StartAt, cfg.InstanceID = "end", "a"
	a, err := kafka.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, a)
	waitFor(t, 10*time.Second, "assignment", func() bool { return groupAssigned(t, c, "g") })
	ctx, cancel := context.WithCancel(t.Context())
	var producing sync.WaitGroup
	t.Cleanup(producing.Wait)
	t.Cleanup(cancel)
	producing.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Partition: int32(i % 2), Value: fmt.Appendf(nil, "mid %05d", i)})
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	handed := make(chan string, 1)
	go func() {
		if m, _, err := a.Recv(ctx); err == nil {
			handed <- string(m.Value.Raw)
		}
	}()
	time.Sleep(time.Second) // records are fetched; a's fetch loop waits on its failing commit
	cfg.InstanceID = "b"
	b, err := kafka.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, b)
	recvN(t, b, 1, 30*time.Second)
	if got := membersAssigned(t, c, "g"); got != 2 {
		t.Errorf("%d members with partitions, want 2", got)
	}
	select {
	case v := <-handed:
		t.Errorf("member a handed on %q though none of its starts was committed", v)
	default:
	}
}
