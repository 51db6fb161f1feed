package association

import "net/netip"

// Following the ICE pair: when the VMP[rx] under the association runs an
// ICE-lite agent (vmprx.AttachSTUN with a stun.ICELite) and the peer
// nominates another address it has checked from, the VMP[rx] tells the
// DTLS[rx], which tells the association (link.Follower). The association
// makes that address its peer and its DTLS[tx]'s destination: records are
// taken from it from then on, and pion's flights and records go to it.
// The DTLS state is the same: no new handshake (pion/dtls ignores the
// source of the records its PacketConn returns, without connection IDs,
// and writes through the association's DTLS[tx]).

// Follow moves the association to to (link.Follower).
func (s recordSink) Follow(to netip.AddrPort) { s.a.follow(to) }

// follow makes to the peer and the DTLS[tx]'s destination. An association
// without a peer yet (a learning server before its ClientHello) learns it
// from the ClientHello, whose source the agent has checked.
func (a *Association) follow(to netip.AddrPort) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.peer.Load()
	if cur == nil || *cur == to || a.closing.Load() {
		return
	}
	if err := a.txc.SetDestination(to); err != nil {
		a.mod.Log.Debug("association cannot follow the ICE pair", "from", *cur, "to", to, "err", err)
		return
	}
	a.peer.Store(&to)
	a.moves.Add(1)
	a.mod.Log.Debug("association follows the ICE pair", "from", *cur, "to", to)
}
