package vmprx

import (
	"fmt"
	"maps"
	"net/netip"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/srtp"
)

// SRTP per peer: a port shared by many peers (a multi-session
// association.Listener, an SFU's single-port mode) takes each peer's SRTP
// with that peer's keys — from its own DTLS-SRTP session (Session.SRTPKeys
// of the Listener's session) — chosen by the datagram's source, with one
// map lookup and no allocation on the receive path.

// MaxSRTPPeers bounds the peers ConfigSRTPPeer keys on one VMP[rx].
const MaxSRTPPeers = 256

// ConfigSRTPPeer makes the VMP[rx] take the SRTP and SRTCP that src sends
// protected with s, as ConfigSRTP does for the port: authenticated,
// checked against s's replay window, decrypted in place before it is
// queued, so that GetPacket returns plain RTP and RTCP with src as
// Packet.Src. A nil s forgets src. While any peer is keyed, RTP and RTCP
// from a source with no session of its own are protected with the
// ConfigSRTP session, or, when there is none, dropped and counted
// (Stats.SRTPUnkeyed). At most MaxSRTPPeers peers: beyond, an error
// matching mediaport.ErrLimit; src must be a valid address and port
// (mediaport.ErrInvalidArgument). An IPv4-mapped src is the IPv4 one. It
// applies from the next datagram read.
func (v *VMPRx) ConfigSRTPPeer(src netip.AddrPort, s *srtp.Session) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	if !src.IsValid() || src.Port() == 0 {
		return fmt.Errorf("vmprx: %w: SRTP peer %v", mediaport.ErrInvalidArgument, src)
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	v.mu.Lock()
	defer v.mu.Unlock()
	var port *srtp.Session
	var peers map[netip.AddrPort]*srtp.Session
	if old := v.srtp.Load(); old != nil {
		port, peers = old.s, old.peers
	}
	if s == nil {
		if peers[src] == nil {
			return nil
		}
		peers = maps.Clone(peers)
		delete(peers, src)
	} else {
		if peers[src] == nil && len(peers) >= MaxSRTPPeers {
			return fmt.Errorf("vmprx: %w: %d SRTP peers", mediaport.ErrLimit, len(peers))
		}
		peers = maps.Clone(peers)
		if peers == nil {
			peers = make(map[netip.AddrPort]*srtp.Session, 1)
		}
		peers[src] = s
	}
	v.publishSRTP(port, peers)
	return nil
}
