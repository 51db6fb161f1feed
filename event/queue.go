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
	head, tail *Event // ready list
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
	for {
		old := e.q.Load()
		if old != nil && !old.isClosed() {
			return ErrAttached
		}
		// An event of a closed queue may move to a new one.
		if e.q.CompareAndSwap(old, q) {
			break
		}
	}
	e.tag = tag
	q.attached++
	if e.signalled() {
		q.pushLocked(e)
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
	if e.q.Load() != q {
		return ErrNotAttached
	}
	if e.ready {
		q.unlink(e)
	}
	e.tag = nil
	e.q.Store(nil)
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
	var permHead, permTail *Event
	for n < len(out) && q.head != nil {
		e := q.head
		q.unlink(e)
		perm := e.stopped.Load()
		out[n] = Ready{Event: e, Tag: e.tag, Permanent: perm}
		n++
		if perm {
			// Level-triggered: report it again on the next Wait.
			e.ready = true
			e.next = nil
			e.prev = permTail
			if permTail == nil {
				permHead = e
			} else {
				permTail.next = e
			}
			permTail = e
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
func (q *Queue) push(e *Event) {
	q.mu.Lock()
	if e.q.Load() == q && !q.closed {
		q.pushLocked(e)
	}
	q.mu.Unlock()
}

func (q *Queue) pushLocked(e *Event) {
	if e.ready {
		return
	}
	e.ready = true
	e.next = nil
	e.prev = q.tail
	if q.tail == nil {
		q.head = e
	} else {
		q.tail.next = e
	}
	q.tail = e
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) unlink(e *Event) {
	if e.prev == nil {
		q.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		q.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	e.ready = false
}
