package dtlsrecord

// WindowSize is the number of sequence numbers the replay window covers
// below the highest one received (RFC 6347 §4.1.2.6 asks for at least 32).
const WindowSize = 64

// Window is the anti-replay window of one epoch (RFC 6347 §4.1.2.6): the
// highest sequence number authenticated so far and a bitmap of the
// WindowSize numbers at and below it. A record is checked (Check) before
// it is authenticated and marked (Accept) only after, so a forged record
// moves nothing. The zero Window has seen nothing. Not safe for
// concurrent use.
type Window struct {
	top  uint64 // highest accepted sequence number
	bits uint64 // bit i: top-i was accepted
	used bool
}

// Check reports whether seq is new: above the window, or inside it and
// not yet accepted. Older than the window is not new.
func (w *Window) Check(seq uint64) bool {
	if !w.used || seq > w.top {
		return true
	}
	d := w.top - seq
	if d >= WindowSize {
		return false
	}
	return w.bits&(1<<d) == 0
}

// Accept marks seq as received; it slides the window when seq is above it.
func (w *Window) Accept(seq uint64) {
	switch {
	case !w.used:
		w.top, w.bits, w.used = seq, 1, true
	case seq > w.top:
		d := seq - w.top
		if d >= WindowSize {
			w.bits = 0
		} else {
			w.bits <<= d
		}
		w.bits |= 1
		w.top = seq
	default:
		if d := w.top - seq; d < WindowSize {
			w.bits |= 1 << d
		}
	}
}

// AcceptThrough marks every sequence number up to and including seq as
// received: the state of a window taken over from a record layer that
// reports only the highest number it took.
func (w *Window) AcceptThrough(seq uint64) {
	w.top, w.bits, w.used = seq, ^uint64(0), true
}
