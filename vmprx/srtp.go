package vmprx

import (
	"errors"
	"net/netip"

	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/srtp"
)

// SRTP on the receive path: with a session set, every RTP and RTCP
// datagram is authenticated and decrypted in its pooled buffer by the
// port's reader, before anything else looks at it. Only what passes is
// queued and may report NewSSRC; the rest is counted and dropped.

// srtpRef holds the sessions of a VMP[rx] with SRTP (nil pointer: plain
// RTP): the port's (ConfigSRTP) and the peers' (ConfigSRTPPeer, copied on
// write). It is never changed once published.
type srtpRef struct {
	s     *srtp.Session
	peers map[netip.AddrPort]*srtp.Session
}

// session returns the session that protects what src sends: its own,
// else the port's (nil: none).
func (r *srtpRef) session(src netip.AddrPort) *srtp.Session {
	if r.peers != nil {
		if s := r.peers[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]; s != nil {
			return s
		}
	}
	return r.s
}

// ConfigSRTP makes the VMP[rx] take SRTP and SRTCP protected with s:
// from then on every RTP and RTCP datagram is authenticated, checked
// against the replay window and decrypted (in place, before it is
// queued), so GetPacket returns plain RTP and RTCP. A datagram that fails
// is dropped and counted in Stats (SRTPAuth, SRTPReplay); it is never
// queued and never reported with NewSSRC. A nil s turns SRTP off again.
// It may be called before or after Config, while packets arrive: the
// change applies from the next datagram read. Without it the VMP[rx]
// passes RTP through untouched, at no cost.
func (v *VMPRx) ConfigSRTP(s *srtp.Session) error {
	if err := v.endpoint().Check(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var peers map[netip.AddrPort]*srtp.Session
	if old := v.srtp.Load(); old != nil {
		peers = old.peers
	}
	v.publishSRTP(s, peers)
	return nil
}

// publishSRTP makes s and peers the VMP[rx]'s SRTP sessions. Under v.mu.
func (v *VMPRx) publishSRTP(s *srtp.Session, peers map[netip.AddrPort]*srtp.Session) {
	if s == nil && len(peers) == 0 {
		v.srtp.Store(nil)
		return
	}
	v.srtp.Store(&srtpRef{s: s, peers: peers})
}

// unprotect authenticates and decrypts p, of class cls, in place. It
// reports whether p passed; what failed is counted.
func (v *VMPRx) unprotect(s *srtp.Session, p *pktq.Packet, cls Class) bool {
	data := p.Bytes()
	var out []byte
	var err error
	if cls == ClassRTP {
		out, err = s.DecryptRTP(data, data)
	} else {
		out, err = s.DecryptRTCP(data, data)
	}
	if err != nil {
		if errors.Is(err, srtp.ErrReplay) {
			v.count[cSRTPReplay].Add(1)
		} else {
			v.count[cSRTPAuth].Add(1)
		}
		return false
	}
	if len(out) > 0 && &out[0] != &p.Buf[0] { // not in place: cannot happen with pion
		copy(p.Buf, out)
	}
	p.N = len(out)
	return true
}
