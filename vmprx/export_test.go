package vmprx

import (
	"github.com/mediaport/mediaport/internal/rxloop"
)

// HoldPorts makes the readers of v's ports (its receive goroutines, or
// with CallerReads the callers and the watchers) wait until release is
// called, so that a benchmark can queue a backlog in the socket that
// nobody reads meanwhile.
func HoldPorts(v *VMPRx) (release func()) {
	var held []*port
	for i := range v.ports {
		if pt := v.ports[i].Load(); pt != nil {
			pt.mu.Lock()
			held = append(held, pt)
		}
	}
	return func() {
		for _, pt := range held {
			pt.mu.Unlock()
		}
	}
}

// WatchState returns the state of the watcher of v's RTP port (CallerReads).
func WatchState(v *VMPRx) rxloop.State {
	pt := v.ports[0].Load()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.w.State()
}
