package srtp_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

var lo4 = netip.MustParseAddr("127.0.0.1")

var profiles = []association.SRTPProfile{
	association.SRTP_AEAD_AES_128_GCM,
	association.SRTP_AEAD_AES_256_GCM,
	association.SRTP_AES128_CM_HMAC_SHA1_80,
	association.SRTP_AES128_CM_HMAC_SHA1_32,
}

// tagLen is the SRTP authentication tag of each profile (RFC 5764, RFC 7714).
var tagLen = map[association.SRTPProfile]int{
	association.SRTP_AEAD_AES_128_GCM:       16,
	association.SRTP_AEAD_AES_256_GCM:       16,
	association.SRTP_AES128_CM_HMAC_SHA1_80: 10,
	association.SRTP_AES128_CM_HMAC_SHA1_32: 4,
}

// rtcpTagLen is the SRTCP tag: _32 uses 80 bits for SRTCP too (RFC 5764 §4.1.2).
var rtcpTagLen = map[association.SRTPProfile]int{
	association.SRTP_AEAD_AES_128_GCM:       16,
	association.SRTP_AEAD_AES_256_GCM:       16,
	association.SRTP_AES128_CM_HMAC_SHA1_80: 10,
	association.SRTP_AES128_CM_HMAC_SHA1_32: 10,
}

type pairKeys struct{ client, server association.SRTPKeys }

var keyCache sync.Map // profile -> pairKeys

// realKeys runs a real DTLS-SRTP handshake (pion/dtls through mediaport's
// VMP[rx], DTLS[rx], DTLS[tx] on loopback) negotiating profile and returns
// both sides' SRTPKeys; handshakes are cached by profile.
func realKeys(t testing.TB, profile association.SRTPProfile) (client, server association.SRTPKeys) {
	t.Helper()
	if k, ok := keyCache.Load(profile); ok {
		return k.(pairKeys).client, k.(pairKeys).server
	}
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	cert := testutil.SelfSignedCert(t, "srtp")
	if err := mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredECDSA,
		ECDSA: mediaport.ECDSA{Certificate: cert.TLS}}); err != nil {
		t.Fatal(err)
	}
	type side struct {
		rx   *dtlsrx.DTLSRx
		tx   *dtlstx.DTLSTx
		port netip.AddrPort
		a    *association.Association
	}
	newSide := func() *side {
		s := &side{}
		v, _ := vmprx.Create(mod)
		if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
			t.Fatal(err)
		}
		s.port, _, _ = v.Ports()
		s.rx, _ = dtlsrx.Create(mod)
		if err := v.ConfigDTLS(s.rx, false); err != nil {
			t.Fatal(err)
		}
		s.tx, _ = dtlstx.Create(mod)
		return s
	}
	cli, srv := newSide(), newSide()
	bind := func(s *side, peer netip.AddrPort, role association.Role) {
		if err := s.tx.Config(dtlstx.Config{Destination: peer, Local: s.port}); err != nil {
			t.Fatal(err)
		}
		a, err := association.Bind(s.rx, s.tx, association.Config{Role: role, Tags: []mediaport.CredTag{1},
			SRTPProfiles: []association.SRTPProfile{profile}})
		if err != nil {
			t.Fatal(err)
		}
		s.a = a
	}
	bind(srv, cli.port, association.Server)
	bind(cli, srv.port, association.Client)
	for _, s := range []*side{cli, srv} {
		ev, _ := s.rx.Event()
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		for {
			st, _ := s.rx.Status()
			if st == dtlsrx.Handshake {
				break
			}
			if st == dtlsrx.Stopped {
				t.Fatalf("handshake failed: %v", s.rx.Err())
			}
			if err := ev.Wait(ctx); err != nil {
				t.Fatal("handshake timed out")
			}
		}
		cancel()
	}
	if client, err = cli.a.SRTPKeys(); err != nil {
		t.Fatal(err)
	}
	if server, err = srv.a.SRTPKeys(); err != nil {
		t.Fatal(err)
	}
	if client.Profile != profile {
		t.Fatalf("negotiated %v, want %v", client.Profile, profile)
	}
	keyCache.Store(profile, pairKeys{client, server})
	return client, server
}

// rtpPacket returns an RTP packet: version 2, payload type 111, seq, a
// timestamp from seq, ssrc and n payload bytes derived from seq.
func rtpPacket(ssrc uint32, seq uint16, n int) []byte {
	p := make([]byte, 12+n)
	p[0], p[1] = 0x80, 111
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*960)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := range n {
		p[12+i] = byte(int(seq) + i)
	}
	return p
}

// rtcpPacket returns an RTCP receiver report from ssrc with no blocks
// followed by n bytes of an APP packet, so that the payload is not empty.
func rtcpPacket(ssrc uint32, n int) []byte {
	p := make([]byte, 8+12+n)
	p[0], p[1] = 0x80, 201 // RR, no report blocks
	binary.BigEndian.PutUint16(p[2:], 1)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	app := p[8:]
	app[0], app[1] = 0x80, 204
	binary.BigEndian.PutUint16(app[2:], uint16((12+n)/4-1))
	binary.BigEndian.PutUint32(app[4:], ssrc)
	copy(app[8:], "test")
	for i := range n {
		app[12+i] = byte(i * 7)
	}
	return p
}
