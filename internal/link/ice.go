package link

import "net/netip"

// ICE-lite on a media port: the agent (a stun.ICELite, through its
// session) tells the VMP[rx] that feeds it STUN which remote addresses may
// send DTLS, and where its selected pair moves; the VMP[rx] passes a move
// on to the DTLS[rx]s of its port, and a DTLS[rx] to the association bound
// to it, which makes the new address its peer and its DTLS[tx]'s
// destination.
//
//	stun.ICELite ──ICEControl.Permits──► vmprx (DTLS gate)
//	     └──Follower.Follow──► vmprx ──► dtlsrx sink ──► association (peer, DTLS[tx] destination)

// ICEControl is an ICE agent as the VMP[rx] that feeds it STUN uses it.
type ICEControl interface {
	// Permits reports whether DTLS from src may be handed on: src has
	// passed an authenticated connectivity check and its consent has not
	// expired. It is called once per DTLS datagram: it must not block or
	// allocate.
	Permits(src netip.AddrPort) bool
	// AddFollower makes the agent tell f where its selected pair moves
	// (a new nominated address), from the goroutine that handled the
	// check, without the agent's lock held. The returned function
	// removes f.
	AddFollower(f Follower) (remove func())
}

// Follower is told that the selected ICE pair of its port has moved to
// the remote address to: a VMP[rx], a DTLS[rx], an association.
type Follower interface {
	Follow(to netip.AddrPort)
}

// ICEHandle holds the ICEControl of a STUN session run by an ICE agent,
// which embeds it under an unexported alias (as RxHandle), so that
// ICEControlOf takes a *stun.Session, typed, while neither the field nor
// its method is part of the session's API.
type ICEHandle struct{ c ICEControl }

func (h *ICEHandle) iceHandle() *ICEHandle { return h }

// ICEEndpoint is a type that embeds ICEHandle: a *stun.Session.
type ICEEndpoint interface{ iceHandle() *ICEHandle }

// SetICEControl gives the session that embeds h its agent (when the agent
// creates it, before the session is shared).
func SetICEControl(h *ICEHandle, c ICEControl) { h.c = c }

// ICEControlOf returns the ICE agent that runs e, or nil when no agent
// does (a plain STUN session). e must not be a nil pointer.
func ICEControlOf(e ICEEndpoint) ICEControl { return e.iceHandle().c }
