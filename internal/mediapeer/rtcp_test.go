package mediapeer

import (
	"encoding/binary"
	"slices"
	"testing"
)

// srSDESBYE is a compound as ffmpeg ends a stream: SR (packet count 45,
// octets 47385), SDES CNAME "mp", BYE.
func srSDESBYE() []byte {
	sr := make([]byte, 28)
	sr[0], sr[1] = 0x80, SR
	binary.BigEndian.PutUint16(sr[2:], 6)
	binary.BigEndian.PutUint32(sr[4:], 0xabcd)
	binary.BigEndian.PutUint32(sr[20:], 45)
	binary.BigEndian.PutUint32(sr[24:], 47385)
	sdes := []byte{0x81, SDES, 0, 2, 0, 0, 0xab, 0xcd, 1, 2, 'm', 'p'}
	bye := []byte{0x81, BYE, 0, 1, 0, 0, 0xab, 0xcd}
	return slices.Concat(sr, sdes, bye)
}

func TestParseRTCP(t *testing.T) {
	c, err := ParseRTCP(srSDESBYE())
	if err != nil || !c.SR || c.SSRC != 0xabcd || c.PacketCount != 45 || c.OctetCount != 47385 || c.CNAME != "mp" ||
		!slices.Equal(c.Types, []uint8{SR, SDES, BYE}) {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range [][]byte{{0x80}, {0x40, SR, 0, 0}, srSDESBYE()[:30], {0x80, SR, 0, 1, 0, 0, 0, 0}} {
		if _, err := ParseRTCP(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
}

// FuzzParseRTCP: any input parses or is refused, without panicking, and a
// parsed compound names as many packets as its lengths add up to.
func FuzzParseRTCP(f *testing.F) {
	f.Add(srSDESBYE())
	f.Add([]byte{0x80, RR, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseRTCP(b)
		if err != nil {
			return
		}
		n := 0
		for off := 0; off < len(b); n++ {
			off += (int(binary.BigEndian.Uint16(b[off+2:])) + 1) * 4
		}
		if n != len(c.Types) {
			t.Fatalf("%d packets, %d types", n, len(c.Types))
		}
	})
}
