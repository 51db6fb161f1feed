package deadline

import (
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/testutil"
)

func TestDeadline(t *testing.T) {
	var d Deadline
	if d.Exceeded() {
		t.Fatal("zero Deadline exceeded")
	}
	d.Set(time.Now().Add(20 * time.Millisecond))
	select {
	case <-d.Done():
	case <-time.After(testutil.Patience):
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
	case <-time.After(testutil.Patience):
		t.Fatal("moved deadline did not pass")
	}
	old := time.Now().Add(10 * time.Millisecond)
	d.Set(old)
	d.Set(time.Now().Add(time.Hour)) // moved later: the old timer must not fire
	// Once the old deadline has passed and no callback of an old timer is
	// still running (one that fired before the move runs; one stopped in
	// time never does), the channel must still be open.
	time.Sleep(time.Until(old))
	testutil.WaitNotIn(t, "deadline.(*Deadline).Set.func1")
	if d.Exceeded() {
		t.Fatal("the earlier timer fired after the deadline moved later")
	}
	d.Stop()
}

// fakeClock is internal/clock's Fake as the core sees a clock.
type fakeClock struct{ *clock.Fake }

func (f fakeClock) AfterFunc(d time.Duration, fn func()) core.Timer { return f.Fake.AfterFunc(d, fn) }

// TestDeadlineOnModuleClock: a deadline is measured against, and fires on,
// the clock it is given, not wall time.
func TestDeadlineOnModuleClock(t *testing.T) {
	start := time.Unix(1000, 0)
	fake := clock.NewFake(start)
	d := Deadline{Clock: fakeClock{fake}}
	d.Set(start.Add(time.Second))
	if d.Exceeded() {
		t.Fatal("exceeded before the clock moved (a wall-time deadline would be: start is in 1970)")
	}
	fake.Advance(999 * time.Millisecond)
	if d.Exceeded() {
		t.Fatal("exceeded 1 ms early")
	}
	fake.Advance(time.Millisecond)
	if !d.Exceeded() {
		t.Fatal("not exceeded at the deadline")
	}
	d.Set(start.Add(2 * time.Second)) // still in the fake future
	if d.Exceeded() {
		t.Fatal("a future deadline is exceeded")
	}
	d.Set(start.Add(5 * time.Second)) // moved later
	fake.Advance(2 * time.Second)
	if d.Exceeded() {
		t.Fatal("the earlier timer fired after the deadline moved later")
	}
	fake.Advance(2 * time.Second)
	if !d.Exceeded() {
		t.Fatal("moved deadline did not pass")
	}
	d.Set(fake.Now()) // not after now: at once
	if !d.Exceeded() {
		t.Fatal("a deadline at now is not exceeded")
	}
	d.Stop()
	if n := fake.Pending(); n != 0 {
		t.Fatalf("%d timers pending after Stop", n)
	}
}
