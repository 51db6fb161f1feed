package deadline

import (
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	var d Deadline
	if d.Exceeded() {
		t.Fatal("zero Deadline exceeded")
	}
	d.Set(time.Now().Add(20 * time.Millisecond))
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("deadline did not pass")
	}
	d.Set(time.Time{}) // cleared: a new, open channel
	if d.Exceeded() {
		t.Fatal("cleared deadline still exceeded")
	}
	ch := d.Done()
	d.Set(time.Now().Add(-time.Second)) // in the past: at once
	select {
	case <-ch:
	default:
		t.Fatal("a past deadline did not close the channel a waiter holds")
	}
	d.Set(time.Now().Add(time.Hour))
	d.Set(time.Now().Add(10 * time.Millisecond)) // moved earlier
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("moved deadline did not pass")
	}
	d.Set(time.Now().Add(10 * time.Millisecond))
	d.Set(time.Now().Add(time.Hour)) // moved later: the old timer must not fire
	time.Sleep(30 * time.Millisecond)
	if d.Exceeded() {
		t.Fatal("the earlier timer fired after the deadline moved later")
	}
	d.Stop()
}
