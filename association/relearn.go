package association

import (
	"context"
	"crypto/subtle"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mediaport/mediaport/internal/pktq"
)

// tentative is how a learning server (Bind with the Server role and no
// DTLS[tx] destination) keeps a datagram it cannot verify from taking it
// over: the source of a first ClientHello becomes the peer only
// tentatively, until that source returns the cookie of pion's
// HelloVerifyRequest (so it receives at its address). Until then a first
// ClientHello from another source replaces it and restarts the handshake
// attempt, so one spoofed ClientHello no longer holds the server until the
// handshake timeout.
type tentative struct {
	cookie atomic.Pointer[[]byte] // of the HelloVerifyRequest of the current attempt
	proven atomic.Bool            // the peer returned it
	mu     sync.Mutex
	cancel context.CancelFunc // ends the current attempt
	again  bool               // the peer changed: the attempt ended for a new one
	// held is the record of the new peer that the ended attempt took from
	// the queue, for the next attempt (handOn).
	held     []byte
	heldFrom netip.AddrPort
}

// firstHello reports whether b is a ClientHello that starts a handshake:
// well formed, no cookie, message_seq 0.
func firstHello(b []byte) bool {
	h, ok := parseClientHello(b)
	return ok && len(h.cookie) == 0 && h.msgSeq == 0
}

// learnable reports whether p may make its source a learning server's
// peer.
func (a *Association) learnable(p *pktq.Packet) bool {
	if a.tentative == nil {
		return isClientHello(p.Bytes())
	}
	return firstHello(p.Bytes())
}

// relearn makes p's source the peer of a learning server instead of its
// tentative one, when p is a first ClientHello and the tentative peer has
// not returned its cookie; it ends the current handshake attempt. It
// reports whether it did.
func (a *Association) relearn(p *pktq.Packet) bool {
	t := a.tentative
	if t == nil || t.proven.Load() || a.ready.Load() || !firstHello(p.Bytes()) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() || a.state != Handshaking || t.proven.Load() {
		return false
	}
	if err := a.txc.SetDestination(p.Src); err != nil {
		return false
	}
	src := p.Src
	a.peer.Store(&src)
	t.cookie.Store(nil)
	t.mu.Lock()
	if t.cancel != nil {
		t.cancel()
		t.again = true
	}
	t.mu.Unlock()
	a.flush()
	a.mod.Log.Debug("association replaced its unverified peer", "peer", src)
	return true
}

// prove marks the tentative peer proven when p, from it, is a ClientHello
// returning the cookie it was sent.
func (a *Association) prove(p *pktq.Packet) {
	t := a.tentative
	if t == nil || t.proven.Load() {
		return
	}
	h, ok := parseClientHello(p.Bytes())
	if !ok || len(h.cookie) == 0 {
		return
	}
	if c := t.cookie.Load(); c != nil && subtle.ConstantTimeCompare(*c, h.cookie) == 1 {
		t.proven.Store(true)
	}
}

// attempt returns the context of a handshake attempt: for a learning
// server, one that relearn cancels.
func (a *Association) attempt(ctx context.Context) (context.Context, context.CancelFunc) {
	t := a.tentative
	if t == nil {
		return ctx, func() {}
	}
	actx, cancel := context.WithCancel(ctx)
	t.mu.Lock()
	t.cancel, t.again = cancel, false
	t.mu.Unlock()
	return actx, cancel
}

// restarted reports whether relearn ended the last attempt.
func (a *Association) restarted() bool {
	t := a.tentative
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	again := t.again
	t.again = false
	return again
}

// attemptPeer is the peer a packetConn serves: for a learning server, the
// peer when its attempt started (records and datagrams of an earlier
// peer are not its own); else invalid (any).
func (a *Association) attemptPeer() netip.AddrPort {
	if a.tentative == nil {
		return netip.AddrPort{}
	}
	return a.Peer()
}

// settled reports whether the association's peer is no longer tentative:
// it is not a learning server, or its peer returned the cookie, or the
// handshake is over.
func (a *Association) settled() bool {
	t := a.tentative
	return t == nil || t.proven.Load() || a.ready.Load()
}

// sent notes the cookie of a HelloVerifyRequest a learning server sends.
func (a *Association) sent(p []byte) {
	if t := a.tentative; t != nil && t.cookie.Load() == nil {
		if c, ok := helloVerifyCookie(p); ok {
			c = append([]byte(nil), c...)
			t.cookie.Store(&c)
		}
	}
}

// handOn keeps b, a record from src that an ended attempt took from the
// queue, for the attempt of src, when src is the peer now; it reports
// whether it did.
func (a *Association) handOn(b []byte, src netip.AddrPort) bool {
	t := a.tentative
	if src != a.Peer() {
		return false
	}
	t.mu.Lock()
	t.held, t.heldFrom = append(t.held[:0], b...), src
	t.mu.Unlock()
	return true
}

// handedOn copies into p the record handOn kept for peer's attempt.
func (a *Association) handedOn(p []byte, peer netip.AddrPort) (int, bool) {
	t := a.tentative
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.held) == 0 || t.heldFrom != peer || len(p) < len(t.held) {
		return 0, false
	}
	n := copy(p, t.held)
	t.held = t.held[:0]
	return n, true
}
