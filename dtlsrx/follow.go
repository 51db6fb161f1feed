package dtlsrx

import (
	"net/netip"

	"github.com/mediaport/mediaport/internal/link"
)

// Follow passes on a move of the ICE pair selected on the VMP[rx] port
// that feeds the DTLS[rx] (link.Follower) to the association bound to it,
// if any; a pass-through DTLS[rx] has no peer to move.
func (s sink) Follow(to netip.AddrPort) {
	if t := s.r.records.Load(); t != nil {
		if f, ok := t.s.(link.Follower); ok {
			f.Follow(to)
		}
	}
}
