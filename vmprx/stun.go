package vmprx

import (
	"net/netip"

	"github.com/mediaport/mediaport/internal/link"
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
//
// When s is the session of a stun.ICELite, DTLS is bound to ICE: DTLS
// from an address without consent (no authenticated check succeeded from
// it within the consent timeout, or the agent is closed) is dropped and
// counted (Stats.DTLSUnchecked), and, on an rtcp-mux port, when the
// agent's nomination moves to another address, the association bound to
// the port's DTLS[rx] follows it (its peer and its DTLS[tx]'s destination)
// without a new handshake. SetSTUNHandler, or AttachSTUN of another
// session, ends the binding.
func (v *VMPRx) AttachSTUN(s *stun.Session) error {
	if s == nil {
		return v.setSTUN(nil, nil)
	}
	return v.setSTUN(func(pkt []byte, src netip.AddrPort, rtcpPort bool) {
		s.OnRxPkt(pkt, stun.IsDatagram, STUNPort(rtcpPort), src)
	}, link.ICEControlOf(s))
}

// setSTUN sets the STUN handler and the ICE agent that gates DTLS (nil:
// none). The gate is set before the handler and removed after it, so
// that DTLS is never let through ungated while an agent is attached.
func (v *VMPRx) setSTUN(h STUNHandler, ice link.ICEControl) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	if ice != nil {
		v.setICE(ice)
	}
	if h == nil {
		v.stun.Store(nil)
	} else {
		v.stun.Store(&h)
	}
	if ice == nil {
		v.setICE(nil)
	}
	return nil
}

// SendSTUN is an OnSendMsg for a stun.Session: it sends pkt from the RTP
// port, or from the RTCP port when token is STUNPort(true).
func (v *VMPRx) SendSTUN(_ *stun.Session, token any, pkt []byte, dst netip.AddrPort) error {
	rtcp, _ := token.(STUNPort)
	return v.SendFrom(bool(rtcp), pkt, dst)
}
