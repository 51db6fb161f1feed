package vmprx

import "fmt"

// Class is what a datagram on a media port is, by the RFC 7983 / RFC 9443
// first-byte rule.
type Class uint8

// The classes Classify returns.
const (
	ClassUnknown Class = iota // a first byte no protocol on the port uses
	ClassShort                // empty, or shorter than its protocol's header
	ClassSTUN                 // 0–3
	ClassZRTP                 // 16–19
	ClassDTLS                 // 20–63
	ClassTURN                 // 64–79: TURN ChannelData
	ClassRTP                  // 128–191, payload type not 192–223
	ClassRTCP                 // 128–191, packet type 192–223 (RFC 5761)
)

var classNames = [...]string{"unknown", "short", "STUN", "ZRTP", "DTLS", "TURN", "RTP", "RTCP"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// Minimum lengths: the fixed header of each protocol.
const (
	minSTUN = 20 // STUN header
	minZRTP = 12 // ZRTP packet header
	minDTLS = 13 // DTLS record header
	minTURN = 4  // ChannelData header
	minRTP  = 12 // RTP fixed header
	minRTCP = 8  // RTCP header + SSRC
)

// Classify returns the class of a datagram received on a media port: by its
// first byte as RFC 7983 (updated by RFC 9443) assigns the ranges, RTP and
// RTCP told apart by the packet type as RFC 5761 does for rtcp-mux, and
// ClassShort for a datagram shorter than the header of its protocol. It
// reads at most the first two bytes plus the length and never allocates.
func Classify(p []byte) Class {
	if len(p) == 0 {
		return ClassShort
	}
	var c Class
	var min int
	switch b := p[0]; {
	case b <= 3:
		c, min = ClassSTUN, minSTUN
	case b >= 16 && b <= 19:
		c, min = ClassZRTP, minZRTP
	case b >= 20 && b <= 63:
		c, min = ClassDTLS, minDTLS
	case b >= 64 && b <= 79:
		c, min = ClassTURN, minTURN
	case b >= 128 && b <= 191:
		if len(p) >= 2 && p[1] >= 192 && p[1] <= 223 {
			c, min = ClassRTCP, minRTCP
		} else {
			c, min = ClassRTP, minRTP
		}
	default:
		return ClassUnknown
	}
	if len(p) < min {
		return ClassShort
	}
	return c
}
