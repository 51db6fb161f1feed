package stun

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Why MsgCheck refused a packet; each matches ErrInvalidMessage.
var (
	errFirstByte   = fmt.Errorf("%w: first byte neither 0x00 nor 0x01", ErrInvalidMessage)
	errFingerprint = fmt.Errorf("%w: FINGERPRINT does not match", ErrInvalidMessage)
	errFPLength    = fmt.Errorf("%w: FINGERPRINT length not 4", ErrInvalidMessage)
)

// MsgCheck reports whether pkt looks like a STUN message
// (pj_stun_msg_check): the checks pjnath runs before decoding, cheap
// enough for a port that multiplexes STUN with other protocols. It needs
// a 20-byte header whose first byte is 0x00 or 0x01, a length that is a
// multiple of 4 and fits pkt (equals it with IsDatagram); when the header
// has the RFC 5389 magic cookie and the last attribute is FINGERPRINT, the
// fingerprint must match, unless opts has NoFingerprintCheck. An RFC 3489
// header (no magic cookie) passes: it cannot be told from other traffic
// any better. The other options are ignored.
//
// The error matches ErrInvalidMessage, or is ErrIncomplete when, without
// IsDatagram, pkt holds only the start of a message (pjnath reports a
// length error; a stream reader wants to read on). MsgCheck allocates
// nothing. OnRxPkt runs it with CheckPacket.
func MsgCheck(pkt []byte, opts DecodeOptions) error {
	_, err := msgCheck(pkt, opts)
	return err
}

// msgCheck is MsgCheck returning the message length.
func msgCheck(pkt []byte, opts DecodeOptions) (int, error) {
	if len(pkt) < headerSize {
		if opts&IsDatagram == 0 {
			return 0, ErrIncomplete
		}
		return 0, errShort
	}
	if pkt[0] > 0x01 {
		return 0, errFirstByte
	}
	body := int(binary.BigEndian.Uint16(pkt[2:4]))
	n := headerSize + body
	switch {
	case opts&IsDatagram != 0 && n != len(pkt):
		return 0, errLength
	case body%4 != 0:
		return 0, errAlign
	case n > len(pkt):
		return 0, ErrIncomplete
	}
	if binary.BigEndian.Uint32(pkt[4:8]) == MagicCookie && opts&NoFingerprintCheck == 0 && body >= 8 &&
		binary.BigEndian.Uint16(pkt[n-8:]) == 0x8028 {
		if binary.BigEndian.Uint16(pkt[n-6:]) != 4 {
			return 0, errFPLength
		}
		if crc32.ChecksumIEEE(pkt[:n-8])^fingerprintXOR != binary.BigEndian.Uint32(pkt[n-4:]) {
			return 0, errFingerprint
		}
	}
	return n, nil
}
