package store

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/event"
)

// heldDL is a dead letter that takes messages and keeps their ack until
// the test acks, or refuses them with err.
type heldDL struct {
	err  error
	msgs []sluice.Message[event.Event]
	ack  func()
}

func (d *heldDL) Send(_ context.Context, ack func(), msgs ...sluice.Message[event.Event]) error {
	if d.err != nil {
		return d.err
	}
	d.msgs, d.ack = append(d.msgs, msgs...), ack
	return nil
}

// TestDeadLetterRejectedWaitsForTheAck: a store's flush that set items
// aside for the dead letter returns, and so lets its batch be acked, only
// once the dead letter acked them; if the dead letter refuses them, or the
// flush's context ends first (a stop), it returns an error, so that the
// batch is not acked and its source sends it again.
func TestDeadLetterRejectedWaitsForTheAck(t *testing.T) {
	down := errors.New("dead letter down")
	for _, c := range []struct {
		name    string
		dlErr   error
		stop    bool // end the context instead of acking
		wantErr error
	}{
		{name: "acked"},
		{name: "refused", dlErr: down, wantErr: down},
		{name: "stopped first", stop: true, wantErr: context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dl := &heldDL{err: c.dlErr}
				o := Apply([]Option{WithDeadLetter(dl)})
				msgs := []sluice.Message[event.Event]{{Value: event.Event{Raw: []byte("ok")}}, {Value: event.Event{Raw: []byte("bad")}}}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				done := make(chan error, 1)
				go func() {
					done <- DeadLetterRejected(ctx, "test", "items rejected", &o, msgs, []Rejected{{I: 1, Reason: "mapping"}}, 2)
				}()
				synctest.Wait()
				if c.dlErr == nil {
					select {
					case err := <-done:
						t.Fatalf("returned %v before the dead letter acked", err)
					default:
					}
					if len(dl.msgs) != 1 || string(dl.msgs[0].Value.Raw) != "bad" || dl.msgs[0].Attributes.Value("error") != "mapping" ||
						dl.msgs[0].Attributes.Value("batch.attempts") != "2" {
						t.Fatalf("the dead letter got %+v", dl.msgs)
					}
					if c.stop {
						cancel()
					} else {
						dl.ack()
					}
				}
				err := <-done
				if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
					t.Errorf("got %v, want %v", err, c.wantErr)
				}
			})
		})
	}
}
