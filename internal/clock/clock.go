// Package clock is the time source of a mediaport module: the system clock in
// production, a manually advanced fake in tests.
//
// Every timer in mediaport (STUN retransmissions, TURN refreshes, cache
// expiry) is started through a Clock, so a test can run hours of protocol
// time in microseconds and never depends on the scheduler of a loaded machine.
package clock

import (
	"container/heap"
	"sync"
	"time"

	"github.com/mediaport/mediaport"
)

// Clock is the module's public clock type; Fake implements it.
type Clock = mediaport.Clock

// Timer is the module's public timer type.
type Timer = mediaport.Timer

// System returns the clock of the operating system (package time).
func System() Clock { return mediaport.SystemClock() }

// Fake is a Clock that moves only when Advance is called. Timers fire in
// deadline order (ties in creation order), synchronously, from the goroutine
// that calls Advance, with Now equal to their deadline while they run.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers fakeHeap
}

// NewFake returns a fake clock that reads start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc schedules fn to run when the fake time reaches Now()+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clock: f, fn: fn, index: -1}
	f.schedule(t, d)
	return t
}

func (f *Fake) schedule(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	f.seq++
	t.when = f.now.Add(d)
	t.seq = f.seq
	heap.Push(&f.timers, t)
}

// Advance moves the fake time forward by d, running every timer that falls
// due on the way, including timers that those timers start.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for len(f.timers) > 0 && !f.timers[0].when.After(end) {
		t := heap.Pop(&f.timers).(*fakeTimer)
		if t.when.After(f.now) {
			f.now = t.when
		}
		f.mu.Unlock()
		t.fn()
		f.mu.Lock()
	}
	if end.After(f.now) {
		f.now = end
	}
	f.mu.Unlock()
}

// Pending returns the number of timers that have not fired or been stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Next returns how long until the earliest pending timer, and false when no
// timer is pending.
func (f *Fake) Next() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.timers) == 0 {
		return 0, false
	}
	return f.timers[0].when.Sub(f.now), true
}

type fakeTimer struct {
	clock *Fake
	fn    func()
	when  time.Time
	seq   uint64
	index int // position in the heap, -1 when not scheduled
}

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&f.timers, t.index)
	return true
}

// Reset changes the timer to fire after d. It returns true if the timer
// had been active. (Fake's timers have it; Timer does not require it.)
func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	active := t.index >= 0
	if active {
		heap.Remove(&f.timers, t.index)
	}
	f.schedule(t, d)
	return active
}

type fakeHeap []*fakeTimer

func (h fakeHeap) Len() int { return len(h) }
func (h fakeHeap) Less(i, j int) bool {
	if h[i].when.Equal(h[j].when) {
		return h[i].seq < h[j].seq
	}
	return h[i].when.Before(h[j].when)
}
func (h fakeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *fakeHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *fakeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// Sleep waits d on a clock, given as its AfterFunc (a Clock's, or the
// module core's), and reports true; it returns false at once when quit
// closes first. The receive loops back off with it, so their delays run on
// the module's clock.
func Sleep[T interface{ Stop() bool }](afterFunc func(time.Duration, func()) T, d time.Duration, quit <-chan struct{}) bool {
	ch := make(chan struct{})
	t := afterFunc(d, func() { close(ch) })
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-quit:
		return false
	}
}
