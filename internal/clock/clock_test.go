package clock

import (
	"runtime"
	"testing"
	"time"
)

func TestFakeOrderAndNow(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	var got []time.Duration
	record := func() { got = append(got, f.Now().Sub(start)) }
	f.AfterFunc(300*time.Millisecond, record)
	f.AfterFunc(100*time.Millisecond, record)
	stopped := f.AfterFunc(200*time.Millisecond, record)
	f.AfterFunc(100*time.Millisecond, func() {
		record()
		f.AfterFunc(50*time.Millisecond, record) // started by a timer, due within the same Advance
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a pending timer must return true once")
	}
	if f.Pending() != 3 {
		t.Fatalf("Pending = %d", f.Pending())
	}
	if d, ok := f.Next(); !ok || d != 100*time.Millisecond {
		t.Fatalf("Next = %v %v", d, ok)
	}
	f.Advance(99 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	f.Advance(time.Second)
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	}
	if f.Now().Sub(start) != 1099*time.Millisecond {
		t.Fatalf("Now = %v after advancing 1099ms", f.Now().Sub(start))
	}
}

func TestFakeReset(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	n := 0
	tm := f.AfterFunc(time.Second, func() { n++ }).(*fakeTimer)
	if !tm.Reset(2 * time.Second) {
		t.Fatal("Reset of an active timer returned false")
	}
	f.Advance(1500 * time.Millisecond)
	if n != 0 {
		t.Fatal("timer fired at its old deadline")
	}
	f.Advance(time.Second)
	if n != 1 {
		t.Fatalf("fired %d times", n)
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a fired timer returned true")
	}
	f.Advance(time.Second)
	if n != 2 {
		t.Fatal("timer reset after firing did not fire again")
	}
}

func TestSystem(t *testing.T) {
	c := System()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(time.Minute): // a wait, not a bound: it ends when the timer fires
		t.Fatal("system timer did not fire")
	}
	before := time.Now()
	now := c.Now()
	if after := time.Now(); now.Before(before) || now.After(after) {
		t.Fatalf("system Now %v, not between %v and %v", now, before, after)
	}
}

// TestSleep: Sleep returns true once the clock has advanced by d, not
// before, and false as soon as quit closes, leaving no timer behind.
func TestSleep(t *testing.T) {
	f := NewFake(time.Unix(1000, 0))
	quit := make(chan struct{})
	done := make(chan bool, 1)
	go func() { done <- Sleep(f.AfterFunc, time.Second, quit) }()
	for f.Pending() == 0 {
		runtime.Gosched()
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("Sleep returned before its delay")
	default:
	}
	f.Advance(time.Millisecond)
	if !<-done {
		t.Fatal("Sleep reported quit after its delay passed")
	}
	go func() { done <- Sleep(f.AfterFunc, time.Second, quit) }()
	for f.Pending() == 0 {
		runtime.Gosched()
	}
	close(quit)
	if <-done {
		t.Fatal("Sleep reported its delay after quit closed")
	}
	if n := f.Pending(); n != 0 {
		t.Fatalf("%d timers pending after Sleep returned", n)
	}
}
