package association

import (
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/udp"
)

// clientSession is one server's session on a client Sock: its own
// association over the Sock's pair, as a Listener's Session is on a
// server's.
type clientSession struct {
	s    *Sock
	ep   netip.AddrPort
	a    *Association
	up   atomic.Bool // the handshake completed
	gone atomic.Bool // the Sock forgot the session
	err  error       // why it failed, under s.mu
}

// clientSession returns the session with ep, starting its handshake if
// there is none (with ErrSessionExists if there was one).
func (s *Sock) clientSession(ep netip.AddrPort) (*clientSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if cs := s.sessions[ep]; cs != nil {
		return cs, ErrSessionExists
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		return nil, fmt.Errorf("association: %w: %d sessions", mediaport.ErrLimit, s.cfg.MaxSessions)
	}
	cs := &clientSession{s: s, ep: ep}
	c := clientControl{cs}
	// bind starts the handshake on its own goroutine: nothing calls back
	// into the Sock (and its lock) before it returns.
	a, err := bind(c, c, ep, s.cfg.Config)
	if err != nil {
		return nil, err
	}
	cs.a = a
	s.sessions[ep] = cs
	return cs, nil
}

// handshakeDone is the report of cs's completed handshake.
func (s *Sock) handshakeDone(cs *clientSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[cs.ep] != cs || cs.up.Load() {
		return
	}
	cs.up.Store(true)
	s.noticeLocked(sockNotice{ep: cs.ep})
}

// ended is the report of cs's end by its peer (err nil) or a failure.
func (s *Sock) ended(cs *clientSession, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[cs.ep] != cs {
		return
	}
	delete(s.sessions, cs.ep)
	cs.gone.Store(true)
	cs.err = err
	if err != nil {
		s.noticeLocked(sockNotice{ep: cs.ep, err: err})
	} else {
		s.bumpLocked()
	}
	// Not here: the association's own goroutine reports its end.
	s.wg.Add(1) // not closed: cs was still the Sock's
	go func() {
		defer s.wg.Done()
		cs.a.Close()
	}()
}

// sockSink is a client Sock as its DTLS[rx]'s record sink: each datagram
// goes to the session of its source; others are dropped.
type sockSink struct{ s *Sock }

func (k sockSink) Deliver(p *pktq.Packet) bool {
	k.s.mu.Lock()
	cs := k.s.sessions[p.Src]
	k.s.mu.Unlock()
	if cs == nil {
		return false
	}
	return deliverTo(cs.a, p)
}
func (k sockSink) Flush() {}

// sockWriter holds a client Sock's DTLS[tx]: its SendPacket has no one
// peer to encrypt for (use Sock.Send).
type sockWriter struct{}

var errSockTx = fmt.Errorf("association: %w: the DTLS[tx] serves a Sock: send with Sock.Send", mediaport.ErrState)

func (sockWriter) Write([]byte) error { return errSockTx }
func (sockWriter) Ready() bool        { return false }

// clientControl is a client Sock's session as its association sees it
// (link.RxControl, link.TxControl over the Sock's pair), as
// sessionControl is a Listener's.
type clientControl struct{ cs *clientSession }

var (
	_ link.RxControl = clientControl{}
	_ link.TxControl = clientControl{}
)

func (c clientControl) Check() error {
	if c.cs.gone.Load() {
		return fmt.Errorf("association: %w: session ended", mediaport.ErrState)
	}
	return nil
}

func (c clientControl) SetRecordSink(link.Sink) error { return nil } // the Sock delivers
func (c clientControl) PushData(p []byte, src netip.AddrPort, meta udp.Meta) bool {
	if !c.cs.up.Load() {
		c.cs.s.handshakeDone(c.cs) // Recv reports the handshake before the data
	}
	return c.cs.s.rxc.PushData(p, src, meta)
}
func (c clientControl) HandshakeDone()       { c.cs.s.handshakeDone(c.cs) }
func (c clientControl) Fail(err error)       { c.cs.s.ended(c.cs, err) }
func (c clientControl) SetOnStop(func())     {}
func (c clientControl) Module() *core.Module { return c.cs.s.mod }
func (c clientControl) Sink() link.Sink      { return nil }

func (c clientControl) SetWriter(link.Writer) error { return nil } // Sock.Send writes
func (c clientControl) SendRaw(p []byte) error      { return c.cs.s.txc.SendRawTo(p, c.cs.ep) }
func (c clientControl) SendRawTo(p []byte, dst netip.AddrPort) error {
	return c.cs.s.txc.SendRawTo(p, dst)
}
func (c clientControl) Destination() (netip.AddrPort, error) { return c.cs.ep, nil }
func (c clientControl) SetDestination(dst netip.AddrPort) error {
	if dst != c.cs.ep {
		return fmt.Errorf("association: %w: a session's peer is fixed", mediaport.ErrState)
	}
	return nil
}
func (c clientControl) LocalAddr() (netip.AddrPort, error) { return c.cs.s.local, nil }
func (c clientControl) CapacityChanged()                   {}
