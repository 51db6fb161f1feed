package vmprx

import (
	"errors"

	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/srtp"
)

// SRTP on the receive path: with a session set, every RTP and RTCP
// datagram is authenticated and decrypted in its pooled buffer by the
// port's reader, before anything else looks at it. Only what passes is
// queued and may report NewSSRC; the rest is counted and dropped.

// srtpRef holds the session of a VMP[rx] with SRTP (nil pointer: plain RTP).
type srtpRef struct{ s *srtp.Session }

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
	if s == nil {
		v.srtp.Store(nil)
	} else {
		v.srtp.Store(&srtpRef{s})
	}
	return nil
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
