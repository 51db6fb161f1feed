package vmprx

import "encoding/binary"

// Validity of what Classify calls RTP or RTCP. Classify looks at the
// first two bytes only (RFC 7983); before a datagram is queued as RTP or
// RTCP, or its SSRC reported with NewSSRC, its header must fit in it.
// A datagram that fails is counted in Stats.Malformed and dropped.
//
// Version: Classify gives RTP and RTCP to the first bytes 128–191 only,
// that is to version 2; a datagram of another version keeps the class the
// RFC 7983 ranges give its first byte (STUN, ZRTP, DTLS, TURN ChannelData
// or unknown) and is counted as such, never as malformed. The checks
// below test the version again, so that they stand alone.
//
// The checks read the fixed header, the CSRC count, the extension length
// and the padding count, and walk the RTCP packets of a compound: no
// allocation, at most a few dozen loads. They hold for a packet in the
// clear. With SRTP they must run on the decrypted packet, the SRTP
// authentication tag and the SRTCP trailer (E flag, index, tag) removed:
// before that, an SRTP packet ends with its tag, not with its padding
// count, and an SRTCP compound is encrypted after its first 8 bytes.

// rtpMin and rtcpHeader are the RTP fixed header and the RTCP common
// header.
const (
	rtpMin     = 12
	rtcpHeader = 4
)

// validRTP reports whether p is an RTP packet of version 2 whose header
// fits in it (RFC 3550 §5.1, §5.3.1, A.1):
//   - the fixed header and its CSRC list: 12 + 4×CC bytes;
//   - with X, the extension's 4-byte header and its 4×length bytes;
//   - with P, the padding count, the last byte, is at least 1 (it counts
//     itself) and the padding does not reach into the header: what it
//     leaves may be an empty payload, as in the padding-only packets that
//     senders use to probe bandwidth.
func validRTP(p []byte) bool {
	if len(p) < rtpMin || p[0]>>6 != 2 {
		return false
	}
	h := rtpMin + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 { // X
		if len(p) < h+4 {
			return false
		}
		h += 4 + 4*int(binary.BigEndian.Uint16(p[h+2:]))
	}
	if len(p) < h {
		return false
	}
	if p[0]&0x20 != 0 { // P
		pad := int(p[len(p)-1])
		if pad == 0 || len(p)-pad < h {
			return false
		}
	}
	return true
}

// validRTCP reports whether p is a well-formed RTCP datagram: one RTCP
// packet or a compound of several (RFC 3550 §6.1, §6.4.1, A.2), each of
// version 2, whose length fields (in 32-bit words, minus one) add up to
// exactly the datagram's length. Only the last packet may carry padding
// (§6.1: padding goes on the last packet of a compound); its padding
// count is at least 1 and stays within that packet's body.
//
// It is less strict than A.2 in one way: the first packet need not be a
// sender or receiver report, since RFC 5506 allows reduced-size RTCP (one
// feedback packet alone), which browsers send. Without padding, a
// datagram whose length is not a multiple of 4 fails, as in A.2.
func validRTCP(p []byte) bool {
	if len(p) < rtcpHeader {
		return false
	}
	for len(p) >= rtcpHeader {
		if p[0]>>6 != 2 {
			return false
		}
		n := rtcpHeader + 4*int(binary.BigEndian.Uint16(p[2:]))
		if n > len(p) {
			return false
		}
		if p[0]&0x20 != 0 { // P: only on the last packet
			if n != len(p) {
				return false
			}
			pad := int(p[n-1])
			if pad == 0 || pad > n-rtcpHeader {
				return false
			}
		}
		p = p[n:]
	}
	return len(p) == 0
}

// valid reports whether p, of class cls (ClassRTP or ClassRTCP), is a
// well-formed packet of that class.
func valid(cls Class, p []byte) bool {
	if cls == ClassRTP {
		return validRTP(p)
	}
	return validRTCP(p)
}
