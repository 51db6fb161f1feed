package turn

import "net/netip"

// CheckAlternate is checkAlternate, for tests of the redirection rules.
var CheckAlternate = checkAlternate

// Receive hands b to a as if its socket had received it from src, and
// reports whether ChannelData was delivered to the queue (or lost to a
// full one; a Data indication is queued by the session's callback and not
// reported), for the fuzz target of the receive path.
func Receive(a *Allocation, b []byte, src netip.AddrPort) bool {
	p := a.mod.Packets.Get()
	n := copy(p.Buf, b)
	delivered, queued := a.rxDatagram(p.Buf[:n], src, n < len(b), p)
	if delivered {
		a.ep.Signal()
	}
	if !queued {
		a.mod.Packets.Put(p)
	}
	return delivered
}
