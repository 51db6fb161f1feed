package event

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mediaport/mediaport/internal/nilhandle"
)

// Errors returned by Queue.
var (
	// ErrAttached: the event is already attached to a queue.
	ErrAttached = errors.New("event: already attached to a queue")
	// ErrNotAttached: the event is not attached to this queue.
	ErrNotAttached = errors.New("event: not attached to this queue")
	// ErrQueueClosed: the queue has been closed.
	ErrQueueClosed = errors.New("event: queue closed")
	// ErrNoSpace: Wait was given an empty slice to fill.
	ErrNoSpace = errors.New("event: Wait needs a non-empty slice")
	// ErrNilEvent: a nil *Event (or one no endpoint made) was given, or
	// a method was called on one. It matches mediaport.ErrNilHandle.
	ErrNilEvent = fmt.Errorf("event: nil event: %w", nilhandle.Err)
	// errNilQueue: a method was called on a nil Queue or one NewQueue did
	// not make. It matches mediaport.ErrNilHandle.
	errNilQueue = fmt.Errorf("event: nil queue: %w", nilhandle.Err)
)

// Ready is one signalled event reported by Queue.Wait.
type Ready struct {
	Event *Event
	// Tag is the value given to Attach.
	Tag any
	// Permanent is true when the event is signalled permanently (its
	// endpoint has stopped). Such an event is reported by every Wait until
	// it is detached.
	Permanent bool
}

// Queue is a ready-queue in the manner of epoll: any number of events are
// attached to it, each with a tag, and Wait returns the signalled ones in a
// batch. A signal costs O(1) whatever the number of attached events (the
// event is appended to an intrusive ready list, once however often it is
// signalled), and no goroutine is started per event.
//
// Readiness is level-triggered like the events themselves: an event is
// reported once per signal, and its endpoint signals again while the cause
// remains; a permanently signalled event is reported by every Wait.
// Reporting an event through the queue does not consume the event's own
// signal (its C channel).
//
// A Queue is safe for concurrent use; several goroutines may Wait.
type Queue struct {
	mu         sync.Mutex
	head, tail *member // ready list
	attached   int
	closed     bool
	wake       chan struct{} // capacity 1: a token means "the list may be non-empty"
	done       chan struct{} // closed by Close
}

// NewQueue returns an empty Queue.
func NewQueue() *Queue {
	return &Queue{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Attach attaches e to q with a tag that Wait reports with it. An event is
// attached to at most one queue at a time. If e is already signalled it is
// ready at once.
func (q *Queue) Attach(e *Event, tag any) error {
	if q.isNil() {
		return errNilQueue
	}
	if !e.live() {
		return ErrNilEvent
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	m := &member{ev: e, q: q, tag: tag}
	for {
		old := e.m.Load()
		if old != nil && !old.q.isClosed() {
			return ErrAttached
		}
		// An event of a closed queue may move to a new one.
		if e.m.CompareAndSwap(old, m) {
			break
		}
	}
	q.attached++
	if e.signalled() {
		q.pushLocked(m)
	}
	return nil
}

// Detach removes e from q. Detaching an event that is not attached to q
// returns ErrNotAttached.
func (q *Queue) Detach(e *Event) error {
	if q.isNil() {
		return errNilQueue
	}
	if !e.live() {
		return ErrNilEvent
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	m := e.m.Load()
	if m == nil || m.q != q {
		return ErrNotAttached
	}
	if m.ready {
		q.unlink(m)
	}
	e.m.Store(nil)
	q.attached--
	return nil
}

// Len returns the number of attached events.
func (q *Queue) Len() int {
	if q.isNil() {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.attached
}

// Wait blocks until at least one attached event is ready, then fills out
// with up to len(out) ready events and returns how many it filled. It returns
// ctx.Err() if ctx is done first and ErrQueueClosed once q is closed.
// Events that do not fit in out stay ready for the next Wait.
func (q *Queue) Wait(ctx context.Context, out []Ready) (int, error) {
	if q.isNil() {
		return 0, errNilQueue
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if len(out) == 0 {
		return 0, ErrNoSpace
	}
	for {
		n, err := q.poll(out)
		if n > 0 || err != nil {
			return n, err
		}
		select {
		case <-q.wake:
		case <-q.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// poll takes up to len(out) ready events without blocking.
func (q *Queue) poll(out []Ready) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrQueueClosed
	}
	n := 0
	var permHead, permTail *member
	for n < len(out) && q.head != nil {
		m := q.head
		q.unlink(m)
		perm := m.ev.stopped.Load()
		out[n] = Ready{Event: m.ev, Tag: m.tag, Permanent: perm}
		n++
		if perm {
			// Level-triggered: report it again on the next Wait.
			m.ready = true
			m.next = nil
			m.prev = permTail
			if permTail == nil {
				permHead = m
			} else {
				permTail.next = m
			}
			permTail = m
		}
	}
	if permHead != nil {
		if q.tail == nil {
			q.head = permHead
		} else {
			q.tail.next = permHead
			permHead.prev = q.tail
		}
		q.tail = permTail
	}
	if q.head != nil {
		// Another waiter may take the rest.
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

// Close detaches every event and wakes every waiter; Wait and Attach then
// return ErrQueueClosed. Closing twice returns ErrQueueClosed.
func (q *Queue) Close() error {
	if q.isNil() {
		return errNilQueue
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	q.closed = true
	close(q.done)
	for q.head != nil {
		q.unlink(q.head)
	}
	// Events that are attached but not ready still point at q; they notice
	// the closed queue on their next push and on Detach.
	return nil
}

// isNil reports whether q is nil or was not made by NewQueue.
func (q *Queue) isNil() bool { return q == nil || q.done == nil }

func (q *Queue) isClosed() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}

// push makes e ready on q if it is still attached to q.
func (q *Queue) push(m *member) {
	q.mu.Lock()
	if m.ev.m.Load() == m && !q.closed {
		q.pushLocked(m)
	}
	q.mu.Unlock()
}

func (q *Queue) pushLocked(m *member) {
	if m.ready {
		return
	}
	m.ready = true
	m.next = nil
	m.prev = q.tail
	if q.tail == nil {
		q.head = m
	} else {
		q.tail.next = m
	}
	q.tail = m
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) unlink(m *member) {
	if m.prev == nil {
		q.head = m.next
	} else {
		m.prev.next = m.next
	}
	if m.next == nil {
		q.tail = m.prev
	} else {
		m.next.prev = m.prev
	}
	m.prev, m.next = nil, nil
	m.ready = false
}

// member is an Event's membership of one Queue, from Attach to Detach (or
// the queue's Close). q and ev never change; tag, prev, next and ready are
// guarded by q.mu.
type member struct {
	ev         *Event
	q          *Queue
	tag        any
	prev, next *member // the queue's ready list
	ready      bool    // in the ready list
}
