package association

import (
	"fmt"
	"net/netip"

	"github.com/mediaport/mediaport"
)

// Admission by the application: with ListenerConfig.RequireAdmit, only a
// source the application has admitted — after proof it controls, such as
// an ICE connectivity check authenticated with the ufrag and password of
// the signalling (RFC 8445 §7.3) from that address — may start a session.
// A ClientHello from any other source is dropped before any state exists,
// so a flood of spoofed ClientHellos neither holds a slot nor delays an
// admitted client, however long it lasts.

// maxAdmitted bounds the admitted sources per session slot.
const maxAdmitted = 4

// Admit lets peer start a session on a Listener with RequireAdmit (and is
// harmless without). Admitted sources are bounded: 4 × MaxSessions, beyond
// which Admit fails with an error matching mediaport.ErrLimit. An
// admission lasts until Revoke or Close.
func (l *Listener) Admit(peer netip.AddrPort) error {
	if l == nil || l.mod == nil {
		return mediaport.ErrNilHandle
	}
	if !peer.IsValid() || peer.Port() == 0 {
		return fmt.Errorf("association: %w: admit %v", mediaport.ErrInvalidArgument, peer)
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrListenerClosed
	}
	if l.admitted == nil {
		l.admitted = make(map[netip.AddrPort]struct{})
	}
	if _, ok := l.admitted[peer]; !ok && len(l.admitted) >= maxAdmitted*l.maxS {
		return fmt.Errorf("association: %w: %d admitted sources", mediaport.ErrLimit, len(l.admitted))
	}
	l.admitted[peer] = struct{}{}
	return nil
}

// Revoke withdraws peer's admission; a session it has keeps running.
func (l *Listener) Revoke(peer netip.AddrPort) {
	if l == nil || l.mod == nil {
		return
	}
	l.mu.Lock()
	delete(l.admitted, netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()))
	l.mu.Unlock()
}

// admittedLocked reports whether src may start a session.
func (l *Listener) admittedLocked(src netip.AddrPort) bool {
	if !l.requireAdmit {
		return true
	}
	_, ok := l.admitted[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]
	return ok
}
