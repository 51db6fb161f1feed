// Package deadline implements the read/write deadlines of net.Conn for
// mediaport's adapters: a channel that is closed when the deadline passes,
// and that a deadline set in the past closes at once (this is how pion/dtls
// cancels a blocked read from another goroutine). Deadlines run on the
// module's clock.
package deadline

import (
	"sync"
	"time"

	"github.com/mediaport/mediaport/internal/core"
)

// Deadline is a resettable deadline. The zero value has no deadline and
// runs on the system clock. It is safe for concurrent use.
type Deadline struct {
	// Clock tells the time a deadline is measured against and runs its
	// timer: the module's clock. Set it before the first Set; nil means
	// the system clock.
	Clock core.Clock

	mu    sync.Mutex
	timer core.Timer
	done  chan struct{}
	gen   uint64
}

func (d *Deadline) clock() core.Clock {
	if d.Clock == nil {
		return core.SystemClock
	}
	return d.Clock
}

// Set sets the deadline; the zero time removes it, a time not after now
// makes Done closed at once.
func (d *Deadline) Set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.done == nil || isClosed(d.done) {
		d.done = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	clk := d.clock()
	wait := t.Sub(clk.Now())
	if wait <= 0 {
		close(d.done)
		return
	}
	gen, done := d.gen, d.done
	d.timer = clk.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen && !isClosed(done) {
			close(done)
		}
	})
}

// Done returns a channel closed once the deadline has passed. Wait on the
// channel returned after the last Set; call Done again after a Set.
func (d *Deadline) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done == nil {
		d.done = make(chan struct{})
	}
	return d.done
}

// Exceeded reports whether the deadline has passed.
func (d *Deadline) Exceeded() bool { return isClosed(d.Done()) }

// Stop releases the timer.
func (d *Deadline) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
