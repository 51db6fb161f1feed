package vmprx

import (
	"net/netip"

	"github.com/mediaport/mediaport/stun"
)

// STUNPort is the token a VMP[rx] gives a STUN session with each packet:
// true when it arrived on the RTCP port. SendSTUN answers from that port.
type STUNPort bool

// AttachSTUN hands every STUN datagram that arrives on the VMP[rx]'s ports
// to s (OnRxPkt, with a STUNPort token), on the goroutine reading the port,
// as a STUNHandler (whose limits s's callbacks share: with CallerReads they
// must not call GetPacket or Status); nil detaches. Create s with
// OnSendMsg: v.SendSTUN so that its responses leave from the port the
// request came to, as ICE needs.
func (v *VMPRx) AttachSTUN(s *stun.Session) error {
	if s == nil {
		return v.SetSTUNHandler(nil)
	}
	return v.SetSTUNHandler(func(pkt []byte, src netip.AddrPort, rtcpPort bool) {
		s.OnRxPkt(pkt, stun.IsDatagram, STUNPort(rtcpPort), src)
	})
}

// SendSTUN is an OnSendMsg for a stun.Session: it sends pkt from the RTP
// port, or from the RTCP port when token is STUNPort(true).
func (v *VMPRx) SendSTUN(_ *stun.Session, token any, pkt []byte, dst netip.AddrPort) error {
	rtcp, _ := token.(STUNPort)
	return v.SendFrom(bool(rtcp), pkt, dst)
}
