package mediapeer

import (
	"encoding/binary"
	"errors"
)

// RTCP packet types (RFC 3550).
const (
	SR   = 200
	RR   = 201
	SDES = 202
	BYE  = 203
	APP  = 204
)

// Compound is what the tests read of an RTCP compound packet.
type Compound struct {
	Types []uint8 // the packet types, in order
	// SR is set when the compound has a sender report; SSRC, PacketCount
	// and OctetCount are its.
	SR          bool
	SSRC        uint32
	PacketCount uint32
	OctetCount  uint32
	CNAME       string // the first SDES CNAME item, if any
}

// ErrRTCP is returned for a compound whose lengths do not add up.
var ErrRTCP = errors.New("mediapeer: malformed RTCP compound")

// ParseRTCP reads a plain (decrypted) RTCP compound packet.
func ParseRTCP(b []byte) (Compound, error) {
	var c Compound
	for len(b) > 0 {
		if len(b) < 4 || b[0]>>6 != 2 {
			return c, ErrRTCP
		}
		n := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if n > len(b) {
			return c, ErrRTCP
		}
		p := b[:n]
		c.Types = append(c.Types, p[1])
		switch p[1] {
		case SR:
			if n < 28 {
				return c, ErrRTCP
			}
			if !c.SR {
				c.SR = true
				c.SSRC = binary.BigEndian.Uint32(p[4:])
				c.PacketCount = binary.BigEndian.Uint32(p[20:])
				c.OctetCount = binary.BigEndian.Uint32(p[24:])
			}
		case SDES:
			if c.CNAME == "" && n >= 10 && p[8] == 1 && 10+int(p[9]) <= n { // first chunk's first item
				c.CNAME = string(p[10 : 10+int(p[9])])
			}
		}
		b = b[n:]
	}
	return c, nil
}
