package udp

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one datagram slot of a Reader. Buf is the buffer the datagram
// is read into; the caller owns it between reads and may replace it (for
// example with a fresh pooled buffer after handing the old one on) before the
// next Read. After a Read, N is the datagram length, Src its source, and
// Trunc reports that the datagram was longer than Buf (its tail is lost).
//
// With EnableGRO, Seg > 0 says that Buf[:N] holds datagrams of Seg bytes
// each (the last may be shorter), all from Src, that the kernel coalesced;
// Segments splits them.
type Message struct {
	Buf   []byte
	N     int
	Src   netip.AddrPort
	Trunc bool
	Seg   int
}

// Segments calls f with each datagram of m, in order: Buf[:N] itself, or
// its Seg-byte pieces when the kernel coalesced several.
func (m *Message) Segments(f func(d []byte)) {
	d := m.Buf[:m.N]
	if m.Seg <= 0 || m.Seg >= len(d) {
		f(d)
		return
	}
	for len(d) > m.Seg {
		f(d[:m.Seg])
		d = d[m.Seg:]
	}
	f(d)
}

// GROBufSize is the slot size that a Reader with EnableGRO needs: a
// coalesced message can be as large as the largest UDP payload.
const GROBufSize = 65536

// Reader reads datagrams from a Conn in batches: on Linux up to len(Msgs)
// per recvmmsg system call, elsewhere one per call. A Reader allocates
// nothing per datagram. It is not safe for concurrent use: one goroutine
// reads at a time — either always the same one, or whichever holds the
// mutex given to ReadHolding (see Poll).
type Reader struct {
	// Msgs are the slots Read fills; set their Buf before the first Read.
	Msgs []Message
	conn *Conn
	sys  readerSys
}

// NewReader returns a Reader of u with n slots of bufSize-byte buffers.
func NewReader(u *Conn, n, bufSize int) *Reader {
	if n <= 0 {
		n = 1
	}
	r := &Reader{Msgs: make([]Message, n), conn: u}
	for i := range r.Msgs {
		r.Msgs[i].Buf = make([]byte, bufSize)
	}
	r.sys.init(r)
	return r
}

// Read blocks until at least one datagram is available (or the read
// deadline passes, or the socket is closed) and fills Msgs[:n].
func (r *Reader) Read() (n int, err error) { return r.sys.read(r, true) }

// EnableGRO asks the kernel to hand over runs of datagrams from one source
// in one piece (UDP_GRO, Linux 5.0 and later) and makes the Reader report
// them (Message.Seg). Every slot's buffer must then hold GROBufSize bytes,
// or coalesced messages are truncated. It returns an error matching
// errors.ErrUnsupported where the system cannot.
func (r *Reader) EnableGRO() error { return r.sys.enableGRO(r) }

// TryRead is Read without waiting: it returns 0 and no error when no
// datagram is queued.
func (r *Reader) TryRead() (n int, err error) { return r.sys.read(r, false) }

// Gate lets several goroutines read one Reader in turn: a receive
// goroutine that waits for traffic with ReadHolding, and pollers that read
// what is queued, without waiting, between TryEnter and Leave. Whoever
// holds the gate reads and processes what it read before leaving, so
// datagrams are processed in the order they arrived.
//
// The receive goroutine never waits for the gate, and it does not compete
// with pollers that keep reading. When the socket becomes readable while
// a poller holds the gate, or while the gate is leased (the last poller
// read a full batch and will be back: Leave(true)), it steps back: it
// waits for the next datagram or for the lease time to pass, whichever
// comes first. When the lease time has passed, it reads what is queued
// unless a poller has leased the gate again meanwhile (then it steps back
// again). So a poller that reads a backlog neither costs the receive
// goroutine a wake-up per batch nor loses datagrams to the receive
// goroutine's queue, and a poller that stops reading leaves datagrams
// unread for at most about two lease times. A poller that does not lease
// ends the lease; when the receive goroutine stepped back meanwhile, that
// Leave reports that the poller must poll again, as datagrams it did not
// read may be queued.
type Gate struct {
	mu     sync.Mutex
	missed atomic.Bool  // the receive goroutine stepped back since the last Leave
	leased atomic.Bool  // a poller left datagrams queued since the receive goroutine last looked
	lease  atomic.Int64 // nanoseconds; 0: DefaultLease
}

// DefaultLease is the lease time of a Gate by default: how long the
// receive goroutine leaves a socket to the pollers after they stopped
// reading it (see Gate).
const DefaultLease = time.Millisecond

// SetLease sets the lease time of g (zero: DefaultLease). It takes effect
// the next time the receive goroutine steps back.
func (g *Gate) SetLease(d time.Duration) { g.lease.Store(int64(d)) }

func (g *Gate) leaseTime() time.Duration {
	if d := time.Duration(g.lease.Load()); d > 0 {
		return d
	}
	return DefaultLease
}

// TryEnter takes the gate if it is free.
func (g *Gate) TryEnter() bool { return g.mu.TryLock() }

// Leave releases the gate taken by TryEnter after a Poll. lease says that
// the caller will poll again soon and that the Poll may have left
// datagrams queued (it returned as many as the Reader holds): the gate is
// then leased to the pollers (see Gate). A caller that got nothing it
// wanted from the Poll, or found the socket empty, does not lease.
//
// When Leave reports true the receive goroutine stepped back from a
// readable socket while the caller held the gate, and the caller did not
// lease: the caller must poll again (with TryEnterOwing, until Leave
// reports false), or leave the datagrams to the receive goroutine, which
// comes back for them within the lease time.
func (g *Gate) Leave(lease bool) (again bool) {
	if g.leased.Load() != lease { // store only when it changes
		g.leased.Store(lease)
	}
	g.mu.Unlock()
	if !g.missed.Load() {
		return false
	}
	return g.missed.Swap(false) && !lease
}

// Release releases the gate held after ReadHolding, or taken by TryEnter
// for something other than a Poll: the lease is left as it is.
func (g *Gate) Release() { g.mu.Unlock() }

// Skipped reports whether the receive goroutine has stepped back since
// the last Leave (for tests).
func (g *Gate) Skipped() bool { return g.missed.Load() }

// TryEnterOwing is TryEnter for a poller whose Leave reported true: when
// the gate is held it passes that on to the holder, whose Leave then
// reports true in turn unless it leases.
func (g *Gate) TryEnterOwing() bool {
	if g.mu.TryLock() {
		return true
	}
	g.missed.Store(true)
	return g.mu.TryLock() // the holder may have left before it could see missed
}

// lessee is the receive goroutine's side of a Gate: whether its lease
// timer (a read deadline) is running, and whether it has fired. It
// belongs to the receive goroutine.
type lessee struct {
	armed, expired bool
}

// enter is the receive goroutine's attempt at the gate, when the socket
// is readable or the lease timer fired. It returns false, and the receive
// goroutine must step back (arm its lease timer and wait), when the gate
// is held, or leased — since it last looked, when the lease timer fired.
// It looks at the lease without taking the gate, so that a poller never
// finds the gate held by a receive goroutine that is only stepping back.
func (g *Gate) enter(l *lessee) bool {
	expired := l.expired
	l.expired = false
	g.missed.Store(true) // for the holder's Leave, if we step back
	if expired && g.leased.Swap(false) || !expired && g.leased.Load() {
		return false
	}
	if !g.mu.TryLock() {
		return false // missed was set while the holder held the gate
	}
	g.missed.Store(false)
	return true
}

// ReadHolding is Read for the receive goroutine of a Reader shared through
// g. Each read attempt enters g; ReadHolding returns holding g when it read
// datagrams (n > 0), so that the caller can process Msgs[:n] before anyone
// else reads, and not holding g otherwise (an error). The caller releases
// g with Release. It never waits for g: see Gate. The socket's read
// deadline is the lease timer: nothing else may set it while a goroutine
// is in ReadHolding.
func (r *Reader) ReadHolding(g *Gate) (n int, err error) { return r.sys.readHolding(r, g) }

// Poll reads what is queued, without waiting, for a caller that holds the
// Gate the receive goroutine gives to ReadHolding. Unlike TryRead it does
// not contend with a goroutine blocked in Read or ReadHolding for the
// socket, and it uses the socket's descriptor without taking a reference
// to it (two atomic operations less per call): the gate stands for the
// reference, which is why a Reader whose pollers share a gate must be
// closed with Close. It returns 0 and no error when nothing is queued,
// and always on platforms without batch receive; net.ErrClosed after
// Close.
func (r *Reader) Poll() (n int, err error) { return r.sys.poll(r) }

// Close closes the Reader's socket once no poller holds g, the Gate its
// pollers share: it waits for g, so it must not be called by a goroutine
// that holds g. A goroutine in Read or ReadHolding returns
// net.ErrClosed.
func (r *Reader) Close(g *Gate) error { return r.sys.close(r, g) }
