// Package rxloop is the decision logic of a socket's receive path, with no
// I/O: when a receive loop backs off after an error and when it gives up
// (Backoff), and, for a socket its callers read themselves, when the
// watcher that waits for the socket to become readable signals the
// callers and when it waits again (Watch). The code that owns the socket
// performs what the methods return; the types only decide, so tests drive
// them with a fake clock and random schedules.
package rxloop

import "time"

// Defaults of a zero Backoff.
const (
	DefaultLimit = 8                      // consecutive errors before giving up
	DefaultBase  = 10 * time.Millisecond  // first delay
	DefaultMax   = 500 * time.Millisecond // longest delay
)

// Backoff counts a receive loop's consecutive persistent errors (errors
// other than "nothing queued" and the transient ones an ICMP message
// leaves on a socket): after each it tells how long to wait on the
// module's clock before reading again, doubling from Base up to Max, and
// after Limit in a row it tells the loop to give up. A successful read
// resets it. The zero value uses the defaults. It is not safe for
// concurrent use.
type Backoff struct {
	Limit     int
	Base, Max time.Duration
	n         int
}

// Fail records a persistent error. It returns how long to wait before the
// next read, or stop true when this was the Limit-th consecutive error:
// the loop must then stop its endpoint with the error as the cause.
func (b *Backoff) Fail() (delay time.Duration, stop bool) {
	limit, base, most := b.Limit, b.Base, b.Max
	if limit <= 0 {
		limit = DefaultLimit
	}
	if base <= 0 {
		base = DefaultBase
	}
	if most <= 0 {
		most = DefaultMax
	}
	most = max(most, base)
	b.n++
	if b.n >= limit {
		return 0, true
	}
	delay = base
	for i := 1; i < b.n && delay < most; i++ {
		delay *= 2
	}
	return min(delay, most), false
}

// OK records a read that worked (data or nothing queued): the count of
// consecutive errors starts again.
func (b *Backoff) OK() { b.n = 0 }

// Failures returns the number of consecutive errors recorded.
func (b *Backoff) Failures() int { return b.n }

// State is the state of a Watch.
type State uint8

const (
	// Armed: the watcher waits in the netpoller for the socket to become
	// readable, holding no buffer.
	Armed State = iota
	// Fired: the watcher has signalled the socket's consumers and is
	// parked; the consumers read the socket (GetPacket, Status) until a
	// read finds it empty.
	Fired
	// Delayed: a read failed; the watcher waits on the clock before it
	// arms again.
	Delayed
	// Stopped: the socket is closed, or the errors reached the Backoff's
	// limit.
	Stopped
)

var stateNames = [...]string{"Armed", "Fired", "Delayed", "Stopped"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// Action is what the owner of a Watch must do after a transition; several
// may be set.
type Action uint8

const (
	// Signal the socket's consumers: datagrams wait in the socket and no
	// one is reading it.
	Signal Action = 1 << iota
	// Arm wakes the parked watcher so that it waits for readability again.
	Arm
	// Wait: start a timer of the returned delay; when it fires, call
	// Elapsed.
	Wait
	// Stop the endpoint with the error that caused it.
	Stop
)

// Watch decides, for a socket that its callers read (no goroutine reads
// it), when the watcher goroutine signals the consumers and when it waits
// for readability again, so that no datagram waits unnoticed (whenever
// one is queued and no one is reading, the consumers have been signalled
// since, or the watcher is armed) and nothing spins (the watcher arms
// again only after a read found the socket empty or an error's delay has
// passed, and signals once per arming). Its owner serialises calls (a
// mutex) and performs the returned Action outside it or under it. The
// zero Watch is Armed.
type Watch struct {
	state   State
	Backoff Backoff
}

// State returns the current state.
func (w *Watch) State() State { return w.state }

// Readable is the watcher's report that the socket is readable. From
// Armed it moves to Fired and returns Signal (the watcher then parks until
// Arm); otherwise nothing.
func (w *Watch) Readable() Action {
	if w.state != Armed {
		return 0
	}
	w.state = Fired
	return Signal
}

// Read is a consumer's report after it read the socket without error.
// more says the read filled its batch, so datagrams may remain; otherwise
// the socket was empty when the read ended. From Fired, an empty socket
// moves to Armed (Arm); datagrams that may remain are signalled again
// (Signal), as the reader may not come back for them. In other states the
// watcher already looks (Armed) or will (Delayed).
func (w *Watch) Read(more bool) Action {
	w.Backoff.OK()
	if w.state != Fired {
		return 0
	}
	if more {
		return Signal
	}
	w.state = Armed
	return Arm
}

// Error is a report, by the watcher or by a consumer, that reading the
// socket failed with a persistent error. It returns Wait and the delay
// (then Elapsed), or Stop once the Backoff's limit is reached.
func (w *Watch) Error() (Action, time.Duration) {
	if w.state == Stopped {
		return 0, 0
	}
	d, stop := w.Backoff.Fail()
	if stop {
		w.state = Stopped
		return Stop, 0
	}
	w.state = Delayed
	return Wait, d
}

// Elapsed is the report that an error's delay has passed: from Delayed it
// moves to Armed (Arm).
func (w *Watch) Elapsed() Action {
	if w.state != Delayed {
		return 0
	}
	w.state = Armed
	return Arm
}

// Close moves to Stopped for good.
func (w *Watch) Close() { w.state = Stopped }
