package vmprx

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/mediaport/mediaport"
)

// TestValidAfterSRTP: with ConfigSRTP, the validity check runs on the
// decrypted packet. A genuine SRTCP compound is delivered (its lengths
// after the first header are encrypted on the wire: a check before
// decryption would refuse it, or let garbage through); a genuine SRTP
// packet whose padding count is 0 is counted Malformed, never delivered,
// its SSRC never reported; one with sound padding is delivered.
func TestValidAfterSRTP(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	tx, rx := fixedSessions(t)
	v.ConfigSRTP(rx)
	rtp := func(ssrc uint32, seq uint16, padCount byte) []byte {
		p := make([]byte, 12+8)
		p[0], p[1] = 0xa0, 96 // P
		binary.BigEndian.PutUint16(p[2:], seq)
		binary.BigEndian.PutUint32(p[8:], ssrc)
		p[len(p)-1] = padCount
		return p
	}
	compound := []byte{
		0x80, 201, 0, 1, 0, 0, 0xab, 0xcd, // RR
		0x81, 202, 0, 3, 0, 0, 0xab, 0xcd, 1, 2, 'a', 'b', 0, 0, 0, 0, // SDES: CNAME "ab"
	}
	enc := func(p []byte) []byte {
		var e []byte
		var err error
		if p[1] >= 192 && p[1] <= 223 {
			e, err = tx.EncryptRTCP(nil, p)
		} else {
			e, err = tx.EncryptRTP(nil, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	var b batch
	feed := func(data []byte) {
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, data), src
		if !v.handle(0, p, false, &b) {
			v.mod.Packets.Put(p)
		}
		v.endBatch(&b)
	}
	bad := rtp(0x0bad, 1, 0)
	good := rtp(0x600d, 1, 4)
	feed(enc(bad))
	feed(enc(compound))
	feed(enc(good))
	st, _ := v.Stats()
	if st.Malformed != 1 || st.RTP != 1 || st.RTCP != 1 || st.SRTPAuth != 0 || st.SRTPReplay != 0 {
		t.Fatalf("stats %+v; want Malformed 1, RTP 1, RTCP 1", st)
	}
	buf := make([]byte, 2048)
	for _, want := range [][]byte{compound, good} {
		pkt, err := v.GetPacket(buf)
		if err != nil || !bytes.Equal(buf[:pkt.Len], want) {
			t.Fatalf("GetPacket = % x, %v; want % x", buf[:pkt.Len], err, want)
		}
	}
	var ssrcs []uint32
	for {
		s, _ := v.Status()
		if s == NewSSRC {
			n, _ := v.NewSSRC()
			ssrcs = append(ssrcs, n)
			continue
		}
		if s == Running {
			break
		}
	}
	if !slices.Equal(ssrcs, []uint32{0x600d}) {
		t.Fatalf("NewSSRC %x, want [600d]", ssrcs)
	}
}
