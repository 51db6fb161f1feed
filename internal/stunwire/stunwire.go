// Package stunwire is a minimal STUN message codec for the framings
// pion/stun does not handle: RFC 3489 headers (a 128-bit transaction ID and
// no magic cookie, as Google's and MSN's TURN servers speak), and the
// unaligned attributes of Microsoft's OC2007 TURN. It reads and writes the
// header and type-length-value attributes; meaning is the caller's.
package stunwire

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
)

// MagicCookie is the RFC 5389 magic cookie.
const MagicCookie = 0x2112A442

// HeaderSize is the size of a STUN header.
const HeaderSize = 20

// Message classes, as the bits of the message type.
const (
	ClassRequest    = 0x0000
	ClassIndication = 0x0010
	ClassSuccess    = 0x0100
	ClassError      = 0x0110
)

// Attribute types used by the TURN usages.
const (
	AttrMappedAddress       = 0x0001
	AttrUsername            = 0x0006
	AttrMessageIntegrity    = 0x0008
	AttrErrorCode           = 0x0009
	AttrLifetime            = 0x000D
	AttrMSAlternateServer   = 0x000E
	AttrMagicCookie         = 0x000F
	AttrBandwidth           = 0x0010
	AttrRealm               = 0x0014
	AttrNonce               = 0x0015
	AttrXORRelayedAddress   = 0x0016
	AttrRequestedPortProps  = 0x0018 // EVEN-PORT (RFC 5766) / REQUESTED-PORT-PROPS (draft)
	AttrRequestedTransport  = 0x0019
	AttrXORMappedAddress    = 0x0020
	AttrReservationToken    = 0x0022
	AttrMSMappedAddress     = 0x8000 // MSN: the mapped address, not XORed
	AttrMSVersion           = 0x8008
	AttrMSXORMappedAddress  = 0x8020 // OC2007: XORed with the first 32 bits of the ID
	AttrSoftware            = 0x8022
	AttrAlternateServer     = 0x8023
	AttrFingerprint         = 0x8028
	AttrChannelNumber       = 0x000C
	AttrXORPeerAddress      = 0x0012
	AttrData                = 0x0013
	AttrRequestedAddrFamily = 0x0017
)

// Attr is one attribute; Value aliases the parsed buffer, whose header
// starts at Offset.
type Attr struct {
	Type   uint16
	Value  []byte
	Offset int
}

// Message is a parsed STUN message. ID holds bytes 4..20 of the header:
// the magic cookie and 96-bit transaction ID of RFC 5389, or the 128-bit
// transaction ID of RFC 3489.
type Message struct {
	Type  uint16
	ID    [16]byte
	Attrs []Attr
	Raw   []byte
}

// Errors of Parse.
var (
	ErrShort     = errors.New("stunwire: shorter than a STUN header")
	ErrNotSTUN   = errors.New("stunwire: not a STUN message")
	ErrLength    = errors.New("stunwire: length field does not match")
	ErrAttribute = errors.New("stunwire: attribute overruns the message")
)

// Method returns the method bits of the type (without the class).
func (m *Message) Method() uint16 { return m.Type &^ 0x0110 }

// Class returns the class bits of the type.
func (m *Message) Class() uint16 { return m.Type & 0x0110 }

// HasMagic reports whether the header carries the RFC 5389 magic cookie.
func (m *Message) HasMagic() bool { return binary.BigEndian.Uint32(m.ID[:4]) == MagicCookie }

// Get returns the value of the first attribute of type t.
func (m *Message) Get(t uint16) ([]byte, bool) {
	for _, a := range m.Attrs {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// Parse decodes b into m, reusing m.Attrs. With aligned, attributes are
// padded to 4 bytes (RFC 3489, RFC 5389); without, they follow each other
// unpadded (OC2007). The whole of b must be the message. m.Attrs's array
// is reused while it holds the attributes, and never escapes through Parse:
// a caller may give an array on its stack.
func Parse(b []byte, aligned bool, m *Message) error {
	if len(b) < HeaderSize {
		return ErrShort
	}
	if b[0]&0xc0 != 0 {
		return ErrNotSTUN
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if HeaderSize+n != len(b) {
		return ErrLength
	}
	m.Type = binary.BigEndian.Uint16(b[0:2])
	copy(m.ID[:], b[4:20])
	m.Raw = b
	// Fill m.Attrs's array in place; only when it is too small, walk
	// again into a new one (growing it by appending would leak the array
	// to the heap).
	count, err := walk(b, aligned, m.Attrs[:cap(m.Attrs)])
	if err != nil {
		m.Attrs = m.Attrs[:0]
		return err
	}
	if count > cap(m.Attrs) {
		m.Attrs = make([]Attr, count)
		walk(b, aligned, m.Attrs)
	}
	m.Attrs = m.Attrs[:count]
	return nil
}

// walk visits the attributes of message b, storing as many as attrs holds,
// and returns how many there are.
func walk(b []byte, aligned bool, attrs []Attr) (int, error) {
	i, off := 0, HeaderSize
	for rest := b[HeaderSize:]; len(rest) > 0; i++ {
		if len(rest) < 4 {
			return i, ErrAttribute
		}
		t := binary.BigEndian.Uint16(rest)
		l := int(binary.BigEndian.Uint16(rest[2:]))
		if l > len(rest)-4 {
			return i, ErrAttribute
		}
		if i < len(attrs) {
			// Field by field: a composite literal is built on the stack
			// and copied, and that copy stalls on its own stores.
			a := &attrs[i]
			a.Type, a.Value, a.Offset = t, rest[4:4+l], off
		}
		next := 4 + l
		if aligned {
			if next = 4 + (l+3)&^3; next > len(rest) {
				return i, ErrAttribute
			}
		}
		rest, off = rest[next:], off+next
	}
	return i, nil
}

// AppendHeader appends a header with a zero length to b.
func AppendHeader(b []byte, typ uint16, id [16]byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = append(b, 0, 0)
	return append(b, id[:]...)
}

// AppendAttr appends an attribute to the message that starts at b[0] and
// updates its length field. With aligned, the value is padded with zero
// bytes to 4.
func AppendAttr(b []byte, t uint16, v []byte, aligned bool) []byte {
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	if aligned {
		for i := len(v); i%4 != 0; i++ {
			b = append(b, 0)
		}
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-HeaderSize))
	return b
}

// AppendIntegrity appends MESSAGE-INTEGRITY: HMAC-SHA1 with key over the
// message up to the attribute, the length field counting the attribute
// (RFC 5389 §15.4). With pad64 the text is first padded with zeros to a
// multiple of 64 bytes, as RFC 3489 §11.2.8 has it.
func AppendIntegrity(b []byte, key []byte, pad64 bool) []byte {
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-HeaderSize+24))
	sum := integrity(b, key, pad64)
	b = binary.BigEndian.AppendUint16(b, AttrMessageIntegrity)
	b = binary.BigEndian.AppendUint16(b, 20)
	return append(b, sum...)
}

func integrity(text, key []byte, pad64 bool) []byte {
	mac := hmac.New(sha1.New, key)
	mac.Write(text)
	if pad64 && len(text)%64 != 0 {
		mac.Write(make([]byte, 64-len(text)%64))
	}
	return mac.Sum(nil)
}

// CheckIntegrity verifies the MESSAGE-INTEGRITY of a parsed message with
// key, the RFC 3489 way with pad64.
func CheckIntegrity(m *Message, key []byte, pad64 bool) bool {
	for _, a := range m.Attrs {
		if a.Type != AttrMessageIntegrity {
			continue
		}
		if len(a.Value) != 20 {
			return false
		}
		buf := make([]byte, a.Offset)
		copy(buf, m.Raw[:a.Offset])
		binary.BigEndian.PutUint16(buf[2:4], uint16(a.Offset-HeaderSize+24))
		return hmac.Equal(integrity(buf, key, pad64), a.Value)
	}
	return false
}
