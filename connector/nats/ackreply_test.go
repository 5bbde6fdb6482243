package nats

import (
	"testing"

	natsgo "github.com/nats-io/nats.go"
)

// ackReply reads what jetstream's Metadata reads (nats.go's own parser,
// also behind natsgo.Msg.Metadata, is the oracle).
func FuzzAckReply(f *testing.F) {
	for _, s := range []string{
		"$JS.ACK.LOGS.sluiced-in.1.42.42.1733560000000000000.7",
		"$JS.ACK.LOGS.sluiced-in.3.42.57.1733560000000000000.0",
		"$JS.ACK._.ACCHASH.LOGS.durable.2.1000.1001.1733560000000000000.5.rnd",
		"$JS.ACK.hub.ACCHASH.LOGS.durable.2.1000.1001.1733560000000000000.5",
		"$JS.ACK.LOGS.c.x.1.1.1.1",
		"$JS.ACK.LOGS.c.1.1.1.1",
		"$JS.ACK.a.b.c.d.e.f.g.h.i.j.k.l.m",
		"$JS.ACK.......",
		"$JS.NAK.LOGS.c.1.2.3.4.5",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		delivered, seq, ok := ackReply(s)
		md, err := (&natsgo.Msg{Reply: s, Sub: &natsgo.Subscription{}}).Metadata()
		if s == "" { // Metadata: no reply, not a bad one
			err = natsgo.ErrMsgNoReply
		}
		if ok != (err == nil) {
			t.Fatalf("ackReply(%q) ok = %v; Metadata: %v", s, ok, err)
		}
		if ok && (delivered != md.NumDelivered || seq != md.Sequence.Stream) {
			t.Fatalf("ackReply(%q) = %d, %d; Metadata: %d, %d", s, delivered, seq, md.NumDelivered, md.Sequence.Stream)
		}
	})
}

func TestAckReplyAllocs(t *testing.T) {
	const s = "$JS.ACK.LOGS.sluiced-in.3.42.57.1733560000000000000.0"
	if n := testing.AllocsPerRun(100, func() { ackReply(s) }); n != 0 {
		t.Errorf("ackReply allocates %v times, want 0", n)
	}
}
