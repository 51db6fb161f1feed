package vmprx

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
)

// fixedSessions returns a sending and a receiving session on fixed
// AEAD_AES_128_GCM keys.
func fixedSessions(t testing.TB) (tx, rx *srtp.Session) {
	a := association.SRTPKeys{Profile: association.SRTP_AEAD_AES_128_GCM,
		LocalKey: bytes.Repeat([]byte{1}, 16), LocalSalt: bytes.Repeat([]byte{2}, 12),
		RemoteKey: bytes.Repeat([]byte{3}, 16), RemoteSalt: bytes.Repeat([]byte{4}, 12)}
	b := association.SRTPKeys{Profile: a.Profile, LocalKey: a.RemoteKey, LocalSalt: a.RemoteSalt, RemoteKey: a.LocalKey, RemoteSalt: a.LocalSalt}
	var err error
	if tx, err = srtp.New(a); err != nil {
		t.Fatal(err)
	}
	if rx, err = srtp.New(b); err != nil {
		t.Fatal(err)
	}
	return tx, rx
}

// TestSRTPHotPathNoAllocs: with ConfigSRTP, or the peer's session among
// 101 keyed with ConfigSRTPPeer, routing an SRTP packet (decryption in
// its pooled buffer) and GetPacket allocate nothing; nor does the plain
// path once SRTP is off again (every peer forgotten).
func TestSRTPHotPathNoAllocs(t *testing.T) {
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	defer mod.Close()
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	tx, rx := fixedSessions(t)
	v.ConfigSRTP(rx)
	plain := make([]byte, 1200)
	plain[0] = 0x80
	binary.BigEndian.PutUint32(plain[8:], 7)
	enc := make([]byte, 0, 1300)
	src := netip.MustParseAddrPort("192.0.2.1:4000")
	buf := make([]byte, 2048)
	var b batch
	seq := uint16(0)
	feed := func(data []byte) {
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, data), src
		if !v.handle(0, p, false, &b) {
			t.Fatal("packet not taken")
		}
		v.endBatch(&b)
	}
	testutil.NoAllocs(t, "SRTP handle + GetPacket", func() {
		seq++
		binary.BigEndian.PutUint16(plain[2:], seq)
		e, err := tx.EncryptRTP(enc, plain)
		if err != nil {
			t.Fatal(err)
		}
		feed(e)
		pkt, err := v.GetPacket(buf)
		if err != nil || !bytes.Equal(buf[:pkt.Len], plain) {
			t.Fatalf("GetPacket: %d bytes, %v", pkt.Len, err)
		}
	})
	// Keyed per peer (many peers' keys in the table): the same.
	v.ConfigSRTP(nil)
	for i := range 100 {
		_, other := fixedSessions(t)
		v.ConfigSRTPPeer(netip.AddrPortFrom(src.Addr(), uint16(5000+i)), other)
	}
	v.ConfigSRTPPeer(src, rx)
	testutil.NoAllocs(t, "SRTP per peer handle + GetPacket", func() {
		seq++
		binary.BigEndian.PutUint16(plain[2:], seq)
		e, err := tx.EncryptRTP(enc, plain)
		if err != nil {
			t.Fatal(err)
		}
		feed(e)
		pkt, err := v.GetPacket(buf)
		if err != nil || !bytes.Equal(buf[:pkt.Len], plain) || pkt.Src != src {
			t.Fatalf("GetPacket: %d bytes, %v", pkt.Len, err)
		}
	})
	v.ConfigSRTPPeer(src, nil)
	for i := range 100 {
		v.ConfigSRTPPeer(netip.AddrPortFrom(src.Addr(), uint16(5000+i)), nil)
	}
	testutil.NoAllocs(t, "plain RTP after ConfigSRTP(nil)", func() {
		feed(plain)
		if _, err := v.GetPacket(buf); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSRTPReceive: arbitrary datagrams, and mutations of genuine SRTP and
// SRTCP packets, routed by a VMP[rx] with ConfigSRTP: nothing panics,
// every datagram is accounted for once, and one is delivered only when it
// is a genuine packet, which comes out decrypted.
func FuzzSRTPReceive(f *testing.F) {
	tx, _ := fixedSessions(f)
	type genuine struct{ enc, plain []byte }
	var seeds []genuine
	for i := range 4 {
		p := make([]byte, 12+40*i)
		p[0], p[1] = 0x80, byte(96+i)
		binary.BigEndian.PutUint16(p[2:], uint16(65534+i))
		binary.BigEndian.PutUint32(p[8:], 0xabc)
		e, _ := tx.EncryptRTP(nil, p)
		seeds = append(seeds, genuine{e, p})
		r := make([]byte, 8+4*i)
		r[0], r[1], r[3] = 0x80, 201, byte(1+i)
		binary.BigEndian.PutUint32(r[4:], 0xabc)
		e, _ = tx.EncryptRTCP(nil, r)
		seeds = append(seeds, genuine{e, r})
	}
	for _, s := range seeds {
		f.Add(s.enc)
	}
	f.Add([]byte{0x80})
	f.Add([]byte{0x80, 200, 0, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 12))
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	f.Cleanup(func() { mod.Close() })
	v, _ := Create(mod)
	if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2000 {
			return
		}
		_, rx := fixedSessions(t) // fresh replay state: a genuine seed is new each time
		v.ConfigSRTP(rx)
		before, _ := v.Stats()
		p := v.mod.Packets.Get()
		p.N, p.Src = copy(p.Buf, data), netip.MustParseAddrPort("192.0.2.1:4000")
		var b batch
		taken := v.handle(0, p, false, &b)
		v.endBatch(&b)
		if !taken {
			v.mod.Packets.Put(p)
		}
		after, _ := v.Stats()
		delivered := after.RTP + after.RTCP - before.RTP - before.RTCP
		dropped := after.SRTPAuth + after.SRTPReplay + after.Short + after.Unknown + after.DTLS + after.STUN +
			after.ZRTP + after.TURN + after.Malformed - (before.SRTPAuth + before.SRTPReplay + before.Short + before.Unknown +
			before.DTLS + before.STUN + before.ZRTP + before.TURN + before.Malformed)
		if delivered+dropped != 1 || taken != (delivered == 1) {
			t.Fatalf("datagram counted %d delivered, %d dropped (taken %v)", delivered, dropped, taken)
		}
		if after.SRTPReplay != before.SRTPReplay {
			t.Fatal("replay reported on a fresh session")
		}
		if !taken {
			return
		}
		pkt, err := v.GetPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seeds {
			if bytes.Equal(data, s.enc) {
				if !bytes.Equal(buf[:pkt.Len], s.plain) {
					t.Fatalf("genuine packet decrypted to %x, want %x", buf[:pkt.Len], s.plain)
				}
				return
			}
		}
		t.Fatalf("forged datagram %x delivered as %x", data, buf[:pkt.Len])
	})
}
