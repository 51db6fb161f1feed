package association

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// recordSink is the association as the sink of the records its DTLS[rx]
// hands on (link.Sink).
type recordSink struct{ a *Association }

func (s recordSink) Deliver(p *pktq.Packet) bool { return s.a.deliver(p) }
func (s recordSink) Flush()                      { s.a.flush() }

// writer is the association as the DTLS[tx]'s SendPacket encrypts through
// it (link.Writer).
type writer struct{ a *Association }

func (w writer) Write(p []byte) error { return w.a.write(p) }
func (w writer) Ready() bool          { return w.a.canSend() }

// WriteBatch encrypts each of pkts into a record of its own (link.BatchWriter).
func (w writer) WriteBatch(pkts [][]byte) (int, error) { return w.a.writeBatch(pkts) }

// deliver takes a record datagram from the VMP[rx].
func (a *Association) deliver(p *pktq.Packet) bool {
	if !ValidRecords(p.Bytes()) {
		a.malformed.Add(1)
		return false
	}
	if a.ready.Load() && !acceptableEstablished(p.Bytes()) {
		a.rejected.Add(1)
		return false
	}
	peer := a.peer.Load()
	if peer == nil {
		if !a.learnable(p) || !a.learn(p.Src) {
			a.foreign.Add(1)
			return false
		}
		peer = a.peer.Load()
	}
	if p.Src != *peer && !a.relearn(p) {
		a.foreign.Add(1)
		return false
	}
	a.prove(p)
	if f := a.fast.Load(); f != nil && a.ready.Load() {
		a.receive(f, p)
		return true
	}
	if !a.ready.Load() && onlyApplicationData(p.Bytes()) && a.holdEarly(p) {
		a.records.Add(1)
		return true
	}
	if !a.raw.Push(p) {
		return false
	}
	a.records.Add(1)
	if a.fast.Load() != nil && a.ready.Load() {
		a.drainRaw() // our path took over after this datagram was looked at
	}
	return true
}

// maxEarly bounds the application data datagrams held during a handshake.
const maxEarly = 16

// holdEarly keeps p, application data that arrived before the handshake
// completed, until it has: pion/dtls hands such data to Read only if its
// one-record buffer is free, and drops it otherwise — the peer may send
// several records the moment its own handshake completes, before ours has.
// It reports false (p goes to pion at once) when the handshake has
// completed meanwhile or maxEarly datagrams are held already.
func (a *Association) holdEarly(p *pktq.Packet) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready.Load() || a.closing.Load() || len(a.early) >= maxEarly {
		return false
	}
	a.early = append(a.early, p)
	return true
}

// releaseEarly hands the held application data to pion, in order, and
// marks the association ready, under a.mu so that a datagram deliver
// takes meanwhile is either held and released here or, seeing ready,
// queued after these.
func (a *Association) releaseEarly() {
	a.mu.Lock()
	for _, p := range a.early {
		if !a.raw.Push(p) {
			a.mod.Packets.Put(p)
		}
	}
	a.early = nil // no more: the association is ready
	if !a.closing.Load() {
		a.ready.Store(true)
	}
	a.mu.Unlock()
	a.flush()
}

// dropEarly returns held application data to the pool.
func (a *Association) dropEarly() {
	a.mu.Lock()
	for _, p := range a.early {
		a.mod.Packets.Put(p)
	}
	clear(a.early)
	a.early = a.early[:0]
	a.mu.Unlock()
}

// isClientHello reports whether the first record of b is an epoch-0
// handshake record starting with a ClientHello.
func isClientHello(b []byte) bool {
	return len(b) > 13 && b[0] == ctHandshake && b[3] == 0 && b[4] == 0 && b[13] == 1
}

// learn makes src the peer of a learning server.
func (a *Association) learn(src netip.AddrPort) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peer.Load() != nil || a.closing.Load() {
		return a.peer.Load() != nil
	}
	if err := a.txc.SetDestination(src); err != nil {
		return false
	}
	a.peer.Store(&src)
	a.flush() // wakes the handshake
	a.mod.Log.Debug("association learned its peer", "peer", src)
	return true
}

// flush wakes the DTLS stack after a batch, and the DTLS[rx]'s reader
// if our record path queued data for it (pushData).
func (a *Association) flush() {
	if a.queued.Load() && a.queued.Swap(false) {
		a.rxc.(batchQueue).Signal()
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// canSend reports whether application data may be sent: the association
// is ready, or it is established on our record path and still handing on
// the records that came before it was ready (establishFast), which the
// application may already have read and be answering.
func (a *Association) canSend() bool {
	if a.ready.Load() {
		return true
	}
	if a.fast.Load() == nil || a.closing.Load() {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state == Established
}

// write encrypts p into one record.
func (a *Association) write(p []byte) error {
	if f := a.fast.Load(); f != nil {
		if !a.canSend() {
			return ErrNotEstablished
		}
		return a.send(f, ctApplicationData, p)
	}
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c == nil || !a.ready.Load() {
		return ErrNotEstablished
	}
	if _, err := c.Write(p); err != nil {
		return fmt.Errorf("association: write: %w", err)
	}
	return nil
}

// writeBatch encrypts each of pkts into a record of its own: on our
// path sealed in place and sent in batches (sendBatch), on pion's one
// Write each.
func (a *Association) writeBatch(pkts [][]byte) (int, error) {
	if f := a.fast.Load(); f != nil {
		if !a.canSend() {
			return 0, ErrNotEstablished
		}
		return a.sendBatch(f, pkts)
	}
	for i, p := range pkts {
		if err := a.write(p); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}

// gather holds the record payloads writeV assembles on pion's path.
var gather = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeV encrypts the concatenation of snips into one record: on our
// path gathered straight into the record's send buffer (sendV), on
// pion's path gathered once into a pooled buffer, as pion/dtls encrypts
// from one contiguous slice.
func (a *Association) writeV(snips [][]byte) error {
	if f := a.fast.Load(); f != nil {
		if !a.canSend() {
			return ErrNotEstablished
		}
		return a.sendV(f, snips)
	}
	bp := gather.Get().(*[]byte)
	b := (*bp)[:0]
	for _, x := range snips {
		b = append(b, x...)
	}
	err := a.write(b)
	*bp = b[:0]
	gather.Put(bp)
	return err
}

// The states of the read sessions (Association.sessions).
const (
	sessionsOpen   = 1 << iota // established: mayRead starts sessions
	sessionRunning             // a session's goroutine runs
	sessionSignal              // Read may have something to return (set by mayRead)
)

// readLinger is how long a read session waits for more data before it
// ends and gives its buffer back, on the module's clock.
const readLinger = 50 * time.Millisecond

// mayRead tells the read session that Read may have something to return,
// and starts a session if none runs. pion's Conn.Read must be given its
// buffer before the data arrives, so reading only in sessions, which start
// when pion takes a record and end after readLinger without data, is what
// lets an idle association hold no read buffer and no goroutine.
func (a *Association) mayRead() {
	for {
		old := a.sessions.Load()
		if old&sessionsOpen == 0 {
			return
		}
		next := old | sessionRunning | sessionSignal
		if next == old {
			return
		}
		if a.sessions.CompareAndSwap(old, next) {
			if old&sessionRunning == 0 {
				a.startSession()
			}
			return
		}
	}
}

// startSession starts a session's goroutine, unless Close has begun: Close
// waits for the sessions started before, and none starts after.
func (a *Association) startSession() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() {
		return
	}
	a.wg.Add(1)
	go a.session()
}

// session reads application data into a buffer of the module's pool and
// hands it to the DTLS[rx], in rounds: each lasts until readLinger passes
// on the module's clock, and another follows when mayRead was called
// during it. When Read fails (the peer's close_notify, a fatal alert,
// Close) the association ends.
func (a *Association) session() {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	p := a.mod.Packets.Get()
	err := a.readRounds(c, p.Buf)
	a.mod.Packets.Put(p)
	if err == nil {
		a.raw.Trim() // idle: pion has taken the records
		a.wg.Done()
		return
	}
	a.sessions.Store(0) // no session starts again
	// Done before reporting: reporting may stop the endpoints, whose Stop
	// closes the association and waits for this goroutine.
	a.wg.Done()
	a.finish(err)
}

// readRounds runs the rounds of a session; it returns nil when a round
// ended without mayRead called during it (sessionRunning is then clear).
func (a *Association) readRounds(c *dtls.Conn, buf []byte) error {
	for {
		a.sessions.And(^uint32(sessionSignal)) // this round covers it
		linger := a.startRound(c)
		for {
			n, err := c.Read(buf)
			if err != nil {
				if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
					break // readLinger without data
				}
				linger.Stop()
				return err
			}
			a.rxc.PushData(buf[:n], *a.peer.Load(), udp.Meta{}) // pion decrypted it: its datagram is gone
		}
		for {
			old := a.sessions.Load()
			if old&sessionSignal != 0 {
				break // records reached pion during the round: go on
			}
			if a.sessions.CompareAndSwap(old, old&^sessionRunning) {
				return nil
			}
		}
	}
}

// longAgo is a read deadline in the past: it ends a blocked Read at once.
var longAgo = time.Unix(1, 0)

// startRound clears c's read deadline and starts the round's linger on the
// module's clock: pion's read deadline runs on wall time, so the timer sets
// one in the past when readLinger has passed, unless a later round has
// started meanwhile. Stop the timer when the round ends otherwise.
func (a *Association) startRound(c *dtls.Conn) clock.Timer {
	a.lingerMu.Lock()
	a.round++
	round := a.round
	c.SetReadDeadline(time.Time{})
	a.lingerMu.Unlock()
	return a.mod.Clock.AfterFunc(readLinger, func() {
		a.lingerMu.Lock()
		if a.round == round {
			c.SetReadDeadline(longAgo)
		}
		a.lingerMu.Unlock()
	})
}

// packetConn is the net.PacketConn pion runs over: it reads the records
// the VMP[rx] handed to the association and writes through the DTLS[tx].
// pion closes it when a handshake attempt fails, so each attempt has its
// own.
type packetConn struct {
	a      *Association
	peer   *netip.AddrPort // a learning server's peer of this attempt (attemptPeer); nil otherwise
	closed atomic.Bool
	// expired is set by a read deadline that has passed. pion sets one in
	// the past to cancel a blocked ReadFrom and clears it after; a future
	// one runs on the module's clock (timer, gen under mu).
	expired atomic.Bool
	mu      sync.Mutex
	timer   clock.Timer
	gen     uint32
	took    bool // the last ReadFrom returned a record for Read (see forRead; pion's reader goroutine only)
	// alerts are copies of the protected alerts pion took before the
	// association was ready (under mu): pion acts on a close_notify by
	// closing itself, which our record path, taking over after, would
	// not see otherwise (takeOver opens them).
	alerts [][]byte
}

// noteAlerts keeps a copy of each alert record of a later epoch than 0
// in datagram (whole records, as ValidRecords found them).
func (c *packetConn) noteAlerts(datagram []byte) {
	for b := datagram; len(b) >= 13; {
		n := 13 + int(binary.BigEndian.Uint16(b[11:13]))
		if b[0] == ctAlert && (b[3] != 0 || b[4] != 0) && len(c.alerts) < 4 {
			c.mu.Lock()
			c.alerts = append(c.alerts, append([]byte(nil), b[:n]...))
			c.mu.Unlock()
		}
		b = b[n:]
	}
}

// takenAlerts returns the alerts noteAlerts kept.
func (c *packetConn) takenAlerts() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alerts
}

func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.took {
		// pion is back for more: whatever the last record gave Read is
		// waiting now. Tell the read session again, so that a read round
		// starts after the data, not only when pion took the record — a
		// round whose deadline fired just as the data came may have
		// returned the timeout rather than the data.
		c.took = false
		if c.a.ready.Load() {
			c.a.mayRead()
		}
	}
	for {
		if c.closed.Load() || c.a.closing.Load() {
			return 0, nil, net.ErrClosed
		}
		if c.tentative() {
			if n, ok := c.a.handedOn(p, *c.peer); ok {
				return n, (*peerAddr)(c.peer), nil
			}
		}
		pp, ok, err := c.a.raw.Pop(p)
		if ok {
			if err != nil {
				return 0, nil, err
			}
			if c.tentative() && pp.Src != *c.peer {
				if c.a.handOn(p[:pp.N], pp.Src) {
					return 0, nil, net.ErrClosed // a later attempt's: this one is over
				}
				continue // an earlier attempt's
			}
			data := forRead(p[:pp.N])
			if data && !c.a.ready.Load() {
				c.noteAlerts(p[:pp.N])
			}
			if data && !c.a.ready.Load() {
				c.a.unread.Store(true) // before ready is read again: see run
			}
			if c.a.ready.Load() {
				c.a.mayRead() // a session must run while pion pushes: it blocks when Read is not called
			}
			c.took = data
			// deliver let only the peer's records in: their source is the
			// remote address pion was given, the peer the association holds.
			return pp.N, (*peerAddr)(c.a.peer.Load()), nil
		}
		if c.expired.Load() {
			return 0, nil, errDeadline
		}
		<-c.a.wake // a record, Close or the deadline
	}
}

// tentative reports whether this attempt is bound to its own peer, a
// learning server's unproven one (attemptPeer): once that peer has
// returned its cookie (or the handshake is over) the attempt follows the
// association's peer, which ICE may move (peer.go).
func (c *packetConn) tentative() bool {
	return c.peer != nil && !c.a.settled()
}

// peerAddr is the association's peer as pion sees it (its Conn's remote
// address, the source of the records ReadFrom returns): a net.Addr over
// the address the association holds, which pion only passes back to
// WriteTo and compares.
type peerAddr netip.AddrPort

func (p *peerAddr) Network() string { return "udp" }
func (p *peerAddr) String() string  { return (*netip.AddrPort)(p).String() }

var errDeadline = &net.OpError{Op: "read", Net: "dtls", Err: timeoutError{}}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *packetConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if c.tentative() {
		if *c.peer != c.a.Peer() {
			return len(p), nil // an earlier attempt's, to its peer: dropped
		}
		c.a.sent(p)
	}
	if err := c.a.txc.SendRaw(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *packetConn) Close() error {
	c.closed.Store(true)
	c.SetReadDeadline(time.Time{}) // stops the timer
	c.a.flush()                    // wakes ReadFrom
	c.a.unread.Store(true)         // before mayRead reads the sessions: see run
	c.a.mayRead()                  // pion closes it when it ends: Read has its error
	return nil
}

func (c *packetConn) LocalAddr() net.Addr {
	if l, err := c.a.txc.LocalAddr(); err == nil {
		return net.UDPAddrFromAddrPort(l)
	}
	return &net.UDPAddr{}
}

func (c *packetConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *packetConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadDeadline sets the deadline of ReadFrom on the module's clock; the
// zero time removes it, a time not after now passes at once.
func (c *packetConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.expired.Store(false)
	if t.IsZero() {
		return nil
	}
	clk := c.a.mod.Clock
	wait := t.Sub(clk.Now())
	if wait <= 0 {
		c.expired.Store(true)
		c.a.flush()
		return nil
	}
	gen := c.gen
	c.timer = clk.AfterFunc(wait, func() {
		c.mu.Lock()
		if c.gen == gen {
			c.expired.Store(true)
		}
		c.mu.Unlock()
		c.a.flush()
	})
	return nil
}
