package main

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/vmprx"
	"github.com/pion/srtp/v3"
)

// EchoStats count what the echo did.
type EchoStats struct {
	RTPIn      int    // RTP packets from the browser, authenticated and decrypted
	RTPInSSRC  uint32 // the SSRC of the first of them
	RTPInPT    uint8  // and its payload type
	RTCPIn     int    // RTCP packets from the browser, authenticated and decrypted
	Rejected   int    // SRTP/SRTCP packets that failed authentication or replay
	BeforeKeys int    // RTP/RTCP that came before the handshake completed
	RTPOut     int    // RTP packets echoed to the browser
	NoConsent  int    // RTP packets not echoed: the selected pair had no consent
	SendErrs   int
	LastDst    netip.AddrPort // where the last echo went
	// SharedPort: the dispatcher sends from the media port's own socket.
	SharedPort bool
}

// echo sends the browser's audio back to it. start runs once the handshake
// has completed, packet on every RTP/RTCP datagram from the VMP[rx].
//
// The echo sends through a dispatcher whose Local is the media port: it
// shares the VMP[rx]'s socket, so the browser sees the RTP come from the
// address its ICE checks selected (it drops media from any other). Its
// Destination is where sendTo says media goes; when that moves, the
// dispatcher is replaced.
//
// This version protects with pion/srtp itself: the step that moves to
// mediaport's SRTP on the VMP[rx] and the dispatcher.
type echo struct {
	mu       sync.Mutex
	dec, enc *srtp.Context
	plain    []byte
	out      []byte
	d        *dispatcher.Dispatcher
	dst      netip.AddrPort // d's destination
	st       EchoStats
}

// tosVoice is DSCP EF, for the echo's RTP.
const tosVoice = 0xb8

func (e *echo) start(c *Call, keys association.SRTPKeys) error {
	dec, err := srtp.CreateContext(keys.RemoteKey, keys.RemoteSalt, srtp.ProtectionProfile(keys.Profile))
	if err != nil {
		return err
	}
	enc, err := srtp.CreateContext(keys.LocalKey, keys.LocalSalt, srtp.ProtectionProfile(keys.Profile))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.dec, e.enc = dec, enc
	e.plain, e.out = make([]byte, 0, 1500), make([]byte, 0, 1500)
	e.mu.Unlock()
	return nil
}

// packet handles one datagram p the VMP[rx] classified as RTP or RTCP.
func (e *echo) packet(c *Call, p []byte, info vmprx.Packet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dec == nil {
		e.st.BeforeKeys++
		return
	}
	switch info.Class {
	case vmprx.ClassRTCP:
		if _, err := e.dec.DecryptRTCP(e.plain[:0], p, nil); err != nil {
			e.st.Rejected++
			return
		}
		e.st.RTCPIn++
	case vmprx.ClassRTP:
		plain, err := e.dec.DecryptRTP(e.plain[:0], p, nil)
		if err != nil {
			e.st.Rejected++
			return
		}
		if e.st.RTPIn == 0 {
			e.st.RTPInSSRC, e.st.RTPInPT = binary.BigEndian.Uint32(plain[8:]), plain[1]&0x7f
		}
		e.st.RTPIn++
		// Our SSRC, as the answer announced it; sequence numbers and
		// timestamps stay the browser's, which are continuous.
		binary.BigEndian.PutUint32(plain[8:], c.ssrc)
		out, err := e.enc.EncryptRTP(e.out[:0], plain, nil)
		if err != nil {
			e.st.SendErrs++
			return
		}
		dst, ok := c.sendTo()
		if !ok {
			e.st.NoConsent++
			return
		}
		if err := e.send(c, out, dst); err != nil {
			c.log.Debug("echo", "err", err)
			e.st.SendErrs++
			return
		}
		e.st.RTPOut++
		e.st.LastDst = dst
	}
}

func (e *echo) stats() EchoStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

// send sends p to dst from the media port, through a dispatcher for dst.
func (e *echo) send(c *Call, p []byte, dst netip.AddrPort) error {
	if e.d == nil || e.dst != dst {
		if e.d != nil {
			e.d.Stop()
			e.d.Destroy()
		}
		d, err := dispatcher.Create(c.srv.mod, dispatcher.Config{Destination: dst, Local: c.port, TOS: tosVoice})
		if err != nil {
			e.d = nil
			return err
		}
		e.d, e.dst = d, dst
		e.st.SharedPort, _ = d.SharesSocket()
	}
	return e.d.Send(p)
}

func (e *echo) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.d != nil {
		e.d.Stop()
		e.d.Destroy()
		e.d = nil
	}
}

// sendTo is where media goes: the remote address of the ICE agent's
// selected pair, while it has consent (RFC 7675).
func (c *Call) sendTo() (netip.AddrPort, bool) {
	sel, ok, err := c.ice.Selected()
	if err != nil || !ok || !sel.Consent {
		return netip.AddrPort{}, false
	}
	return sel.Remote, true
}
