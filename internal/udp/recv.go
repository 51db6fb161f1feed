package udp

import (
	"net/netip"
	"sync"
	"sync/atomic"
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
// The receive goroutine never waits for the gate: when the socket becomes
// readable while a poller holds it, the receive goroutine goes back to
// waiting for the next datagram and tells the poller, whose Leave then
// reports that it must poll again. No datagram is left unread because of
// that hand-over, and a poller that reads a backlog does not cost the
// receive goroutine a wake-up per batch.
type Gate struct {
	mu     sync.Mutex
	missed atomic.Bool // the receive goroutine found the gate held
}

// TryEnter takes the gate if it is free.
func (g *Gate) TryEnter() bool { return g.mu.TryLock() }

// Leave releases the gate taken by TryEnter. When it reports true the
// receive goroutine skipped a readable socket meanwhile: the caller owes
// it a read of everything queued — it must poll again, with
// TryEnterOwing, until a Poll returns less than a full Reader (the socket
// was empty), or wake the receive goroutine some other way.
func (g *Gate) Leave() (again bool) {
	g.mu.Unlock()
	return g.missed.Load() && g.missed.Swap(false)
}

// Skipped reports whether the receive goroutine has found the gate held
// since the last Leave (for tests).
func (g *Gate) Skipped() bool { return g.missed.Load() }

// TryEnterOwing is TryEnter for a poller whose Leave reported true: when
// the gate is held it passes that duty to the holder, whose Leave then
// reports true in turn.
func (g *Gate) TryEnterOwing() bool { return g.enter() }

// enter is the receive goroutine's attempt at the gate.
func (g *Gate) enter() bool {
	if g.mu.TryLock() {
		return true
	}
	g.missed.Store(true)
	// The holder may have left before it could see missed: try again, so
	// that one of us reads.
	return g.mu.TryLock()
}

// ReadHolding is Read for the receive goroutine of a Reader shared through
// g. Each read attempt enters g; ReadHolding returns holding g when it read
// datagrams (n > 0), so that the caller can process Msgs[:n] before anyone
// else reads, and not holding g otherwise (an error). The caller releases
// g with Release. It never waits for g: see Gate.
func (r *Reader) ReadHolding(g *Gate) (n int, err error) { return r.sys.readHolding(r, g) }

// Release releases the gate held after ReadHolding.
func (g *Gate) Release() { g.mu.Unlock() }

// Poll reads what is queued, without waiting, for a caller that holds the
// Gate the receive goroutine gives to ReadHolding. Unlike TryRead it does
// not contend with a goroutine blocked in Read or ReadHolding for the
// socket. It returns 0 and no error when nothing is queued, and always on
// platforms without batch receive.
func (r *Reader) Poll() (n int, err error) { return r.sys.poll(r) }
