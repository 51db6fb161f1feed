package association

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/deadline"
	"github.com/mediaport/mediaport/internal/pktq"
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
func (w writer) Ready() bool          { return w.a.ready.Load() }

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
		if !isClientHello(p.Bytes()) || !a.learn(p.Src) {
			a.foreign.Add(1)
			return false
		}
		peer = a.peer.Load()
	}
	if p.Src != *peer {
		a.foreign.Add(1)
		return false
	}
	if !a.ready.Load() && onlyApplicationData(p.Bytes()) && a.holdEarly(p) {
		a.records.Add(1)
		return true
	}
	if !a.raw.Push(p) {
		return false
	}
	a.records.Add(1)
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
	if a.ready.Load() || a.closing || len(a.early) >= maxEarly {
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
	clear(a.early)
	a.early = a.early[:0]
	if !a.closing {
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
	if a.peer.Load() != nil || a.closing {
		return a.peer.Load() != nil
	}
	if err := a.txc.SetDestination(src); err != nil {
		return false
	}
	a.peer.Store(&src)
	close(a.learned)
	a.mod.Log.Debug("association learned its peer", "peer", src)
	return true
}

// flush wakes the DTLS stack after a batch.
func (a *Association) flush() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// write encrypts p into one record.
func (a *Association) write(p []byte) error {
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

// readLoop delivers decrypted application data to the DTLS[rx].
func (a *Association) readLoop() error {
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	for {
		// Application data that arrived with the end of the handshake may
		// be waiting already: start with a session.
		p := a.mod.Packets.Get()
		err := a.readSession(c, p.Buf)
		a.mod.Packets.Put(p)
		if err != nil {
			return err
		}
		select {
		case <-a.toRead:
		case <-a.done:
			return ErrClosed
		}
	}
}

// readLinger is how long a read session waits for more data before it
// gives its buffer back, on the module's clock.
const readLinger = 50 * time.Millisecond

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

// readSession reads application data into buf until readLinger passes
// without any, and hands it to the DTLS[rx]. pion's Conn.Read must be
// given its buffer before the data arrives, so reading only in sessions,
// which start when pion takes a record (toRead), is what lets an idle
// association hold no read buffer.
func (a *Association) readSession(c *dtls.Conn, buf []byte) error {
	for {
		select {
		case <-a.toRead: // this round covers it
		default:
		}
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
			a.rxc.PushData(buf[:n], *a.peer.Load())
		}
		select {
		case <-a.toRead: // records reached pion during the round: go on
		default:
			return nil
		}
	}
}

// mayRead tells the read loop that Read may have something to return.
func (a *Association) mayRead() {
	select {
	case a.toRead <- struct{}{}:
	default:
	}
}

// packetConn is the net.PacketConn pion runs over: it reads the records
// the VMP[rx] handed to the association and writes through the DTLS[tx].
// pion closes it when a handshake attempt fails, so each attempt has its
// own.
type packetConn struct {
	a      *Association
	closed atomic.Bool
	rd     deadline.Deadline // on the module's clock
	took   bool              // the last ReadFrom returned a record (pion's reader goroutine only)
}

func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.took {
		// pion is back for more: whatever the last record gave Read is
		// waiting now. Tell the read loop again, so that a read round
		// starts after the data, not only when pion took the record — a
		// round whose deadline fired just as the data came may have
		// returned the timeout rather than the data.
		c.took = false
		if c.a.ready.Load() {
			c.a.mayRead()
		}
	}
	for {
		if c.closed.Load() {
			return 0, nil, net.ErrClosed
		}
		done := c.rd.Done()
		pp, ok, err := c.a.raw.Pop(p)
		if ok {
			if err != nil {
				return 0, nil, err
			}
			if c.a.ready.Load() {
				c.a.mayRead() // a session must run while pion pushes: it blocks when Read is not called
			}
			c.took = true
			return pp.N, net.UDPAddrFromAddrPort(pp.Src), nil
		}
		select {
		case <-c.a.wake:
		case <-c.a.done:
			return 0, nil, net.ErrClosed
		case <-done:
			return 0, nil, errDeadline
		}
	}
}

var errDeadline = &net.OpError{Op: "read", Net: "dtls", Err: timeoutError{}}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *packetConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if err := c.a.txc.SendRaw(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *packetConn) Close() error {
	c.closed.Store(true)
	c.rd.Stop()
	c.a.mayRead() // pion closes it when it ends: Read has its error
	return nil
}

func (c *packetConn) LocalAddr() net.Addr {
	if l, err := c.a.txc.LocalAddr(); err == nil {
		return net.UDPAddrFromAddrPort(l)
	}
	return &net.UDPAddr{}
}

func (c *packetConn) SetDeadline(t time.Time) error     { c.rd.Set(t); return nil }
func (c *packetConn) SetReadDeadline(t time.Time) error { c.rd.Set(t); return nil }
func (c *packetConn) SetWriteDeadline(time.Time) error  { return nil }
