package daemon

import (
	"testing"
	"time"
)

// pause waits for the Send in progress, holds a new one back until
// resume, and gives up (letting Sends through) when a Send in progress
// does not return by the deadline.
func TestGate(t *testing.T) {
	g := newGate()
	g.enter()
	left := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(left)
		g.leave()
	}()
	if !g.pause(time.Now().Add(10 * time.Second)) {
		t.Fatal("pause gave up on a Send that returned")
	}
	select {
	case <-left:
	default:
		t.Fatal("pause returned while a Send was in progress")
	}
	entered := make(chan struct{})
	go func() { g.enter(); close(entered) }()
	select {
	case <-entered:
		t.Fatal("a Send went through a paused gate")
	case <-time.After(20 * time.Millisecond):
	}
	g.resume()
	<-entered // now in progress, and never leaves
	start := time.Now()
	if g.pause(start.Add(30 * time.Millisecond)) {
		t.Fatal("pause did not give up on a Send in progress")
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("pause gave up before its deadline")
	}
	g.enter() // let through again after giving up
	g.leave()
	g.leave()
}
