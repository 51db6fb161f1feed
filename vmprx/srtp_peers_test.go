package vmprx_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/srtptest"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// srtpSides returns the sessions of an association's two sides with keys
// from seed: what tx encrypts, rx decrypts.
func srtpSides(t *testing.T, seed byte) (tx, rx *srtp.Session) {
	t.Helper()
	a, b := srtptest.Keys(association.SRTP_AEAD_AES_128_GCM, seed)
	var err error
	if tx, err = srtp.New(a); err != nil {
		t.Fatal(err)
	}
	if rx, err = srtp.New(b); err != nil {
		t.Fatal(err)
	}
	return tx, rx
}

// TestSRTPPeers: a VMP[rx] with each of two peers' SRTP keyed by source
// (ConfigSRTPPeer) decrypts each peer's SRTP with its own keys and hands
// it out with its source; SRTP from an unkeyed source is dropped
// (SRTPUnkeyed) until a port session exists (ConfigSRTP), which then
// serves every unkeyed source; one peer's SRTP sent from the other's
// address fails authentication; forgetting a peer sends its SRTP to the
// port session, where it fails.
func TestSRTPPeers(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, port, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	a, b, c := sender(t, lo4), sender(t, lo4), sender(t, lo4)
	txA, rxA := srtpSides(t, 1)
	txB, rxB := srtpSides(t, 11)
	txP, rxP := srtpSides(t, 21)
	if err := v.ConfigSRTPPeer(a.LocalAddr(), rxA); err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigSRTPPeer(b.LocalAddr(), rxB); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	seq := uint16(0)
	// send sends RTP encrypted with tx from s and reports what GetPacket
	// returns ("" when it was dropped: counted in a Stats field).
	send := func(s interface {
		WriteTo([]byte, netip.AddrPort) (int, error)
		LocalAddr() netip.AddrPort
	}, tx *srtp.Session, ssrc uint32, payload string) (string, netip.AddrPort) {
		t.Helper()
		seq++
		before, _ := v.Stats()
		if _, err := s.WriteTo(mustEncrypt(t, tx, rtpPacket(ssrc, seq, payload)), port); err != nil {
			t.Fatal(err)
		}
		waitStats(t, v, func(st vmprx.Stats) bool {
			return st.RTP+st.SRTPAuth+st.SRTPReplay+st.SRTPUnkeyed > before.RTP+before.SRTPAuth+before.SRTPReplay+before.SRTPUnkeyed
		})
		if st, _ := v.Stats(); st.RTP == before.RTP {
			return "", netip.AddrPort{}
		}
		pkt, err := v.GetPacket(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[12:pkt.Len]), pkt.Src
	}
	if got, src := send(a, txA, 1, "from a"); got != "from a" || src != a.LocalAddr() {
		t.Fatalf("a: %q from %v", got, src)
	}
	if got, src := send(b, txB, 2, "from b"); got != "from b" || src != b.LocalAddr() {
		t.Fatalf("b: %q from %v", got, src)
	}
	if got, _ := send(b, txA, 1, "a's keys from b"); got != "" {
		t.Fatalf("a's SRTP from b's address was taken: %q", got)
	}
	if got, _ := send(c, txA, 1, "a's keys from c"); got != "" {
		t.Fatalf("SRTP from an unkeyed source was taken: %q", got)
	}
	if st, _ := v.Stats(); st.SRTPAuth != 1 || st.SRTPUnkeyed != 1 {
		t.Fatalf("%+v", st)
	}
	// A port session serves the unkeyed sources, not the keyed ones.
	if err := v.ConfigSRTP(rxP); err != nil {
		t.Fatal(err)
	}
	if got, src := send(c, txP, 3, "from c"); got != "from c" || src != c.LocalAddr() {
		t.Fatalf("c with the port session: %q from %v", got, src)
	}
	if got, _ := send(a, txA, 1, "a again"); got != "a again" {
		t.Fatalf("a after ConfigSRTP: %q", got)
	}
	// Forgotten: a's SRTP meets the port session and fails.
	if err := v.ConfigSRTPPeer(a.LocalAddr(), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := send(a, txA, 1, "a forgotten"); got != "" {
		t.Fatalf("a's SRTP after it was forgotten: %q", got)
	}
	if got, _ := send(b, txB, 2, "b still"); got != "b still" {
		t.Fatalf("b: %q", got)
	}
	if st, _ := v.Stats(); st.SRTPAuth != 2 || st.SRTPUnkeyed != 1 {
		t.Fatalf("%+v", st)
	}
}

// TestSRTPPeersLimits: MaxSRTPPeers peers, invalid sources, and a
// stopped VMP[rx].
func TestSRTPPeersLimits(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	_, rx := srtpSides(t, 1)
	for i := range vmprx.MaxSRTPPeers {
		if err := v.ConfigSRTPPeer(netip.AddrPortFrom(lo4, uint16(10000+i)), rx); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.ConfigSRTPPeer(netip.AddrPortFrom(lo4, 9999), rx); !errors.Is(err, mediaport.ErrLimit) {
		t.Fatalf("beyond the limit: %v", err)
	}
	if err := v.ConfigSRTPPeer(netip.AddrPortFrom(lo4, 10000), rx); err != nil {
		t.Fatalf("replacing a peer's session at the limit: %v", err)
	}
	for _, bad := range []netip.AddrPort{{}, netip.AddrPortFrom(lo4, 0)} {
		if err := v.ConfigSRTPPeer(bad, rx); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Fatalf("%v: %v", bad, err)
		}
	}
	v.Stop()
	if err := v.ConfigSRTPPeer(netip.AddrPortFrom(lo4, 1), rx); err == nil {
		t.Fatal("ConfigSRTPPeer after Stop")
	}
}
