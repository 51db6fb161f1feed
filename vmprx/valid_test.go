package vmprx

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rtpHdr builds an RTP packet: first byte b0 (V, P, X, CC), then the rest
// of the fixed header, the CSRC list (4×CC bytes, as b0 says), then tail.
func rtpHdr(b0 byte, tail ...byte) []byte {
	p := make([]byte, 12+4*int(b0&0x0f))
	p[0], p[1] = b0, 96
	binary.BigEndian.PutUint32(p[8:], 0x11223344)
	return append(p, tail...)
}

// ext is an extension header of n words, then the n words.
func ext(n int) []byte {
	e := []byte{0xbe, 0xde, byte(n >> 8), byte(n)}
	return append(e, make([]byte, 4*n)...)
}

// pad is n bytes of padding whose last byte says count.
func pad(n int, count byte) []byte {
	b := make([]byte, n)
	if n > 0 {
		b[n-1] = count
	}
	return b
}

func cat(ps ...[]byte) []byte { return bytes.Join(ps, nil) }

// rtcpPkt builds one RTCP packet: b0 (V, P, count), type pt, length field
// words, followed by body (whatever its size: the length field is not
// derived from it).
func rtcpPkt(b0, pt byte, words uint16, body []byte) []byte {
	p := []byte{b0, pt, byte(words >> 8), byte(words)}
	return append(p, body...)
}

var validCases = []struct {
	name string
	cls  Class
	p    []byte
	want bool
}{
	// RTP: the fixed header and the CSRC list.
	{"rtp minimal", ClassRTP, rtpHdr(0x80), true},
	{"rtp payload", ClassRTP, rtpHdr(0x80, 1, 2, 3), true},
	{"rtp 11 bytes", ClassRTP, rtpHdr(0x80)[:11], false},
	{"rtp empty", ClassRTP, nil, false},
	{"rtp CC=1 fits", ClassRTP, rtpHdr(0x81), true},
	{"rtp CC=1 one short", ClassRTP, rtpHdr(0x81)[:15], false},
	{"rtp CC=15 fits", ClassRTP, rtpHdr(0x8f), true},
	{"rtp CC=15 one short", ClassRTP, rtpHdr(0x8f)[:71], false},
	{"rtp CC=15 12 bytes", ClassRTP, rtpHdr(0x8f)[:12], false},
	{"rtp CC=15 with payload", ClassRTP, rtpHdr(0x8f, 9, 9), true},
	// Version: not 2 is never valid.
	{"rtp version 0", ClassRTP, rtpHdr(0x00, 1), false},
	{"rtp version 1", ClassRTP, rtpHdr(0x40, 1), false},
	{"rtp version 3", ClassRTP, rtpHdr(0xc0, 1), false},
	// Extension.
	{"rtp X no ext header", ClassRTP, rtpHdr(0x90), false},
	{"rtp X ext header cut", ClassRTP, rtpHdr(0x90, 0xbe, 0xde, 0), false},
	{"rtp X empty ext", ClassRTP, rtpHdr(0x90, ext(0)...), true},
	{"rtp X ext fits, no payload", ClassRTP, rtpHdr(0x90, ext(3)...), true},
	{"rtp X ext fits, payload", ClassRTP, rtpHdr(0x90, cat(ext(3), []byte{1})...), true},
	{"rtp X ext one byte short", ClassRTP, rtpHdr(0x90, ext(3)[:15]...), false},
	{"rtp X ext length 0xffff", ClassRTP, rtpHdr(0x90, cat([]byte{0xbe, 0xde, 0xff, 0xff}, make([]byte, 100))...), false},
	{"rtp X CC=15 ext fits", ClassRTP, rtpHdr(0x9f, ext(2)...), true},
	{"rtp X CC=15 ext past end", ClassRTP, rtpHdr(0x9f, ext(2)[:11]...), false},
	{"rtp X CC=2 ext header past end", ClassRTP, rtpHdr(0x92, 0xbe), false},
	// Padding.
	{"rtp P count 1", ClassRTP, rtpHdr(0xa0, 7, 1), true},
	{"rtp P count 0", ClassRTP, rtpHdr(0xa0, 7, 0), false},
	{"rtp P padding only (empty payload)", ClassRTP, rtpHdr(0xa0, pad(4, 4)...), true},
	{"rtp P 255 bytes of padding", ClassRTP, rtpHdr(0xa0, pad(255, 255)...), true},
	{"rtp P one past header", ClassRTP, rtpHdr(0xa0, pad(4, 5)...), false},
	{"rtp P count 255 past header", ClassRTP, rtpHdr(0xa0, pad(4, 255)...), false},
	{"rtp P header only", ClassRTP, rtpHdr(0xa0), false},
	{"rtp P into CSRC list", ClassRTP, rtpHdr(0xa1, pad(2, 3)...), false},
	{"rtp P reaches the CSRC list's end", ClassRTP, rtpHdr(0xa1, pad(2, 2)...), true},
	{"rtp P X into extension", ClassRTP, rtpHdr(0xb0, cat(ext(1), pad(2, 3))...), false},
	{"rtp P X after extension", ClassRTP, rtpHdr(0xb0, cat(ext(1), []byte{5}, pad(2, 2))...), true},
	{"rtp P X CC=15 all fit", ClassRTP, rtpHdr(0xbf, cat(ext(1), pad(8, 8))...), true},

	// RTCP: one packet.
	{"rtcp RR", ClassRTCP, rtcpPkt(0x80, 201, 1, make([]byte, 4)), true},
	{"rtcp SR", ClassRTCP, rtcpPkt(0x80, 200, 6, make([]byte, 24)), true},
	{"rtcp BYE alone, 4 bytes", ClassRTCP, rtcpPkt(0x80, 203, 0, nil), true},
	{"rtcp header cut", ClassRTCP, []byte{0x80, 201, 0}, false},
	{"rtcp empty", ClassRTCP, nil, false},
	{"rtcp length past end", ClassRTCP, rtcpPkt(0x80, 201, 2, make([]byte, 4)), false},
	{"rtcp length 0xffff", ClassRTCP, rtcpPkt(0x80, 201, 0xffff, make([]byte, 60)), false},
	{"rtcp length short of end", ClassRTCP, rtcpPkt(0x80, 201, 1, make([]byte, 8)), false},
	{"rtcp trailing 2 bytes", ClassRTCP, rtcpPkt(0x80, 201, 1, make([]byte, 6)), false},
	{"rtcp not a multiple of 4", ClassRTCP, rtcpPkt(0x80, 201, 1, make([]byte, 5)), false},
	{"rtcp version 0", ClassRTCP, rtcpPkt(0x00, 201, 1, make([]byte, 4)), false},
	{"rtcp version 1", ClassRTCP, rtcpPkt(0x40, 201, 1, make([]byte, 4)), false},
	{"rtcp version 3", ClassRTCP, rtcpPkt(0xc0, 201, 1, make([]byte, 4)), false},
	{"rtcp feedback alone (RFC 5506)", ClassRTCP, rtcpPkt(0x81, 205, 3, make([]byte, 12)), true},
	// RTCP: padding.
	{"rtcp P count 4", ClassRTCP, rtcpPkt(0xa0, 201, 2, cat(make([]byte, 4), pad(4, 4))), true},
	{"rtcp P count 0", ClassRTCP, rtcpPkt(0xa0, 201, 2, cat(make([]byte, 4), pad(4, 0))), false},
	{"rtcp P whole body", ClassRTCP, rtcpPkt(0xa0, 201, 2, pad(8, 8)), true},
	{"rtcp P into header", ClassRTCP, rtcpPkt(0xa0, 201, 2, pad(8, 9)), false},
	{"rtcp P on a 4-byte packet", ClassRTCP, rtcpPkt(0xa0, 203, 0, nil), false},
	// RTCP: compound.
	{"rtcp compound SR SDES BYE", ClassRTCP, cat(
		rtcpPkt(0x80, 200, 6, make([]byte, 24)),
		rtcpPkt(0x81, 202, 2, make([]byte, 8)),
		rtcpPkt(0x81, 203, 1, make([]byte, 4))), true},
	{"rtcp compound two BYEs of 4 bytes", ClassRTCP, cat(rtcpPkt(0x80, 203, 0, nil), rtcpPkt(0x80, 203, 0, nil)), true},
	{"rtcp compound second past end", ClassRTCP, cat(
		rtcpPkt(0x80, 201, 1, make([]byte, 4)),
		rtcpPkt(0x81, 202, 3, make([]byte, 8))), false},
	{"rtcp compound second header cut", ClassRTCP, cat(rtcpPkt(0x80, 201, 1, make([]byte, 4)), []byte{0x81, 202}), false},
	{"rtcp compound second version 0", ClassRTCP, cat(
		rtcpPkt(0x80, 201, 1, make([]byte, 4)),
		rtcpPkt(0x01, 202, 1, make([]byte, 4))), false},
	{"rtcp compound padding on the last", ClassRTCP, cat(
		rtcpPkt(0x80, 201, 1, make([]byte, 4)),
		rtcpPkt(0xa1, 202, 2, pad(8, 4))), true},
	{"rtcp compound padding on the first", ClassRTCP, cat(
		rtcpPkt(0xa0, 201, 2, pad(8, 4)),
		rtcpPkt(0x81, 202, 1, make([]byte, 4))), false},
	{"rtcp compound padding past the last packet's body", ClassRTCP, cat(
		rtcpPkt(0x80, 201, 1, make([]byte, 4)),
		rtcpPkt(0xa1, 202, 1, pad(4, 5))), false},
}

// TestValid: every edge of the RTP and RTCP checks, against valid, the
// reference implementation below and, for a datagram that fits its
// header, Classify.
func TestValid(t *testing.T) {
	for _, c := range validCases {
		if got := valid(c.cls, c.p); got != c.want {
			t.Errorf("%s: valid(%v, % x) = %v, want %v", c.name, c.cls, c.p, got, c.want)
		}
		var ref bool
		if c.cls == ClassRTP {
			ref = refValidRTP(c.p)
		} else {
			ref = refValidRTCP(c.p)
		}
		if ref != c.want {
			t.Errorf("%s: the reference says %v, want %v", c.name, ref, c.want)
		}
		// A valid packet is classified as what it is (the RTP cases use
		// payload type 96, outside the RTCP range).
		if c.want && len(c.p) >= 8 && Classify(c.p) != c.cls {
			t.Errorf("%s: Classify = %v, want %v", c.name, Classify(c.p), c.cls)
		}
	}
}

// TestClassifyVersion: Classify keeps RFC 7983's first-byte demux for
// datagrams of a version other than 2: they never become RTP or RTCP (so
// never Malformed either); each lands in the class of its first byte. The
// datagram is an 8-byte receiver report with its first byte replaced.
func TestClassifyVersion(t *testing.T) {
	rr := rtcpPkt(0x80, 201, 1, make([]byte, 4))
	for _, c := range []struct {
		b0   byte
		want Class
	}{
		{0x00, ClassShort},   // version 0: STUN's range (0–3), shorter than STUN's 20 bytes
		{0x03, ClassShort},   // STUN's range
		{0x04, ClassUnknown}, // 4–15: no protocol
		{0x10, ClassShort},   // ZRTP's range (16–19), shorter than its 12 bytes
		{0x14, ClassShort},   // DTLS's range (20–63), shorter than its 13 bytes
		{0x40, ClassTURN},    // version 1: TURN ChannelData (64–79)
		{0x50, ClassUnknown}, // version 1 beyond ChannelData
		{0x7f, ClassUnknown},
		{0x80, ClassRTCP},    // version 2
		{0xbf, ClassRTCP},    // version 2, P, count 31
		{0xc0, ClassUnknown}, // version 3
		{0xff, ClassUnknown},
	} {
		p := bytes.Clone(rr)
		p[0] = c.b0
		if got := Classify(p); got != c.want {
			t.Errorf("first byte %#02x: Classify = %v, want %v", c.b0, got, c.want)
		}
	}
}

// TestValidAllocs: the check allocates nothing.
func TestValidAllocs(t *testing.T) {
	var compound []byte
	for _, c := range validCases {
		if c.name == "rtcp compound SR SDES BYE" {
			compound = c.p
		}
	}
	rtp := rtpHdr(0xbf, cat(ext(1), pad(8, 8))...)
	if n := testing.AllocsPerRun(100, func() {
		valid(ClassRTP, rtp)
		valid(ClassRTCP, compound)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzValid: on any datagram, validRTP and validRTCP never panic and agree
// with the reference implementations below; a datagram Classify calls RTP
// or RTCP is judged by the check of its class.
func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add(c.p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, ref := validRTP(p), refValidRTP(p); got != ref {
			t.Fatalf("validRTP(% x) = %v, reference %v", p, got, ref)
		}
		if got, ref := validRTCP(p), refValidRTCP(p); got != ref {
			t.Fatalf("validRTCP(% x) = %v, reference %v", p, got, ref)
		}
		switch cls := Classify(p); cls {
		case ClassRTP, ClassRTCP:
			if p[0]>>6 != 2 {
				t.Fatalf("Classify(% x) = %v with version %d", p, cls, p[0]>>6)
			}
			want := refValidRTP(p)
			if cls == ClassRTCP {
				want = refValidRTCP(p)
			}
			if valid(cls, p) != want {
				t.Fatalf("valid(%v, % x) = %v", cls, p, !want)
			}
		}
	})
}

// The reference implementations: the RFC 3550 layouts read field by field
// into a struct, each rule checked on its own, in the plainest way.

type refRTPHeader struct {
	version      int
	padding, ext bool
	csrcCount    int
	extWords     int
}

func refValidRTP(p []byte) bool {
	if len(p) < 12 {
		return false
	}
	var h refRTPHeader
	h.version = int(p[0]) / 64
	h.padding = (int(p[0])/32)%2 == 1
	h.ext = (int(p[0])/16)%2 == 1
	h.csrcCount = int(p[0]) % 16
	if h.version != 2 {
		return false
	}
	headerLen := 12
	headerLen += h.csrcCount * 4
	if headerLen > len(p) {
		return false
	}
	if h.ext {
		if headerLen+4 > len(p) {
			return false
		}
		h.extWords = int(p[headerLen+2])*256 + int(p[headerLen+3])
		headerLen += 4 + h.extWords*4
		if headerLen > len(p) {
			return false
		}
	}
	if h.padding {
		padLen := int(p[len(p)-1])
		if padLen < 1 {
			return false
		}
		payloadLen := len(p) - headerLen - padLen
		if payloadLen < 0 {
			return false
		}
	}
	return true
}

func refValidRTCP(p []byte) bool {
	type pkt struct {
		version int
		padding bool
		start   int
		size    int
	}
	var pkts []pkt
	for off := 0; off < len(p); {
		if len(p)-off < 4 {
			return false
		}
		words := int(p[off+2])*256 + int(p[off+3])
		k := pkt{version: int(p[off]) / 64, padding: (int(p[off])/32)%2 == 1, start: off, size: (words + 1) * 4}
		if k.version != 2 || off+k.size > len(p) {
			return false
		}
		pkts = append(pkts, k)
		off += k.size
	}
	if len(pkts) == 0 {
		return false
	}
	for i, k := range pkts {
		if !k.padding {
			continue
		}
		if i != len(pkts)-1 {
			return false
		}
		padLen := int(p[k.start+k.size-1])
		if padLen < 1 || padLen > k.size-4 {
			return false
		}
	}
	return true
}

// BenchmarkValid: the check on a typical RTP packet (one-byte header
// extension, 1200 bytes) and on a compound RTCP packet (SR, SDES, BYE).
func BenchmarkValid(b *testing.B) {
	rtp := rtpHdr(0x90, cat(ext(2), make([]byte, 1180))...)
	rtcp := cat(rtcpPkt(0x80, 200, 6, make([]byte, 24)), rtcpPkt(0x81, 202, 2, make([]byte, 8)), rtcpPkt(0x81, 203, 1, make([]byte, 4)))
	b.Run("RTP", func(b *testing.B) {
		for b.Loop() {
			if !valid(ClassRTP, rtp) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("RTCP", func(b *testing.B) {
		for b.Loop() {
			if !valid(ClassRTCP, rtcp) {
				b.Fatal("invalid")
			}
		}
	})
}
