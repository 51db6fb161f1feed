// Package pktq holds received datagrams between the receive goroutine of a
// socket and the application's GetPacket: pooled packet buffers, handed over
// without copying, and a bounded FIFO that records overflow episodes for the
// Prosody Overrun status.
package pktq

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport/internal/udp"
)

// ErrBufferTooSmall is returned by Pop when the buffer is shorter than the
// packet. It is mediaport.ErrBufferTooSmall.
var ErrBufferTooSmall = errors.New("mediaport: buffer too small")

// Packet is a received datagram in a pooled buffer. Buf has the pool's full
// size; the datagram is Buf[:N]. Meta is what the kernel reported with it
// when its port asked (udp.Conn.EnableRecvMeta); its zero value, nothing.
type Packet struct {
	Buf  []byte
	N    int
	Src  netip.AddrPort
	Meta udp.Meta
	Kind uint8 // set by the producer (for example RTP or RTCP)
}

// Bytes returns the datagram.
func (p *Packet) Bytes() []byte { return p.Buf[:p.N] }

// Pool recycles Packets of one buffer size. It is safe for concurrent use.
type Pool struct {
	size int
	p    sync.Pool
}

// NewPool returns a pool of size-byte packets.
func NewPool(size int) *Pool {
	pl := &Pool{size: size}
	pl.p.New = func() any { return &Packet{Buf: make([]byte, size)} }
	return pl
}

// Size returns the buffer size of the pool's packets.
func (pl *Pool) Size() int { return pl.size }

// Get returns a packet whose buffer has the pool's size.
func (pl *Pool) Get() *Packet { return pl.p.Get().(*Packet) }

// Put returns p to the pool; the caller must not use it afterwards.
func (pl *Pool) Put(p *Packet) {
	if p == nil || len(p.Buf) != pl.size {
		return
	}
	p.N, p.Src, p.Meta, p.Kind = 0, netip.AddrPort{}, udp.Meta{}, 0
	pl.p.Put(p)
}

// Queue is a bounded FIFO of packets. When it is full, Push refuses the
// packet (tail drop, so what is queued stays in order) and records an
// overflow: Overrun is reported once per episode, an episode ending when a
// packet is accepted again. Its ring is allocated at the first Push, small,
// and doubles up to the bound as bursts need it (an idle endpoint holds
// none; a busy one stops allocating once grown). A Queue is safe for concurrent use.
type Queue struct {
	mu      sync.Mutex
	pool    *Pool
	max     int // the bound of Push; PushReserved's is max+reserve
	reserve int
	ring    []*Packet
	head, n int
	// pending is n > 0 || overrun, readable without mu (Pending, and
	// Pop's fast path on an empty queue); written under mu by sync.
	pending   atomic.Bool
	overrun   bool // an Overrun not yet reported
	inEpisode bool // dropping since the last accepted packet
	closed    bool // with the other flags: the Queue is 80 bytes, not 88
	drops     uint64
}

// NewQueue returns a queue of at most n packets that returns popped packets
// to pool.
func NewQueue(n int, pool *Pool) *Queue {
	if n <= 0 {
		n = 1
	}
	return &Queue{pool: pool, max: n}
}

// NewReservedQueue returns a queue of at most n packets pushed with Push
// and reserve more that only PushReserved may take: for a class of
// packets, such as RTCP, that a burst of the others must not starve.
// Push refuses a packet once the queue holds n; PushReserved once it
// holds n+reserve, which happens only when at least reserve packets
// pushed with PushReserved are queued (Push never fills beyond n). Order
// is one FIFO for both.
func NewReservedQueue(n, reserve int, pool *Pool) *Queue {
	q := NewQueue(n, pool)
	q.reserve = max(reserve, 0)
	return q
}

// initialRing is the ring size a queue starts with.
const initialRing = 8

// grow allocates the ring or doubles it, up to limit; it reports whether
// there is room.
func (q *Queue) grow(limit int) bool {
	if len(q.ring) >= limit {
		return false
	}
	ring := make([]*Packet, min(max(2*len(q.ring), initialRing), limit))
	for i := 0; i < q.n; i++ {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
	return true
}

// Cap returns the bound of Push (PushReserved's is Cap plus the reserve).
func (q *Queue) Cap() int { return q.max }

// Push appends p and reports whether it was taken. A packet that is not
// taken (queue full or closed) still belongs to the caller.
func (q *Queue) Push(p *Packet) bool { return q.push(p, q.max) }

// PushReserved is Push for the reserved class (NewReservedQueue): it may
// also take the reserved room. On a queue without one it is Push.
func (q *Queue) PushReserved(p *Packet) bool { return q.push(p, q.max+q.reserve) }

// push appends p if the queue holds fewer than limit packets.
func (q *Queue) push(p *Packet, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if q.n >= limit || (q.n == len(q.ring) && !q.grow(limit)) {
		q.drops++
		if !q.inEpisode {
			q.inEpisode = true
			q.overrun = true
			q.sync()
		}
		return false
	}
	q.ring[(q.head+q.n)%len(q.ring)] = p
	q.n++
	q.inEpisode = false
	q.sync()
	return true
}

// Popped describes the packet Pop returned.
type Popped struct {
	N    int            // its length (copied into buf unless too small)
	Src  netip.AddrPort // its source
	Meta udp.Meta       // what the kernel reported with it
	Kind uint8          // what its producer set
	// More reports, as Pending would right after the pop, that another
	// packet is queued or an Overrun is waiting to be reported.
	More bool
}

// Pop copies the oldest packet into buf. It returns ok=false when the
// queue is empty, and ErrBufferTooSmall (the packet stays queued) when buf
// is too short.
func (q *Queue) Pop(buf []byte) (pp Popped, ok bool, err error) {
	if !q.pending.Load() {
		return Popped{}, false, nil // nothing queued, no Overrun waiting
	}
	q.mu.Lock()
	if q.n == 0 {
		more := q.overrun
		q.mu.Unlock()
		return Popped{More: more}, false, nil
	}
	p := q.ring[q.head]
	if len(buf) < p.N {
		q.mu.Unlock()
		return Popped{N: p.N, Src: p.Src, Meta: p.Meta, Kind: p.Kind, More: true}, true, ErrBufferTooSmall
	}
	q.dropHead()
	more := q.n > 0 || q.overrun
	q.mu.Unlock()
	pp = Popped{N: copy(buf, p.Bytes()), Src: p.Src, Meta: p.Meta, Kind: p.Kind, More: more}
	q.pool.Put(p)
	return pp, true, nil
}

// Take removes the oldest packet and returns it; the caller owns it. It
// returns false when the queue is empty.
func (q *Queue) Take() (*Packet, bool) {
	if !q.pending.Load() {
		return nil, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil, false
	}
	p := q.ring[q.head]
	q.dropHead()
	return p, true
}

// dropHead removes the oldest packet from the ring (q.n > 0); q.mu is
// held. The packet is the caller's.
func (q *Queue) dropHead() {
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.sync()
}

// Len returns the number of queued packets.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// PeekLen returns the length of the oldest packet, or -1 when empty.
func (q *Queue) PeekLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return -1
	}
	return q.ring[q.head].N
}

// TakeOverrun reports whether an overflow happened since the last call that
// returned true, and clears it.
func (q *Queue) TakeOverrun() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.overrun
	q.overrun = false
	q.sync()
	return o
}

// sync updates pending; q.mu is held.
func (q *Queue) sync() { q.pending.Store(q.n > 0 || q.overrun) }

// Pending reports, without consuming anything, whether a packet is queued or
// an Overrun is waiting to be reported.
func (q *Queue) Pending() bool { return q.pending.Load() }

// Drops returns how many packets Push refused because the queue was full.
func (q *Queue) Drops() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.drops
}

// Trim releases the ring of an empty queue (the next Push allocates one),
// so that an idle queue holds none.
func (q *Queue) Trim() {
	q.mu.Lock()
	if q.n == 0 {
		q.ring, q.head = nil, 0
	}
	q.mu.Unlock()
}

// Close refuses every later Push. Queued packets stay readable.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// Reset returns every queued packet to the pool.
func (q *Queue) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > 0 {
		p := q.ring[q.head]
		q.dropHead()
		q.pool.Put(p)
	}
	q.sync() // an empty queue may still have an Overrun to report
}
