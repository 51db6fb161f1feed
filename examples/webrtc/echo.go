package main

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// EchoStats count what the echo did.
type EchoStats struct {
	RTPIn     int    // RTP packets from the browser, authenticated and decrypted by the VMP[rx]
	RTPInSSRC uint32 // the SSRC of the first of them
	RTPInPT   uint8  // and its payload type
	RTCPIn    int    // RTCP packets from the browser, authenticated and decrypted
	// Rejected counts the SRTP and SRTCP packets the VMP[rx] dropped: not
	// authentic, or replayed (its Stats: SRTPAuth + SRTPReplay).
	Rejected int
	// BeforeKeys counts the RTP/RTCP dropped because it came before SRTP
	// was on: before the handshake completed, or queued undecrypted while
	// the VMP[rx] switched to SRTP.
	BeforeKeys int
	RTPOut     int // RTP packets echoed to the browser
	NoConsent  int // RTP packets not echoed: the selected pair had no consent
	SendErrs   int
	LastDst    netip.AddrPort // where the last echo went
	// SharedPort: the dispatcher sends from the media port's own socket.
	SharedPort bool
}

// echo sends the browser's audio back to it, with mediaport alone:
//
//   - once the handshake has completed, start keys an srtp.Session from
//     the association's SRTPKeys and sets it on the VMP[rx]
//     (ConfigSRTP): its reader authenticates and decrypts every RTP and
//     RTCP datagram in place, drops and counts what fails, and GetPacket
//     returns plain RTP;
//   - packet re-stamps each RTP packet with our SSRC (the answer's
//     a=ssrc) and sends it through a dispatcher whose Local is the media
//     port: it shares the VMP[rx]'s socket, so the browser sees the RTP
//     come from the address its ICE checks selected (it drops media from
//     any other), and its ConfigSRTP encrypts with the same session;
//   - the dispatcher's Destination is the ICE-lite agent's selected pair;
//     when the pair moves it is replaced, and while the pair has no
//     consent nothing is sent (RFC 7675).
type echo struct {
	mu   sync.Mutex
	sess *srtp.Session
	d    *dispatcher.Dispatcher
	dst  netip.AddrPort // d's destination
	st   EchoStats
}

// tosVoice is DSCP EF, for the echo's RTP.
const tosVoice = 0xb8

func (e *echo) start(c *Call, keys association.SRTPKeys) error {
	sess, err := srtp.New(keys)
	if err != nil {
		return err
	}
	if err := c.v.ConfigSRTP(sess); err != nil {
		return err
	}
	e.mu.Lock()
	e.sess = sess
	e.mu.Unlock()
	// What the VMP[rx] queued before the switch is still SRTP (a peer that
	// completes its side of the handshake first may send at once): drop
	// it rather than echo ciphertext.
	buf := make([]byte, 1500)
	for {
		if _, err := c.v.GetPacket(buf); err != nil {
			break
		}
		e.mu.Lock()
		e.st.BeforeKeys++
		e.mu.Unlock()
	}
	return nil
}

// packet handles one datagram p the VMP[rx] classified as RTP or RTCP:
// plain, once SRTP is on.
func (e *echo) packet(c *Call, p []byte, info vmprx.Packet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		e.st.BeforeKeys++
		return
	}
	switch info.Class {
	case vmprx.ClassRTCP:
		e.st.RTCPIn++
	case vmprx.ClassRTP:
		if e.st.RTPIn == 0 {
			e.st.RTPInSSRC, e.st.RTPInPT = binary.BigEndian.Uint32(p[8:]), p[1]&0x7f
		}
		e.st.RTPIn++
		// Our SSRC, as the answer announced it; sequence numbers and
		// timestamps stay the browser's, which are continuous.
		binary.BigEndian.PutUint32(p[8:], c.ssrc)
		dst, ok := c.sendTo()
		if !ok {
			e.st.NoConsent++
			return
		}
		if err := e.send(c, p, dst); err != nil {
			c.log.Debug("echo", "err", err)
			e.st.SendErrs++
			return
		}
		e.st.RTPOut++
		e.st.LastDst = dst
	}
}

// send sends p to dst from the media port, through an SRTP dispatcher for
// dst.
func (e *echo) send(c *Call, p []byte, dst netip.AddrPort) error {
	if e.d == nil || e.dst != dst {
		if e.d != nil {
			e.d.Stop()
			e.d.Destroy()
			e.d = nil
		}
		d, err := dispatcher.Create(c.srv.mod, dispatcher.Config{Destination: dst, Local: c.port, TOS: tosVoice})
		if err != nil {
			return err
		}
		if err := d.ConfigSRTP(e.sess); err != nil {
			d.Destroy()
			return err
		}
		e.d, e.dst = d, dst
		e.st.SharedPort, _ = d.SharesSocket()
	}
	return e.d.Send(p)
}

func (e *echo) stats(c *Call) EchoStats {
	vs, err := c.v.Stats()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil { // else the VMP[rx] is gone: the last count stands
		e.st.Rejected = int(vs.SRTPAuth + vs.SRTPReplay)
	}
	return e.st
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
