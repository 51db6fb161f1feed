// Package event is the signalled-event-then-poll-status model that every
// mediaport endpoint uses, built on channels.
//
// Each endpoint owns one Event. The endpoint signals it when its status
// changes; the application waits on it (Wait, or C in a select) and then calls
// the endpoint's Status to learn what changed. Events are level-triggered, as
// Prosody's are: the endpoint signals again after Status or GetPacket while
// the cause remains (packets still queued, capacity still available), and once
// the endpoint has stopped its event is signalled permanently. A wake-up with
// nothing new to report is possible; a lost wake-up is not: a status change
// that happens after the application's last Status always leaves the event
// signalled.
//
// To wait on many endpoints without a goroutine each, attach their events to
// a Queue (an epoll-like ready list) and call Queue.Wait.
package event

import (
	"context"
	"sync"
	"sync/atomic"
)

// Event is the waitable side of an endpoint's event. Applications obtain it
// from the endpoint (Event methods) and never create one themselves; the
// endpoint keeps the Source that signals it.
//
// An Event is safe for concurrent use. It stays usable (permanently
// signalled) after its endpoint is destroyed, so a stale Event never panics.
type Event struct {
	mu      sync.Mutex    // guards ch and pending, serialises signalling with the permanent close
	ch      chan struct{} // created by the first C or Wait: capacity 1, a token means "signalled"; closed when permanent
	hasCh   atomic.Bool   // ch is made (it never changes after): Signal may look at it without mu
	stopped atomic.Bool   // signalled permanently
	pending atomic.Bool   // signalled before ch existed (written under mu)
	made    bool          // made by NewSource or Init (a zero Event is a nil handle)

	// m is the event's membership of a Queue, nil while it is attached to
	// none. Attach allocates it, so that an event never attached — most
	// endpoints' — costs 32 bytes; the channel is created lazily too.
	m atomic.Pointer[member]
}

// C returns a channel that can be received from while the event is
// signalled. A receive consumes one signal; once the event is signalled
// permanently every receive succeeds at once (the channel is closed).
//
// On a nil Event, or one no endpoint made, it returns nil.
func (e *Event) C() <-chan struct{} {
	if !e.live() {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ch == nil {
		e.ch = make(chan struct{}, 1)
		if e.stopped.Load() {
			close(e.ch)
		} else if e.pending.Load() {
			e.ch <- struct{}{}
		}
		e.pending.Store(false)
		e.hasCh.Store(true)
	}
	return e.ch
}

// Wait blocks until the event is signalled (consuming the signal) or ctx is
// done, in which case it returns ctx.Err(). A nil ctx never is done. On a
// nil Event, or one no endpoint made, it returns ErrNilEvent.
func (e *Event) Wait(ctx context.Context) error {
	if !e.live() {
		return ErrNilEvent
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ch := e.C()
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Permanent reports whether the event is signalled permanently, that is,
// whether its endpoint has reached its final status.
func (e *Event) Permanent() bool { return e != nil && e.stopped.Load() }

// live reports whether e is an Event an endpoint made.
func (e *Event) live() bool { return e != nil && e.made }

// signalled reports whether a receive on C would succeed now. The answer can
// be stale by the time it is used; callers only use it to avoid losing a
// wake-up, never to suppress one.
func (e *Event) signalled() bool {
	if e.stopped.Load() {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending.Load() || len(e.ch) > 0
}

// Source is the signalling side of an Event, kept by the endpoint that owns
// the event.
type Source struct {
	ev Event
}

// NewSource returns a Source with an unsignalled Event.
func NewSource() *Source {
	s := &Source{}
	s.ev.made = true
	return s
}

// Init makes s, a zero Source that its owner holds by value, a Source
// with an unsignalled Event, as NewSource does, without an allocation of
// its own. Call it before s is used or shared; s must not be copied after.
// On a nil Source it does nothing.
func (s *Source) Init() {
	if s != nil {
		s.ev.made = true
	}
}

// live reports whether s is a Source that NewSource or Init made.
func (s *Source) live() bool { return s != nil && s.ev.made }

// Event returns the event signalled by s (nil for a nil Source or one
// neither NewSource nor Init made).
func (s *Source) Event() *Event {
	if !s.live() {
		return nil
	}
	return &s.ev
}

// Signal signals the event: a waiter on the event, or on a Queue it is
// attached to, wakes up. Signals that arrive while the event is already
// signalled merge into one. Signal never blocks and costs O(1).
func (s *Source) Signal() {
	if !s.live() {
		return
	}
	e := &s.ev
	// Already signalled (a token waits in ch, or pending before ch is
	// made): the locked section below would change nothing, so the signal
	// merges without taking mu. Whoever takes the token afterwards sees
	// what changed before this Signal: the loads of hasCh, stopped and
	// pending are atomic, so the look at ch comes after the signaller's
	// changes, and ch's token is taken later still. (C moves pending into
	// ch before it sets hasCh.)
	if !e.stopped.Load() && ((e.hasCh.Load() && len(e.ch) > 0) || (!e.hasCh.Load() && e.pending.Load())) {
		if m := e.m.Load(); m != nil {
			m.q.push(m)
		}
		return
	}
	e.mu.Lock()
	if !e.stopped.Load() {
		if e.ch == nil {
			e.pending.Store(true)
		} else {
			select {
			case e.ch <- struct{}{}:
			default:
			}
		}
	}
	e.mu.Unlock()
	if m := e.m.Load(); m != nil {
		m.q.push(m)
	}
}

// SignalPermanently signals the event for good: from now on every wait on it
// returns at once, and a Queue it is attached to reports it on every Wait
// until it is detached. Endpoints call it when they reach their final
// (Stopped) status. Calling it again has no effect.
func (s *Source) SignalPermanently() {
	if !s.live() {
		return
	}
	e := &s.ev
	e.mu.Lock()
	if !e.stopped.Load() {
		e.stopped.Store(true)
		if e.ch != nil {
			close(e.ch)
		}
	}
	e.mu.Unlock()
	if m := e.m.Load(); m != nil {
		m.q.push(m)
	}
}

// Detach removes the event from the Queue it is attached to, if any.
// Endpoints call it from Destroy.
func (s *Source) Detach() {
	if !s.live() {
		return
	}
	e := &s.ev
	for {
		m := e.m.Load()
		if m == nil {
			return
		}
		if m.q.Detach(e) == nil {
			return
		}
		// Detached (and perhaps re-attached) concurrently: look again.
	}
}
