package stun

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"net/netip"
	"sync"

	"github.com/pion/stun/v3"
)

// MagicCookie is the RFC 5389 magic cookie (PJ_STUN_MAGIC).
const MagicCookie uint32 = 0x2112A442

const (
	headerSize      = 20
	fingerprintXOR  = 0x5354554e
	miAttrSize      = 24 // MESSAGE-INTEGRITY: 4-byte header + 20-byte HMAC-SHA1
	fpAttrSize      = 8  // FINGERPRINT: 4-byte header + CRC-32
	maxMessageBytes = 65535
)

// hmacState is a reusable HMAC-SHA1 (crypto/hmac cannot be re-keyed, and a
// new one per message allocates).
type hmacState struct {
	inner, outer hash.Hash
	ipad, opad   [64]byte
	isum, osum   [sha1.Size]byte
}

var hmacPool = sync.Pool{New: func() any { return &hmacState{inner: sha1.New(), outer: sha1.New()} }}

// hmacSHA1 computes HMAC-SHA1(key, data) into out without allocating.
func hmacSHA1(key, data []byte, out *[sha1.Size]byte) {
	h := hmacPool.Get().(*hmacState)
	var k [64]byte
	if len(key) > 64 {
		sum := sha1.Sum(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	for i := range k {
		h.ipad[i] = k[i] ^ 0x36
		h.opad[i] = k[i] ^ 0x5c
	}
	h.inner.Reset()
	h.inner.Write(h.ipad[:])
	h.inner.Write(data)
	is := h.inner.Sum(h.isum[:0])
	h.outer.Reset()
	h.outer.Write(h.opad[:])
	h.outer.Write(is)
	os := h.outer.Sum(h.osum[:0])
	copy(out[:], os)
	hmacPool.Put(h)
}

// LongTermKey returns the long-term credential key MD5(username:realm:password).
func LongTermKey(username, realm, password string) []byte {
	h := md5.New()
	h.Write([]byte(username + ":" + realm + ":" + password))
	return h.Sum(nil)
}

// addIntegrity appends MESSAGE-INTEGRITY keyed with key.
func addIntegrity(m *stun.Message, key []byte) {
	m.Length += miAttrSize
	m.WriteLength()
	var sum [sha1.Size]byte
	hmacSHA1(key, m.Raw, &sum)
	m.Length -= miAttrSize
	m.Add(stun.AttrMessageIntegrity, sum[:])
}

// addFingerprint appends FINGERPRINT.
func addFingerprint(m *stun.Message) {
	m.Length += fpAttrSize
	m.WriteLength()
	crc := crc32.ChecksumIEEE(m.Raw) ^ fingerprintXOR
	m.Length -= fpAttrSize
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], crc)
	m.Add(stun.AttrFingerprint, v[:])
}

// attrOffset returns the offset in raw of the first attribute of type t
// (its header), or -1.
func attrOffset(raw []byte, t stun.AttrType) int {
	if len(raw) < headerSize {
		return -1
	}
	end := headerSize + int(binary.BigEndian.Uint16(raw[2:4]))
	if end > len(raw) {
		return -1
	}
	for off := headerSize; off+4 <= end; {
		at := stun.AttrType(binary.BigEndian.Uint16(raw[off:]))
		l := int(binary.BigEndian.Uint16(raw[off+2:]))
		if at == t {
			return off
		}
		off += 4 + (l+3)&^3
	}
	return -1
}

// checkIntegrity verifies MESSAGE-INTEGRITY with key, comparing the HMACs
// in constant time. It rewrites the length field of raw while it
// computes, then restores it.
func checkIntegrity(raw []byte, key []byte) bool {
	off := attrOffset(raw, stun.AttrMessageIntegrity)
	if off < 0 || off+miAttrSize > len(raw) || binary.BigEndian.Uint16(raw[off+2:]) != sha1.Size {
		return false
	}
	saved := binary.BigEndian.Uint16(raw[2:4])
	binary.BigEndian.PutUint16(raw[2:4], uint16(off+miAttrSize-headerSize))
	var sum [sha1.Size]byte
	hmacSHA1(key, raw[:off], &sum)
	binary.BigEndian.PutUint16(raw[2:4], saved)
	return subtle.ConstantTimeCompare(raw[off+4:off+miAttrSize], sum[:]) == 1
}

// checkFingerprint verifies FINGERPRINT, which must be the last attribute.
func checkFingerprint(raw []byte) bool {
	off := attrOffset(raw, stun.AttrFingerprint)
	if off < 0 || off+fpAttrSize != len(raw) {
		return false
	}
	want := binary.BigEndian.Uint32(raw[off+4:])
	return crc32.ChecksumIEEE(raw[:off])^fingerprintXOR == want
}

// addXORAddress appends an XOR-MAPPED-ADDRESS-style attribute (RFC 5389
// §15.2) for addr without allocating.
func addXORAddress(m *stun.Message, t stun.AttrType, addr netip.AddrPort) {
	var v [20]byte
	ip := addr.Addr().Unmap()
	binary.BigEndian.PutUint16(v[2:], addr.Port()^uint16(MagicCookie>>16))
	n := 8
	if ip.Is4() {
		v[1] = 0x01
		a := ip.As4()
		binary.BigEndian.PutUint32(v[4:], binary.BigEndian.Uint32(a[:])^MagicCookie)
	} else {
		v[1] = 0x02
		a := ip.As16()
		var x [16]byte
		binary.BigEndian.PutUint32(x[:4], MagicCookie)
		copy(x[4:], m.TransactionID[:])
		for i := range a {
			v[4+i] = a[i] ^ x[i]
		}
		n = 20
	}
	m.Add(t, v[:n])
}

// XORAddress decodes an XOR-MAPPED-ADDRESS-style attribute of m.
func XORAddress(m *stun.Message, t stun.AttrType) (netip.AddrPort, bool) {
	v, err := m.Get(t)
	if err != nil || len(v) < 8 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:]) ^ uint16(MagicCookie>>16)
	switch v[1] {
	case 0x01:
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(v[4:8])^MagicCookie)
		return netip.AddrPortFrom(netip.AddrFrom4(a), port), true
	case 0x02:
		if len(v) < 20 {
			return netip.AddrPort{}, false
		}
		var x, a [16]byte
		binary.BigEndian.PutUint32(x[:4], MagicCookie)
		copy(x[4:], m.TransactionID[:])
		for i := range a {
			a[i] = v[4+i] ^ x[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), port), true
	}
	return netip.AddrPort{}, false
}

// knownAttrs are the comprehension-required attributes the session
// understands (RFC 5389/8489, TURN RFC 5766/8656, ICE RFC 8445, RFC 5780,
// RFC 3489); any other below 0x8000 in a request gets 420.
var knownAttrs = map[stun.AttrType]bool{
	0x0001: true, 0x0002: true, 0x0003: true, 0x0004: true, 0x0005: true, 0x0006: true,
	0x0007: true, 0x0008: true, 0x0009: true, 0x000A: true, 0x000B: true, 0x000C: true,
	0x000D: true, 0x0010: true, 0x0012: true, 0x0013: true, 0x0014: true, 0x0015: true,
	0x0016: true, 0x0017: true, 0x0018: true, 0x0019: true, 0x001A: true, 0x001C: true,
	0x001D: true, 0x001E: true, 0x0020: true, 0x0021: true, 0x0022: true, 0x0024: true,
	0x0025: true, 0x0026: true, 0x0027: true, 0x002A: true,
}

// validate checks the attributes of a decoded message: no duplicate
// MESSAGE-INTEGRITY or FINGERPRINT, nothing after FINGERPRINT, a valid
// FINGERPRINT (unless skipped). It returns the unknown
// comprehension-required attributes (for 420) in unknown (reusing its
// storage) and bad=true for a 400.
func validate(m *stun.Message, checkFP bool, unknown []stun.AttrType) ([]stun.AttrType, bool) {
	unknown = unknown[:0]
	seenMI, seenFP := false, false
	for _, a := range m.Attributes {
		if seenFP {
			return unknown, true // attribute after FINGERPRINT
		}
		switch a.Type {
		case stun.AttrMessageIntegrity:
			if seenMI {
				return unknown, true
			}
			seenMI = true
		case stun.AttrFingerprint:
			seenFP = true
		default:
			if a.Type < 0x8000 && !knownAttrs[a.Type] {
				unknown = append(unknown, a.Type)
			}
		}
	}
	if seenFP && checkFP && !checkFingerprint(m.Raw) {
		return unknown, true
	}
	return unknown, false
}
