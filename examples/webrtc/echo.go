package main

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/mediaport/mediaport/association"
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
	SendErrs   int
	LastDst    netip.AddrPort // where the last echo went
}

// echo sends the browser's audio back to it. start runs once the handshake
// has completed, packet on every RTP/RTCP datagram from the VMP[rx].
//
// This version protects with pion/srtp itself and sends with
// vmprx.SendFrom: the step that moves to mediaport's SRTP on the VMP[rx]
// and to a dispatcher sharing the media port's socket.
type echo struct {
	mu       sync.Mutex
	dec, enc *srtp.Context
	plain    []byte
	out      []byte
	st       EchoStats
}

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
		dst := c.sendTo(info.Src)
		if err := c.v.SendFrom(false, out, dst); err != nil {
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

func (e *echo) close() {}

// sendTo is where media goes: the nominated pair's remote address, else
// the packet's source.
func (c *Call) sendTo(src netip.AddrPort) netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Nominated.IsValid() {
		return c.state.Nominated
	}
	return src
}
